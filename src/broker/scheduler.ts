/**
 * Timers, injected like the clock so that session timeouts, rebalance timeouts and offset
 * expiry can be tested without waiting: the broker uses real timers, tests a ManualScheduler
 * whose time moves only when told to.
 */
import { type Clock, ManualClock, systemClock } from '../storage/clock.js';

export interface Timer {
  cancel(): void;
}

export interface Scheduler extends Clock {
  /** Runs `fn` once after `delayMs` unless cancelled first. */
  schedule(delayMs: number, fn: () => void): Timer;
}

/** Real timers on a clock (the system clock by default). Timers do not keep the process alive. */
export function timerScheduler(clock: Clock = systemClock): Scheduler {
  return {
    nowMs: () => clock.nowMs(),
    schedule(delayMs, fn) {
      const t = setTimeout(fn, Math.max(0, delayMs));
      t.unref();
      return { cancel: () => clearTimeout(t) };
    },
  };
}

interface ManualTimer {
  dueMs: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A scheduler whose time moves only through advance(); due timers run in deadline order. */
export class ManualScheduler implements Scheduler {
  private timers: ManualTimer[] = [];
  private seq = 0;

  constructor(readonly clock: ManualClock = new ManualClock()) {}

  nowMs(): number {
    return this.clock.nowMs();
  }

  schedule(delayMs: number, fn: () => void): Timer {
    const t: ManualTimer = { dueMs: this.clock.nowMs() + Math.max(0, delayMs), seq: this.seq++, fn, cancelled: false };
    this.timers.push(t);
    return {
      cancel: () => {
        t.cancelled = true;
      },
    };
  }

  /** Timers not yet run or cancelled. */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, running every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const target = this.clock.nowMs() + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      let next: ManualTimer | null = null;
      for (const t of this.timers) if (t.dueMs <= target && (next === null || t.dueMs < next.dueMs || (t.dueMs === next.dueMs && t.seq < next.seq))) next = t;
      if (next === null) break;
      if (next.dueMs > this.clock.nowMs()) this.clock.set(next.dueMs);
      next.cancelled = true;
      next.fn();
    }
    this.clock.set(target);
  }
}
