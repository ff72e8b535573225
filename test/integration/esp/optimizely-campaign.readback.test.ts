import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EspError } from '../../../src/esp/kit/http/errors.js';
import { createOptimizelyCampaignReadBack } from '../../../src/esp/optimizely-campaign/optimizely-campaign.readback.js';
import type { EspReadBack, ListReadBack, RemoteSuppression } from '../../../src/esp/readback.js';
import { type SimulatorHandle, simulatorCredentials, startSimulator } from '../../../src/simulators/index.js';
import { adapterFor, contact, decided, pushOne, settingsFor, silentLogger } from './support.js';

/** Optimizely Campaign read-back against its simulator, over real HTTP (esp-contracts.md §1.2). */
let sim: SimulatorHandle;
beforeAll(async () => {
  sim = await startSimulator('optimizely-campaign');
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const creds = simulatorCredentials['optimizely-campaign'];
const REST = `/rest/${creds.clientId}`;

function readBack(env: Record<string, string> = {}): ListReadBack {
  const rb: EspReadBack = createOptimizelyCampaignReadBack(
    settingsFor('optimizely-campaign', sim.url, env),
    silentLogger,
  );
  if (rb.kind !== 'list') throw new Error(`expected a list read-back, got ${rb.kind}`);
  return rb;
}

/** Every page from `cursor` on; each page through a fresh read-back, as after a crash. */
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

const at = (minute: number) => `2025-05-31T10:${String(minute).padStart(2, '0')}:00.000Z`;
const short = (i: RemoteSuppression) => `${i.identity.email ?? i.identity.externalId}/${i.channel}/${i.type}`;

async function restPost(path: string, form: Record<string, string>): Promise<void> {
  const res = await fetch(`${sim.url}${REST}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${creds.apiUser}:${creds.apiPassword}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams(form),
  });
  expect(res.status).toBeLessThan(300);
}

describe('GET /unsubscribes + /blacklistentries (§1.2)', () => {
  it('reads recipient unsubscribes (GLOBAL), pushed EMAIL/SMS/PUSH unsubscribes and the blocklist, paged by created', async () => {
    for (const [i, who] of ['g1', 'g2', 'g3'].entries()) {
      await sim.unsubscribe({ recipient: `${who}@example.com`, type: 'list_unsubscribe', at: at(i) });
    }
    const adapter = adapterFor('optimizely-campaign', sim.url);
    await pushOne(
      adapter,
      contact(
        'c1',
        { email: 'p1@example.com' },
        { email: decided('opted_out'), sms: decided('opted_out'), push: decided('opted_out') },
      ),
    );
    await pushOne(
      adapterFor('optimizely-campaign', sim.url, { OPTIMIZELY_OPTOUT_ACTION: 'blacklist' }),
      contact('c2', { email: 'b*1@example.com' }, { email: decided('opted_out') }),
    );
    await restPost('/blacklistentries', { entry: '*@spam.example', reason: 'domain' });

    const { pages, items } = await sweep(2);
    expect(pages.length).toBeGreaterThanOrEqual(4);
    expect(pages.every((p) => p.items.length <= 2)).toBe(true);
    expect(items.map(short)).toEqual([
      'g1@example.com/email/list_unsubscribe',
      'g2@example.com/email/list_unsubscribe',
      'g3@example.com/email/list_unsubscribe',
      'p1@example.com/email/rest-api',
      'p1@example.com/sms/rest-api',
      'p1@example.com/push/rest-api',
      // The wildcard pattern names no single recipient and is left out.
      'b*1@example.com/email/blocklist',
    ]);
    expect(items[0]).toEqual({
      identity: { email: 'g1@example.com' },
      channel: 'email',
      state: 'opted_out',
      at: at(0),
      type: 'list_unsubscribe',
      lastChangedAt: at(0),
    });
    expect(items.every((i) => i.state === 'opted_out' && !Number.isNaN(Date.parse(i.at)))).toBe(true);

    const reads = sim.requests().filter((r) => r.method === 'GET' && r.path.startsWith(REST));
    expect(reads[0]?.query).toMatchObject({
      mediaType: 'GLOBAL',
      sort: 'created',
      direction: 'ASC',
      offset: '0',
    });
    expect(new Set(reads.map((r) => r.query['mediaType'] ?? 'blocklist'))).toEqual(
      new Set(['GLOBAL', 'EMAIL', 'SMS', 'PUSH', 'blocklist']),
    );
    expect(reads[0]?.headers['authorization']).toBe('Basic ***');
  });

  it('resumes from a cursor in a fresh read-back (a crashed run) without losing or repeating entries', async () => {
    for (let i = 0; i < 7; i++) await sim.unsubscribe({ recipient: `r${i}@example.com`, at: at(i) });
    const first = await readBack().listPage(undefined, 3);
    expect(first.items.map((i) => i.identity.email)).toEqual([
      'r0@example.com',
      'r1@example.com',
      'r2@example.com',
    ]);
    expect(first.nextCursor).toMatch(/^rb1\./);
    const rest = await sweep(3, first.nextCursor, true);
    expect(rest.items.map((i) => i.identity.email)).toEqual([3, 4, 5, 6].map((n) => `r${n}@example.com`));
  });

  it('an entry removed before the cursor (a reactivation mid-sweep) does not make the next page skip one', async () => {
    for (let i = 0; i < 6; i++) await sim.unsubscribe({ recipient: `m${i}@example.com`, at: at(i) });
    const first = await readBack().listPage(undefined, 3);
    // Re-subscribe m0 (before the cursor) through the adapter: the list shifts left by one.
    const outcome = await pushOne(
      adapterFor('optimizely-campaign', sim.url, { OPTIMIZELY_MEDIA_TYPES: 'email:GLOBAL' }),
      contact('m0', { email: 'm0@example.com' }, { email: decided('opted_in', { authoritative: true }) }),
    );
    expect(outcome).toEqual({ kind: 'pushed' });
    const rest = await sweep(3, first.nextCursor);
    expect(rest.items.map((i) => i.identity.email)).toEqual([
      'm3@example.com',
      'm4@example.com',
      'm5@example.com',
    ]);
  });

  it('identifies recipients by externalId when OPTIMIZELY_RECIPIENT_ID=externalId', async () => {
    await sim.unsubscribe({ recipient: 'ext-42', at: at(1) });
    const rb = createOptimizelyCampaignReadBack(
      settingsFor('optimizely-campaign', sim.url, { OPTIMIZELY_RECIPIENT_ID: 'externalId' }),
      silentLogger,
    ) as ListReadBack;
    const page = await rb.listPage(undefined, 10);
    expect(page.items).toEqual([
      {
        identity: { externalId: 'ext-42' },
        channel: 'email',
        state: 'opted_out',
        at: at(1),
        type: 'list_unsubscribe',
        lastChangedAt: at(1),
      },
    ]);
  });

  it('an empty account: one page, no items, no cursor', async () => {
    expect(await readBack().listPage(undefined, 50)).toEqual({ items: [], nextCursor: undefined });
  });
});

describe('errors go through the shared classifier', () => {
  it('wrong REST password → EspError auth, no retry', async () => {
    const err = await readBack({ OPTIMIZELY_API_PASSWORD: 'wrong' })
      .listPage(undefined, 10)
      .catch((e: unknown) => e);
    expect(EspError.is(err)).toBe(true);
    expect(err).toMatchObject({ kind: 'auth', status: 401, esp: 'optimizely-campaign' });
    expect(sim.requests().filter((r) => r.path === `${REST}/unsubscribes`)).toHaveLength(1);
  });

  it('503 once is retried in the call; 503 three times → EspError retryable', async () => {
    await sim.unsubscribe({ recipient: 'x@example.com', at: at(0) });
    const fault = (n: number) =>
      sim.setFaults({
        rules: [
          {
            method: 'GET',
            path: `${REST}/unsubscribes`,
            steps: Array.from({ length: n }, () => ({ status: 503 })),
          },
        ],
      });
    fault(1);
    const page = await readBack().listPage(undefined, 10);
    expect(page.items.map((i) => i.identity.email)).toEqual(['x@example.com']);
    fault(3);
    const err = await readBack()
      .listPage(undefined, 10)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'EspError', kind: 'retryable', status: 503 });
  });

  it('a cursor of another ESP or a damaged one → permanent EspError', async () => {
    const err = await readBack()
      .listPage('rb1.eyJlIjoib21ldHJpYSIsInAiOnsicCI6InAiLCJvIjowfX0', 10)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'EspError', kind: 'permanent' });
  });
});

describe('checkOptOuts: the other direction of lists that name opt-outs only', () => {
  const checks = (channels: ('email' | 'sms' | 'push')[], ...emails: string[]) => emails.map((email) => ({ identity: { email }, channels }));

  it('answers opted_in for each asked pair the ESP holds no opt-out for, nothing for the others', async () => {
    const a = adapterFor('optimizely-campaign', sim.url);
    await pushOne(a, contact('k1', { email: 'k1@example.com' }, { email: decided('opted_out'), sms: decided('opted_out') }));
    await pushOne(a, contact('k2', { email: 'k2@example.com' }, { sms: decided('opted_out') }));
    // a mail-link unsubscribe lands in GLOBAL: it holds k3's email opt-out as well
    await sim.unsubscribe({ recipient: 'k3@example.com', mediaType: 'GLOBAL' } as Parameters<SimulatorHandle['unsubscribe']>[0]);
    const items = await readBack().checkOptOuts!(
      [...checks(['email', 'sms'], 'k1@example.com', 'k2@example.com'), ...checks(['email'], 'k3@example.com', 'k4@example.com')],
    );
    expect(items.map((i) => `${i.identity.email}/${i.channel}/${i.state}`).sort()).toEqual([
      'k2@example.com/email/opted_in',
      'k4@example.com/email/opted_in',
    ]);
    // one request per media type (and GLOBAL for email), never one per recipient
    const reads = sim.requests().filter((r) => r.method === 'GET' && r.path === `${REST}/unsubscribes`);
    expect(reads.map((r) => r.query['mediaType']).sort()).toEqual(['EMAIL', 'GLOBAL', 'SMS']);
  });

  it('with OPTIMIZELY_OPTOUT_ACTION=blacklist, email opt-outs are looked up on the blocklist', async () => {
    const env = { OPTIMIZELY_OPTOUT_ACTION: 'blacklist' };
    await pushOne(adapterFor('optimizely-campaign', sim.url, env), contact('b1', { email: 'b1@example.com' }, { email: decided('opted_out') }));
    const items = await readBack(env).checkOptOuts!(checks(['email'], 'b1@example.com', 'b2@example.com'));
    expect(items.map((i) => `${i.identity.email}/${i.channel}`)).toEqual(['b2@example.com/email']);
  });
});
