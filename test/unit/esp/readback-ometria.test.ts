import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  mapProfile,
  mapUnsubscribeRow,
  nextUnsubscribesPosition,
  type OmetriaPosition,
  ometriaSecond,
  parsePosition,
  readUnsubscribeRow,
  type UnsubscribeRow,
  unsubscribeChannel,
  unsubscribesRequest,
} from '../../../src/esp/ometria/ometria.readback.js';

describe('unsubscribe log rows (§5.4)', () => {
  it.each([
    ['list_unsubscribe', 'email'],
    ['link_unsubscribe', 'email'],
    ['preferences_centre', 'email'],
    ['app', 'email'],
    ['stopword_unsubscribe_TF', 'sms'],
    ['stopword_unsubscribe_DO', 'sms'],
  ])('%s → %s', (type, channel) => {
    expect(unsubscribeChannel(type)).toBe(channel);
  });

  it('reads a documented row and maps it with the ESP timestamp and type', () => {
    const row = readUnsubscribeRow({
      email_address: 'ann@example.com',
      profile_id: 'p1',
      reason: 'clicked',
      timestamp: '2017-05-17 22:08:07+00',
      type: 'list_unsubscribe',
    });
    expect(row).toEqual({
      email: 'ann@example.com',
      profileId: 'p1',
      at: '2017-05-17T22:08:07.000Z',
      type: 'list_unsubscribe',
      reason: 'clicked',
    });
    expect(mapUnsubscribeRow(row as UnsubscribeRow, undefined)).toEqual({
      identity: { email: 'ann@example.com' },
      channel: 'email',
      state: 'opted_out',
      at: '2017-05-17T22:08:07.000Z',
      type: 'list_unsubscribe',
    });
  });

  it('a row without email takes the identity looked up from its profile; without either it is left out', () => {
    const row: UnsubscribeRow = {
      profileId: '7',
      at: '2020-01-01T00:00:00.000Z',
      type: 'stopword_unsubscribe_DO',
    };
    expect(mapUnsubscribeRow(row, { externalId: 'c-7' })).toMatchObject({
      identity: { externalId: 'c-7' },
      channel: 'sms',
    });
    expect(mapUnsubscribeRow(row, undefined)).toBeUndefined();
    expect(mapUnsubscribeRow({ email: 'a@b.c', type: 'app' }, undefined)).toBeUndefined();
  });
});

describe('profiles (§5.4)', () => {
  it('email from marketing_optin, sms from channels.sms.allow_marketing, with their timestamps', () => {
    const items = mapProfile({
      id: '1',
      email: 'ann@example.com',
      customer_id: 'ext-1',
      marketing_optin: 'EXPLICITLY_OPTEDOUT',
      timestamp_subscribed: '2024-01-01T00:00:00+00',
      timestamp_unsubscribed: '2025-05-31T10:20:30+00',
      channels: { sms: { allow_marketing: true, timestamp_subscribed: '2024-02-02T00:00:00Z' } },
      updated: '2025-06-01T00:00:00Z',
    });
    expect(items).toEqual([
      {
        identity: { email: 'ann@example.com', externalId: 'ext-1' },
        channel: 'email',
        state: 'opted_out',
        at: '2025-05-31T10:20:30.000Z',
        type: 'profile_marketing_optin',
        lastChangedAt: '2025-06-01T00:00:00.000Z',
      },
      {
        identity: { email: 'ann@example.com', externalId: 'ext-1' },
        channel: 'sms',
        state: 'opted_in',
        at: '2024-02-02T00:00:00.000Z',
        type: 'profile_sms_allow_marketing',
        lastChangedAt: '2025-06-01T00:00:00.000Z',
      },
    ]);
  });

  it('falls back to updated; NOT_SPECIFIED / null are no state; no identity = nothing', () => {
    expect(
      mapProfile({
        email: 'b@example.com',
        marketing_optin: 'EXPLICITLY_OPTEDIN',
        channels: { sms: { allow_marketing: null } },
        updated: '2025-06-01T00:00:00Z',
      }),
    ).toEqual([
      {
        identity: { email: 'b@example.com' },
        channel: 'email',
        state: 'opted_in',
        at: '2025-06-01T00:00:00.000Z',
        type: 'profile_marketing_optin',
        lastChangedAt: '2025-06-01T00:00:00.000Z',
      },
    ]);
    expect(mapProfile({ email: 'c@example.com', marketing_optin: 'NOT_SPECIFIED' })).toEqual([]);
    expect(
      mapProfile({ id: '9', marketing_optin: 'EXPLICITLY_OPTEDOUT', updated: '2025-06-01T00:00:00Z' }),
    ).toEqual([]);
    expect(mapProfile('nope')).toEqual([]);
  });
});

describe('parsePosition', () => {
  it.each([
    [
      { p: 'p', o: 3 },
      { p: 'p', o: 3 },
    ],
    [
      { p: 'u', skip: 0, before: '2025-01-01T00:00:00' },
      { p: 'u', skip: 0, before: '2025-01-01T00:00:00' },
    ],
    [
      { p: 'u', since: '2024-01-01T00:00:00', skip: 2, before: '2025-01-01T00:00:00' },
      { p: 'u', since: '2024-01-01T00:00:00', skip: 2, before: '2025-01-01T00:00:00' },
    ],
    [{ p: 'u', skip: 0, before: 'tomorrow' }, undefined],
    [{ p: 'u', since: 5, skip: 0, before: '2025-01-01T00:00:00' }, undefined],
    [{ p: 'p', o: -1 }, undefined],
    [{ p: 'x' }, undefined],
  ])('%j → %j', (input, expected) => {
    expect(parsePosition(input)).toEqual(expected);
  });
});

/**
 * A server that answers `/v2/unsubscribes?since&before&limit&offset` as the simulator does (rows ≥
 * since and < before, oldest first, second-resolution timestamps), or one that ignores limit/offset.
 */
function serve(
  log: readonly UnsubscribeRow[],
  position: Extract<OmetriaPosition, { p: 'u' }>,
  pageSize: number,
  honoursPaging: boolean,
): UnsubscribeRow[] {
  const rows = log.filter(
    (r) =>
      (position.since === undefined || ometriaSecond(r.at ?? '') >= position.since) &&
      ometriaSecond(r.at ?? '') < position.before,
  );
  const { offset, limit } = unsubscribesRequest(position, pageSize);
  return honoursPaging ? rows.slice(offset, offset + limit) : rows;
}

function sweep(log: readonly UnsubscribeRow[], pageSize: number, honoursPaging: boolean, before: string) {
  const seen: (string | undefined)[] = [];
  let position: OmetriaPosition = { p: 'u', skip: 0, before };
  for (let i = 0; i < 500 && position.p === 'u'; i++) {
    const step = nextUnsubscribesPosition(serve(log, position, pageSize, honoursPaging), position, pageSize);
    if ('error' in step) return { error: step.error, seen };
    expect(step.take.length).toBeLessThanOrEqual(pageSize);
    seen.push(...step.take.map((r) => r.email));
    // Positions travel serialised in the cursor.
    position = parsePosition(JSON.parse(JSON.stringify(step.next))) as OmetriaPosition;
  }
  return { position, seen };
}

describe('nextUnsubscribesPosition (since/offset paging)', () => {
  const logOf = (seconds: number[]): UnsubscribeRow[] =>
    [...seconds]
      .sort((a, b) => a - b)
      .map((s, i) => ({
        email: `p${i}@example.com`,
        at: new Date(Date.UTC(2025, 0, 1, 0, 0, s)).toISOString(),
        type: 'list_unsubscribe',
      }));
  const before = '2025-01-01T00:00:15';

  it('hands out every row before `before` exactly once, whatever the page size and ties (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 9 }),
        (seconds, pageSize) => {
          const log = logOf(seconds);
          const expected = log.filter((r) => ometriaSecond(r.at ?? '') < before).map((r) => r.email);
          const result = sweep(log, pageSize, true, before);
          expect(result.position).toEqual({ p: 'p', o: 0 });
          expect(result.seen).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a server ignoring limit/offset never loops and never skips silently: exact or an error (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 9 }),
        (seconds, pageSize) => {
          const log = logOf(seconds);
          const expected = log.filter((r) => ometriaSecond(r.at ?? '') < before).map((r) => r.email);
          const result = sweep(log, pageSize, false, before);
          if (!('error' in result)) {
            expect(result.position).toEqual({ p: 'p', o: 0 });
            expect(result.seen).toEqual(expected);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a resumed page asks for one row of overlap and checks it', () => {
    const position = { p: 'u' as const, since: '2025-01-01T00:00:03', skip: 2, before, k: 'x' };
    expect(unsubscribesRequest(position, 10)).toEqual({ offset: 1, limit: 11 });
    expect(nextUnsubscribesPosition([{ type: 'app', at: '2025-01-01T00:00:03.000Z' }], position, 10)).toEqual(
      {
        error: expect.stringContaining('no longer at its offset'),
      },
    );
  });
});
