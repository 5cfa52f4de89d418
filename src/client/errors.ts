/**
 * The client's errors. Everything the client raises for a failed Kafka operation is a
 * KafkaError: errors the broker answered with carry Kafka's own name and code, and network
 * failures and timeouts are mapped to the codes the Java client uses for them
 * (NETWORK_EXCEPTION, REQUEST_TIMED_OUT), so `err.retriable` is the one flag an application
 * needs to decide whether trying again can help.
 */
import { ErrorCode, errorName, isRetriable } from '../protocol/error-codes.js';

export interface KafkaErrorDetails {
  topic?: string;
  partition?: number;
  groupId?: string;
  /** The broker's own message, when the response carried one. */
  brokerMessage?: string | null;
  cause?: unknown;
  /** Overrides the retriable flag of Kafka's table (the client knows better for some codes). */
  retriable?: boolean;
}

export class KafkaError extends Error {
  /** Kafka's name for the error, e.g. `NOT_LEADER_OR_FOLLOWER`. */
  readonly errorName: string;
  /** Kafka's numeric error code. */
  readonly code: number;
  /** Whether trying again (after a metadata refresh or backoff) can succeed. */
  readonly retriable: boolean;
  readonly topic: string | undefined;
  readonly partition: number | undefined;
  readonly groupId: string | undefined;

  constructor(code: number, message?: string, details: KafkaErrorDetails = {}) {
    const name = errorName(code);
    const where = describeWhere(details);
    const brokerMessage = details.brokerMessage ? `: ${details.brokerMessage}` : '';
    super(message ?? `${name}${where}${brokerMessage}`, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'KafkaError';
    this.errorName = name;
    this.code = code;
    this.retriable = details.retriable ?? isRetriable(code);
    this.topic = details.topic;
    this.partition = details.partition;
    this.groupId = details.groupId;
  }
}

function describeWhere(details: KafkaErrorDetails): string {
  const parts: string[] = [];
  if (details.topic !== undefined) parts.push(details.partition === undefined ? `topic ${details.topic}` : `${details.topic}-${details.partition}`);
  if (details.groupId !== undefined) parts.push(`group ${details.groupId}`);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

/** Throws the KafkaError for `code` unless it is NONE. */
export function throwIfError(code: number, details: KafkaErrorDetails = {}): void {
  if (code !== ErrorCode.NONE) throw new KafkaError(code, undefined, details);
}

/** A connection failed or closed before the response arrived; retriable, as in Kafka. */
export class ConnectionError extends KafkaError {
  constructor(
    message: string,
    readonly broker: string,
    cause?: unknown,
  ) {
    super(ErrorCode.NETWORK_EXCEPTION, `${message} (broker ${broker})`, { cause, retriable: true });
    this.name = 'ConnectionError';
  }
}

/** A request got no response within its timeout; retriable, as in Kafka. */
export class RequestTimeoutError extends KafkaError {
  constructor(message: string) {
    super(ErrorCode.REQUEST_TIMED_OUT, message, { retriable: true });
    this.name = 'RequestTimeoutError';
  }
}

/**
 * The broker supports no version of an API that this client can speak. Not retriable:
 * the same broker will answer the same way.
 */
export class UnsupportedVersionError extends KafkaError {
  constructor(message: string) {
    super(ErrorCode.UNSUPPORTED_VERSION, message, { retriable: false });
    this.name = 'UnsupportedVersionError';
  }
}

/** An operation was attempted on (or was pending in) a producer, consumer or admin that was closed. */
export class ClientClosedError extends Error {
  constructor(what: string) {
    super(`${what} is closed`);
    this.name = 'ClientClosedError';
  }
}

/** A commit was refused because the group rebalanced; the consumer rejoins by itself. */
export class CommitFailedError extends KafkaError {
  constructor(code: number, groupId: string) {
    super(code, `commit failed for group ${groupId}: ${errorName(code)} (the group rebalanced; the partitions may now belong to another member)`, {
      groupId,
      retriable: false,
    });
    this.name = 'CommitFailedError';
  }
}

/** True for errors after which trying again can succeed. */
export function isRetriableError(error: unknown): boolean {
  return error instanceof KafkaError && error.retriable;
}
