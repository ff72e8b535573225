import type { AnyBulkWriteOperation, Model } from 'mongoose';

/** Ids per `$in` query: keeps each command far below the 16 MB limit whatever the batch size. */
const IN_CHUNK = 1_000;

/**
 * Lean documents by `_id`, keyed by id; ids with no document are absent. One `{_id: {$in}}`
 * query per thousand ids, answered from the `_id` index. `projection` limits the fields
 * returned (plus `_id`); callers must then not assume the others are present.
 *
 * Sent through the model's driver collection: an `_id` filter has nothing for mongoose to cast,
 * and its query layer cost more CPU than the read on the worker's hot paths (apply and push).
 */
export async function readByIds<T extends { _id: string }>(
  model: Model<T>,
  ids: readonly string[],
  projection?: Record<string, 0 | 1>,
): Promise<Map<string, T>> {
  const unique = [...new Set(ids)];
  const found = new Map<string, T>();
  for (let i = 0; i < unique.length; i += IN_CHUNK) {
    const filter = { _id: { $in: unique.slice(i, i + IN_CHUNK) } };
    const docs = (await model.collection.find(filter as never, projection ? { projection } : {}).toArray()) as unknown as T[];
    for (const doc of docs) found.set(doc._id, doc);
  }
  return found;
}

/**
 * An unordered bulk write of updates whose filters and values are already what MongoDB stores
 * (ids, numbers, dates, Mixed sub-documents), through the model's driver collection: mongoose's
 * casting of each update was the largest share of the worker's MongoDB CPU. `ignoreUndefined`
 * leaves out undefined values as mongoose's cast does (with `minimize: false`), instead of
 * storing them as null.
 */
export async function bulkUpdate<T extends { _id: string }>(
  model: Model<T>,
  ops: readonly AnyBulkWriteOperation<T>[],
): Promise<{ matchedCount: number }> {
  // The driver refuses an empty batch; mongoose answered it with nothing matched.
  if (ops.length === 0) return { matchedCount: 0 };
  const result = await model.collection.bulkWrite(ops as never, { ordered: false, ignoreUndefined: true });
  return { matchedCount: result.matchedCount };
}
