export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

interface Waiter<R> {
  resolve: (value: R) => void;
  reject: (err: unknown) => void;
}

/** Keys of this priority or more urgent form their own batches (a person's opt-outs). */
const URGENT = 1;

type BatchClass = 'urgent' | 'bulk';

/**
 * Gathers the keys of concurrent jobs for a moment and settles them with one call, so that
 * jobs keep their own retries, failures and Bull Board entries while the database sees one
 * query per batch instead of one per job. A batch holds at most `maxBatch` keys, the most urgent
 * (lowest `priority`) first. One batch of each class settles at a time in this process, and the
 * next gathers meanwhile: batches of one process do not race each other for the same documents,
 * while urgent keys (priority ≤ 1) never wait for a bulk batch to finish, nor for the linger.
 */
export class MicroBatcher<K, R> {
  private waiting = new Map<K, { priority: number; waiters: Waiter<R>[] }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly settling: Record<BatchClass, boolean> = { urgent: false, bulk: false };

  constructor(
    private readonly settle: (keys: K[]) => Promise<Map<K, Settled<R>>>,
    private readonly maxBatch: number,
    private readonly lingerMs: number,
  ) {}

  submit(key: K, priority = 0): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const entry = this.waiting.get(key);
      if (entry) {
        entry.waiters.push({ resolve, reject });
        entry.priority = Math.min(entry.priority, priority);
      } else this.waiting.set(key, { priority, waiters: [{ resolve, reject }] });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.waiting.size === 0) return;
    const urgentWaiting = [...this.waiting.values()].some((e) => e.priority <= URGENT);
    if (urgentWaiting && !this.settling.urgent) this.flush('urgent');
    if (this.waiting.size === 0 || this.settling.bulk) return;
    if (this.waiting.size >= this.maxBatch) this.flush('bulk');
    else this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush('bulk');
    }, this.lingerMs);
  }

  private flush(cls: BatchClass): void {
    if (cls === 'bulk' && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.settling[cls] || this.waiting.size === 0) return;
    const candidates = [...this.waiting].filter(([, e]) => cls === 'bulk' || e.priority <= URGENT);
    const taken = candidates.sort((a, b) => a[1].priority - b[1].priority).slice(0, this.maxBatch);
    if (taken.length === 0) return;
    for (const [key] of taken) this.waiting.delete(key);
    const batch = new Map(taken.map(([key, entry]) => [key, entry.waiters]));
    this.settling[cls] = true;
    this.settle([...batch.keys()])
      .then(
        (settled) => {
          for (const [key, waiters] of batch) {
            const result = settled.get(key) ?? { ok: false, error: new Error(`batch returned no result for ${String(key)}`) };
            for (const w of waiters) {
              if (result.ok) w.resolve(result.value);
              else w.reject(result.error);
            }
          }
        },
        (err: unknown) => {
          for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
        },
      )
      .finally(() => {
        this.settling[cls] = false;
        this.schedule();
      });
  }
}

/** Runs `fn` for every key, capturing each outcome instead of failing the lot. */
export async function settleEach<K, R>(keys: readonly K[], fn: (key: K) => Promise<R>): Promise<Map<K, Settled<R>>> {
  const settled = await Promise.allSettled(keys.map(fn));
  return new Map(
    keys.map((key, i) => {
      const s = settled[i]!;
      return [key, s.status === 'fulfilled' ? { ok: true, value: s.value } : { ok: false, error: s.reason }];
    }),
  );
}
