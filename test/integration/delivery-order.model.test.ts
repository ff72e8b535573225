import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WireConsentEventInput } from '../../src/contracts/consent-event.js';
import type { Lane } from '../../src/domain/index.js';
import type { ContactSnapshot, EspAdapter, EspBulkPath, PushOutcome } from '../../src/esp/types.js';
import type { ContactDoc } from '../../src/persistence/models.js';
import { applyStoredEvents } from '../../src/apply/apply-batch.js';
import { EspError } from '../../src/esp/kit/http/errors.js';
import { bulkTick } from '../../src/delivery/bulk.js';
import { CLAIM_MARGIN_MS, pushBatch } from '../../src/delivery/delivery.js';
import { bulkModels } from '../../src/persistence/bulk.model.js';
import { compareEspsWithMongo, type Sims } from '../support/chaos.js';
import { startEspSimulators } from '../support/esp-sims.js';
import { createTestContext } from '../support/integration.js';

/**
 * The ordering invariant as a model test: for one contact and one ESP, an older state never
 * reaches the ESP after a newer one, whatever the number of concurrent pushes, crashes or
 * retries, and the ESP ends where MongoDB is.
 *
 * fast-check generates a schedule of steps against the real delivery code (apply batches and
 * pushBatch on the MongoDB test server, the real Ometria adapter over HTTP to its simulator):
 * apply a batch of events (each contact's changes get their lane), start a queued push job,
 * let one waiting request go (requests wait at a gate, so pushes interleave in the order the
 * schedule picks, across lanes), crash a push before or after its request reached the ESP (it
 * never acknowledges and never gives its claim back, like a killed worker), or let time pass
 * beyond the claim. Every push job whose contacts another push holds is queued again, as
 * production does. At the end every job runs to completion.
 *
 * Checked: the versions sent per contact never decrease, no contact is ever in two requests at
 * once, the outbox is empty and the simulator equals MongoDB. The second test lets requests run
 * on past their push's claim (no abort at the deadline) and expects fast-check to find a
 * schedule that breaks the invariant: the first test can fail.
 *
 * Bulk mode (the third test) runs the same schedules at Actito, whose bulk path is an
 * asynchronous import, with two more steps: a bulk check (services/esp-sync/bulk.ts: settle the
 * open bulk, start one with the lane-3 backlog) and Actito running every import it accepted so
 * far (the simulator holds them until then). A bulk's versions count as reaching Actito when it
 * runs them, not when they were sent; so a person's opt-out that arrives while their opt-in sits
 * in a pending bulk, pushed before the bulk runs, shows as a decrease.
 */

const MODEL_ESP = 'ometria' as const;
const BULK_ESP = 'actito' as const;
const POOL = 3;
const CLAIM_MS = 60_000;
const SOURCES = ['import', 'api', 'preference_center', 'unsubscribe_link'] as const;

type Step =
  | { kind: 'apply'; events: { contact: number; value: 'opt_in' | 'opt_out'; source: number; force: boolean; minute: number }[] }
  | { kind: 'push'; job: number; crash: 'none' | 'before' | 'after' }
  | { kind: 'release'; gate: number }
  | { kind: 'expire' }
  | { kind: 'bulk' }
  | { kind: 'land' };

const stepArb = (expireWeight: number, bulkWeight = 0): fc.Arbitrary<Step> => fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('apply' as const),
      events: fc.array(
        fc.record({
          contact: fc.nat(POOL - 1),
          value: fc.constantFrom('opt_in' as const, 'opt_out' as const),
          source: fc.nat(SOURCES.length - 1),
          force: fc.boolean(),
          minute: fc.nat(600),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('push' as const),
      job: fc.nat(10),
      crash: fc.constantFrom('none' as const, 'none' as const, 'none' as const, 'before' as const, 'after' as const),
    }),
  },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('release' as const), gate: fc.nat(10) }) },
  { weight: expireWeight, arbitrary: fc.record({ kind: fc.constant('expire' as const) }) },
  ...(bulkWeight > 0
    ? [
        { weight: bulkWeight, arbitrary: fc.record({ kind: fc.constant('bulk' as const) }) },
        { weight: bulkWeight, arbitrary: fc.record({ kind: fc.constant('land' as const) }) },
      ]
    : []),
);

let ctx: Awaited<ReturnType<typeof createTestContext>>;
let sims: Sims;
let run = 0;

beforeAll(async () => {
  sims = await startEspSimulators([MODEL_ESP, BULK_ESP]);
  ctx = await createTestContext(sims.env);
});
afterAll(async () => {
  await ctx?.dispose();
  await sims?.close();
});

interface Gate {
  open: () => void;
}

/**
 * One schedule, run to the end; returns what the checks need. Time is the model's clock: a push's
 * requests are aborted once it passes the claim's deadline (claim minus CLAIM_MARGIN_MS), as the
 * AbortSignal pushBatch hands the adapter does in real time; `outliveClaims` turns that off.
 */
async function runSchedule(steps: readonly Step[], claimMs: number, { outliveClaims = false, bulk = false } = {}) {
  const ESP = bulk ? BULK_ESP : MODEL_ESP;
  run++;
  const prefix = `m${run}-${Date.now().toString(36)}`;
  const contacts = Array.from({ length: POOL }, (_, i) => ({ externalId: `${prefix}-c${i}`, email: `${prefix}-c${i}@example.com` }));
  let clock = Date.now();
  const now = () => new Date(clock);
  const real = ctx.adapters[ESP]!;
  const queue: { lane: Lane; ids: string[] }[] = [];
  const gates: Gate[] = [];
  const sent = new Map<string, number[]>();
  const inFlight = new Map<string, number>();
  let overlaps = 0;
  let busy = 0;
  const running: Promise<unknown>[] = [];
  let eventSeq = 0;

  // Bulk mode: every bulk check finds the lane-3 backlog worth a bulk (any backlog drains in more
  // than a second at a millionth of a contact a second); a bulk is never given up within a run.
  const store = bulkModels(ctx.models.contacts.db);
  const actito = sims.sims[BULK_ESP];
  const imports = (body: Record<string, unknown>) =>
    fetch(`${sims.urls[BULK_ESP]}/__sim/imports`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const bulks: { versions: [string, number][]; landed: boolean }[] = [];
  /** Contacts that changed while in a pending bulk and were pushed again after it: what the bulk test is about. */
  const bulkStats = { pushedAgain: 0 };
  if (bulk) {
    await Promise.all([store.bulks.deleteMany({}), store.modes.deleteMany({})]);
    actito.reset(); // a new day's 12 imports
    await imports({ hold: true, delayMs: 0 });
  }
  const bulkPath: EspBulkPath | undefined = real.bulk && {
    ...real.bulk,
    async submit(batch, signal) {
      const answer = await real.bulk!.submit(batch, signal);
      const carried = batch.filter((c) => !answer.settled.has(c.contactId));
      // In flight from now until Actito runs the import.
      for (const c of carried) {
        inFlight.set(c.contactId, (inFlight.get(c.contactId) ?? 0) + 1);
        if (inFlight.get(c.contactId)! > 1) overlaps++;
      }
      bulks.push({ versions: carried.map((c) => [c.contactId, c.version]), landed: false });
      return answer;
    },
  };
  const checkBulk = async () => {
    const result = await bulkTick(ESP, {
      models: ctx.models,
      bulkModels: store,
      adapter: { ...real, ...(bulkPath ? { bulk: bulkPath } : {}) },
      afterSeconds: 1,
      maxPendingMs: claimMs * 1_000,
      contactsPerSecond: 1e-6,
      now,
      log: ctx.log,
      enqueuePush: async (_esp, lane, ids) => void queue.push({ lane, ids: [...ids] }),
    });
    if (result.settled) bulkStats.pushedAgain += result.settled.pushedAgain;
  };
  /** Actito runs every import it accepted so far: their versions reach it now. */
  const land = async () => {
    await imports({ hold: false });
    const finished = () => (actito.state()['imports'] as { status: string }[]).every((i) => i.status === 'FINISHED');
    for (let i = 0; i < 500 && !finished(); i++) await new Promise((r) => setTimeout(r, 2));
    await imports({ hold: true });
    for (const b of bulks.filter((x) => !x.landed)) {
      b.landed = true;
      for (const [id, version] of b.versions) {
        sent.set(id, [...(sent.get(id) ?? []), version]);
        inFlight.set(id, inFlight.get(id)! - 1);
      }
    }
  };

  /** Resolves once every started push is waiting at a gate, crashed or done. */
  const settle = async () => {
    // Generous: on a loaded machine a push's MongoDB round trips can take a while.
    const until = Date.now() + 60_000;
    while (busy > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 2));
    if (busy > 0) throw new Error(`pushes did not settle within 60 s (${busy} still moving)`);
  };

  const spied = (crash: 'none' | 'before' | 'after', claimedAt: number): EspAdapter => ({
    name: real.name,
    maxBatch: 2,
    async push(batch: readonly ContactSnapshot[], signal?: AbortSignal): Promise<Map<string, PushOutcome>> {
      busy--;
      await new Promise<void>((open) => gates.push({ open }));
      busy++;
      if (!outliveClaims && clock > claimedAt + claimMs - CLAIM_MARGIN_MS) {
        throw new EspError(ESP, 'retryable', `${ESP}: aborted at the claim's deadline`);
      }
      if (crash === 'before') {
        busy--;
        return new Promise(() => {});
      }
      for (const c of batch) {
        inFlight.set(c.contactId, (inFlight.get(c.contactId) ?? 0) + 1);
        if (inFlight.get(c.contactId)! > 1) overlaps++;
        sent.set(c.contactId, [...(sent.get(c.contactId) ?? []), c.version]);
      }
      try {
        const answer = await real.push(batch, signal);
        if (crash === 'after') {
          busy--;
          return new Promise(() => {});
        }
        return answer;
      } finally {
        for (const c of batch) inFlight.set(c.contactId, inFlight.get(c.contactId)! - 1);
      }
    },
  });

  const startPush = (job: { lane: Lane; ids: string[] }, crash: 'none' | 'before' | 'after') => {
    busy++;
    const done = pushBatch(ESP, job.lane, job.ids, {
      models: ctx.models,
      adapter: spied(crash, clock),
      // One request at a time per push, so a push is either at its gate or moving (see settle).
      concurrency: 1,
      claimMs,
      now,
      log: ctx.log,
      enqueuePush: async (_esp, lane, ids) => void queue.push({ lane, ids: [...ids] }),
      pauseEsp: async () => {},
    }).then(
      () => {
        busy--;
      },
      () => {
        busy--;
        queue.push(job); // a failed job is retried by the queue
      },
    );
    running.push(done);
  };

  const apply = async (events: Extract<Step, { kind: 'apply' }>['events']) => {
    const wire: WireConsentEventInput[] = events.map((e) => ({
      eventId: `${prefix}-e${eventSeq++}`,
      contact: contacts[e.contact]!,
      kind: 'marketing',
      channel: 'email',
      value: e.value,
      source: SOURCES[e.source]!,
      force: e.force,
      moment: new Date(Date.UTC(2026, 10, 1, 0, e.minute)).toISOString(),
    }));
    await ctx.services.recordEvents(wire as never);
    const results = await applyStoredEvents(
      wire.map((e) => e.eventId),
      { models: ctx.models, policy: ctx.policy, connectedEsps: () => [ESP], now },
    );
    const byLane = new Map<Lane, string[]>();
    for (const r of results.values()) {
      if (!r.ok || !r.value.stateChanged || !r.value.contactId) continue;
      const lane = r.value.lanes?.[ESP] ?? 3;
      byLane.set(lane, [...(byLane.get(lane) ?? []), r.value.contactId]);
    }
    for (const [lane, ids] of byLane) queue.push({ lane, ids });
  };

  for (const step of steps) {
    if (step.kind === 'apply') await apply(step.events);
    else if (step.kind === 'push' && queue.length > 0) startPush(queue.splice(step.job % queue.length, 1)[0]!, step.crash);
    else if (step.kind === 'release' && gates.length > 0) gates.splice(step.gate % gates.length, 1)[0]!.open();
    else if (step.kind === 'expire') clock += claimMs + 1;
    else if (step.kind === 'bulk' && bulk) await checkBulk();
    else if (step.kind === 'land' && bulk) await land();
    await settle();
  }
  if (bulk) {
    // Actito runs what it holds, and the check settles the open bulk (its pushes join the queue);
    // a check may start another bulk with what is left of lane 3, which Actito then runs too.
    const open = () => store.bulks.countDocuments({ state: { $in: ['submitting', 'pending'] } });
    for (let i = 0; i < 10 && (await open()) > 0; i++) {
      await land();
      await checkBulk();
    }
  }

  // The end: time passes beyond every claim, every waiting request goes, every job runs.
  for (let round = 0; round < 50 && (queue.length > 0 || gates.length > 0); round++) {
    clock += claimMs + 1;
    while (gates.length > 0) gates.shift()!.open();
    await settle();
    while (queue.length > 0) startPush(queue.shift()!, 'none');
    await settle();
  }
  // Whatever a crash left pending is found as the outbox sweeper finds it.
  clock += claimMs + 1;
  const ids = (await ctx.models.contacts.find({ 'identities.externalId': { $in: contacts.map((c) => c.externalId) } }, { _id: 1 }).lean()).map(
    (c) => c._id,
  );
  for (let round = 0; round < 10; round++) {
    const pending = await ctx.models.contacts.countDocuments({ _id: { $in: ids }, [`outbox.${ESP}`]: { $exists: true } });
    if (pending === 0) break;
    startPush({ lane: 3, ids }, 'none');
    for (let i = 0; i < 20 && (gates.length > 0 || busy > 0); i++) {
      while (gates.length > 0) gates.shift()!.open();
      await settle();
    }
    clock += claimMs + 1;
  }
  const docs = (await ctx.models.contacts.find({ _id: { $in: ids } }).lean()) as ContactDoc[];
  return { sent, overlaps, docs, bulkStats: { ...bulkStats, bulks: bulks.length } };
}

function decreasing(sent: ReadonlyMap<string, number[]>): string[] {
  const out: string[] = [];
  for (const [contactId, versions] of sent) {
    for (let i = 1; i < versions.length; i++) {
      if (versions[i]! < versions[i - 1]!) out.push(`${contactId}: ${versions.join(' → ')}`);
    }
  }
  return out;
}

const MODEL_RUN_OPTIONS = {
  // 60, not fewer: with the claim's guard taken out of claimOp (rule 1 of persistence/outbox.ts),
  // 25 schedules found the broken order for 6 of 8 seeds, 60 for all 8 (the latest after 37).
  numRuns: Number(process.env['MODEL_RUNS'] ?? 60),
  endOnFailure: true,
  // MODEL_SEED (and MODEL_PATH) replay a failure fast-check reported.
  ...(process.env['MODEL_SEED'] ? { seed: Number(process.env['MODEL_SEED']), path: process.env['MODEL_PATH'] } : {}),
};

const IMPORT_ALL: Step = {
  kind: 'apply',
  events: Array.from({ length: POOL }, (_, contact) => ({ contact, value: 'opt_in' as const, source: 0, force: false, minute: 0 })),
};

const schedules = (expireWeight: number, bulkWeight = 0) => fc.array(stepArb(expireWeight, bulkWeight), { minLength: 10, maxLength: 40 });

/** Versions never decrease at the ESP, no contact is in two requests at once, nothing is left pending, and the ESP equals MongoDB. */
async function expectOrderedAndConverged(esp: typeof MODEL_ESP | typeof BULK_ESP, { sent, overlaps, docs }: Awaited<ReturnType<typeof runSchedule>>) {
  expect(decreasing(sent)).toEqual([]);
  expect(overlaps).toBe(0);
  expect(docs.filter((d) => d.outbox?.[esp] !== undefined).map((d) => d._id)).toEqual([]);
  const comparison = await compareEspsWithMongo(sims, [esp], docs);
  expect(comparison.mismatches).toEqual([]);
}

describe('delivery order model (claims on the outbox entry, lanes, crashes, retries)', () => {
  it('never sends an older state after a newer one, and the ESP ends where MongoDB is', async () => {
    await fc.assert(
      fc.asyncProperty(schedules(1), async (steps) => {
        await expectOrderedAndConverged(MODEL_ESP, await runSchedule(steps, CLAIM_MS));
      }),
      MODEL_RUN_OPTIONS,
    );
  });

  it('finds a violation when requests outlive their claim (the test can fail)', async () => {
    // Time passing is what ends a claim here, so schedules let it pass more often.
    const result = await fc.check(
      fc.asyncProperty(schedules(4), async (steps) => {
        const { sent, overlaps } = await runSchedule(steps, CLAIM_MS, { outliveClaims: true });
        return decreasing(sent).length === 0 && overlaps === 0;
      }),
      { numRuns: 200, endOnFailure: true },
    );
    console.log(`[model] requests outliving their claims broke the order after ${result.numRuns} schedule(s): ${JSON.stringify(result.counterexample?.[0]?.length)} steps`);
    expect(result.failed).toBe(true);
  });

  let bulksSent = 0;
  let changedInBulk = 0;
  it('bulk mode: a bulk never lands an older state over a newer one (a person’s opt-out while their opt-in sits in a pending bulk)', async () => {
    await fc.assert(
      // Every schedule starts with an import of the whole pool, sent as a bulk: what follows
      // (opt-outs from a person among them) happens while it is pending, or after it landed.
      fc.asyncProperty(schedules(1, 2).map((steps): Step[] => [IMPORT_ALL, { kind: 'bulk' }, ...steps]), async (steps) => {
        const outcome = await runSchedule(steps, CLAIM_MS, { bulk: true });
        bulksSent += outcome.bulkStats.bulks;
        if (outcome.bulkStats.pushedAgain > 0) changedInBulk++;
        await expectOrderedAndConverged(BULK_ESP, outcome);
      }),
      MODEL_RUN_OPTIONS,
    );
    console.log(`[model] bulk mode: ${bulksSent} bulk(s) sent; in ${changedInBulk} schedule(s) a contact changed while in a pending bulk`);
    // Not vacuous: the schedules do put changes on contacts whose bulk is pending.
    expect(changedInBulk).toBeGreaterThan(0);
  });
});
