import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Lane } from '../../src/domain/index.js';
import { bulkModels } from '../../src/persistence/bulk.model.js';
import type { ContactDoc } from '../../src/persistence/models.js';
import { applyStoredEvents } from '../../src/apply/apply-batch.js';
import { type BulkDeps, bulkTick } from '../../src/delivery/bulk.js';
import type { Sims } from '../support/chaos.js';
import { startEspSimulators } from '../support/esp-sims.js';
import { createTestContext } from '../support/integration.js';

/**
 * The ways a bulk does not land, at Actito over HTTP with MongoDB: the ESP refuses it (429), the
 * ESP reports it failed, or it never reports it. In each, no contact is left behind: every one
 * the bulk held is given back and queued for a per-call push in its own lane, and nothing is
 * acknowledged as if Actito had it. A row Actito refuses in a processed import is that contact's
 * dead letter, not a success.
 */
const ESP = 'actito' as const;
const CONTACTS = 5;
const IMPORT_PATH = '/v4/entity/sim/table/contacts/import';

let sims: Sims;
let ctx: Awaited<ReturnType<typeof createTestContext>>;
let run = 0;
let clock = Date.now();
let queued: { lane: Lane; ids: string[] }[] = [];

beforeAll(async () => {
  sims = await startEspSimulators([ESP]);
  ctx = await createTestContext({ ...sims.env, ESP_INLINE_RETRIES: '0' });
});
afterAll(async () => {
  await ctx?.dispose();
  await sims?.close();
});
beforeEach(async () => {
  const store = bulkModels(ctx.models.contacts.db);
  await Promise.all([store.bulks.deleteMany({}), store.modes.deleteMany({}), ctx.models.contacts.updateMany({}, { $unset: { [`outbox.${ESP}`]: '' } })]);
  sims.sims[ESP].reset();
  clock = Date.now();
  queued = [];
});

const deps = (): BulkDeps => ({
  models: ctx.models,
  bulkModels: bulkModels(ctx.models.contacts.db),
  adapter: ctx.adapters[ESP]!,
  afterSeconds: 1,
  maxPendingMs: 600_000,
  contactsPerSecond: 0.01,
  now: () => new Date(clock),
  log: ctx.log,
  enqueuePush: async (_esp, lane, ids) => void (ids.length > 0 && queued.push({ lane, ids: [...ids] })),
});

/** CONTACTS imported opt-ins pending at Actito in lane 3; returns their contact ids. */
async function importContacts(): Promise<string[]> {
  run++;
  const events = Array.from({ length: CONTACTS }, (_, i) => ({
    eventId: `settle-${run}-${i}`,
    contact: { externalId: `settle-${run}-${i}`, email: `settle-${run}-${i}@example.com` },
    kind: 'marketing',
    channel: 'email',
    value: 'opt_in',
    source: 'import',
    force: false,
    moment: '2026-11-20T10:00:00Z',
  }));
  await ctx.services.recordEvents(events as never);
  await applyStoredEvents(events.map((e) => e.eventId), { models: ctx.models, policy: ctx.policy, connectedEsps: () => [ESP], now: () => new Date(clock) });
  const docs = await ctx.models.contacts.find({ 'identities.externalId': { $in: events.map((e) => e.contact.externalId) } }, { _id: 1 }).lean();
  return docs.map((d) => d._id);
}

const entries = async (ids: readonly string[]) =>
  (await ctx.models.contacts.find({ _id: { $in: [...ids] } }, { [`outbox.${ESP}`]: 1 }).lean<ContactDoc[]>()).map((d) => d.outbox?.[ESP]);
const queuedIds = () => queued.flatMap((q) => q.ids).sort();

describe('a bulk that does not land leaves no contact behind', () => {
  it('refused with 429: its contacts are given back and queued at once; no bulk for an hour', async () => {
    const ids = await importContacts();
    sims.sims[ESP].setFaults({ rules: [{ method: 'POST', path: IMPORT_PATH, steps: [{ status: 429, body: { status: 429, message: 'quota' } }] }] });
    const first = await bulkTick(ESP, deps());
    expect(first.on).toBe(true);
    expect(first.started).toBeUndefined();
    expect((await entries(ids)).every((e) => e !== undefined && !e.claimBy?.startsWith('bulk:'))).toBe(true);
    expect(queuedIds()).toEqual([...ids].sort());
    expect(queued.every((q) => q.lane === 3)).toBe(true);
    expect(await bulkTick(ESP, deps())).toMatchObject({ skipped: 'the ESP refused a bulk with 429 within the hour' });
    clock += 3_600_001;
    expect((await bulkTick(ESP, deps())).started?.contacts).toBe(CONTACTS);
  });

  it('reported failed by Actito: every contact is given back and pushed again, none acknowledged', async () => {
    const ids = await importContacts();
    const started = (await bulkTick(ESP, deps())).started;
    expect(started?.contacts).toBe(CONTACTS);
    sims.sims[ESP].setFaults({ rules: [{ method: 'GET', path: `${IMPORT_PATH}/`, steps: [{ status: 200, body: { id: 1, status: 'ERROR' } }] }] });
    const settled = await bulkTick(ESP, deps());
    expect(settled.settled).toMatchObject({ state: 'failed', acknowledged: 0, pushedAgain: CONTACTS });
    // Still pending (nothing acknowledged), no longer the failed bulk's; in bulk mode the same
    // check may already have put them in the next bulk.
    expect((await entries(ids)).every((e) => e !== undefined && e.claimBy !== started?.id)).toBe(true);
    expect(queuedIds()).toEqual([...ids].sort());
  });

  it('processed with a refused row: that contact is dead-lettered, the others acknowledged', async () => {
    const ids = await importContacts();
    const started = (await bulkTick(ESP, deps())).started;
    const bulk = await bulkModels(ctx.models.contacts.db).bulks.findOne({ _id: started?.id }).lean();
    sims.sims[ESP].setFaults({
      rules: [{ method: 'GET', path: `${IMPORT_PATH}/`, steps: [{ status: 200, body: { id: 1, status: 'FINISHED', errors: [{ line: 3, message: 'invalid value' }] } }] }],
    });
    expect((await bulkTick(ESP, deps())).settled).toMatchObject({ state: 'processed', acknowledged: CONTACTS, pushedAgain: 0 });
    const docs = await ctx.models.contacts.find({ _id: { $in: ids } }).lean<ContactDoc[]>();
    const refused = bulk!.contacts[1]!.c; // line 3 of the CSV: the second contact sent
    expect(docs.filter((d) => d.sync[ESP]?.status === 'dead_letter').map((d) => d._id)).toEqual([refused]);
    expect(docs.find((d) => d._id === refused)?.deadLetters?.[ESP]?.reason).toMatch(/refused line 3: invalid value/);
    expect(docs.filter((d) => d.sync[ESP]?.status === 'synced')).toHaveLength(CONTACTS - 1);
    expect(docs.every((d) => d.outbox?.[ESP] === undefined)).toBe(true);
  });

  it('never reported within BULK_MAX_PENDING_S: given up, every contact pushed again', async () => {
    const ids = await importContacts();
    await fetch(`${sims.urls[ESP]}/__sim/imports`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hold: true }) });
    expect((await bulkTick(ESP, deps())).started?.contacts).toBe(CONTACTS);
    expect(await bulkTick(ESP, deps())).toMatchObject({ skipped: 'a bulk is still open' });
    clock += 600_001;
    const settled = await bulkTick(ESP, deps());
    expect(settled.settled).toMatchObject({ state: 'given_up', acknowledged: 0, pushedAgain: CONTACTS });
    expect(queuedIds()).toEqual([...ids].sort());
  });
});
