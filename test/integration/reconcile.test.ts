import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WireConsentEvent } from '../../src/contracts/consent-event.js';
import type { ListReadBack, RemoteSuppression } from '../../src/esp/readback.js';
import type { BuiltInEspName } from '../../src/esp/registry.js';
import { reconcileRunModel } from '../../src/persistence/reconcile-run.model.js';
import { createRun, type ReconcileDeps, runPage } from '../../src/reconcile/engine.js';
import { simulatorCredentials } from '../../src/simulators/index.js';
import { startTestApp } from '../support/app.js';
import { startEspSimulators } from '../support/esp-sims.js';
import { waitFor } from '../support/wait-for.js';

type App = Awaited<ReturnType<typeof startTestApp>>;
type Sims = Awaited<ReturnType<typeof startEspSimulators>>;

describe('reconciliation: list-unsubscribe drift between the ESPs and us', () => {
  let sims: Sims;
  let app: App;
  const json = { 'content-type': 'application/json' };

  async function simState(esp: BuiltInEspName) {
    return ((await (await fetch(`${sims.urls[esp]}/__sim/state`)).json()) as { recipients: Record<string, Record<string, string>> }).recipients;
  }
  async function record(event: Record<string, unknown>) {
    expect((await app.post('/v1/consent-events', event)).status).toBe(202);
  }
  async function settled() {
    await waitFor(async () => (await app.ctx.models.events.countDocuments({ status: 'pending' })) === 0, { what: 'events applied' });
    await waitFor(async () => (await app.ctx.models.contacts.countDocuments({ outbox: { $ne: {} } })) === 0, { what: 'outboxes drained', timeoutMs: 30_000 });
  }
  async function reconcile(esp: string) {
    const started = await app.post('/v1/reconciliation/runs', { esp });
    expect(started.status).toBe(202);
    const [run] = started.body['runs'] as { runId: string }[];
    return waitFor(
      async () => {
        const r = await app.get(`/v1/reconciliation/runs/${run!.runId}`);
        return r.body['status'] === 'done' || r.body['status'] === 'failed' ? r.body : undefined;
      },
      { what: `${esp} run to finish`, timeoutMs: 30_000 },
    );
  }
  async function view(externalId: string) {
    return (await app.get(`/v1/contacts/externalId:${externalId}`)).body;
  }

  beforeAll(async () => {
    sims = await startEspSimulators();
    await fetch(`${sims.urls.crossengage}/__sim/seed`, { method: 'POST', headers: json, body: JSON.stringify({ users: ['r1', 'r2', 'r3', 'r4'].map((id) => ({ id })) }) });
    app = await startTestApp({ workers: 2, env: { ...sims.env, RECONCILE_PAGE_SIZE: '10' } });
  });
  afterAll(async () => {
    await app?.close();
    await sims?.close();
  });

  it('an unsubscribe made at Ometria is ingested as an esp:ometria opt-out and fans out to the other ESPs', async () => {
    await record({ eventId: 'r1-in', contact: { externalId: 'r1', email: 'r1@example.com' }, kind: 'marketing', channel: 'email', value: 'opt_in', source: 'form', moment: '2026-11-01T00:00:00Z' });
    await settled();
    expect((await simState('ometria'))['r1@example.com']?.['email']).toBe('opted_in');
    const acted = await fetch(`${sims.urls.ometria}/__sim/unsubscribe`, { method: 'POST', headers: json, body: JSON.stringify({ recipient: 'r1@example.com', channel: 'email', type: 'list_unsubscribe' }) });
    expect(acted.status).toBeLessThan(300);

    const run = await reconcile('ometria');
    expect(run['status']).toBe('done');
    expect((run['counts'] as Record<string, number>)['esp_unsubscribed']).toBeGreaterThanOrEqual(1);
    expect((run['actions'] as Record<string, number>)['ingested_opt_out']).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(run['samples'])).not.toContain('@');
    await settled();
    const contact = await view('r1');
    expect((contact['effective'] as { marketing: Record<string, string> }).marketing['email']).toBe('opted_out');
    const audit = contact['audit'] as { source: string; outcome: string }[];
    expect(audit.some((a) => a.source === 'esp:ometria' && a.outcome === 'applied')).toBe(true);
    // fanned out: the other ESPs now hold the opt-out too
    expect((await simState('optimizely-campaign'))['r1@example.com']?.['email']).toBe('opted_out');
    expect((await simState('crossengage'))['r1']?.['email']).toBe('opted_out');
    expect((await simState('actito'))['r1@example.com']?.['email']).toBe('opted_out');
    expect((await simState('dynamic-yield'))['r1@example.com']?.['email']).toBe('opted_out');

    // a second run finds nothing left to do for r1 and ingests no duplicate change
    const again = await reconcile('ometria');
    expect((again['actions'] as Record<string, number>)['ingested_opt_out'] ?? 0).toBe(0);
  });

  it('we are opted out but Ometria says subscribed (a lost push) → pushed again', async () => {
    await record({ eventId: 'r2-out', contact: { externalId: 'r2', email: 'r2@example.com' }, kind: 'marketing', channel: 'email', value: 'opt_out', source: 'preference_center', moment: '2026-11-01T00:00:00Z' });
    await settled();
    const contactId = (await view('r2'))['contactId'];
    // Somebody re-subscribed r2 at Ometria behind our back.
    await fetch(`${sims.urls.ometria}/v2/push`, {
      method: 'POST',
      headers: { ...json, 'X-Ometria-Auth': simulatorCredentials.ometria.apiKey },
      body: JSON.stringify([{ '@type': 'contact', id: contactId, email: 'r2@example.com', marketing_optin: 'EXPLICITLY_OPTEDIN', '@force_optin': true }]),
    });
    expect((await simState('ometria'))['r2@example.com']?.['email']).toBe('opted_in');
    const run = await reconcile('ometria');
    // Ometria acknowledged our opt-out: holding an opt-in now, it is our push that did not stick
    expect((run['counts'] as Record<string, number>)['push_not_stuck']).toBeGreaterThanOrEqual(1);
    await settled();
    expect((await simState('ometria'))['r2@example.com']?.['email']).toBe('opted_out');
    // and our own state was never changed by the ESP's "subscribed"
    expect(((await view('r2'))['effective'] as { marketing: Record<string, string> }).marketing['email']).toBe('opted_out');
  });

  it('our acknowledged pushes that Ometria did not keep are push_not_stuck (both directions, email and SMS), counted, and pushed again', async () => {
    const optOutOf = { externalId: 'ns1', email: 'ns1@example.com' };
    const optInOf = { externalId: 'ns2', email: 'ns2@example.com', phone: '+4915112345602' };
    await record({ eventId: 'ns1-in', contact: optOutOf, kind: 'marketing', channel: 'email', value: 'opt_in', source: 'form', moment: new Date().toISOString() });
    await record({ eventId: 'ns2-out', contact: optInOf, kind: 'marketing', channel: 'sms', value: 'opt_out', source: 'form', moment: new Date().toISOString() });
    await settled();
    await fetch(`${sims.urls.ometria}/__sim/flush`, { method: 'POST' });
    expect((await simState('ometria'))['ns1@example.com']?.['email']).toBe('opted_in');
    expect((await simState('ometria'))['ns2@example.com']?.['sms']).toBe('opted_out');

    // Ometria answers OK for the next two pushes and keeps nothing of them.
    const ok = { status: 200, body: { status: 'OK', request_id: 'dropped', accepted: 1, rejected: 0 } };
    sims.sims.ometria.setFaults({ rules: [{ method: 'POST', path: '/v2/push', steps: [ok, ok] }] });
    await record({ eventId: 'ns1-out', contact: optOutOf, kind: 'marketing', channel: 'email', value: 'opt_out', source: 'form', moment: new Date().toISOString() });
    await settled();
    await record({ eventId: 'ns2-in', contact: optInOf, kind: 'marketing', channel: 'sms', value: 'opt_in', source: 'form', moment: new Date().toISOString() });
    await settled();
    sims.sims.ometria.setFaults({ rules: [] });
    expect((await view('ns1'))['sync']).toMatchObject({ ometria: { status: 'synced' } });
    expect((await view('ns2'))['sync']).toMatchObject({ ometria: { status: 'synced' } });
    expect((await simState('ometria'))['ns1@example.com']?.['email']).toBe('opted_in');
    expect((await simState('ometria'))['ns2@example.com']?.['sms']).toBe('opted_out');

    const run = await reconcile('ometria');
    const counts = run['counts'] as Record<string, number>;
    expect(counts['push_not_stuck']).toBeGreaterThanOrEqual(2);
    const samples = (run['samples'] as Record<string, string[]>)['push_not_stuck'] ?? [];
    const ids = [(await view('ns1'))['contactId'], (await view('ns2'))['contactId']];
    for (const id of ids) expect(samples).toContain(id);
    // a push that did not stick is not the person unsubscribing: nothing of ns2 was ingested
    expect(samples.some((id) => ((run['samples'] as Record<string, string[]>)['esp_unsubscribed'] ?? []).includes(id))).toBe(false);
    const metrics = (await app.get('/metrics')).text;
    expect(metrics).toMatch(/consent_sync_reconcile_drift_total\{esp="ometria",channel="email",kind="push_not_stuck"\} [1-9]/);
    expect(metrics).toMatch(/consent_sync_reconcile_drift_total\{esp="ometria",channel="sms",kind="push_not_stuck"\} [1-9]/);

    await settled();
    await fetch(`${sims.urls.ometria}/__sim/flush`, { method: 'POST' });
    expect((await simState('ometria'))['ns1@example.com']?.['email']).toBe('opted_out');
    expect((await simState('ometria'))['ns2@example.com']?.['sms']).toBe('opted_in');
    const ns2 = await view('ns2');
    expect((ns2['effective'] as { marketing: Record<string, string> }).marketing['sms']).toBe('opted_in');
    expect((ns2['audit'] as { source: string }[]).some((a) => a.source === 'esp:ometria')).toBe(false);
  });

  it('a forced re-opt-in newer than the ESP unsubscribe is pushed as a reactivation, never overridden', async () => {
    const contact = { externalId: 'r4', email: 'r4@example.com' };
    await record({ eventId: 'r4-in', contact, kind: 'marketing', channel: 'email', value: 'opt_in', source: 'form', moment: '2026-11-01T00:00:00Z' });
    await settled();
    await fetch(`${sims.urls.ometria}/__sim/unsubscribe`, { method: 'POST', headers: json, body: JSON.stringify({ recipient: 'r4@example.com', channel: 'email', type: 'list_unsubscribe' }) });
    // The person confirms a double opt-in a minute later, but the reactivation push is lost (400).
    sims.sims.ometria.setFaults({ rules: [{ method: 'POST', path: '/v2/push', steps: Array.from({ length: 10 }, () => ({ status: 400 })) }] });
    await record({
      eventId: 'r4-doi', contact, kind: 'marketing', channel: 'email', value: 'opt_in', source: 'form', force: true,
      moment: new Date(Date.now() + 60_000).toISOString(), proof: { doubleOptInId: 'doi-r4' },
    });
    await waitFor(async () => ((await view('r4'))['sync'] as Record<string, { status: string }>)['ometria']?.status === 'dead_letter', { what: 'dead letter' });
    sims.sims.ometria.setFaults({ rules: [] });
    expect((await simState('ometria'))['r4@example.com']?.['email']).toBe('opted_out');

    const run = await reconcile('ometria');
    expect((run['counts'] as Record<string, number>)['reactivation_pending']).toBeGreaterThanOrEqual(1);
    expect((run['actions'] as Record<string, number>)['reactivation_pushed']).toBeGreaterThanOrEqual(1);
    await settled();
    expect((await simState('ometria'))['r4@example.com']?.['email']).toBe('opted_in');
    const after = await view('r4');
    expect((after['effective'] as { marketing: Record<string, string> }).marketing['email']).toBe('opted_in');
    expect((after['audit'] as { source: string }[]).some((a) => a.source === 'esp:ometria')).toBe(false);
  });

  it('a forced re-opt-in OLDER than the ESP unsubscribe loses: the unsubscribe is ingested', async () => {
    const contact = { externalId: 'r5', email: 'r5@example.com' };
    await record({ eventId: 'r5-doi', contact, kind: 'marketing', channel: 'email', value: 'opt_in', source: 'form', force: true, moment: '2026-11-01T00:00:00Z' });
    await settled();
    await fetch(`${sims.urls.ometria}/__sim/unsubscribe`, { method: 'POST', headers: json, body: JSON.stringify({ recipient: 'r5@example.com', channel: 'email', type: 'link_unsubscribe' }) });
    const run = await reconcile('ometria');
    expect((run['counts'] as Record<string, number>)['esp_unsubscribed']).toBeGreaterThanOrEqual(1);
    await settled();
    expect(((await view('r5'))['effective'] as { marketing: Record<string, string> }).marketing['email']).toBe('opted_out');
    // once corrected, a further run finds nothing to repair
    const again = await reconcile('ometria');
    const actions = again['actions'] as Record<string, number>;
    expect(Object.values(actions).reduce((a, b) => a + b, 0)).toBe(0);
    expect(Object.keys(again['counts'] as Record<string, number>).filter((t) => t !== 'in_sync' && t !== 'esp_subscribed_we_unknown')).toEqual([]);
  });

  it('CrossEngage (read per contact): a lost opt-out is pushed again', async () => {
    await record({ eventId: 'r3-out', contact: { externalId: 'r3', email: 'r3@example.com' }, kind: 'marketing', channel: 'sms', value: 'opt_out', source: 'sms_stop', moment: '2026-11-01T00:00:00Z' });
    await settled();
    expect((await simState('crossengage'))['r3']?.['sms']).toBe('opted_out');
    // CrossEngage lost it (re-seeded user without opt-outs)
    await fetch(`${sims.urls.crossengage}/users/r3/optout-status?channelType=SMS`, {
      method: 'PUT',
      headers: { ...json, 'X-XNG-AuthToken': simulatorCredentials.crossengage.authToken, 'X-XNG-ApiVersion': '1' },
      body: JSON.stringify({ optOut: false }),
    });
    expect((await simState('crossengage'))['r3']?.['sms']).toBe('opted_in');
    const run = await reconcile('crossengage');
    expect(run['readBack']).toBe('per_contact');
    expect((run['counts'] as Record<string, number>)['push_not_stuck']).toBeGreaterThanOrEqual(1);
    await settled();
    expect((await simState('crossengage'))['r3']?.['sms']).toBe('opted_out');
  });

  it('CrossEngage: a lead that becomes a user keeps getting its state; pushes and reconciliation agree', async () => {
    await record({ eventId: 'lm-out', contact: { email: 'lm@example.com' }, kind: 'marketing', channel: 'email', value: 'opt_out', source: 'preference_center', moment: '2026-11-01T00:00:00Z' });
    await settled();
    expect((await simState('crossengage'))['lead::lm@example.com']?.['email']).toBe('opted_out');
    const stored = async () => app.ctx.models.contacts.findOne({ 'identities.email': 'lm@example.com' }).lean();
    // which CrossEngage identity holds the state is remembered on the contact
    expect((await stored())?.espIdentities).toEqual({ crossengage: 'lead' });

    // The person becomes a customer (an externalId) and opts back in.
    await record({ eventId: 'lm-in', contact: { externalId: 'lm1', email: 'lm@example.com' }, kind: 'marketing', channel: 'email', value: 'opt_in', source: 'preference_center', moment: '2026-11-02T00:00:00Z' });
    await settled();
    const held = await simState('crossengage');
    expect(held['lm1']?.['email']).toBe('opted_in');
    // the lead the opt-out went to is opted in too: not "opted out forever"
    expect(held['lead::lm@example.com']?.['email']).toBe('opted_in');
    expect((await stored())?.espIdentities).toEqual({ crossengage: 'lead' });
    expect((await view('lm1'))['espIdentities']).toEqual({ crossengage: 'lead' });

    const run = await reconcile('crossengage');
    expect(run['status']).toBe('done');
    const contactId = (await stored())?._id;
    for (const type of ['esp_unsubscribed', 'push_not_stuck', 'lost_push']) {
      expect((run['samples'] as Record<string, string[]>)[type] ?? []).not.toContain(contactId);
    }
    expect(((await view('lm1'))['effective'] as { marketing: Record<string, string> }).marketing['email']).toBe('opted_in');
  });

  it('Optimizely (its lists name opt-outs only): our acknowledged opt-out missing from its list is push_not_stuck, pushed again', async () => {
    await record({ eventId: 'op1-out', contact: { externalId: 'op1', email: 'op1@example.com' }, kind: 'marketing', channel: 'sms', value: 'opt_out', source: 'preference_center', moment: '2026-11-01T00:00:00Z' });
    await record({ eventId: 'op2-out', contact: { externalId: 'op2', email: 'op2@example.com' }, kind: 'marketing', channel: 'sms', value: 'opt_out', source: 'preference_center', moment: '2026-11-01T00:00:00Z' });
    await settled();
    expect((await simState('optimizely-campaign'))['op1@example.com']?.['sms']).toBe('opted_out');
    // Optimizely loses op1's entry: gone from its SMS unsubscribe list, with nothing said.
    const { clientId, apiUser, apiPassword } = simulatorCredentials['optimizely-campaign'];
    const lost = await fetch(`${sims.urls['optimizely-campaign']}/rest/${clientId}/unsubscribes?recipientIds=op1@example.com&mediaType=SMS`, {
      method: 'DELETE',
      headers: { authorization: `Basic ${Buffer.from(`${apiUser}:${apiPassword}`).toString('base64')}` },
    });
    expect(lost.status).toBe(204);
    expect((await simState('optimizely-campaign'))['op1@example.com']?.['sms']).toBe('opted_in');

    const run = await reconcile('optimizely-campaign');
    expect(run['status']).toBe('done');
    const op1 = (await view('op1'))['contactId'];
    const op2 = (await view('op2'))['contactId'];
    expect((run['samples'] as Record<string, string[]>)['push_not_stuck']).toContain(op1);
    // op2's opt-out is still in the list: in sync, not repaired
    expect((run['samples'] as Record<string, string[]>)['push_not_stuck'] ?? []).not.toContain(op2);
    expect((await app.get('/metrics')).text).toMatch(/consent_sync_reconcile_drift_total\{esp="optimizely-campaign",channel="sms",kind="push_not_stuck"\} [1-9]/);
    await settled();
    expect((await simState('optimizely-campaign'))['op1@example.com']?.['sms']).toBe('opted_out');
  });

  it('Dynamic Yield has no read-back: our state is re-asserted, page by page', async () => {
    for (let i = 0; i < 12; i++) {
      await record({ eventId: `dy-${i}`, contact: { externalId: `dy-${i}`, email: `dy-${i}@example.com` }, kind: 'marketing', channel: 'email', value: 'opt_out', source: 'api' });
    }
    await settled();
    const before = sims.sims['dynamic-yield'].requests().length;
    const run = await reconcile('dynamic-yield');
    expect(run['readBack']).toBe('none');
    expect(run['pages'] as number).toBeGreaterThan(1);
    expect((run['counts'] as Record<string, number>)['reasserted']).toBeGreaterThanOrEqual(12);
    await settled();
    expect(sims.sims['dynamic-yield'].requests().length).toBeGreaterThan(before + 12);
  });

  it('a list page is compared as one batch: $in reads and point reads classify and repair alike', async () => {
    await record({ eventId: 'pg1-in', contact: { externalId: 'pg1', email: 'pg1@example.com' }, kind: 'marketing', channel: 'email', value: 'opt_in', source: 'form', moment: '2026-11-01T00:00:00Z' });
    await record({ eventId: 'pg2-out', contact: { externalId: 'pg2', email: 'pg2@example.com' }, kind: 'marketing', channel: 'email', value: 'opt_out', source: 'preference_center', moment: '2026-11-01T00:00:00Z' });
    await settled();
    const pg2 = (await view('pg2'))['contactId'] as string;
    const at = '2026-11-05T00:00:00.000Z';
    const out = (identity: RemoteSuppression['identity'], channel: RemoteSuppression['channel'] = 'email'): RemoteSuppression => ({ identity, channel, state: 'opted_out', at, type: 'list_unsubscribe' });
    const items: RemoteSuppression[] = [
      out({ email: 'pg1@example.com' }), // we are opted in: ingest
      out({ email: 'pg1@example.com' }), // the same unsubscribe again in the page: one event
      out({ externalId: 'pg-nobody', email: 'pg1@example.com' }, 'sms'), // the first key with an owner decides
      out({ email: 'pg2@example.com' }), // in sync
      { ...out({ externalId: 'pg2' }), state: 'opted_in' }, // a lost push: repush, never re-subscribe
      out({ email: 'pg-nobody@example.com' }), // unknown to us: still ingested
      { ...out({ email: 'pg-nobody2@example.com' }), state: 'opted_in' }, // unknown and subscribed: nothing
      out({ email: '   ' }), // names nobody
    ];
    const readBack: ListReadBack = { kind: 'list', listPage: async () => ({ items, nextCursor: undefined }) };
    const runs = reconcileRunModel(app.ctx.mongo);
    const outcomes = [];
    // Twice: a page run again (a retried page job) decides the same way.
    for (const _run of [1, 2]) {
      const events: WireConsentEvent[] = [];
      const repushed: string[] = [];
      const deps: ReconcileDeps = {
        models: app.ctx.models,
        runs,
        readBacks: { ometria: readBack },
        recordEvents: async (batch) => void events.push(...batch),
        repush: async (_esp, contactId) => void repushed.push(contactId),
        now: () => new Date(),
        pageSize: 50,
        log: app.ctx.log,
      };
      const task = await createRun('ometria', 'cli', deps);
      expect(await runPage(task, deps)).toBeUndefined();
      const run = (await runs.findById(task.runId).lean())!;
      outcomes.push({
        status: run.status,
        compared: run.compared,
        counts: run.counts,
        actions: run.actions,
        events: events.map((e) => `${e.contact.email ?? ''}|${e.contact.externalId ?? ''}|${e.channel}|${e.value}|${e.source}`).sort(),
        eventIds: new Set(events.map((e) => e.eventId)).size,
        repushed,
      });
    }
    expect(outcomes[0]).toEqual(outcomes[1]);
    expect(outcomes[0]).toEqual({
      status: 'done',
      compared: 7,
      // pg2's opt-out was acknowledged: the ESP's opt-in is our push that did not stick
      counts: { esp_unsubscribed: 3, in_sync: 1, push_not_stuck: 1, unknown_contact: 2, invalid_identity: 1 },
      actions: { ingested_opt_out: 4, repushed: 1 },
      events: [
        'pg-nobody@example.com||email|opt_out|esp:ometria',
        'pg1@example.com|pg-nobody|sms|opt_out|esp:ometria',
        'pg1@example.com||email|opt_out|esp:ometria',
      ],
      eventIds: 3,
      repushed: [pg2],
    });
  });

  it('lists runs with the latest per ESP, and refuses unknown ESPs', async () => {
    const list = await app.get('/v1/reconciliation/runs');
    expect(list.status).toBe(200);
    expect((list.body['latest'] as Record<string, unknown>)['ometria']).toMatchObject({ esp: 'ometria', status: 'done' });
    expect((await app.post('/v1/reconciliation/runs', { esp: 'mailchimp' })).status).toBe(400);
    expect((await app.get('/v1/reconciliation/runs/nope')).status).toBe(404);
  });
});
