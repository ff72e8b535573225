import type { Model } from 'mongoose';

/** Ids per `$in` query: keeps each command far below the 16 MB limit whatever the batch size. */
const IN_CHUNK = 1_000;

/**
 * Lean documents by `_id`, keyed by id; ids with no document are absent. One `{_id: {$in}}`
 * query per thousand ids, answered from the `_id` index. `projection` limits the fields
 * returned (plus `_id`); callers must then not assume the others are present.
 */
export async function readByIds<T extends { _id: string }>(
  model: Model<T>,
  ids: readonly string[],
  projection?: Record<string, 0 | 1>,
): Promise<Map<string, T>> {
  const unique = [...new Set(ids)];
  const found = new Map<string, T>();
  for (let i = 0; i < unique.length; i += IN_CHUNK) {
    const docs = (await model.find({ _id: { $in: unique.slice(i, i + IN_CHUNK) } }, projection).lean()) as unknown as T[];
    for (const doc of docs) found.set(doc._id, doc);
  }
  return found;
}
