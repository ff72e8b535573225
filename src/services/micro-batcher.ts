export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

interface Waiter<R> {
  resolve: (value: R) => void;
  reject: (err: unknown) => void;
}

/**
 * Gathers the keys of concurrent jobs for a moment and settles them with one call, so that
 * jobs keep their own retries, failures and Bull Board entries while the database sees one
 * query per batch instead of one per job. Several batches may run at once (a flush never
 * waits for the previous one): BullMQ's concurrency bounds how many keys can be waiting.
 */
export class MicroBatcher<K, R> {
  private waiting = new Map<K, Waiter<R>[]>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly settle: (keys: K[]) => Promise<Map<K, Settled<R>>>,
    private readonly maxBatch: number,
    private readonly lingerMs: number,
  ) {}

  submit(key: K): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const waiters = this.waiting.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else this.waiting.set(key, [{ resolve, reject }]);
      if (this.waiting.size >= this.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.lingerMs);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.waiting;
    this.waiting = new Map();
    if (batch.size === 0) return;
    const keys = [...batch.keys()];
    this.settle(keys).then(
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
    );
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

/**
 * Gathers the items that callers submit within `windowMs` and settles them with one call whose
 * result every caller shares (each picks out its own part). Several flushes may be in flight.
 */
export class SharedWindow<I, O> {
  private items: I[] = [];
  private waiters: Waiter<O>[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly settle: (items: I[]) => Promise<O>,
    private readonly windowMs: number,
    private readonly maxItems: number,
  ) {}

  submit(items: readonly I[]): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.items.push(...items);
      this.waiters.push({ resolve, reject });
      if (this.items.length >= this.maxItems) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.windowMs);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const items = this.items;
    const waiters = this.waiters;
    this.items = [];
    this.waiters = [];
    this.settle(items).then(
      (out) => {
        for (const w of waiters) w.resolve(out);
      },
      (err: unknown) => {
        for (const w of waiters) w.reject(err);
      },
    );
  }
}
