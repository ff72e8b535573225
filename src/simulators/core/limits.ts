/**
 * Rate and concurrency limits, configured from each ESP's documented limits (esp-contracts.md §3.2, §5.1).
 * They use the monotonic clock (`performance.now()`), never the simulator's `now` option.
 */
import { performance } from 'node:perf_hooks';

/**
 * Token bucket: `capacity` tokens, refilled continuously at `ratePerSecond`. With capacity = rate, a client may burst
 * `rate` requests, then sustain `rate` per second; the next request beyond that is refused.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity: number = ratePerSecond,
  ) {
    this.tokens = capacity;
    this.last = performance.now();
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
  }

  /** Take one token; false when the bucket is empty. */
  tryTake(): boolean {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Milliseconds until one token is available (0 if available now). */
  msUntilToken(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
  }

  reset(): void {
    this.tokens = this.capacity;
    this.last = performance.now();
  }
}

/** At most `max` requests in flight; `tryAcquire` returns a release function, or undefined when full. */
export class InFlightLimiter {
  private inFlight = 0;

  constructor(private readonly max: number) {}

  tryAcquire(): (() => void) | undefined {
    if (this.inFlight >= this.max) return undefined;
    this.inFlight++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight--;
    };
  }

  get current(): number {
    return this.inFlight;
  }
}

/** Counts events in a sliding window (e.g. Actito's 100 calls per minute). */
export class SlidingWindowCounter {
  private stamps: number[] = [];

  constructor(private readonly windowMs: number) {}

  /** Record one event and return how many happened in the window, this one included. */
  hit(): number {
    const now = performance.now();
    this.stamps.push(now);
    const cutoff = now - this.windowMs;
    while (this.stamps.length > 0 && (this.stamps[0] ?? now) <= cutoff) this.stamps.shift();
    return this.stamps.length;
  }

  reset(): void {
    this.stamps = [];
  }
}
