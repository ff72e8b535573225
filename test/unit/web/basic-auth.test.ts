import Fastify from 'fastify';
import { beforeEach, describe, expect, it, vi } from 'vitest';

const timingSafeEqual = vi.hoisted(() => vi.fn());
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  timingSafeEqual.mockImplementation((a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) =>
    actual.timingSafeEqual(a, b),
  );
  return { ...actual, timingSafeEqual };
});

const { basicAuthHook, checkBasicAuth, checkBearer, parseBasicAuth, parseBearer, safeEqual } = await import(
  '../../../src/web/basic-auth.js'
);

const basic = (raw: string) => `Basic ${Buffer.from(raw, 'utf8').toString('base64')}`;
const expected = { username: 'ops', password: 'correct horse battery staple' };

beforeEach(() => {
  timingSafeEqual.mockClear();
});

describe('safeEqual', () => {
  it('is plain string equality', () => {
    expect(safeEqual('secret', 'secret')).toBe(true);
    expect(safeEqual('secret', 'Secret')).toBe(false);
    expect(safeEqual('', '')).toBe(true);
    expect(safeEqual('', 'x')).toBe(false);
    expect(safeEqual('päss-wörd', 'päss-wörd')).toBe(true);
    expect(safeEqual('a'.repeat(10_000), 'a'.repeat(10_000))).toBe(true);
  });

  it('compares equal-length digests with timingSafeEqual, whatever the input lengths', () => {
    expect(safeEqual('short', 'a much longer expected secret')).toBe(false);
    expect(timingSafeEqual).toHaveBeenCalledTimes(1);
    const [a, b] = timingSafeEqual.mock.calls[0] as [Buffer, Buffer];
    expect(a.length).toBe(32);
    expect(b.length).toBe(32);
  });
});

describe('parseBasicAuth', () => {
  it('decodes user and password', () => {
    expect(parseBasicAuth(basic('ops:secret'))).toEqual({ username: 'ops', password: 'secret' });
  });

  it('accepts any case of the scheme and surrounding spaces', () => {
    const token = Buffer.from('ops:secret').toString('base64');
    for (const header of [`basic ${token}`, `BASIC ${token}`, `Basic   ${token}`, `  Basic ${token}  `]) {
      expect(parseBasicAuth(header), header).toEqual({ username: 'ops', password: 'secret' });
    }
  });

  it('splits at the first colon only: the password may contain colons, and may be empty', () => {
    expect(parseBasicAuth(basic('ops:a:b:c'))).toEqual({ username: 'ops', password: 'a:b:c' });
    expect(parseBasicAuth(basic('ops:'))).toEqual({ username: 'ops', password: '' });
    expect(parseBasicAuth(basic(':secret'))).toEqual({ username: '', password: 'secret' });
  });

  it('decodes UTF-8 credentials', () => {
    expect(parseBasicAuth(basic('jürgen:pässwörd€'))).toEqual({ username: 'jürgen', password: 'pässwörd€' });
  });

  it('returns null for a missing or malformed header', () => {
    for (const header of [
      undefined,
      '',
      'Basic',
      'Basic ',
      'Basic    ',
      basic('no-colon-here'),
      'Basic not base64!',
      'Basic dXNlcjpwYXNz=', // bad padding length
      'Basic dXNlcjpw YXNz', // two tokens
      'Basic dXNl*jpwYXNz',
      `Bearer ${Buffer.from('ops:secret').toString('base64')}`,
      `Basicx ${Buffer.from('ops:secret').toString('base64')}`,
      `Basic ${'A'.repeat(5_000)}`,
    ]) {
      expect(parseBasicAuth(header), String(header)).toBeNull();
    }
  });
});

describe('checkBasicAuth', () => {
  it('accepts exactly the configured credentials', () => {
    expect(checkBasicAuth(basic('ops:correct horse battery staple'), expected)).toBe(true);
    expect(checkBasicAuth(basic('ops:correct horse battery stapl'), expected)).toBe(false);
    expect(checkBasicAuth(basic('Ops:correct horse battery staple'), expected)).toBe(false);
    expect(checkBasicAuth(basic('ops:correct horse battery staple '), expected)).toBe(false);
    expect(checkBasicAuth(undefined, expected)).toBe(false);
  });

  it('compares both user and password even when the user is wrong (no short-circuit)', () => {
    expect(checkBasicAuth(basic('intruder:guess'), expected)).toBe(false);
    expect(timingSafeEqual).toHaveBeenCalledTimes(2);
    timingSafeEqual.mockClear();
    expect(checkBasicAuth(undefined, expected)).toBe(false);
    expect(timingSafeEqual).toHaveBeenCalledTimes(2);
  });

  it('an empty header never matches, even an empty expected password', () => {
    expect(checkBasicAuth(undefined, { username: '', password: '' })).toBe(false);
    expect(checkBasicAuth('', { username: '', password: '' })).toBe(false);
  });
});

describe('parseBearer / checkBearer', () => {
  it('extracts the token, any case of the scheme', () => {
    expect(parseBearer('Bearer abc.def-123')).toBe('abc.def-123');
    expect(parseBearer('bearer abc')).toBe('abc');
    expect(parseBearer('Bearer s3cr3t!:/+=')).toBe('s3cr3t!:/+=');
  });

  it('rejects malformed headers', () => {
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      'Bearer a b',
      'Basic abc',
      'abc',
      `Bearer ${'a'.repeat(5_000)}`,
    ]) {
      expect(parseBearer(header), String(header)).toBeNull();
    }
  });

  it('checks the token in constant time', () => {
    expect(checkBearer('Bearer tok-123', 'tok-123')).toBe(true);
    expect(checkBearer('Bearer tok-1234', 'tok-123')).toBe(false);
    expect(checkBearer(undefined, 'tok-123')).toBe(false);
    expect(timingSafeEqual).toHaveBeenCalledTimes(3);
  });
});

describe('basicAuthHook', () => {
  async function app() {
    const fastify = Fastify();
    fastify.addHook('onRequest', basicAuthHook(expected, 'the "board"'));
    fastify.get('/x', async () => ({ ok: true }));
    await fastify.ready();
    return fastify;
  }

  it('answers 401 with a Basic challenge and no body of the route', async () => {
    const fastify = await app();
    const res = await fastify.inject({ method: 'GET', url: '/x' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Basic realm="the board", charset="UTF-8"');
    expect(res.json()).toEqual({ error: 'unauthorized', message: 'authentication required' });
    const wrong = await fastify.inject({
      method: 'GET',
      url: '/x',
      headers: { authorization: basic('ops:nope') },
    });
    expect(wrong.statusCode).toBe(401);
    await fastify.close();
  });

  it('lets the request through with the right credentials', async () => {
    const fastify = await app();
    const res = await fastify.inject({
      method: 'GET',
      url: '/x',
      headers: { authorization: basic('ops:correct horse battery staple') },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true });
    await fastify.close();
  });
});
