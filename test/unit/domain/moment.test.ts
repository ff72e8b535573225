import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareMoments, parseMoment } from '../../../src/domain/index.js';

describe('parseMoment', () => {
  it.each([
    ['2026-03-01T10:00:00Z', Date.UTC(2026, 2, 1, 10)],
    ['2026-03-01T10:00:00.123Z', Date.UTC(2026, 2, 1, 10, 0, 0, 123)],
    ['2026-03-01T10:00Z', Date.UTC(2026, 2, 1, 10)],
    ['2026-03-01T12:00:00+02:00', Date.UTC(2026, 2, 1, 10)],
    ['2026-03-01T05:30:00-0430', Date.UTC(2026, 2, 1, 10)],
    ['2026-03-01T11:00:00+01', Date.UTC(2026, 2, 1, 10)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['0050-01-01T00:00:00Z', -60_589_296_000_000],
  ])('%s', (moment, epochMs) => {
    expect(parseMoment(moment)?.epochMs).toBe(epochMs);
  });

  it.each([
    '2026-03-01T10:00:00', // local time would depend on the machine
    '2026-03-01',
    '2026-03-01 10:00:00Z',
    '2026-02-29T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-03-01T24:00:00Z',
    '2026-03-01T10:60:00Z',
    '2026-03-01T10:00:60Z',
    '2026-03-01T10:00:00+24:00',
    'Sun, 01 Mar 2026 10:00:00 GMT',
    '',
  ])('rejects %j', (moment) => {
    expect(parseMoment(moment)).toBeUndefined();
  });

  it('agrees with Date for every toISOString() output', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('1970-01-01T00:00:00Z'),
          max: new Date('9999-12-31T23:59:59Z'),
          noInvalidDate: true,
        }),
        (date) => {
          expect(parseMoment(date.toISOString())).toEqual({ epochMs: date.getTime(), subMsNanos: 0 });
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('compareMoments', () => {
  it('orders sub-millisecond precision and treats equal instants as equal', () => {
    expect(compareMoments('2026-03-01T10:00:00.0001Z', '2026-03-01T10:00:00.0002Z')).toBeLessThan(0);
    expect(compareMoments('2026-03-01T10:00:00.5Z', '2026-03-01T10:00:00.499999999Z')).toBeGreaterThan(0);
    expect(compareMoments('2026-03-01T10:00:00Z', '2026-03-01T10:00:00.000Z')).toBe(0);
    expect(compareMoments('2026-03-01T10:00:00Z', '2026-03-01T11:00:00+01:00')).toBe(0);
  });

  it('puts invalid moments before every valid one', () => {
    expect(compareMoments('garbage', '1970-01-01T00:00:00Z')).toBeLessThan(0);
    expect(compareMoments('1970-01-01T00:00:00Z', 'garbage')).toBeGreaterThan(0);
  });
});
