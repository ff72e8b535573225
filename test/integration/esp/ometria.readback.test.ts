import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EspError } from '../../../src/esp/kit/http/errors.js';
import { createOmetriaReadBack } from '../../../src/esp/ometria/ometria.readback.js';
import type { ListReadBack, RemoteSuppression } from '../../../src/esp/readback.js';
import { type SimulatorHandle, startSimulator } from '../../../src/simulators/index.js';
import { adapterFor, contact, decided, pushOne, settingsFor, silentLogger } from './support.js';

/** Ometria read-back against its simulator, over real HTTP (esp-contracts.md §5.4). */
let sim: SimulatorHandle;
beforeAll(async () => {
  // Fast Data API for most tests; the documented 4 rps is checked on its own below.
  sim = await startSimulator('ometria', { dataApiRatePerSecond: 1_000 });
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const readBack = (env: Record<string, string> = {}, dataApiRps = 1_000): ListReadBack =>
  createOmetriaReadBack(settingsFor('ometria', sim.url, env), silentLogger, { dataApiRps });

async function sweep(pageSize: number, cursor?: string, fresh = false) {
  let rb = readBack();
  const pages: { items: RemoteSuppression[]; nextCursor: string | undefined }[] = [];
  let next = cursor;
  for (let i = 0; i < 100; i++) {
    const page = await rb.listPage(next, pageSize);
    pages.push(page);
    if (!page.nextCursor) break;
    next = page.nextCursor;
    if (fresh) rb = readBack();
  }
  return { pages, items: pages.flatMap((p) => p.items) };
}

const seed = async (emails: string[]) => {
  const res = await fetch(`${sim.url}/__sim/seed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      contacts: emails.map((email, i) => ({
        id: `l${i}`,
        email,
        customer_id: `ext-${i}`,
        marketing_optin: 'EXPLICITLY_OPTEDIN',
      })),
    }),
  });
  expect(res.status).toBe(200);
};
const at = (second: number) => `2025-05-31T10:20:${String(second).padStart(2, '0')}.000Z`;
const logItems = (items: RemoteSuppression[]) => items.filter((i) => !i.type.startsWith('profile_'));
const profileItems = (items: RemoteSuppression[]) => items.filter((i) => i.type.startsWith('profile_'));

describe('GET /v2/unsubscribes (§5.4)', () => {
  const TYPES = [
    ['preferences_centre', 'email'],
    ['app', 'email'],
    ['list_unsubscribe', 'email'],
    ['link_unsubscribe', 'email'],
    ['stopword_unsubscribe_TF', 'sms'],
    ['stopword_unsubscribe_DO', 'sms'],
  ] as const;

  it('reads each unsubscribe type with its channel and the ESP timestamp, paged by since/offset', async () => {
    const emails = TYPES.map(([type]) => `${type.toLowerCase()}@example.com`);
    await seed(emails);
    for (const [i, [type, channel]] of TYPES.entries()) {
      await sim.unsubscribe({ recipient: emails[i] as string, channel, type, at: at(i) });
    }
    const { pages, items } = await sweep(2);
    expect(logItems(items)).toEqual(
      TYPES.map(([type, channel], i) => ({
        identity: { email: emails[i] },
        channel,
        state: 'opted_out',
        at: at(i),
        type,
      })),
    );
    expect(pages.slice(0, 3).map((p) => p.items.length)).toEqual([2, 2, 2]);
    const reads = sim.requests().filter((r) => r.path === '/v2/unsubscribes');
    expect(reads[0]?.query).toMatchObject({ limit: '2', offset: '0' });
    expect(reads[0]?.query['since']).toBeUndefined();
    expect(reads[1]?.query).toMatchObject({ since: '2025-05-31T10:20:01', offset: '0', limit: '3' });
    expect(reads.every((r) => r.query['before'] === reads[0]?.query['before'])).toBe(true);
    expect(reads[0]?.headers['x-ometria-auth']).toBe('***');
  });

  it('several unsubscribes in one second are paged by offset within that second', async () => {
    const emails = ['a', 'b', 'c', 'd', 'e'].map((x) => `${x}@example.com`);
    await seed(emails);
    for (const email of emails) await sim.unsubscribe({ recipient: email, at: at(7) });
    const { items } = await sweep(2);
    expect(logItems(items).map((i) => i.identity.email)).toEqual(emails);
  });

  it('resumes from a cursor in a fresh read-back (a crashed run)', async () => {
    const emails = ['r0', 'r1', 'r2', 'r3', 'r4'].map((x) => `${x}@example.com`);
    await seed(emails);
    for (const [i, email] of emails.entries()) await sim.unsubscribe({ recipient: email, at: at(i) });
    const first = await readBack().listPage(undefined, 2);
    expect(first.items.map((i) => i.identity.email)).toEqual(emails.slice(0, 2));
    const rest = await sweep(2, first.nextCursor, true);
    expect(logItems(rest.items).map((i) => i.identity.email)).toEqual(emails.slice(2));
  });

  it('unsubscribes logged after the sweep started belong to the next sweep', async () => {
    await seed(['early@example.com', 'late@example.com']);
    await sim.unsubscribe({ recipient: 'early@example.com', at: at(1) });
    const first = await readBack().listPage(undefined, 1);
    await sim.unsubscribe({ recipient: 'late@example.com', at: new Date(Date.now() + 5_000).toISOString() });
    const rest = await sweep(1, first.nextCursor);
    expect(logItems([...first.items, ...rest.items]).map((i) => i.identity.email)).toEqual([
      'early@example.com',
    ]);
  });
});

describe('GET /v2/profiles (§5.4): both directions, API-originated opt-outs included', () => {
  it('an API opt-out is absent from the log but read from the profile; opted-in profiles are read too', async () => {
    const adapter = adapterFor('ometria', sim.url);
    await pushOne(
      adapter,
      contact('c1', { email: 'api@example.com', externalId: 'ext-api' }, { email: decided('opted_out') }),
    );
    await pushOne(adapter, contact('c2', { email: 'in@example.com' }, { email: decided('opted_in') }));
    const pushedBy = Date.now();
    const { items } = await sweep(1);
    expect(logItems(items)).toEqual([]);
    // the profile's `updated` bounds each state: our pushes just applied, after the decision moment
    for (const item of profileItems(items)) {
      expect(Date.parse(item.lastChangedAt ?? '')).toBeGreaterThan(Date.parse('2025-05-31T10:20:30.000Z'));
      expect(Date.parse(item.lastChangedAt ?? '')).toBeLessThanOrEqual(pushedBy + 1_000);
    }
    expect(profileItems(items).map(({ lastChangedAt: _, ...item }) => item)).toEqual([
      {
        identity: { email: 'api@example.com', externalId: 'ext-api' },
        channel: 'email',
        state: 'opted_out',
        at: '2025-05-31T10:20:30.000Z',
        type: 'profile_marketing_optin',
      },
      {
        identity: { email: 'in@example.com' },
        channel: 'email',
        state: 'opted_in',
        at: '2025-05-31T10:20:30.000Z',
        type: 'profile_marketing_optin',
      },
    ]);
    const profileReads = sim.requests().filter((r) => r.path === '/v2/profiles');
    expect(profileReads.map((r) => r.query['offset'])).toEqual(['0', '1', '2']);
  });

  it('an SMS stop word shows on the profile as sms opted out', async () => {
    await seed(['sms@example.com']);
    await sim.unsubscribe({
      recipient: 'sms@example.com',
      channel: 'sms',
      type: 'stopword_unsubscribe_TF',
      at: at(3),
    });
    const { items } = await sweep(10);
    expect(profileItems(items)).toContainEqual({
      identity: { email: 'sms@example.com', externalId: 'ext-0' },
      channel: 'sms',
      state: 'opted_out',
      at: at(3),
      type: 'profile_sms_allow_marketing',
      // the stop word is the profile's last change
      lastChangedAt: at(3),
    });
  });
});

describe('Data API rate (§5.1: 4 requests/s)', () => {
  it('paces its reads to 4/s by default, so the ESP never answers 429', async () => {
    const limited = await startSimulator('ometria');
    try {
      const rb = createOmetriaReadBack(settingsFor('ometria', limited.url), silentLogger);
      const started = performance.now();
      // An empty account: each sweep is one call of two reads (the log, then the profiles).
      for (let i = 0; i < 3; i++)
        expect(await rb.listPage(undefined, 1)).toEqual({ items: [], nextCursor: undefined });
      // Six reads at 4 per second: the fifth waits for the window.
      expect(performance.now() - started).toBeGreaterThanOrEqual(900);
      expect(limited.requests().map((r) => r.status)).toEqual(Array(6).fill(200));
    } finally {
      await limited.close();
    }
  });
});

describe('errors go through the shared classifier', () => {
  it('wrong API key (403) → EspError auth', async () => {
    const err = await readBack({ OMETRIA_API_KEY: 'wrong' })
      .listPage(undefined, 10)
      .catch((e: unknown) => e);
    expect(EspError.is(err)).toBe(true);
    expect(err).toMatchObject({ kind: 'auth', status: 403, esp: 'ometria' });
  });

  it('503 three times → EspError retryable; once → retried', async () => {
    await seed(['x@example.com']);
    await sim.unsubscribe({ recipient: 'x@example.com', at: at(0) });
    const fault = (n: number) =>
      sim.setFaults({
        rules: [
          {
            method: 'GET',
            path: '/v2/unsubscribes',
            steps: Array.from({ length: n }, () => ({ status: 503 })),
          },
        ],
      });
    fault(1);
    expect((await readBack().listPage(undefined, 10)).items[0]?.identity).toEqual({ email: 'x@example.com' });
    fault(3);
    const err = await readBack()
      .listPage(undefined, 10)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'EspError', kind: 'retryable', status: 503 });
  });

  it('a log that no longer matches the cursor fails the sweep (permanent) instead of skipping', async () => {
    const emails = ['s0', 's1', 's2'].map((x) => `${x}@example.com`);
    await seed(emails);
    for (const email of emails) await sim.unsubscribe({ recipient: email, at: at(9) });
    const first = await readBack().listPage(undefined, 2);
    sim.setFaults({
      rules: [{ method: 'GET', path: '/v2/unsubscribes', steps: [{ status: 200, body: [] }] }],
    });
    const err = await readBack()
      .listPage(first.nextCursor, 2)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      name: 'EspError',
      kind: 'permanent',
      message: expect.stringContaining('new sweep'),
    });
  });
});
