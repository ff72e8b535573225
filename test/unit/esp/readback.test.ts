import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildEspSettings } from '../../../config/esps.js';
import { BUILT_IN_ESPS } from '../../../src/esp/registry.js';
import { DYNAMIC_YIELD_NO_READBACK } from '../../../src/esp/dynamic-yield/dynamic-yield.module.js';
import { EspError } from '../../../src/esp/kit/http/errors.js';
import {
  clampPageSize,
  createEspReadBacks,
  decodeCursor,
  encodeCursor,
  toIsoUtc,
} from '../../../src/esp/readback.js';
import { createLogger } from '../../../src/lib/logger.js';

const logger = createLogger({ level: 'silent', format: 'json' });

describe('cursor codec', () => {
  const parse = (p: unknown) =>
    typeof p === 'object' && p !== null && 'o' in p ? (p as { o: number }) : undefined;

  it('round-trips a position and is opaque (no JSON in the clear)', () => {
    const cursor = encodeCursor('ometria', { o: 250 });
    expect(cursor).toMatch(/^rb1\.[A-Za-z0-9_-]+$/);
    expect(decodeCursor('ometria', cursor, parse)).toEqual({ o: 250 });
  });

  it('round-trips any JSON position (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const back = decodeCursor('actito', encodeCursor('actito', value), (p) => ({ p }));
        expect(back.p).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  it.each([
    ['another ESP', encodeCursor('optimizely-campaign', { o: 1 })],
    ['garbage', 'hello'],
    ['wrong version', `rb0.${Buffer.from('{"e":"ometria","p":{"o":1}}').toString('base64url')}`],
    ['undecodable body', 'rb1.!!!'],
    ['unexpected position', encodeCursor('ometria', { x: 1 })],
  ])('rejects %s with a permanent EspError', (_what, cursor) => {
    let caught: unknown;
    try {
      decodeCursor('ometria', cursor, parse);
    } catch (err) {
      caught = err;
    }
    expect(EspError.is(caught)).toBe(true);
    expect(caught).toMatchObject({ kind: 'permanent', esp: 'ometria' });
  });
});

describe('toIsoUtc', () => {
  it.each([
    ['2017-05-17 22:08:07+00', '2017-05-17T22:08:07.000Z'],
    ['2018-04-19T09:00:00+00', '2018-04-19T09:00:00.000Z'],
    ['2025-05-31T10:20:30.123Z', '2025-05-31T10:20:30.123Z'],
    ['2025-05-31T12:20:30+02:00', '2025-05-31T10:20:30.000Z'],
    ['2025-05-31T12:20:30.5+0200', '2025-05-31T10:20:30.500Z'],
    ['2024-01-31 12:00:00', '2024-01-31T12:00:00.000Z'],
    ['2024-01-31T12:00', '2024-01-31T12:00:00.000Z'],
  ])('%s → %s', (input, expected) => {
    expect(toIsoUtc(input)).toBe(expected);
  });

  it.each([undefined, null, 42, '', 'yesterday', '2024-01-31', '2024-13-45 99:99:99'])(
    '%s → undefined',
    (v) => {
      expect(toIsoUtc(v)).toBeUndefined();
    },
  );

  it('is the identity on toISOString output (property)', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date(0), max: new Date('2200-01-01'), noInvalidDate: true }), (d) => {
        expect(toIsoUtc(d.toISOString())).toBe(d.toISOString());
      }),
    );
  });
});

describe('clampPageSize', () => {
  it.each([
    [0, 1],
    [-5, 1],
    [1.9, 1],
    [100, 100],
    [1_000, 250],
    [Number.NaN, 250],
  ])('%s → %s (max 250)', (n, expected) => {
    expect(clampPageSize(n, 250)).toBe(expected);
  });
});

describe('createEspReadBacks', () => {
  const allEnabled = {
    OPTIMIZELY_CLIENT_ID: '1',
    OPTIMIZELY_API_USER: 'u',
    OPTIMIZELY_API_PASSWORD: 'p',
    CROSSENGAGE_API_KEY: 'k',
    ACTITO_API_KEY: 'k',
    ACTITO_ENTITY: 'e',
    ACTITO_TABLE: 't',
    DY_API_KEY: 'k',
    OMETRIA_API_KEY: 'k',
  };

  it('builds the documented kind per ESP', () => {
    const readBacks = createEspReadBacks(BUILT_IN_ESPS, buildEspSettings(allEnabled), logger);
    expect(readBacks['optimizely-campaign']?.kind).toBe('list');
    expect(readBacks.ometria?.kind).toBe('list');
    expect(readBacks.crossengage?.kind).toBe('per_contact');
    expect(readBacks.actito?.kind).toBe('per_contact');
    expect(readBacks['dynamic-yield']).toEqual({ kind: 'none', reason: DYNAMIC_YIELD_NO_READBACK });
  });

  it('leaves disabled ESPs out', () => {
    const readBacks = createEspReadBacks(BUILT_IN_ESPS, buildEspSettings({ OMETRIA_API_KEY: 'k' }), logger);
    expect(Object.keys(readBacks)).toEqual(['ometria']);
  });

  it('Optimizely with only the HTTP API (form code) cannot read: kind none with the reason', () => {
    const readBacks = createEspReadBacks(BUILT_IN_ESPS, buildEspSettings({ OPTIMIZELY_FORM_AUTH_CODE: 'CODE' }), logger);
    expect(readBacks['optimizely-campaign']).toMatchObject({
      kind: 'none',
      reason: expect.stringContaining('REST API'),
    });
  });
});
