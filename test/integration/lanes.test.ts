import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashEmail } from '../../src/esp/dynamic-yield/dynamic-yield.mapping.js';
import { espFirstLaneQueueName, espQueueName } from '../../src/queues/names.js';
import type { Sims } from '../support/chaos.js';
import { startTestApp } from '../support/app.js';
import { startEspSimulators } from '../support/esp-sims.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Lanes at one ESP over the whole pipeline (API → apply → BullMQ → adapter → simulator): a
 * person's unsubscribe accepted after 500 imported opt-ins that are already waiting is pushed
 * before them. Dynamic Yield has no batch endpoint (one request per contact), so each imported
 * contact is one request in the simulator's log, and the order is read there.
 */
const ESP = 'dynamic-yield' as const;
const IMPORTS = 500;

type App = Awaited<ReturnType<typeof startTestApp>>;

describe('lanes: a person’s opt-out goes before an import already waiting at the same ESP', () => {
  let sims: Sims;
  let app: App;
  beforeAll(async () => {
    sims = await startEspSimulators([ESP]);
    // A budget the import takes seconds to drain (500 requests at 100/s), as a real ESP's would.
    app = await startTestApp({ workers: 1, env: { ...sims.env, DY_RPS: '100', DY_CONCURRENCY: '4' } });
  });
  afterAll(async () => {
    await app?.close();
    await sims?.close();
  });

  it('pushes an unsubscribe accepted after 500 waiting imported opt-ins before them', async () => {
    const queue = app.ctx.runtime.queue(espQueueName(ESP));
    const firstLane = app.ctx.runtime.queue(espFirstLaneQueueName(ESP));
    await queue.pause();
    await firstLane.pause();
    const imports = Array.from({ length: IMPORTS }, (_, i) => ({
      eventId: `imp-${i}`,
      contact: { externalId: `imp-${i}`, email: `imp-${i}@example.com` },
      kind: 'marketing',
      channel: 'email',
      value: 'opt_in',
      source: 'import',
      moment: '2026-11-20T10:00:00Z',
    }));
    for (let i = 0; i < IMPORTS; i += 250) {
      expect((await app.post('/v1/consent-events', { events: imports.slice(i, i + 250) })).status).toBe(202);
    }
    await waitFor(async () => (await app.ctx.models.events.countDocuments({ status: 'pending' })) === 0, { timeoutMs: 60_000, what: 'imports applied' });
    const waiting = async () => {
      const counts = await queue.getJobCounts('wait', 'prioritized');
      return (counts['wait'] ?? 0) + (counts['prioritized'] ?? 0);
    };
    await waitFor(async () => (await waiting()) > 0, { what: 'import pushes waiting' });

    const person = 'leaving.person@example.com';
    const optOut = {
      eventId: 'person-unsub-1',
      contact: { externalId: 'person-1', email: person },
      kind: 'marketing',
      channel: 'email',
      value: 'opt_out',
      source: 'unsubscribe_link',
      moment: '2026-11-20T10:05:00Z',
    };
    expect((await app.post('/v1/consent-events', optOut)).status).toBe(202);
    await waitFor(async () => (await app.ctx.models.events.countDocuments({ status: 'pending' })) === 0, { what: 'opt-out applied' });
    const view = await app.get('/v1/contacts/externalId:person-1');
    expect((view.body['sync'] as Record<string, { status: string }>)[ESP]?.status).toBe('pending');

    expect(await firstLane.count()).toBeGreaterThan(0); // the person's push waits in its own queue
    await Promise.all([queue.resume(), firstLane.resume()]);
    await waitFor(async () => (await app.ctx.models.contacts.countDocuments({ [`outbox.${ESP}`]: { $exists: true } })) === 0, {
      timeoutMs: 60_000,
      what: 'every push delivered',
    });

    const log = (await (await fetch(`${sims.urls[ESP]}/__sim/requests`)).json()) as { seq: number; body?: unknown }[];
    const mentions = (entry: { body?: unknown }, needle: string) => JSON.stringify(entry.body ?? '').includes(needle);
    const personAt = log.findIndex((e) => mentions(e, person) || mentions(e, hashEmail(person)));
    const importsAt = log.flatMap((e, i) => (mentions(e, '@example.com') || /[0-9a-f]{64}/.test(JSON.stringify(e.body ?? '')) ? [i] : []))
      .filter((i) => i !== personAt);
    expect(personAt).toBeGreaterThanOrEqual(0);
    expect(importsAt.length).toBeGreaterThanOrEqual(IMPORTS);
    // Requests started in the moments both queues resume, before the first lane's worker has
    // fetched its job (a few rounds of the ESP's concurrency on a busy machine), may go first;
    // the import's bulk never does: at most 5% of it.
    const importsBefore = importsAt.filter((i) => i < personAt).length;
    console.log(`[lanes] ${importsBefore} of ${importsAt.length} import requests went before the person's opt-out (request ${personAt + 1} of ${log.length})`);
    expect(importsBefore).toBeLessThan(IMPORTS / 20);
  });
});
