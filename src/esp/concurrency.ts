/**
 * Per-process request shaping for adapters. The queue's rate limiter bounds jobs; these bound the
 * requests one adapter makes, since one job can issue several (chunks, token refreshes, error polls).
 */

export interface Semaphore {
  run<T>(fn: () => Promise<T>): Promise<T>;
  readonly inFlight: number;
}

export function createSemaphore(limit: number): Semaphore {
  const max = Math.max(1, Math.floor(limit));
  let active = 0;
  const waiting: Array<() => void> = [];
  const release = () => {
    active--;
    waiting.shift()?.();
  };
  return {
    get inFlight() {
      return active;
    },
    async run<T>(fn: () => Promise<T>): Promise<T> {
      if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
      active++;
      try {
        return await fn();
      } finally {
        release();
      }
    },
  };
}

export interface Pacer {
  /** Resolves when one more request fits into the window; rejects if `signal` aborts first. */
  take(signal?: AbortSignal): Promise<void>;
}

/** Sliding window: at most `max` starts per `durationMs`. */
export function createPacer(
  max: number,
  durationMs: number,
  now: () => number = () => performance.now(),
): Pacer {
  const limit = Math.max(1, Math.floor(max));
  const starts: number[] = [];
  let chain: Promise<void> = Promise.resolve();

  const next = async (signal?: AbortSignal) => {
    for (;;) {
      signal?.throwIfAborted();
      const t = now();
      while (starts.length > 0 && (starts[0] ?? 0) <= t - durationMs) starts.shift();
      if (starts.length < limit) {
        starts.push(t);
        return;
      }
      const waitMs = Math.max(1, (starts[0] ?? t) + durationMs - t);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(done, waitMs);
        function done() {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }
        function onAbort() {
          clearTimeout(timer);
          reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
        }
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  };

  return {
    take(signal) {
      // Serialised so that callers leave in arrival order and never overshoot the window together.
      const turn = chain.then(() => next(signal));
      chain = turn.catch(() => undefined);
      return turn;
    },
  };
}

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
