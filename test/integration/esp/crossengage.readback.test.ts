import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCrossEngageReadBack } from '../../../src/esp/crossengage/crossengage.readback.js';
import { EspError } from '../../../src/esp/kit/http/errors.js';
import type { ContactReadBack, RemoteSuppression } from '../../../src/esp/readback.js';
import { type SimulatorHandle, startSimulator } from '../../../src/simulators/index.js';
import { adapterFor, contact, decided, pushOne, settingsFor, silentLogger } from './support.js';

/** CrossEngage read-back against its simulator, over real HTTP (esp-contracts.md §2.1, §2.5). */
let sim: SimulatorHandle;
beforeAll(async () => {
  sim = await startSimulator('crossengage');
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const NOW = Date.parse('2025-06-01T12:00:00.000Z');
const readBack = (env: Record<string, string> = {}, url = sim.url): ContactReadBack =>
  createCrossEngageReadBack(settingsFor('crossengage', url, env), silentLogger, { now: () => NOW });
const seed = (body: unknown, url = sim.url) =>
  fetch(`${url}/__sim/seed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
const states = (items: RemoteSuppression[] | string) =>
  typeof items === 'string'
    ? items
    : Object.fromEntries(items.map((i) => [i.channel, `${i.state}/${i.type}`]));

describe('GET /users/{externalId}/recipient-status (§2.1)', () => {
  it('reads what the adapter pushed and what the user did at CrossEngage, per configured channel', async () => {
    await seed({ users: [{ id: 'u1', email: 'u1@example.com' }, { id: 'u2' }] });
    await pushOne(
      adapterFor('crossengage', sim.url),
      contact('c1', { externalId: 'u1', email: 'u1@example.com' }, { email: decided('opted_out') }),
    );
    await sim.unsubscribe({ recipient: 'u2', channel: 'sms', type: 'message.unsubscribed' });

    const rb = readBack();
    const u1 = await rb.readContact({ externalId: 'u1', email: 'u1@example.com' });
    expect(u1).toEqual([
      {
        identity: { externalId: 'u1', email: 'u1@example.com' },
        channel: 'email',
        state: 'opted_out',
        at: '2025-06-01T12:00:00.000Z',
        type: 'opt_out_channel',
      },
      {
        identity: { externalId: 'u1', email: 'u1@example.com' },
        channel: 'sms',
        state: 'opted_in',
        at: '2025-06-01T12:00:00.000Z',
        type: 'recipient_status',
      },
      {
        identity: { externalId: 'u1', email: 'u1@example.com' },
        channel: 'push',
        state: 'opted_in',
        at: '2025-06-01T12:00:00.000Z',
        type: 'recipient_status',
      },
    ]);
    expect(states(await rb.readContact({ externalId: 'u2' }))).toEqual({
      email: 'opted_in/recipient_status',
      sms: 'opted_out/opt_out_channel',
      push: 'opted_in/recipient_status',
    });

    const reads = sim.requests().filter((r) => r.method === 'GET');
    expect(reads[0]?.path).toBe('/users/u1/recipient-status');
    expect(reads[0]?.headers).toMatchObject({ 'x-xng-apiversion': '1', 'x-xng-authtoken': '***' });
  });

  it('optOutAll and blacklisted suppress every channel', async () => {
    await seed({ users: [{ id: 'all' }, { id: 'black' }] });
    const headers = {
      'x-xng-authtoken': 'sim-crossengage-master-key',
      'x-xng-apiversion': '1',
      'content-type': 'application/json',
    };
    await fetch(`${sim.url}/users/all/optout-status`, { method: 'PUT', headers, body: '{"optOut":true}' });
    await fetch(`${sim.url}/users/black/blacklist-status`, {
      method: 'PUT',
      headers,
      body: '{"blacklisted":true}',
    });
    const rb = readBack();
    expect(states(await rb.readContact({ externalId: 'all' }))).toEqual({
      email: 'opted_out/opt_out_all',
      sms: 'opted_out/opt_out_all',
      push: 'opted_out/opt_out_all',
    });
    expect(states(await rb.readContact({ externalId: 'black' }))).toEqual({
      email: 'opted_out/blacklisted',
      sms: 'opted_out/blacklisted',
      push: 'opted_out/blacklisted',
    });
  });

  it('a lead (no externalId) is not_readable, without a request', async () => {
    await seed({ leads: [{ email: 'lead@example.com', businessUnit: 'de' }] });
    await pushOne(
      adapterFor('crossengage', sim.url),
      contact('l1', { email: 'lead@example.com', businessUnit: 'de' }, { email: decided('opted_out') }),
    );
    const requestsBefore = sim.requests().length;
    expect(await readBack().readContact({ email: 'lead@example.com', businessUnit: 'de' })).toBe(
      'not_readable',
    );
    expect(sim.requests()).toHaveLength(requestsBefore);
  });

  it('an unknown externalId is unknown_contact (all-clear status confirmed by optout-status 404)', async () => {
    expect(await readBack().readContact({ externalId: 'ghost' })).toBe('unknown_contact');
    expect(sim.requests().map((r) => `${r.path} ${r.status}`)).toEqual([
      '/users/ghost/recipient-status 200',
      '/users/ghost/optout-status 404',
    ]);
  });

  it('an unknown externalId is unknown_contact when recipient-status itself answers 404', async () => {
    const strict = await startSimulator('crossengage', { unknownUserRecipientStatus: 'not-found' });
    try {
      expect(await readBack({}, strict.url).readContact({ externalId: 'ghost' })).toBe('unknown_contact');
      expect(strict.requests()).toHaveLength(1);
    } finally {
      await strict.close();
    }
  });
});

describe('errors go through the shared classifier', () => {
  it('wrong API key → EspError auth', async () => {
    const err = await readBack({ CROSSENGAGE_API_KEY: 'wrong' })
      .readContact({ externalId: 'u1' })
      .catch((e: unknown) => e);
    expect(EspError.is(err)).toBe(true);
    expect(err).toMatchObject({ kind: 'auth', status: 401, esp: 'crossengage' });
  });

  it('503 three times → EspError retryable; once → retried', async () => {
    await seed({ users: [{ id: 'u1' }] });
    const fault = (n: number) =>
      sim.setFaults({
        rules: [
          {
            method: 'GET',
            path: '/users/u1/recipient-status',
            steps: Array.from({ length: n }, () => ({ status: 503 })),
          },
        ],
      });
    fault(1);
    expect(await readBack().readContact({ externalId: 'u1' })).toHaveLength(3);
    fault(3);
    const err = await readBack()
      .readContact({ externalId: 'u1' })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'EspError', kind: 'retryable', status: 503 });
  });
});
