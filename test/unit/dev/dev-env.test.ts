import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDevEnv, parseDevEnv, withDevEnv } from '../../../src/dev/dev-env.js';

const key = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,20}$/);
const vars = fc.dictionary(key, fc.string({ unit: fc.constantFrom('a', "'", '"', ' ', '$', '\\', '`', '=', '#', ':', '/', 'é') }));

describe('the dev.env file', () => {
  it('reads back exactly what it wrote, quotes and shell characters included, with or without export', () => {
    fc.assert(
      fc.property(vars, (v) => {
        expect(parseDevEnv(formatDevEnv(v))).toEqual(v);
        expect(parseDevEnv(formatDevEnv(v, 'export '))).toEqual(v);
      }),
    );
  });

  it('names the line it cannot read', () => {
    expect(() => parseDevEnv("A='1'\nB=2\n")).toThrow(/line 2: expected KEY='value'/);
  });

  it("fills in the CLI's environment only when it names no Redis and no MongoDB", () => {
    const dev = { REDIS_URL: 'redis://127.0.0.1:40001', MONGODB_URI: 'mongodb://127.0.0.1:40002/consent-sync', OMETRIA_API_KEY: 'sim' };
    expect(withDevEnv({ LOG_LEVEL: 'debug' }, dev)).toEqual({ env: { ...dev, LOG_LEVEL: 'debug' }, usedDevEnv: true });
    expect(withDevEnv({ OMETRIA_API_KEY: 'mine' }, dev).env['OMETRIA_API_KEY']).toBe('mine');
    for (const name of ['REDIS_URL', 'MONGODB_URI', 'REDIS_CLUSTER_NODES']) {
      const own = { [name]: 'x' };
      expect(withDevEnv(own, dev)).toEqual({ env: own, usedDevEnv: false });
    }
    expect(withDevEnv({}, undefined)).toEqual({ env: {}, usedDevEnv: false });
  });
});
