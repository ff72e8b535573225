import type { EspName } from '../types.js';

/**
 * Request shaping for adapters. The queue's rate limiter bounds jobs; these bound the
 * requests one adapter makes, since one job can issue several (chunks, token refreshes, error polls).
 */

/**
 * Lanes (domain/lane.ts) reach the ESP's budget here. A waiting request of a more urgent lane
 * always goes before a less urgent one, and lanes 2 and 3 may never take the last `reserve`
 * slots or calls of a window: those stay free for lane 1, so a person's unsubscribe never
 * waits for an import to give back the budget it took.
 */
const FIRST_LANE = 1;

interface Waiter {
  lane: number;
  seq: number;
  go: () => void;
}

/** Waiters by lane, then arrival: the head is who goes next. */
class LaneLine {
  private readonly waiting: Waiter[] = [];
  private seq = 0;

  add(lane: number, go: () => void): Waiter {
    const waiter = { lane, seq: this.seq++, go };
    let at = this.waiting.length;
    while (at > 0 && this.waiting[at - 1]!.lane > lane) at--;
    this.waiting.splice(at, 0, waiter);
    return waiter;
  }

  remove(waiter: Waiter): void {
    const at = this.waiting.indexOf(waiter);
    if (at >= 0) this.waiting.splice(at, 1);
  }

  get head(): Waiter | undefined {
    return this.waiting[0];
  }

  shift(): Waiter | undefined {
    return this.waiting.shift();
  }
}

function allowance(limit: number, reserve: number, lane: number): number {
  return lane <= FIRST_LANE ? limit : limit - reserve;
}

function clampReserve(limit: number, reserve: number | undefined): number {
  return Math.min(Math.max(0, Math.floor(reserve ?? 0)), limit - 1);
}

export interface Semaphore {
  /** Runs `fn` in a slot; `lane` (default 3) orders waiters and applies the reserve. */
  run<T>(fn: () => Promise<T>, lane?: number): Promise<T>;
  readonly inFlight: number;
}

export function createSemaphore(limit: number, options: { reserve?: number } = {}): Semaphore {
  const max = Math.max(1, Math.floor(limit));
  const reserve = clampReserve(max, options.reserve);
  let active = 0;
  const line = new LaneLine();
  const pump = () => {
    for (let head = line.head; head && active < allowance(max, reserve, head.lane); head = line.head) {
      line.shift();
      active++;
      head.go();
    }
  };
  return {
    get inFlight() {
      return active;
    },
    async run<T>(fn: () => Promise<T>, lane = 3): Promise<T> {
      await new Promise<void>((resolve) => {
        line.add(lane, resolve);
        pump();
      });
      try {
        return await fn();
      } finally {
        active--;
        pump();
      }
    },
  };
}

export interface Pacer {
  /**
   * Resolves when one more request fits into the window; rejects if `signal` aborts first.
   * `lane` (default 3) orders waiters and applies the reserve.
   */
  take(signal?: AbortSignal, lane?: number): Promise<void>;
}

/** Sliding window: at most `max` starts per `durationMs`, of which lanes 2–3 may use `max - reserve`. */
export function createPacer(
  max: number,
  durationMs: number,
  options: { reserve?: number; now?: () => number } = {},
): Pacer {
  const limit = Math.max(1, Math.floor(max));
  const reserve = clampReserve(limit, options.reserve);
  const now = options.now ?? (() => performance.now());
  const starts: number[] = [];
  const line = new LaneLine();
  let timer: NodeJS.Timeout | undefined;

  const pump = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    for (;;) {
      const head = line.head;
      if (!head) return;
      const t = now();
      while (starts.length > 0 && starts[0]! <= t - durationMs) starts.shift();
      const allowed = allowance(limit, reserve, head.lane);
      if (starts.length < allowed) {
        line.shift();
        starts.push(t);
        head.go();
        continue;
      }
      // The head goes when enough of the window's starts have aged out for its lane.
      const waitMs = Math.max(1, starts[starts.length - allowed]! + durationMs - t);
      timer = setTimeout(pump, waitMs);
      return;
    }
  };

  return {
    take(signal, lane = 3) {
      return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) {
          reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
          return;
        }
        const onAbort = () => {
          line.remove(waiter);
          reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
          pump();
        };
        const waiter = line.add(lane, () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
        signal?.addEventListener('abort', onAbort, { once: true });
        pump();
      });
    },
  };
}

/**
 * Where an adapter's rate window lives: in this process (createPacer, the default), or shared by
 * every process (shared-pacer.ts), since the ESP counts all of our calls together.
 */
export type PacerFactory = (esp: EspName, max: number, windowMs: number, options: { reserve?: number }) => Pacer;

export const processPacers: PacerFactory = (_esp, max, windowMs, options) => createPacer(max, windowMs, options);

/** Maps with at most `limit` calls in flight; the first rejection rejects the whole map. */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let cursor = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && cursor < items.length) {
      const index = cursor++;
      try {
        results[index] = await fn(items[index] as T, index);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const workers = Array.from({ length: Math.min(Math.max(1, Math.floor(limit)), items.length) }, worker);
  await Promise.all(workers);
  return results;
}
