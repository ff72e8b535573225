import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WireConsentEventInput } from '../../../src/contracts/consent-event.js';
import type { BuiltInEspName } from '../../../src/esp/registry.js';
import { espQueueNames } from '../../../src/queues/names.js';
import { startEspSimulators } from '../../support/esp-sims.js';
import {
  cadence,
  chaosContact,
  compareEspsWithMongo,
  figures,
  type Stack,
  sendEvents,
  startStack,
  waitForQuiescence,
} from '../../support/chaos.js';
import { waitFor } from '../../support/wait-for.js';

/**
 * reliability.md §7 C17/C18: Dynamic Yield (one request per contact and attempt, so requests map
 * to jobs) answers 503 to everything for a long stretch, then recovers. Ometria and CrossEngage
 * keep working. Retry budget per push job: DY_ATTEMPTS × (1 + ESP_INLINE_RETRIES) = 8 × 3.
 */
const CONTACTS = 30;
const OUTAGE_MIN_MS = 12_000;
const FAILING: BuiltInEspName = 'dynamic-yield';
const HEALTHY: BuiltInEspName[] = ['ometria', 'crossengage'];
const ATTEMPTS = 8;
const INLINE_RETRIES = 2;
/** Requests one push job has in flight at the ESP (set: the default follows DY_RPS). */
const DY_CONCURRENCY = 4;

function eventsFor(i: number): WireConsentEventInput[] {
  const contact = chaosContact('o', i);
  const events: WireConsentEventInput[] = [
    { eventId: `o-${i}-out`, contact, kind: 'marketing', channel: 'all', value: 'opt_out', source: 'preference_center', moment: new Date(Date.UTC(2026, 10, 1, 0, i)).toISOString() },
  ];
  // every other contact confirms a double opt-in for email an hour later (a forced re-opt-in)
  if (i % 2 === 0) {
    events.push({ eventId: `o-${i}-doi`, contact, kind: 'marketing', channel: 'email', value: 'opt_in', source: 'form', force: true, moment: new Date(Date.UTC(2026, 10, 1, 1, i)).toISOString(), proof: { doubleOptInId: `doi-${i}` } });
  }
  return events;
}

describe('chaos: one ESP answers 503 for a long stretch, then recovers', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      workers: 1,
      startSims: () => startEspSimulators([FAILING, ...HEALTHY]),
      crossEngageUsers: Array.from({ length: CONTACTS }, (_, i) => chaosContact('o', i).externalId),
      extra: {
        ESP_BACKOFF_MS: '300',
        DY_ATTEMPTS: String(ATTEMPTS),
        DY_CONCURRENCY: String(DY_CONCURRENCY),
        ESP_INLINE_RETRIES: String(INLINE_RETRIES),
        SWEEP_DELAY_MS: '5000',
        SWEEP_INTERVAL_MS: '2000',
      },
    });
  });
  afterAll(async () => stack?.stop());

  it('other ESPs drain meanwhile; every pending change reaches it after recovery; no retry storm', { timeout: 120_000 }, async () => {
    const sim = stack.sims.sims[FAILING];
    const { ctx } = stack;
    expect([...ctx.esps].sort()).toEqual([FAILING, ...HEALTHY].sort());
    sim.setFaults({ rules: [{ path: '*', steps: Array.from({ length: 20_000 }, () => ({ status: 503 })) }] });
    const outageStart = Date.now();

    const events = Array.from({ length: CONTACTS }, (_, i) => eventsFor(i)).flat();
    const load = await sendEvents(stack.url, events, { batch: 15, inFlight: 2 });
    expect(load.acked.size).toBe(events.length);

    // While DY fails, every contact's Ometria and CrossEngage entries drain; DY's stay pending.
    const drained = await waitFor(
      async () => {
        if ((await ctx.models.events.countDocuments({ status: 'pending' })) > 0) return undefined;
        const contacts = await ctx.models.contacts.find({}, { outbox: 1 }).lean();
        const others = contacts.filter((c) => Object.keys(c.outbox).some((esp) => esp !== FAILING)).length;
        const failing = contacts.filter((c) => c.outbox[FAILING] !== undefined).length;
        return others === 0 ? { failing, at: Date.now() } : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'healthy ESPs to drain during the outage' },
    );
    const stillFailing = sim.requests().filter((r) => r.status === 503).length > 0;
    const rest = OUTAGE_MIN_MS - (Date.now() - outageStart);
    if (rest > 0) await cadence(rest); // the outage lasts at least OUTAGE_MIN_MS
    const during = sim.requests();
    sim.setFaults({ rules: [] });
    const recovered = Date.now();

    const quiet = await waitForQuiescence(ctx, { timeoutMs: 90_000 });
    const deliveredAfter = Date.now() - recovered;
    const contacts = await ctx.models.contacts.find({}).lean();
    const comparison = await compareEspsWithMongo(stack.sims, ctx.esps, contacts);

    // Retry budget: per job ≤ attempts × (1 + inline retries), counted per contact (one DY
    // request per contact and attempt) against that contact's push jobs.
    const jobs = (
      await Promise.all(espQueueNames(FAILING).map((name) => ctx.runtime.queue(name).getJobs(['completed', 'failed', 'delayed', 'waiting', 'active', 'prioritized'], 0, -1)))
    ).flat();
    const emailOf = new Map(contacts.map((c) => [c._id, c.identities.email]));
    const jobsPerEmail = new Map<string, number>();
    let attemptsStarted = 0;
    for (const job of jobs) {
      // A push job carries many contacts: each counts it against its own budget.
      for (const contactId of (job.data as { contactIds: string[] }).contactIds) {
        const email = emailOf.get(contactId) ?? '';
        jobsPerEmail.set(email, (jobsPerEmail.get(email) ?? 0) + 1);
      }
      attemptsStarted += job.attemptsStarted ?? job.attemptsMade;
    }
    const all = sim.requests();
    const requestsPerEmail = new Map<string, number>();
    for (const r of all) {
      const email = (r.body as { identifier?: { value?: string } } | null)?.identifier?.value ?? '';
      requestsPerEmail.set(email, (requestsPerEmail.get(email) ?? 0) + 1);
    }
    const overBudget = [...requestsPerEmail].filter(([email, n]) => n > (jobsPerEmail.get(email) ?? 0) * ATTEMPTS * (1 + INLINE_RETRIES));
    const failedDuring = during.filter((r) => r.status === 503).length;
    const outageSeconds = (recovered - outageStart) / 1000;
    figures('esp-outage', {
      contacts: CONTACTS,
      events: events.length,
      outageSeconds: outageSeconds.toFixed(1),
      othersDrainedAfterSeconds: ((drained.at - outageStart) / 1000).toFixed(1),
      pendingAtFailingEspWhenOthersDrained: drained.failing,
      requestsToFailingEspDuringOutage: failedDuring,
      requestsPerSecondDuringOutage: (failedDuring / outageSeconds).toFixed(1),
      requestsToFailingEspTotal: all.length,
      pushJobs: jobs.length,
      attemptsStarted,
      budget: jobs.length * ATTEMPTS * (1 + INLINE_RETRIES),
      deliveredSecondsAfterRecovery: (deliveredAfter / 1000).toFixed(1),
      espCompared: comparison.compared,
      espMismatches: comparison.mismatches.length,
      failedSets: quiet.failed,
    });

    expect(stillFailing).toBe(true);
    expect(drained.failing).toBeGreaterThan(0);
    expect(comparison.mismatches).toEqual([]);
    // every contact's state reached the failing ESP after recovery (keyed by email)
    const dy = Object.keys((await (await fetch(`${stack.sims.urls[FAILING]}/__sim/state`)).json() as { recipients: object }).recipients);
    expect(dy.length).toBe(CONTACTS);
    expect(overBudget).toEqual([]);
    // A job attempt carries several contacts: it starts at most DY_CONCURRENCY requests before
    // the first failure stops it, each retried at most INLINE_RETRIES times in the request.
    expect(all.length).toBeLessThanOrEqual(attemptsStarted * DY_CONCURRENCY * (1 + INLINE_RETRIES));
    expect(failedDuring).toBeGreaterThan(0);
  });
});
