import { describe, expect, it } from 'vitest';
import type { Models } from '../../../src/persistence/models.js';
import {
  aheadFilters,
  countAhead,
  entryLane,
  laneFilter,
  pendingPush,
  placeInLine,
} from '../../../src/metrics/backlog.js';
import { fakeContacts } from './fake-contacts.js';

const at = (iso: string) => new Date(iso);

describe('backlog filters (pure)', () => {
  it('an entry without a lane is bulk', () => {
    expect(entryLane({})).toBe(3);
    expect(entryLane({ lane: 1 })).toBe(1);
  });

  it('lanes 1 and 2 match by equality; bulk is every other pending entry', () => {
    expect(laneFilter('ometria', 1)).toEqual({ 'outbox.ometria.lane': 1 });
    expect(laneFilter('ometria', 2)).toEqual({ 'outbox.ometria.lane': 2 });
    expect(laneFilter('ometria', 3)).toEqual({
      'outbox.ometria.version': { $exists: true },
      'outbox.ometria.lane': { $nin: [1, 2] },
    });
  });

  it('ahead of an entry: more urgent lanes, then older entries of its own lane', () => {
    const since = at('2026-11-20T10:00:00Z');
    expect(aheadFilters('actito', 1, since)).toEqual([
      { 'outbox.actito.lane': 1, 'outbox.actito.since': { $lt: since } },
    ]);
    expect(aheadFilters('actito', 2, since)).toEqual([
      { 'outbox.actito.lane': { $in: [1] } },
      { 'outbox.actito.lane': 2, 'outbox.actito.since': { $lt: since } },
    ]);
    expect(aheadFilters('actito', 3, since)).toEqual([
      { 'outbox.actito.lane': { $in: [1, 2] } },
      {
        'outbox.actito.version': { $exists: true },
        'outbox.actito.lane': { $nin: [1, 2] },
        'outbox.actito.since': { $lt: since },
      },
    ]);
  });

  it('says it is an estimate', () => {
    expect(placeInLine(7)).toEqual({ ahead: 7, estimate: true, text: 'about 7 ahead' });
  });
});

describe('countAhead and pendingPush (over an in-memory contacts model)', () => {
  const e = (lane: 1 | 2 | 3 | undefined, since: string) => ({
    version: 1,
    since: at(since),
    optOut: lane !== 3,
    ...(lane ? { lane } : {}),
  });
  const contacts = fakeContacts([
    { _id: 'p1', outbox: { ometria: e(1, '2026-11-20T09:00:00Z') } },
    { _id: 'p2', outbox: { ometria: e(1, '2026-11-20T11:00:00Z') } },
    { _id: 'o1', outbox: { ometria: e(2, '2026-11-20T08:00:00Z') } },
    { _id: 'o2', outbox: { ometria: e(2, '2026-11-20T10:30:00Z') } },
    { _id: 'b1', outbox: { ometria: e(3, '2026-11-19T00:00:00Z') } },
    { _id: 'b2', outbox: { ometria: e(undefined, '2026-11-19T12:00:00Z') } }, // written before lanes
    { _id: 'b3', outbox: { ometria: e(3, '2026-11-21T00:00:00Z') } },
    { _id: 'x1', outbox: { actito: e(1, '2026-11-01T00:00:00Z') } }, // another ESP
    { _id: 'n1', outbox: {} },
  ]);
  const models = { contacts } as unknown as Models;

  it('counts the more urgent lanes whole and the same lane up to `since`', async () => {
    expect(await countAhead(models, 'ometria', 1, at('2026-11-20T10:00:00Z'))).toBe(1); // p1
    expect(await countAhead(models, 'ometria', 1, at('2026-11-20T09:00:00Z'))).toBe(0); // not itself
    expect(await countAhead(models, 'ometria', 2, at('2026-11-20T10:30:00Z'))).toBe(3); // p1 p2 o1
    expect(await countAhead(models, 'ometria', 3, at('2026-11-20T00:00:00Z'))).toBe(6); // 4 urgent + b1 b2
    expect(await countAhead(models, 'actito', 3, at('2026-11-20T00:00:00Z'))).toBe(1);
  });

  it('pendingPush shows lane number and name, and the place in line', async () => {
    const entry = { version: 4, since: at('2026-11-20T10:00:00Z'), optOut: true, lane: 2 as const, claimUntil: 0 };
    expect(await pendingPush(models, 'ometria', entry)).toEqual({
      ...entry,
      laneName: 'optout',
      placeInLine: { ahead: 3, estimate: true, text: 'about 3 ahead' }, // p1 p2 o1
    });
    const old = { version: 1, since: at('2026-11-19T06:00:00Z'), optOut: false };
    expect(await pendingPush(models, 'ometria', old)).toMatchObject({
      lane: 3,
      laneName: 'bulk',
      placeInLine: { ahead: 5 }, // p1 p2 o1 o2 b1
    });
  });
});
