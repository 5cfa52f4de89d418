/**
 * Backoff between retries: exponential from `initialBackoffMs` to `maxBackoffMs` with ±20%
 * jitter, as Kafka's clients do (KIP-580), so that many clients failing together do not
 * all come back at the same instant.
 */
import { isRetriableError } from './errors.js';

export interface RetryOptions {
  /** Attempts after the first; Infinity means until the deadline. */
  retries?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

export const DEFAULT_RETRY: Required<RetryOptions> = { retries: 5, initialBackoffMs: 100, maxBackoffMs: 1000 };

export function backoffMs(attempt: number, options: RetryOptions = {}): number {
  const initial = options.initialBackoffMs ?? DEFAULT_RETRY.initialBackoffMs;
  const max = options.maxBackoffMs ?? DEFAULT_RETRY.maxBackoffMs;
  const base = Math.min(max, initial * 2 ** Math.max(0, attempt));
  return Math.max(0, Math.round(base * (0.8 + Math.random() * 0.4)));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs `attempt` until it succeeds, fails with a non-retriable error, or runs out of retries.
 * `beforeRetry` runs between attempts with the error (a metadata refresh, a coordinator
 * lookup) and may throw to stop.
 */
export async function withRetries<T>(
  attempt: (attemptNumber: number) => Promise<T>,
  options: RetryOptions & { beforeRetry?: (error: unknown, attemptNumber: number) => Promise<void> | void; signal?: AbortSignal } = {},
): Promise<T> {
  const retries = options.retries ?? DEFAULT_RETRY.retries;
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (!isRetriableError(error) || n >= retries || options.signal?.aborted === true) throw error;
      await sleep(backoffMs(n, options), options.signal);
      await options.beforeRetry?.(error, n);
    }
  }
}

/** A promise with its resolve and reject exposed. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
