import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type SimulatorHandle, startSimulator } from '../../../src/simulators/index.js';
import { waitFor } from '../../support/wait-for.js';
import { adapterFor, contact, decided, MOMENT, pushError, pushOne, statusMatrix } from './support.js';

/** Ometria adapter against its simulator (esp-contracts.md §5). */
let sim: SimulatorHandle;
beforeAll(async () => {
  sim = await startSimulator('ometria');
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const adapter = (env: Record<string, string> = {}) => adapterFor('ometria', sim.url, env);
const optOut = (id: string, authoritative = false) =>
  contact(id, { email: `${id}@example.com` }, { email: decided('opted_out', { authoritative }) });
const pushes = () => sim.requests().filter((r) => r.path === '/v2/push');

describe('POST /v2/push (§5.2)', () => {
  it('sends contact records as one array and applies them', async () => {
    const out = await adapter().push(['a', 'b', 'c'].map((id) => optOut(id, id === 'a')));
    expect([...out.values()].every((o) => o.kind === 'pushed')).toBe(true);
    expect(pushes()).toHaveLength(1);
    const body = pushes()[0]?.body as Record<string, unknown>[];
    expect(body).toHaveLength(3);
    expect(body[0]).toEqual({
      '@type': 'contact',
      '@collection': 'default',
      id: 'a',
      email: 'a@example.com',
      marketing_optin: 'EXPLICITLY_OPTEDOUT',
      '@force_optin': true,
      timestamp_unsubscribed: MOMENT,
    });
    expect(pushes()[0]?.headers['x-ometria-auth']).toBe('***');
    await waitFor(() => sim.state().recipients['b@example.com']?.email === 'opted_out', {
      what: 'ometria applies the push',
    });
  });

  it('splits more than 100 records into several requests', async () => {
    const contacts = Array.from({ length: 150 }, (_, i) => optOut(`p${i}`));
    const out = await adapter({ OMETRIA_MAX_BATCH: '100' }).push(contacts);
    expect(out.size).toBe(150);
    expect(pushes().map((r) => (r.body as unknown[]).length)).toEqual([100, 50]);
  });

  it('a forced opt-in beats an earlier non-forced opt-out of the same listing', async () => {
    const a = adapter();
    await pushOne(a, optOut('f'));
    await pushOne(
      a,
      contact('f', { email: 'f@example.com' }, { email: decided('opted_in', { authoritative: true }) }),
    );
    await waitFor(() => sim.state().recipients['f@example.com']?.email === 'opted_in', {
      what: 'forced opt-in applied',
    });
  });
});

describe('rejected records (§5.2: rejected > 0, /v2/push/_errors)', () => {
  it('all rejected → dead_letter with the reason from _errors', async () => {
    sim.setFaults({
      rules: [
        {
          method: 'POST',
          path: '/v2/push',
          steps: [{ status: 200, body: { status: 'OK', request_id: 'r1', accepted: 0, rejected: 1 } }],
        },
      ],
    });
    const outcome = await pushOne(adapter(), optOut('r'));
    expect(outcome).toMatchObject({
      kind: 'dead_letter',
      reason: expect.stringMatching(/^Ometria rejected the record/),
    });
    expect(sim.requests().some((r) => r.path === '/v2/push/_errors')).toBe(true);
  });

  it('partly rejected → records re-pushed one by one to find which', async () => {
    sim.setFaults({
      rules: [
        {
          method: 'POST',
          path: '/v2/push',
          steps: [
            { status: 200, body: { status: 'OK', accepted: 1, rejected: 1 } },
            { status: 200, body: { status: 'OK', accepted: 1, rejected: 0 } },
            { status: 200, body: { status: 'OK', accepted: 0, rejected: 1 } },
          ],
        },
      ],
    });
    const out = await adapter().push([optOut('x'), optOut('y')]);
    expect(out.get('x')).toEqual({ kind: 'pushed' });
    expect(out.get('y')).toMatchObject({ kind: 'dead_letter' });
    expect(pushes().map((r) => (r.body as unknown[]).length)).toEqual([2, 1, 1]);
  });

  it('a record the simulator rejects (over 60 KB) is isolated in a real batch; reason from _errors', async () => {
    const huge = contact('x'.repeat(70_000), { email: 'huge@example.com' }, { email: decided('opted_out') });
    const out = await adapter().push([optOut('good'), huge]);
    expect(out.get('good')).toEqual({ kind: 'pushed' });
    expect(out.get(huge.contactId)).toEqual({
      kind: 'dead_letter',
      reason: expect.stringContaining('Payload invalid: Record is too large.'),
    });
    expect(pushes().map((r) => r.status)).toEqual([200, 200, 200]);
    expect(sim.requests().filter((r) => r.path === '/v2/push/_errors')).toHaveLength(1);
  });

  it('an implausible email is a dead letter before anything is sent', async () => {
    const bad = contact('bad', { email: 'not-an-email' }, { email: decided('opted_out') });
    expect(await pushOne(adapter(), bad)).toEqual({
      kind: 'dead_letter',
      reason: expect.stringMatching(/not valid/),
    });
    expect(pushes()).toHaveLength(0);
  });

  it('a wrong key → auth', async () => {
    expect(await pushError(adapter({ OMETRIA_API_KEY: 'nope' }), optOut('a'))).toMatchObject({
      kind: 'auth',
    });
  });
});

describe('status matrix on POST /v2/push', () => {
  statusMatrix({
    sim: () => sim,
    adapter,
    contact: optOut('m'),
    route: { method: 'POST', path: '/v2/push' },
    retries429Inline: true,
  });
});

describe('pacing (§5.1: push rate per second)', () => {
  it('spaces push requests to OMETRIA_PUSH_RPS within one process', async () => {
    const a = adapter({ OMETRIA_PUSH_RPS: '4' });
    await Promise.all(Array.from({ length: 5 }, (_, i) => pushOne(a, optOut(`r${i}`))));
    const times = pushes().map((r) => Date.parse(r.time));
    expect(times).toHaveLength(5);
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(950);
  });
});
