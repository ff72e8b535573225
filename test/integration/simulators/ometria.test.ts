/** Ometria simulator honours esp-contracts.md §5 (push contract, §5.3 force/non-force precedence, read-back, limits). */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type SimulatorHandle, simulatorCredentials, startSimulator } from '../../../src/simulators/index.js';
import { control, http, jsonInit, simState } from './helpers.js';

const KEY = simulatorCredentials.ometria.apiKey;
const AUTH = { 'X-Ometria-Auth': KEY };
const IN = 'EXPLICITLY_OPTEDIN';
const OUT = 'EXPLICITLY_OPTEDOUT';

interface Profile {
  id: string;
  email: string;
  marketing_optin: string | null;
  timestamp_subscribed: string | null;
  timestamp_unsubscribed: string | null;
  channels: { sms: { allow_marketing: boolean | null } };
}

const contact = (collection: string, id: string, fields: Record<string, unknown>) => ({
  '@type': 'contact',
  '@collection': collection,
  id,
  ...fields,
});

describe('ometria simulator', () => {
  let sim: SimulatorHandle;
  const clock = Date.parse('2024-03-01T12:00:00Z');
  const push = (records: unknown, headers: Record<string, string> = AUTH) =>
    http(`${sim.url}/v2/push`, jsonInit('POST', records, headers));
  const profile = async (email: string): Promise<Profile | undefined> => {
    const res = await http(`${sim.url}/v2/profiles?email=${encodeURIComponent(email)}`, { headers: AUTH });
    return (res.body as Profile[])[0];
  };
  const optin = async (email: string) => (await profile(email))?.marketing_optin;

  beforeAll(async () => {
    // Limits are tested on their own simulators below; here they must not interfere.
    sim = await startSimulator('ometria', {
      pushRatePerSecond: 10_000,
      dataApiRatePerSecond: 10_000,
      collectionSources: { shopify: 'importer', partner: 'third_party', prefs: 'preference_centre' },
      now: () => new Date(clock),
    });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  describe('POST /v2/push', () => {
    it('answers {status:"OK", request_id, accepted, rejected} with queue headers', async () => {
      const res = await push([contact('default', 'c1', { email: 'a@x.io', marketing_optin: IN })]);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'OK', accepted: 1, rejected: 0 });
      expect((res.body as { request_id: string }).request_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.headers.get('x-queuesize-limit')).toBe('50000');
      expect(Number(res.headers.get('x-queuesize-remaining'))).toBeGreaterThan(49_990);
      expect(await optin('a@x.io')).toBe(IN);
    });

    it('rejects a non-array body, malformed JSON and more than 100 records with 400', async () => {
      expect((await push(contact('default', 'c1', {}))).status).toBe(400);
      expect(
        (
          await http(`${sim.url}/v2/push`, {
            method: 'POST',
            headers: { ...AUTH, 'content-type': 'application/json' },
            body: '[{',
          })
        ).status,
      ).toBe(400);
      const many = Array.from({ length: 101 }, (_, i) =>
        contact('default', `c${i}`, { email: `c${i}@x.io` }),
      );
      expect((await push(many)).status).toBe(400);
      expect((await push(many.slice(0, 100))).body).toMatchObject({ accepted: 100, rejected: 0 });
      expect((await push([contact('default', 'c1', {}), { '@type': 'order', id: 'o1' }])).status).toBe(400);
    });

    it('checks X-Ometria-Auth (403)', async () => {
      expect((await push([], {})).status).toBe(403);
      expect((await push([], { 'X-Ometria-Auth': 'wrong' })).status).toBe(403);
      expect((await http(`${sim.url}/v2/profiles?email=a@x.io`)).status).toBe(403);
    });

    it('rejects oversized records and reports field errors asynchronously in /v2/push/_errors', async () => {
      const res = await push([
        contact('default', 'big', { email: 'big@x.io', properties: { blob: 'x'.repeat(61 * 1024) } }),
        contact('default', 'bad', { email: 'bad@x.io', marketing_optin: 'EXPLICITYLY_OPTEDOUT' }),
        contact('default', 'name', { email: 'name@x.io', lastname: 42 }),
      ]);
      expect(res.body).toMatchObject({ status: 'OK', accepted: 2, rejected: 1 });
      const errors = (await http(`${sim.url}/v2/push/_errors`, { headers: AUTH })).body;
      expect(errors).toEqual([
        { error_message: 'Payload invalid: Record is too large.', error_path: 'root' },
        { error_message: 'not a valid value', error_path: 'root > marketing_optin' },
        { error_message: 'not a valid value', error_path: 'root > lastname' },
      ]);
      expect(await profile('bad@x.io')).toBeUndefined();
    });

    it('applies records asynchronously (visible after the queue drains)', async () => {
      const slow = await startSimulator('ometria', { applyDelayMs: 10_000 });
      try {
        await http(
          `${slow.url}/v2/push`,
          jsonInit('POST', [contact('default', 'q', { email: 'q@x.io', marketing_optin: IN })], AUTH),
        );
        expect((await http(`${slow.url}/v2/profiles?email=q@x.io`, { headers: AUTH })).body).toEqual([]);
        expect((slow.state().queue as { pending: number }).pending).toBe(1);
        await control(slow.url, '/__sim/flush');
        expect(slow.state().recipients['q@x.io']).toEqual({ email: 'opted_in' });
      } finally {
        await slow.close();
      }
    });
  });

  describe('§5.3 subscription precedence', () => {
    it('without force, any opted-out listing keeps the contact opted out', async () => {
      await push([contact('default', 'l1', { email: 'p@x.io', marketing_optin: IN })]);
      await push([contact('shopify', 's1', { email: 'p@x.io', marketing_optin: OUT })]);
      expect(await optin('p@x.io')).toBe(OUT);
      await push([contact('default', 'l1', { marketing_optin: IN })]);
      expect(await optin('p@x.io')).toBe(OUT);
      expect((await simState(sim.url)).recipients['p@x.io']).toEqual({ email: 'opted_out' });
    });

    it('a forced listing wins regardless of other listings; later non-forced updates cannot override it', async () => {
      await push([contact('shopify', 's1', { email: 'f@x.io', marketing_optin: OUT })]);
      await push([contact('default', 'l1', { email: 'f@x.io', marketing_optin: IN, '@force_optin': true })]);
      expect(await optin('f@x.io')).toBe(IN);
      await push([contact('partner', 't1', { email: 'f@x.io', marketing_optin: OUT })]);
      expect(await optin('f@x.io')).toBe(IN);
      // Only another forced listing can override it (the latest forced listing wins).
      await push([contact('partner', 't1', { marketing_optin: OUT, '@force_optin': true })]);
      expect(await optin('f@x.io')).toBe(OUT);
      await push([contact('default', 'l1', { marketing_optin: IN, '@force_optin': true })]);
      expect(await optin('f@x.io')).toBe(IN);
    });

    it('@force_optin sticks to its listing until @force_optin false removes it', async () => {
      await push([contact('shopify', 's1', { email: 'k@x.io', marketing_optin: OUT })]);
      await push([contact('default', 'l1', { email: 'k@x.io', marketing_optin: IN, '@force_optin': true })]);
      await push([contact('default', 'l1', { marketing_optin: OUT })]);
      await push([contact('default', 'l1', { marketing_optin: IN })]);
      expect(await optin('k@x.io')).toBe(IN); // still forced: "only needs sending once"
      await push([contact('default', 'l1', { marketing_optin: IN, '@force_optin': false })]);
      expect(await optin('k@x.io')).toBe(OUT); // back to opt-out priority
    });

    it('the hierarchy rule (option) lets the highest-precedence source decide', async () => {
      const h = await startSimulator('ometria', {
        nonForcedRule: 'hierarchy',
        collectionSources: { prefs: 'preference_centre', shopify: 'importer' },
        dataApiRatePerSecond: 1000,
      });
      try {
        const p = (records: unknown) => http(`${h.url}/v2/push`, jsonInit('POST', records, AUTH));
        await p([contact('shopify', 's1', { email: 'h@x.io', marketing_optin: OUT })]);
        await p([contact('prefs', 'p1', { email: 'h@x.io', marketing_optin: IN })]);
        expect(h.state().recipients['h@x.io']).toEqual({ email: 'opted_in' });
      } finally {
        await h.close();
      }
    });

    it('handles SMS consent from channels.sms.allow_marketing', async () => {
      await push([
        contact('default', 'm1', { email: 'm@x.io', channels: { sms: { allow_marketing: true } } }),
      ]);
      expect((await profile('m@x.io'))?.channels.sms.allow_marketing).toBe(true);
      expect((await simState(sim.url)).recipients['m@x.io']).toEqual({ sms: 'opted_in' });
    });
  });

  describe('timestamps and events', () => {
    it('uses an explicit timestamp, else now; a timestamp without marketing_optin updates the date only', async () => {
      await push([
        contact('default', 't1', {
          email: 't@x.io',
          marketing_optin: IN,
          timestamp_subscribed: '2024-01-01T09:00:00+00',
        }),
      ]);
      expect((await profile('t@x.io'))?.timestamp_subscribed).toBe('2024-01-01T09:00:00+00');
      await push([contact('default', 't1', { marketing_optin: OUT })]);
      expect((await profile('t@x.io'))?.timestamp_unsubscribed).toBe(new Date(clock).toISOString());
      await push([contact('default', 't1', { timestamp_unsubscribed: '2024-02-02T10:00:00+00' })]);
      const p = await profile('t@x.io');
      expect([p?.marketing_optin, p?.timestamp_unsubscribed]).toEqual([OUT, '2024-02-02T10:00:00+00']);
      // A listing that does not change the status keeps the old dates (no enhanced force opt-in).
      await push([
        contact('default', 't1', { marketing_optin: OUT, timestamp_unsubscribed: '2024-02-20T10:00:00+00' }),
      ]);
      expect((await profile('t@x.io'))?.timestamp_unsubscribed).toBe('2024-02-02T10:00:00+00');
    });

    it('updates dates on every processed listing with enhanced force opt-in', async () => {
      const e = await startSimulator('ometria', { enhancedForceOptIn: true, dataApiRatePerSecond: 1000 });
      try {
        const p = (records: unknown) => http(`${e.url}/v2/push`, jsonInit('POST', records, AUTH));
        await p([
          contact('default', 'e1', {
            email: 'e@x.io',
            marketing_optin: IN,
            '@force_optin': true,
            timestamp_subscribed: '2024-01-01T00:00:00+00',
          }),
        ]);
        await p([
          contact('default', 'e1', {
            marketing_optin: IN,
            '@force_optin': true,
            timestamp_subscribed: '2024-03-01T00:00:00+00',
          }),
        ]);
        const res = await http(`${e.url}/v2/profiles?email=e@x.io`, { headers: AUTH });
        expect((res.body as Profile[])[0]?.timestamp_subscribed).toBe('2024-03-01T00:00:00+00');
      } finally {
        await e.close();
      }
    });

    it('fires subscribe/unsubscribe events only the first time per channel; welcome needs timestamp_subscribed', async () => {
      await push([
        contact('default', 'v1', {
          email: 'v@x.io',
          marketing_optin: IN,
          timestamp_subscribed: '2024-01-01T00:00:00+00',
        }),
      ]);
      await push([contact('default', 'v1', { marketing_optin: OUT })]);
      await push([contact('default', 'v1', { marketing_optin: IN, '@force_optin': true })]);
      await push([contact('default', 'v1', { marketing_optin: OUT })]);
      const events = (await simState(sim.url)).events as { type: string; welcome: boolean }[];
      expect(events.map((ev) => [ev.type, ev.welcome])).toEqual([
        ['subscribe', true],
        ['unsubscribe', false],
      ]);
    });
  });

  describe('read-back', () => {
    it('serves profiles by email (array), by id, and paged lists (limit ≤ 250)', async () => {
      await push([contact('default', 'r1', { email: 'R@x.io', customer_id: 'cust-1', marketing_optin: IN })]);
      const [p] = (await http(`${sim.url}/v2/profiles?email=r@x.io`, { headers: AUTH })).body as Profile[];
      expect(p).toMatchObject({
        email: 'r@x.io',
        customer_id: 'cust-1',
        marketing_optin: IN,
        contacts: [{ '@collection': 'default', id: 'r1' }],
      });
      expect((await http(`${sim.url}/v2/profiles/${p?.id}`, { headers: AUTH })).body).toMatchObject({
        email: 'r@x.io',
      });
      expect((await http(`${sim.url}/v2/profiles/nope`, { headers: AUTH })).status).toBe(404);
      expect((await http(`${sim.url}/v2/profiles?email=none@x.io`, { headers: AUTH })).body).toEqual([]);
      expect(
        ((await http(`${sim.url}/v2/profiles?limit=10`, { headers: AUTH })).body as unknown[]).length,
      ).toBe(1);
      expect((await http(`${sim.url}/v2/profiles?limit=251`, { headers: AUTH })).status).toBe(400);
    });

    it('acted-out unsubscribes land in /v2/unsubscribes (types, since/before, paging); API ones do not', async () => {
      await push([
        contact('default', 'u1', { email: 'u1@x.io', marketing_optin: IN }),
        contact('default', 'u2', {
          email: 'u2@x.io',
          marketing_optin: IN,
          '@force_optin': true,
          channels: { sms: { allow_marketing: true } },
        }),
        contact('default', 'u3', { email: 'u3@x.io', marketing_optin: IN }),
      ]);
      await push([contact('default', 'u3', { marketing_optin: OUT })]); // API-originated: not listed
      await control(sim.url, '/__sim/unsubscribe', {
        recipient: 'u1@x.io',
        type: 'list_unsubscribe',
        at: '2024-03-01T10:00:00Z',
      });
      await control(sim.url, '/__sim/unsubscribe', {
        recipient: 'u2@x.io',
        type: 'preference_center',
        at: '2024-03-01T11:00:00Z',
      });
      const sms = await control(sim.url, '/__sim/unsubscribe', {
        recipient: 'u2@x.io',
        channel: 'sms',
        type: 'sms_stop',
        at: '2024-03-01T12:00:00Z',
      });
      expect(sms.body).toMatchObject({ channel: 'sms', type: 'stopword_unsubscribe_TF' });
      expect(
        (
          await control(sim.url, '/__sim/unsubscribe', {
            recipient: 'u1@x.io',
            type: 'stopword_unsubscribe_DO',
          })
        ).status,
      ).toBe(400);
      expect((await control(sim.url, '/__sim/unsubscribe', { recipient: 'ghost@x.io' })).status).toBe(404);

      const all = (await http(`${sim.url}/v2/unsubscribes`, { headers: AUTH })).body as Record<
        string,
        unknown
      >[];
      expect(all.map((u) => [u.email_address, u.type, u.timestamp])).toEqual([
        ['u1@x.io', 'list_unsubscribe', '2024-03-01 10:00:00+00'],
        ['u2@x.io', 'preferences_centre', '2024-03-01 11:00:00+00'],
        ['u2@x.io', 'stopword_unsubscribe_TF', '2024-03-01 12:00:00+00'],
      ]);
      const since = (
        await http(`${sim.url}/v2/unsubscribes?since=2024-03-01T10:30:00&before=2024-03-01T11:30:00`, {
          headers: AUTH,
        })
      ).body;
      expect(since).toEqual([
        expect.objectContaining({ email_address: 'u2@x.io', type: 'preferences_centre' }),
      ]);
      const typed = (await http(`${sim.url}/v2/unsubscribes?type=list_unsubscribe`, { headers: AUTH }))
        .body as unknown[];
      expect(typed).toHaveLength(1);
      const paged = (await http(`${sim.url}/v2/unsubscribes?limit=2&offset=2`, { headers: AUTH }))
        .body as unknown[];
      expect(paged).toHaveLength(1);
      // The acted-out unsubscribe overrides even a forced opt-in, and shows in state and profiles.
      expect((await simState(sim.url)).recipients['u2@x.io']).toEqual({
        email: 'opted_out',
        sms: 'opted_out',
      });
      expect(await optin('u1@x.io')).toBe(OUT);
      // A newer forced opt-in (e.g. double opt-in confirmation) re-subscribes.
      await push([contact('default', 'u1', { marketing_optin: IN, '@force_optin': true })]);
      expect(await optin('u1@x.io')).toBe(IN);
    });
  });

  describe('limits', () => {
    it('answers 429 beyond 8 pushes per second (default)', async () => {
      const limited = await startSimulator('ometria');
      try {
        const results = await Promise.all(
          Array.from({ length: 10 }, () => http(`${limited.url}/v2/push`, jsonInit('POST', [], AUTH))),
        );
        const statuses = results.map((r) => r.status);
        expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(8);
        expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
        expect(results.find((r) => r.status === 429)?.headers.get('retry-after')).toBeNull();
      } finally {
        await limited.close();
      }
    });

    it('limits Data API reads to 4 per second and can send Retry-After (option)', async () => {
      const limited = await startSimulator('ometria', { retryAfterSeconds: 1 });
      try {
        const results = await Promise.all(
          Array.from({ length: 6 }, () => http(`${limited.url}/v2/unsubscribes`, { headers: AUTH })),
        );
        expect(results.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(4);
        const throttled = results.filter((r) => r.status === 429);
        expect(throttled.length).toBeGreaterThanOrEqual(1);
        expect(throttled[0]?.headers.get('retry-after')).toBe('1');
      } finally {
        await limited.close();
      }
    });

    it('answers 429 when the queue backlog limit is reached', async () => {
      const limited = await startSimulator('ometria', { queueLimit: 3, applyDelayMs: 10_000 });
      try {
        const p = (n: number) =>
          http(
            `${limited.url}/v2/push`,
            jsonInit(
              'POST',
              Array.from({ length: n }, (_, i) => contact('default', `q${i}`, {})),
              AUTH,
            ),
          );
        expect((await p(2)).headers.get('x-queuesize-remaining')).toBe('1');
        const full = await p(2);
        expect([full.status, full.headers.get('x-queuesize-remaining')]).toEqual([429, '1']);
      } finally {
        await limited.close();
      }
    });
  });
});
