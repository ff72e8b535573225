import type { Connection, Model, UpdateQuery } from 'mongoose';

/**
 * Whether the server applies a filtered single-document update atomically. MongoDB does. The
 * FerretDB v1 test server does not: its update handler reads and filters the documents, then
 * writes them in a separate step (internal/handler/msg_update.go), so a filter guard there is
 * no compare-and-set — and because it filters on more than `_id`, it also scans the collection.
 */
export async function supportsAtomicGuards(connection: Connection): Promise<boolean> {
  const info = await connection.db!.admin().command({ buildInfo: 1 });
  return !('ferretdbVersion' in info);
}

export type Guard = Record<string, number | string | { $exists: boolean }>;

function valueAt(doc: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, key) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined), doc);
}

export function guardHolds(doc: unknown, guard: Guard): boolean {
  return Object.entries(guard).every(([path, expected]) => {
    const actual = valueAt(doc, path);
    if (typeof expected === 'object') return expected.$exists === (actual !== undefined);
    return actual === expected;
  });
}

/**
 * One guarded single-document update of `_id`. On MongoDB the guard sits in the filter and the
 * server checks and writes atomically. Where the server cannot (see above), the caller must
 * hold the contact's lease (ContactLocks), and the guard is checked on a fresh read under it.
 * Returns whether the guard held and the update was applied.
 */
export async function guardedUpdateById<T>(
  model: Model<T>,
  id: string,
  guard: Guard,
  update: UpdateQuery<T>,
  atomicGuards: boolean,
): Promise<boolean> {
  if (atomicGuards) {
    const result = await model.updateOne({ _id: id, ...guard } as never, update);
    return result.matchedCount > 0;
  }
  const current = await model.findById(id).lean();
  if (!current || !guardHolds(current, guard)) return false;
  const result = await model.updateOne({ _id: id } as never, update);
  return result.matchedCount > 0;
}
