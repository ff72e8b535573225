import type { CommandStartedEvent } from 'mongodb';
import mongoose, { type Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ESP_NAMES } from '../../src/esp/registry.js';
import { startTestApp } from '../support/app.js';
import { startEspSimulators } from '../support/esp-sims.js';
import { isolatedEnv } from '../support/integration.js';
import { SHARD_KEY_EXCEPTIONS, SHARD_KEYS, shapeOf, targetsOneShard } from '../support/shard-keys.js';
import { waitFor } from '../support/wait-for.js';

/** More people than a reconciliation page (RECONCILE_PAGE_SIZE, at least 10), so a second page is read. */
const PEOPLE = 12;

type App = Awaited<ReturnType<typeof startTestApp>>;
type Sims = Awaited<ReturnType<typeof startEspSimulators>>;

/** The filters a command carries, by command (MongoDB's wire format). */
function filtersOf(e: CommandStartedEvent): Record<string, unknown>[] {
  const c = e.command;
  switch (e.commandName) {
    case 'find':
      return [(c['filter'] ?? {}) as Record<string, unknown>];
    case 'count':
    case 'findAndModify':
      return [(c['query'] ?? {}) as Record<string, unknown>];
    case 'update':
      return (c['updates'] as { q: Record<string, unknown> }[]).map((u) => u.q);
    case 'delete':
      return (c['deletes'] as { q: Record<string, unknown> }[]).map((d) => d.q);
    case 'aggregate': {
      const first = (c['pipeline'] as Record<string, unknown>[])[0];
      return [(first?.['$match'] ?? {}) as Record<string, unknown>];
    }
    default:
      return [];
  }
}

/**
 * Every query the pipeline sends to a sharded collection, captured from the driver's command
 * monitoring during a real flow (API → apply → push to all five simulators, both sweepers, a
 * reconciliation of each read-back kind, the contact view), must carry the README's shard key
 * (equality or $in), or be one of the documented scatter-gather exceptions.
 */
describe('every hot-path query filters by the shard key of the README sharding plan', () => {
  let sims: Sims;
  let app: App;
  /** The test's own polling goes through a connection of its own, so only the app's commands are captured. */
  let observer: Connection;
  const commands: CommandStartedEvent[] = [];

  beforeAll(async () => {
    sims = await startEspSimulators();
    await fetch(`${sims.urls.crossengage}/__sim/seed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ users: Array.from({ length: PEOPLE }, (_, i) => ({ id: `sk-${i}` })) }),
    });
    const uri = isolatedEnv()['MONGODB_URI']!;
    app = await startTestApp({
      workers: 2,
      env: { ...sims.env, MONGODB_URI: `${uri}${uri.includes('?') ? '&' : '?'}monitorCommands=true`, RECONCILE_PAGE_SIZE: '10' },
    });
    app.ctx.mongo.getClient().on('commandStarted', (e) => commands.push(e));
    observer = await mongoose.createConnection(uri).asPromise();
  });
  afterAll(async () => {
    await observer?.close();
    await app?.close();
    await sims?.close();
  });

  it('apply, outbox claims and acknowledgements, push reads, sweeps and reconciliation reads', async () => {
    const people = Array.from({ length: PEOPLE }, (_, i) => ({ externalId: `sk-${i}`, email: `sk-${i}@example.com` }));
    const events = people.flatMap((contact, i) => [
      { eventId: `sk-in-${i}`, contact, kind: 'marketing', channel: 'email', value: 'opt_in', source: 'form', moment: '2026-11-01T00:00:00Z' },
      { eventId: `sk-out-${i}`, contact, kind: 'marketing', channel: 'all', value: 'opt_out', source: 'preference_center', moment: '2026-11-02T00:00:00Z' },
    ]);
    expect((await app.post('/v1/consent-events', { events })).status).toBe(202);
    await waitFor(async () => (await observer.collection('consent_events').countDocuments({ status: 'pending' })) === 0, { what: 'events applied' });
    await waitFor(async () => (await observer.collection('contacts').countDocuments({ outbox: { $ne: {} } })) === 0, {
      what: 'outboxes drained',
      timeoutMs: 30_000,
    });
    expect((await app.get('/v1/contacts/externalId:sk-0')).status).toBe(200);
    await app.ctx.services.sweepPendingEvents();
    await app.ctx.services.sweepOutbox();
    // One list read-back (the ESP's suppressions looked up here) and one per-contact read-back
    // (our contacts paged through).
    for (const esp of ['ometria', 'crossengage'] as const) {
      const run = await app.ctx.services.reconcileInline(esp, () => {});
      expect(run.status, `${esp} reconciliation`).toBe('done');
    }

    const seen = new Map<string, number>();
    const offenders: string[] = [];
    for (const e of commands) {
      const collection = e.command[e.commandName];
      if (typeof collection !== 'string' || !(collection in SHARD_KEYS)) continue;
      const key = SHARD_KEYS[collection as keyof typeof SHARD_KEYS];
      for (const filter of filtersOf(e)) {
        const shape = `${e.commandName} ${collection} ${shapeOf(filter, ESP_NAMES)}`;
        seen.set(shape, (seen.get(shape) ?? 0) + 1);
        if (targetsOneShard(filter, key)) continue;
        if (SHARD_KEY_EXCEPTIONS.some((x) => x.shape === shape)) continue;
        offenders.push(`${shape}: ${JSON.stringify(filter)}`);
      }
    }
    expect(offenders, 'queries without the shard key that the README does not list as exceptions').toEqual([]);
    // The flow really sent the hot-path commands (the capture is not vacuous), and every listed
    // exception still exists (a stale list would excuse a query nobody sends any more).
    const shapes = [...seen.keys()];
    for (const command of ['find contacts', 'update contacts', 'find consent_events', 'update consent_events', 'find contact_identities']) {
      expect(shapes.some((s) => s.startsWith(`${command} `)), `${command} sent during the flow`).toBe(true);
    }
    for (const x of SHARD_KEY_EXCEPTIONS) expect(shapes, `exception still sent: ${x.shape}`).toContain(x.shape);
  });
});
