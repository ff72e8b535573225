import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  blocklistAddress,
  consumeWindow,
  mapBlacklistEntry,
  mapUnsubscribe,
  type OptimizelyPosition,
  pageWindow,
  parsePosition,
  readBackSources,
  sourceKey,
  type WindowRow,
} from '../../../src/esp/optimizely-campaign/optimizely-campaign.readback.js';

describe('readBackSources', () => {
  it('reads GLOBAL, then each configured media type once, then the blocklist', () => {
    const sources = readBackSources({ mediaTypes: { email: 'EMAIL', sms: 'SMS', push: 'PUSH' } });
    expect(sources.map(sourceKey)).toEqual([
      'unsubscribes:GLOBAL',
      'unsubscribes:EMAIL',
      'unsubscribes:SMS',
      'unsubscribes:PUSH',
      'blacklist',
    ]);
    expect(sources[0]).toMatchObject({ channel: 'email' });
    expect(sources[2]).toMatchObject({ channel: 'sms' });
  });

  it('skips duplicates, GLOBAL mapped explicitly, and channels that are not email/sms/push', () => {
    const sources = readBackSources({ mediaTypes: { email: 'GLOBAL', letter: 'LETTER', push: 'PUSH' } });
    expect(sources.map(sourceKey)).toEqual(['unsubscribes:GLOBAL', 'unsubscribes:PUSH', 'blacklist']);
  });
});

describe('blocklistAddress', () => {
  it.each([
    ['ann@example.com', 'ann@example.com'],
    ['an\\*n@example.com', 'an*n@example.com'],
    ['what\\?@example.com', 'what?@example.com'],
    ['*@example.com', undefined],
    ['ann@exa?ple.com', undefined],
    ['example.com', undefined],
    ['', undefined],
  ])('%s → %s', (pattern, expected) => {
    expect(blocklistAddress(pattern)).toBe(expected);
  });
});

describe('mapUnsubscribe / mapBlacklistEntry', () => {
  const element = {
    recipientListId: 100200300,
    recipientId: 'ann@example.com',
    mailingId: null,
    reason: 'list_unsubscribe',
    created: '2025-05-31T10:20:30.000Z',
    mediaType: 'GLOBAL',
    links: [],
  };

  it('an unsubscribe keyed by email', () => {
    expect(mapUnsubscribe(element, 'email', { recipientId: 'email' })).toEqual({
      identity: { email: 'ann@example.com' },
      channel: 'email',
      state: 'opted_out',
      at: '2025-05-31T10:20:30.000Z',
      type: 'list_unsubscribe',
      // an entry is held now, unchanged since it was created
      lastChangedAt: '2025-05-31T10:20:30.000Z',
    });
  });

  it('an unsubscribe keyed by externalId, without a reason', () => {
    expect(
      mapUnsubscribe({ ...element, recipientId: 'ext-1', reason: '' }, 'sms', { recipientId: 'externalId' }),
    ).toMatchObject({ identity: { externalId: 'ext-1' }, channel: 'sms', type: 'unsubscribe' });
  });

  it.each([null, 'x', { ...element, recipientId: '' }, { ...element, created: 'never' }])(
    'unusable element %# → undefined',
    (e) => {
      expect(mapUnsubscribe(e, 'email', { recipientId: 'email' })).toBeUndefined();
    },
  );

  it('a blocklist entry of one address is an email opt-out; wildcards are left out', () => {
    const entry = { pattern: 'bob@example.com', reason: 'bounce', created: '2025-01-01T00:00:00Z' };
    expect(mapBlacklistEntry(entry)).toEqual({
      identity: { email: 'bob@example.com' },
      channel: 'email',
      state: 'opted_out',
      at: '2025-01-01T00:00:00.000Z',
      type: 'blocklist',
    });
    expect(mapBlacklistEntry({ ...entry, pattern: '*@example.com' })).toBeUndefined();
  });
});

describe('parsePosition', () => {
  it.each([
    [
      { s: 'blacklist', o: 0 },
      { s: 'blacklist', o: 0 },
    ],
    [
      { s: 'x', o: 5, c: 1, k: 'a' },
      { s: 'x', o: 5, c: 1, k: 'a' },
    ],
    [{ s: 'x', o: -1 }, undefined],
    [{ s: 'x', o: 1.5 }, undefined],
    [{ s: 'x', o: 1, c: 1 }, undefined],
    [{ o: 1 }, undefined],
    ['x', undefined],
  ])('%j → %j', (input, expected) => {
    expect(parsePosition(input)).toEqual(expected);
  });
});

describe('consumeWindow', () => {
  const rows = (...ats: number[]): WindowRow[] => ats.map((at, i) => ({ at, key: `k${at}-${i}` }));
  const start: OptimizelyPosition = { s: 'x', o: 0 };

  it('first page: takes up to pageSize, anchors on the last one', () => {
    const r = consumeWindow(rows(1, 2, 3), 0, 2, start, 2, false);
    expect(r).toEqual({ kind: 'ok', take: [0, 1], next: { s: 'x', o: 2, c: 2, k: 'k2-1' }, done: false });
  });

  it('short answer = done', () => {
    const r = consumeWindow(rows(1), 0, 2, start, 2, false);
    expect(r).toMatchObject({ kind: 'ok', take: [0], done: true });
  });

  it('resumes right after the anchor wherever it moved in the window', () => {
    const window: WindowRow[] = [
      { at: 1, key: 'a' },
      { at: 2, key: 'anchor' },
      { at: 3, key: 'c' },
    ];
    const r = consumeWindow(window, 4, 3, { s: 'x', o: 6, c: 2, k: 'anchor' }, 2, true);
    expect(r).toMatchObject({ kind: 'ok', take: [2], next: { o: 7, c: 3, k: 'c' } });
  });

  it('anchor gone, window starts before its created → resume at its created (ties again, none skipped)', () => {
    const window: WindowRow[] = [
      { at: 1, key: 'a' },
      { at: 2, key: 'tie' },
      { at: 3, key: 'c' },
    ];
    const r = consumeWindow(window, 4, 3, { s: 'x', o: 6, c: 2, k: 'gone' }, 5, true);
    expect(r).toMatchObject({ kind: 'ok', take: [1, 2] });
  });

  it('anchor gone and the window does not reach before it → look further back', () => {
    const window: WindowRow[] = [{ at: 2, key: 'tie' }];
    expect(consumeWindow(window, 4, 3, { s: 'x', o: 6, c: 2, k: 'gone' }, 5, true)).toEqual({
      kind: 'look_further_back',
    });
  });
});

/**
 * A sweep over a list that changes between pages (entries removed anywhere, entries appended with a
 * later `created`): every entry present from start to end of the sweep is handed out, whatever the
 * page size; pages resume from serialised positions only.
 */
describe('pageWindow over a changing list (property)', () => {
  interface Entry {
    at: number;
    key: string;
  }
  const op = fc.oneof(
    fc.record({ kind: fc.constant('remove' as const), index: fc.nat() }),
    fc.record({ kind: fc.constant('append' as const), ties: fc.boolean() }),
  );

  it('never skips an entry that stays', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 80 }),
        fc.integer({ min: 1, max: 7 }),
        fc.array(fc.array(op, { maxLength: 4 }), { maxLength: 40 }),
        async (ats, pageSize, changes) => {
          let seq = 0;
          let list: Entry[] = [...ats].sort((a, b) => a - b).map((at) => ({ at, key: `e${seq++}` }));
          const initial = new Set(list.map((e) => e.key));
          const removed = new Set<string>();
          const seen = new Set<string>();
          let position: OptimizelyPosition = { s: 'x', o: 0 };
          for (let page = 0; page < 500; page++) {
            const { elements, next, done } = await pageWindow(
              async (offset, limit) => list.slice(offset, offset + limit),
              (e: Entry) => ({ at: e.at, key: e.key }),
              JSON.parse(JSON.stringify(position)) as OptimizelyPosition,
              pageSize,
            );
            for (const e of elements) seen.add(e.key);
            if (done) break;
            position = next;
            for (const change of changes[page] ?? []) {
              if (change.kind === 'remove' && list.length > 0) {
                const [gone] = list.splice(change.index % list.length, 1);
                if (gone) removed.add(gone.key);
              } else if (change.kind === 'append') {
                const last = list[list.length - 1]?.at ?? 0;
                list = [...list, { at: change.ties ? last : last + 1, key: `e${seq++}` }];
              }
            }
          }
          for (const key of initial) if (!removed.has(key)) expect(seen.has(key), key).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
