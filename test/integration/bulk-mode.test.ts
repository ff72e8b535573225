import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { espFirstLaneQueueName, espQueueName } from '../../src/queues/names.js';
import type { BulkTickResult } from '../../src/delivery/bulk.js';
import type { Sims } from '../support/chaos.js';
import { startTestApp } from '../support/app.js';
import { startEspSimulators } from '../support/esp-sims.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Bulk mode at Actito over the whole pipeline (API → apply → MongoDB outbox → bulk check →
 * Actito simulator over HTTP, BullMQ on Redis for the pushes): an import whose lane-3 backlog
 * would take longer than BULK_MODE_AFTER_S at the per-call budget goes to Actito as one bulk
 * import; a person's opt-out accepted while that import is pending at Actito is not pushed over
 * it but once Actito reports the import processed, and is the final state there; bulk mode ends
 * when the backlog is gone.
 */
const ESP = 'actito' as const;
const IMPORTS = 300;

type App = Awaited<ReturnType<typeof startTestApp>>;

describe('bulk mode: a big lane-3 backlog goes to Actito as a bulk import', () => {
  let sims: Sims;
  let app: App;
  const imports = (body: Record<string, unknown>) =>
    fetch(`${sims.urls[ESP]}/__sim/imports`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const tick = async () => ((await app.ctx.services.bulkTick()) as Record<string, BulkTickResult>)[ESP]!;
  const metric = async (name: string, labels: Record<string, string>) => {
    const values = (await app.ctx.metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
    return values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0;
  };
  const pendingAt = () => app.ctx.models.contacts.countDocuments({ [`outbox.${ESP}`]: { $exists: true } });

  beforeAll(async () => {
    sims = await startEspSimulators([ESP]);
    // 600 calls a minute, 20% kept for lane 1: 8 contacts a second for lane 3, so 300 imported
    // contacts would take 37.5 s per call, beyond the 5 s this test sets as the threshold.
    app = await startTestApp({ workers: 1, env: { ...sims.env, ACTITO_CALLS_PER_MINUTE: '600', BULK_MODE_AFTER_S: '5', SWEEP_DELAY_MS: '1' } });
  });
  afterAll(async () => {
    await app?.close();
    await sims?.close();
  });

  it('sends the import as one bulk, holds a person’s opt-out until Actito has run it, then pushes it; back to per-call when small', async () => {
    const laneThree = app.ctx.runtime.queue(espQueueName(ESP));
    await laneThree.pause(); // per-call pushes of the import wait, so the bulk takes all of it
    await imports({ hold: true });

    const events = Array.from({ length: IMPORTS }, (_, i) => ({
      eventId: `bulk-imp-${i}`,
      contact: { externalId: `bulk-imp-${i}`, email: `bulk-imp-${i}@example.com` },
      kind: 'marketing',
      channel: 'email',
      value: 'opt_in',
      source: 'import',
      moment: '2026-11-20T10:00:00Z',
    }));
    for (let i = 0; i < IMPORTS; i += 150) {
      expect((await app.post('/v1/consent-events', { events: events.slice(i, i + 150) })).status).toBe(202);
    }
    await waitFor(async () => (await app.ctx.models.events.countDocuments({ status: 'pending' })) === 0, { timeoutMs: 60_000, what: 'imports applied' });

    const first = await tick();
    expect(first).toMatchObject({ on: true, backlog: IMPORTS, started: { contacts: IMPORTS } });
    expect(await metric('consent_sync_esp_bulk_mode', { esp: ESP })).toBe(1);
    expect(await metric('consent_sync_esp_bulk_contacts_total', { esp: ESP, outcome: 'submitted' })).toBe(IMPORTS);
    const importRequests = sims.sims[ESP].requests().filter((r) => r.method === 'POST' && r.path.endsWith('/import'));
    expect(importRequests).toHaveLength(1);

    // The person unsubscribes while the import sits at Actito, not yet run.
    const person = 'bulk-imp-7';
    const firstLane = app.ctx.runtime.queue(espFirstLaneQueueName(ESP));
    expect(
      (await app.post('/v1/consent-events', {
        eventId: 'bulk-person-out',
        contact: { externalId: person, email: `${person}@example.com` },
        kind: 'marketing',
        channel: 'email',
        value: 'opt_out',
        source: 'unsubscribe_link',
        moment: '2026-11-20T10:05:00Z',
      })).status,
    ).toBe(202);
    await waitFor(async () => (await firstLane.getJobCounts('completed'))['completed']! > 0, { what: 'the opt-out’s push job ran' });
    // Its push found the contact in the pending bulk and left it: nothing reached Actito yet.
    const personDoc = await app.ctx.models.contacts.findOne({ 'identities.externalId': person }).lean();
    expect(personDoc?.outbox?.[ESP]).toMatchObject({ lane: 1 });
    expect(sims.sims[ESP].state().recipients[`${person}@example.com`]).toBeUndefined();
    expect(sims.sims[ESP].requests().filter((r) => r.path.endsWith('/profile'))).toHaveLength(0);
    const waiting = await app.get(`/v1/contacts/externalId:${person}`);
    const pending = (waiting.body['sync'] as Record<string, { pending: { lane: number; inBulk?: string; placeInLine: { text: string } } }>)[ESP]?.pending;
    expect(pending).toMatchObject({ lane: 1, inBulk: first.started?.id });
    expect(pending?.placeInLine.text).toContain('has not run yet');
    expect(await tick()).toMatchObject({ on: true, skipped: 'a bulk is still open' });
    // Nor does the outbox sweeper queue pushes for contacts in the pending bulk (every entry is
    // stale here, SWEEP_DELAY_MS being 1 ms): the bulk queues them once Actito has run it.
    expect((await app.ctx.services.sweepOutbox()).requeued[ESP]).toBe(0);

    // Actito runs the import: it lands the opt-in it carried. Then the check settles the bulk
    // and the opt-out goes out in lane 1, after it.
    await imports({ hold: false });
    const settled = await waitFor(async () => (await tick()).settled, { what: 'Actito reports the import processed' });
    expect(settled).toMatchObject({ state: 'processed', acknowledged: IMPORTS - 1, pushedAgain: 1 });
    await waitFor(async () => (await pendingAt()) === 0, { timeoutMs: 30_000, what: 'the opt-out pushed after the bulk' });

    const recipients = sims.sims[ESP].state().recipients;
    expect(recipients[`${person}@example.com`]?.email).toBe('opted_out');
    const optedIn = events.filter((e) => e.contact.externalId !== person && recipients[e.contact.email]?.email === 'opted_in');
    expect(optedIn).toHaveLength(IMPORTS - 1);
    const log = sims.sims[ESP].requests();
    const importAt = log.findIndex((r) => r.path.endsWith('/import') && r.method === 'POST');
    const personAt = log.findIndex((r) => r.path.endsWith('/profile') && JSON.stringify(r.body).includes(`${person}@example.com`));
    expect(personAt).toBeGreaterThan(importAt);
    const personView = await app.get(`/v1/contacts/externalId:${person}`);
    expect((personView.body['sync'] as Record<string, { status: string }>)[ESP]?.status).toBe('synced');
    const other = await app.get('/v1/contacts/externalId:bulk-imp-8');
    expect((other.body['sync'] as Record<string, { status: string; outcome: string }>)[ESP]).toMatchObject({ status: 'synced', outcome: 'pushed' });

    // Nothing left: bulk mode ends; what lane 3 gets next goes per call again.
    expect(await tick()).toMatchObject({ on: false, backlog: 0 });
    expect(await metric('consent_sync_esp_bulk_mode', { esp: ESP })).toBe(0);
    expect(await metric('consent_sync_esp_bulks_total', { esp: ESP, outcome: 'processed' })).toBe(1);
    await laneThree.resume();
  });
});
