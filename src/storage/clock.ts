/** Time, injected so that retention, roll and flush tests are deterministic. */
export interface Clock {
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => Date.now() };

/** A clock that moves only when told to. */
export class ManualClock implements Clock {
  constructor(private now = 1_700_000_000_000) {}

  nowMs(): number {
    return this.now;
  }

  advance(ms: number): void {
    this.now += ms;
  }

  set(ms: number): void {
    this.now = ms;
  }
}
