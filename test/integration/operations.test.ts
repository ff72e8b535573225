import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp } from '../support/app.js';
import { cliInProcess } from '../support/cli-in-process.js';
import { startEspSimulators } from '../support/esp-sims.js';
import { waitFor } from '../support/wait-for.js';

type App = Awaited<ReturnType<typeof startTestApp>>;
type Sims = Awaited<ReturnType<typeof startEspSimulators>>;
interface EspStatus {
  esp: string;
  paused: boolean;
  reason?: string;
  resume: string | null;
}
/** Admin API answers, as much of them as these tests read. */
interface AdminBody {
  esps: EspStatus[];
  deadLetters: unknown[];
  problems: { field: string; rule: string }[];
  [key: string]: unknown;
}

const cli = (app: App, args: string[]) => cliInProcess(app.ctx, args);

describe('dead letters and paused ESPs in one place: CLI, admin API, metrics', () => {
  let sims: Sims;
  let app: App;
  let auth: string;

  const admin = async (path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) => {
    const res = await fetch(`${app.url}/admin/consent${path}`, {
      method: init.method ?? 'GET',
      headers: {
        authorization: auth,
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...init.headers,
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    return { status: res.status, body: (await res.json().catch(() => undefined)) as AdminBody };
  };
  const write = (path: string, body: unknown) => admin(path, { method: 'POST', body, headers: { 'x-requested-by': 'test' } });

  const record = async (eventId: string, externalId: string, email: string) => {
    const res = await app.post('/v1/consent-events', {
      eventId, contact: { externalId, email }, kind: 'marketing', channel: 'email', value: 'opt_out', source: 'api',
    });
    expect(res.status).toBe(202);
  };
  const contactIdOf = (externalId: string) =>
    waitFor(async () => (await app.ctx.models.identities.findById(`ext:${externalId}`).lean())?.contactId, { what: `${externalId} applied` });
  const syncOf = async (contactId: string, esp: string) => (await app.ctx.models.contacts.findById(contactId).lean())?.sync[esp];

  beforeAll(async () => {
    sims = await startEspSimulators(['dynamic-yield', 'crossengage']);
    await fetch(`${sims.urls.crossengage}/__sim/seed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ users: ['op-1', 'op-2', 'op-3'].map((id) => ({ id })) }),
    });
    app = await startTestApp({ workers: 1, env: sims.env });
    auth = `Basic ${Buffer.from(`${app.ctx.config.board.username}:${app.ctx.config.board.password}`).toString('base64')}`;
  });
  afterAll(async () => {
    await app?.close();
    await sims?.close();
  });
  beforeEach(() => {
    for (const esp of ['dynamic-yield', 'crossengage'] as const) sims.sims[esp].setFaults({ rules: [] });
  });

  it('a refused push and a 401 show up together with the reason and how to resume; a requeue and a resume deliver them', async () => {
    sims.sims['dynamic-yield'].setFaults({ rules: [{ path: '*', steps: [{ status: 400, body: { error: 'bad request' } }] }] });
    sims.sims.crossengage.setFaults({ rules: [{ path: '*', steps: Array.from({ length: 50 }, () => ({ status: 401 })) }] });
    await record('op-e1', 'op-1', 'op1@example.com');
    const contactId = await contactIdOf('op-1');
    await waitFor(async () => (await syncOf(contactId, 'dynamic-yield'))?.status === 'dead_letter', { what: 'dead letter at Dynamic Yield' });
    await waitFor(async () => (await admin('/api/status')).body?.['esps']?.find((s: EspStatus) => s.esp === 'crossengage')?.paused, { what: 'CrossEngage paused' });

    // Same credentials as Bull Board, and nothing without them.
    expect((await fetch(`${app.url}/admin/consent/api/status`)).status).toBe(401);
    expect((await fetch(`${app.url}/admin/consent/`)).status).toBe(401);

    const status = await admin('/api/status');
    const ce = status.body['esps'].find((s: EspStatus) => s.esp === 'crossengage');
    expect(ce?.reason).toMatch(/401|credential|auth/i);
    expect(ce?.resume).toContain('consent-sync resume crossengage');
    expect(status.body['esps'].find((s: EspStatus) => s.esp === 'dynamic-yield')).toMatchObject({ paused: false, resume: null, deadLetters: 1 });

    const list = await admin('/api/dead-letters');
    expect(list.body['deadLetters']).toEqual([
      expect.objectContaining({ esp: 'dynamic-yield', contactId, reason: expect.stringMatching(/400/), contactPath: `/admin/consent/#contact=${contactId}` }),
    ]);
    expect((await admin(`/api/dead-letters/${contactId}`)).body['deadLetters']).toHaveLength(1);
    expect((await admin('/api/dead-letters/no-such-contact')).status).toBe(404);

    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).toContain('consent_sync_dead_letters{esp="dynamic-yield"} 1');
    expect(metrics).toContain('consent_sync_esp_queue_paused{esp="crossengage"} 1');

    // The CLI sees the same, in one list.
    const shown = await cli(app, ['deadletters']);
    expect(shown.code, shown.err).toBe(0);
    expect(shown.out).toMatch(/^PAUSED\tcrossengage\tsince \S+\t.*(401|credential|auth)/im);
    expect(shown.out).toContain('to resume: fix crossengage');
    expect(shown.out).toContain(`dynamic-yield\t${contactId}\t`);
    expect(shown.out).toContain('1 dead letter(s); 1 paused ESP(s)');
    const one = await cli(app, ['deadletters', 'show', contactId]);
    expect(JSON.parse(one.out).deadLetters[0]).toMatchObject({ esp: 'dynamic-yield', contactId });

    // Writes need the custom header (no cross-site form can send it) and say what is wrong.
    const unguarded = await admin('/api/dead-letters/requeue', { method: 'POST', body: { all: true } });
    expect(unguarded.status).toBe(403);
    const both = await write('/api/dead-letters/requeue', { all: true, contactId });
    expect(both.status).toBe(400);
    expect(both.body['problems'][0]?.rule).toMatch(/contactId .* or "all": true/);
    expect((await write('/api/dead-letters/requeue', { esp: 'ometria', all: true })).status).toBe(400);

    // After the fix: requeue the one contact through the outbox; it reaches Dynamic Yield.
    sims.sims['dynamic-yield'].setFaults({ rules: [] });
    const requeued = await write('/api/dead-letters/requeue', { esp: 'dynamic-yield', contactId });
    expect(requeued.body).toEqual({ requeued: { 'dynamic-yield': 1 }, total: 1 });
    await waitFor(async () => (await syncOf(contactId, 'dynamic-yield'))?.status === 'synced', { what: 'requeued push delivered' });
    expect((await app.ctx.models.contacts.findById(contactId).lean())?.deadLetters?.['dynamic-yield']).toBeUndefined();
    expect((await write('/api/dead-letters/requeue', { esp: 'dynamic-yield', contactId })).status).toBe(404);

    // After fixing the credentials: resume; the kept change is delivered, and the reason is gone.
    sims.sims.crossengage.setFaults({ rules: [] });
    expect((await write('/api/esps/crossengage/resume', {})).body).toEqual({ esp: 'crossengage', paused: false });
    await waitFor(async () => (await app.ctx.models.contacts.findById(contactId).lean())?.outbox['crossengage'] === undefined, {
      what: 'CrossEngage delivered after resume',
      timeoutMs: 60_000,
    });
    expect((await admin('/api/status')).body['esps'].find((s: EspStatus) => s.esp === 'crossengage')).toEqual({
      esp: 'crossengage', paused: false, resume: null, deadLetters: 0,
    });

    // A queue resumed outside consent-sync (Bull Board) and paused again shows the new reason.
    await app.ctx.services.pauseEsp('crossengage', 'HTTP 403: credentials rejected');
    for (const name of ['esp-sync-crossengage', 'esp-sync-first-crossengage']) await app.ctx.runtime.queue(name).resume();
    await app.ctx.services.pauseEsp('crossengage', 'HTTP 401: credentials rejected');
    await app.ctx.services.pauseEsp('crossengage', 'HTTP 403: a later push of the same pause');
    expect((await admin('/api/status')).body['esps'].find((s: EspStatus) => s.esp === 'crossengage')?.reason).toBe('HTTP 401: credentials rejected');
    await app.ctx.services.resumeEsp('crossengage');
  });

  it('CLI requeue --all after a fix delivers every dead letter of the ESP; bad use names the problem', async () => {
    sims.sims['dynamic-yield'].setFaults({ rules: [{ path: '*', steps: Array.from({ length: 4 }, () => ({ status: 400, body: { error: 'bad' } })) }] });
    await record('op-e2', 'op-2', 'op2@example.com');
    await record('op-e3', 'op-3', 'op3@example.com');
    const ids = [await contactIdOf('op-2'), await contactIdOf('op-3')];
    for (const id of ids) await waitFor(async () => (await syncOf(id, 'dynamic-yield'))?.status === 'dead_letter', { what: 'dead letters' });

    const neither = await cli(app, ['deadletters', 'requeue']);
    expect(neither.code).toBe(2);
    expect(neither.err).toContain('give a contact id or --all');
    const unknown = await cli(app, ['deadletters', 'requeue', 'no-such-contact']);
    expect(unknown.code).toBe(3);

    sims.sims['dynamic-yield'].setFaults({ rules: [] });
    const all = await cli(app, ['deadletters', 'requeue', '--all', '--esp', 'dynamic-yield']);
    expect(all.code, all.err).toBe(0);
    expect(all.out).toBe('dynamic-yield\t2 requeued\n2 requeued\n');
    for (const id of ids) await waitFor(async () => (await syncOf(id, 'dynamic-yield'))?.status === 'synced', { what: 'requeued pushes delivered' });
    expect((await cli(app, ['deadletters', '--json'])).out).toContain('"deadLetters":[]');
  });
});
