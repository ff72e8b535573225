import type { Connection, Model, UpdateQuery } from 'mongoose';
import type { IdReadsMode } from '../../config/index.js';
import { MONGODB_TRAITS, type ServerTraits } from './models.js';

/**
 * What the connected server does atomically or fast. MongoDB applies a filtered single-document
 * update atomically and answers `{_id: {$in}}` from the index. The FerretDB v1 test server does
 * neither: its update handler reads and filters the documents, then writes them in a separate
 * step (internal/handler/msg_update.go), so a filter guard there is no compare-and-set; and it
 * pushes down only a bare `{_id: value}`, so `$in` or any other filter scans the collection.
 */
export async function detectServerTraits(
  connection: Connection,
  idReads: IdReadsMode = 'auto',
): Promise<ServerTraits> {
  const info = await connection.db!.admin().command({ buildInfo: 1 });
  const ferret = 'ferretdbVersion' in info;
  const batched = idReads === 'auto' ? !ferret : idReads === 'in';
  // Point reads in flight per batch: most of the connection pool (20), leaving room for the rest.
  return { atomicGuards: !ferret, reads: { batched, concurrency: MONGODB_TRAITS.reads.concurrency } };
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
