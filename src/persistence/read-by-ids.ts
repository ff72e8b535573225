import type { Model } from 'mongoose';

/**
 * How a batch of `_id`s is read: one `{_id: {$in}}` query (an index range on MongoDB), or one
 * point read per id with `concurrency` in flight, for servers where `$in` scans the collection
 * (the FerretDB v1 test server pushes down only a bare `{_id: value}`; shared/docs/mongo-compat.md §5).
 * On such a server a batch of 25 `$in` reads over a collection of 50,000 events costs seconds of
 * server CPU, where 25 point reads cost about 25 ms.
 */
export interface BatchReadOptions {
  batched: boolean;
  concurrency: number;
}

/** Ids per `$in` query: keeps each command far below the 16 MB limit whatever the batch size. */
const IN_CHUNK = 1_000;

/**
 * Lean documents by `_id`, keyed by id; ids with no document are absent. `projection` limits
 * the fields returned (plus `_id`); callers must then not assume the others are present.
 */
export async function readByIds<T extends { _id: string }>(
  model: Model<T>,
  ids: readonly string[],
  options: BatchReadOptions,
  projection?: Record<string, 0 | 1>,
): Promise<Map<string, T>> {
  const unique = [...new Set(ids)];
  const found = new Map<string, T>();
  if (unique.length === 0) return found;
  if (options.batched) {
    for (let i = 0; i < unique.length; i += IN_CHUNK) {
      const docs = (await model.find({ _id: { $in: unique.slice(i, i + IN_CHUNK) } }, projection).lean()) as unknown as T[];
      for (const doc of docs) found.set(doc._id, doc);
    }
    return found;
  }
  let next = 0;
  const lanes = Math.max(1, Math.min(options.concurrency, unique.length));
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < unique.length) {
        const id = unique[next++]!;
        const doc = (await model.findById(id, projection).lean()) as unknown as T | null;
        if (doc) found.set(id, doc);
      }
    }),
  );
  return found;
}
