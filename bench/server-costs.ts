import { performance } from 'node:perf_hooks';
import { createPolicy } from '../src/domain/index.js';
import type { ContactDoc } from '../src/persistence/models.js';
import { openModels } from './baselines.js';
import { round } from './lib/proc.js';
import { seedContact } from './lib/seed.js';

/**
 * What each query shape the application uses costs on this MongoDB-protocol server, at two
 * collection sizes: an `_id` lookup stays flat, a query the server cannot answer from an index
 * grows with the collection (on mongo-java-server: any filter no unique index answers, since it
 * ignores secondary indexes). Sequential, one operation at a time.
 */

export interface CostRow {
  operation: string;
  used_by: string;
  ms: Record<string, number>;
  growth: number;
}

async function timeOps(op: (i: number) => Promise<unknown>, maxOps: number, budgetMs: number): Promise<number> {
  let n = 0;
  const started = performance.now();
  while (n < maxOps && (n < 1 || performance.now() - started < budgetMs)) await op(n++);
  return (performance.now() - started) / n;
}

export async function serverCosts(opts: { mongoUri: string; database: string; sizes: number[] }): Promise<CostRow[]> {
  const { conn, models } = await openModels(opts.mongoUri, opts.database);
  const policy = createPolicy();
  const at = new Date();
  const id = (i: number, size: number) => `seed-${String((i * 7919) % size).padStart(8, '0')}`;
  const ops: { operation: string; used_by: string; run: (size: number) => Promise<number> }[] = [
    {
      operation: 'findById (lean)',
      used_by: 'loadContact (single-event fallback path)',
      run: (size) => timeOps((i) => models.contacts.findById(id(i, size)).lean(), 300, 1_500),
    },
    {
      operation: 'updateOne {_id}',
      used_by: 'linkIdentities, repairs',
      run: (size) =>
        timeOps((i) => models.contacts.updateOne({ _id: id(i, size) }, { $set: { updatedAt: new Date() } }), 200, 1_500),
    },
    {
      operation: 'updateOne {_id, rev} (guard in filter)',
      used_by: 'contact write of an apply (rev guard), one per contact in a bulkWrite',
      run: (size) =>
        timeOps(
          (i) => models.contacts.updateOne({ _id: id(i, size), rev: 2 }, { $set: { updatedAt: new Date() } }),
          200,
          1_500,
        ),
    },
    {
      operation: "updateOne {_id, 'outbox.<esp>.version'}",
      used_by: 'push acknowledgement guard, one per contact in a bulkWrite',
      run: (size) =>
        timeOps(
          (i) =>
            models.contacts.updateOne(
              { _id: id(i, size), 'outbox.ometria.version': 3 } as never,
              { $set: { updatedAt: new Date() } },
            ),
          200,
          1_500,
        ),
    },
    {
      operation: 'find {_id: {$in: 500 ids}}',
      used_by: 'readByIds: batch reads of events, identities, contacts (apply and push)',
      run: (size) =>
        timeOps(
          (i) =>
            models.contacts
              .find({ _id: { $in: Array.from({ length: 500 }, (_, k) => id(i * 500 + k, size)) } }, { _id: 1 })
              .lean(),
          20,
          3_000,
        ),
    },
    {
      operation: 'find {_id: {$gt}} sort _id limit 500',
      used_by: "reconciliation 'ours' phase, one per page",
      run: (size) =>
        timeOps(
          (i) =>
            models.contacts
              .find({ _id: { $gt: id(i, size) } })
              .sort({ _id: 1 })
              .limit(500)
              .lean(),
          20,
          3_000,
        ),
    },
    {
      operation: "find {'outbox.<esp>.since': {$lt}} limit 1000",
      used_by: 'outbox sweeper, per ESP per sweep',
      run: () =>
        timeOps(
          () =>
            models.contacts
              .find({ 'outbox.ometria.since': { $lt: new Date() } }, { _id: 1 })
              .limit(1_000)
              .lean(),
          20,
          3_000,
        ),
    },
  ];
  const rows: CostRow[] = ops.map((o) => ({ operation: o.operation, used_by: o.used_by, ms: {}, growth: 0 }));
  try {
    let seeded = 0;
    for (const size of opts.sizes) {
      for (let from = seeded; from < size; from += 2_000) {
        const contacts: ContactDoc[] = [];
        for (let i = from; i < Math.min(size, from + 2_000); i++) contacts.push(seedContact(i, policy, at, 'opted_out').contact);
        await models.contacts.collection.insertMany(contacts as never[], { ordered: false });
      }
      seeded = size;
      await new Promise((r) => setTimeout(r, 500));
      for (const [k, o] of ops.entries()) rows[k]!.ms[String(size)] = round(await o.run(size), 2);
    }
    const [small, large] = [String(opts.sizes[0]), String(opts.sizes.at(-1))];
    for (const row of rows) row.growth = round((row.ms[large] ?? 0) / Math.max(0.01, row.ms[small] ?? 0), 1);
    return rows;
  } finally {
    await conn.dropDatabase().catch(() => {});
    await conn.close();
  }
}
