import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createUnsubscribeToken,
  listUnsubscribeHeaders,
  oneClickEventId,
  parseContactKey,
  verifyUnsubscribeToken,
} from '../../../src/ingest/one-click.js';
import { isOneClickBody } from '../../../src/web/unsubscribe.routes.js';

const SECRET = 'unit-test-unsubscribe-secret-0123456789abcdef';
const ISSUED = new Date('2026-11-20T10:15:00Z');

describe('one-click unsubscribe tokens', () => {
  it('round-trips contact key, channel, list, business unit and issue time', () => {
    const token = createUnsubscribeToken(
      {
        contactKey: 'email:Jo@Example.com',
        channel: 'email',
        listId: 'newsletter-7',
        businessUnit: 'shop-de',
      },
      SECRET,
      ISSUED,
    );
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    const result = verifyUnsubscribeToken(token, SECRET);
    expect(result).toEqual({
      ok: true,
      tokenId: expect.stringMatching(/^[0-9a-f]{40}$/),
      payload: {
        contactKey: 'email:Jo@Example.com',
        channel: 'email',
        listId: 'newsletter-7',
        businessUnit: 'shop-de',
        issuedAt: ISSUED,
      },
    });
  });

  it('is opaque: no identity in clear, and two tokens for the same input differ', () => {
    const a = createUnsubscribeToken(
      { contactKey: 'email:jo@example.com', channel: 'email' },
      SECRET,
      ISSUED,
    );
    const b = createUnsubscribeToken(
      { contactKey: 'email:jo@example.com', channel: 'email' },
      SECRET,
      ISSUED,
    );
    expect(a).not.toBe(b);
    const bytes = Buffer.from(a, 'base64url').toString('latin1');
    expect(bytes).not.toContain('jo@example.com');
    expect(bytes).not.toContain('email');
    expect(a.length).toBeLessThan(200);
  });

  it('is versioned: a token with another version byte is refused', () => {
    const token = createUnsubscribeToken({ contactKey: 'contact:c-1', channel: 'sms' }, SECRET, ISSUED);
    const bytes = Buffer.from(token, 'base64url');
    expect(bytes[0]).toBe(1);
    bytes[0] = 2;
    expect(verifyUnsubscribeToken(bytes.toString('base64url'), SECRET)).toEqual({
      ok: false,
      reason: 'version',
    });
  });

  it('rejects another secret, garbage, and expired tokens', () => {
    const token = createUnsubscribeToken({ contactKey: 'externalId:u-1', channel: 'push' }, SECRET, ISSUED);
    expect(verifyUnsubscribeToken(token, 'another-secret-0123456789abcdef0123')).toEqual({
      ok: false,
      reason: 'signature',
    });
    expect(verifyUnsubscribeToken('', SECRET)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyUnsubscribeToken('not a token!', SECRET)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyUnsubscribeToken('AQ', SECRET)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyUnsubscribeToken('x'.repeat(5000), SECRET)).toEqual({ ok: false, reason: 'malformed' });
    const day = 86_400;
    expect(
      verifyUnsubscribeToken(token, SECRET, {
        now: new Date(ISSUED.getTime() + 31 * day * 1000),
        maxAgeS: 30 * day,
      }),
    ).toEqual({
      ok: false,
      reason: 'expired',
    });
    expect(
      verifyUnsubscribeToken(token, SECRET, {
        now: new Date(ISSUED.getTime() + 29 * day * 1000),
        maxAgeS: 30 * day,
      }).ok,
    ).toBe(true);
    expect(
      verifyUnsubscribeToken(token, SECRET, { now: new Date('2036-01-01T00:00:00Z'), maxAgeS: 0 }).ok,
    ).toBe(true);
  });

  it('refuses inputs no endpoint could act on', () => {
    expect(() => createUnsubscribeToken({ contactKey: 'jo@example.com', channel: 'email' }, SECRET)).toThrow(
      TypeError,
    );
    expect(() =>
      createUnsubscribeToken({ contactKey: 'email:jo@example.com', channel: 'E-Mail' }, SECRET),
    ).toThrow(TypeError);
    expect(() =>
      createUnsubscribeToken({ contactKey: 'email:jo@example.com', channel: 'email' }, ''),
    ).toThrow(TypeError);
  });

  it('property: any tampered token is rejected (changed, inserted or removed characters; truncation; extension)', () => {
    const token = createUnsubscribeToken(
      { contactKey: 'contact:64f0c0ffee', channel: 'email', listId: 'l1' },
      SECRET,
      ISSUED,
    );
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const tamper = fc.oneof(
      fc.record({ op: fc.constant('replace' as const), at: fc.nat(), ch: fc.constantFrom(...alphabet) }),
      fc.record({ op: fc.constant('insert' as const), at: fc.nat(), ch: fc.constantFrom(...alphabet) }),
      fc.record({ op: fc.constant('delete' as const), at: fc.nat(), ch: fc.constant('') }),
      fc.record({ op: fc.constant('truncate' as const), at: fc.nat(), ch: fc.constant('') }),
    );
    fc.assert(
      fc.property(tamper, ({ op, at, ch }) => {
        const i = at % token.length;
        const changed =
          op === 'replace'
            ? token.slice(0, i) + ch + token.slice(i + 1)
            : op === 'insert'
              ? token.slice(0, i) + ch + token.slice(i)
              : op === 'delete'
                ? token.slice(0, i) + token.slice(i + 1)
                : token.slice(0, i);
        fc.pre(changed !== token);
        expect(verifyUnsubscribeToken(changed, SECRET).ok).toBe(false);
      }),
      { numRuns: 2_000 },
    );
  });

  it('property: any bit flip in the token bytes is rejected; random strings never verify or throw', () => {
    const token = createUnsubscribeToken(
      { contactKey: 'phone:+4915112345678', channel: 'sms' },
      SECRET,
      ISSUED,
    );
    const bytes = Buffer.from(token, 'base64url');
    fc.assert(
      fc.property(fc.nat({ max: bytes.length * 8 - 1 }), (bit) => {
        const copy = Buffer.from(bytes);
        copy[bit >> 3] = (copy[bit >> 3] ?? 0) ^ (1 << (bit & 7));
        expect(verifyUnsubscribeToken(copy.toString('base64url'), SECRET).ok).toBe(false);
      }),
      { numRuns: 1_000 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        expect(verifyUnsubscribeToken(s, SECRET).ok).toBe(false);
      }),
      { numRuns: 1_000 },
    );
  });

  it('event ids: same token and day → same id; another day or token → another id', () => {
    const day1 = new Date('2026-11-20T08:00:00Z');
    expect(oneClickEventId('ab'.repeat(20), day1)).toBe(`lu:${'ab'.repeat(20)}:20261120`);
    expect(oneClickEventId('ab'.repeat(20), new Date('2026-11-20T23:59:59Z'))).toBe(
      oneClickEventId('ab'.repeat(20), day1),
    );
    expect(oneClickEventId('ab'.repeat(20), new Date('2026-11-21T00:00:00Z'))).not.toBe(
      oneClickEventId('ab'.repeat(20), day1),
    );
  });

  it('contact keys: reference or identity', () => {
    expect(parseContactKey('contact:abc')).toEqual({ kind: 'contact', contactId: 'abc' });
    expect(parseContactKey('email:jo@example.com', 'bu')).toEqual({
      kind: 'identity',
      identity: { email: 'jo@example.com', businessUnit: 'bu' },
    });
    expect(parseContactKey('externalId:u:1')).toEqual({ kind: 'identity', identity: { externalId: 'u:1' } });
    expect(parseContactKey('phone:+4915112345678')).toEqual({
      kind: 'identity',
      identity: { phone: '+4915112345678' },
    });
  });
});

describe('List-Unsubscribe headers (RFC 8058)', () => {
  it('gives one https URI with the opaque token and List-Unsubscribe-Post exactly', () => {
    const headers = listUnsubscribeHeaders({ contactKey: 'contact:c-42', listId: 'news' }, 'email', {
      publicBaseUrl: 'https://consent.example.com/',
      secret: SECRET,
      issuedAt: ISSUED,
    });
    expect(Object.keys(headers)).toEqual(['List-Unsubscribe', 'List-Unsubscribe-Post']);
    expect(headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    const match = /^<https:\/\/consent\.example\.com\/u\/([A-Za-z0-9_-]+)>$/.exec(
      headers['List-Unsubscribe'],
    );
    expect(match).not.toBeNull();
    const verified = verifyUnsubscribeToken(match?.[1] ?? '', SECRET);
    expect(verified.ok && verified.payload).toEqual({
      contactKey: 'contact:c-42',
      channel: 'email',
      listId: 'news',
      issuedAt: ISSUED,
    });
  });

  it('adds a mailto URI after the https one when configured; no header value holds the email in clear', () => {
    const headers = listUnsubscribeHeaders({ contactKey: 'email:jo@example.com' }, 'email', {
      publicBaseUrl: 'https://consent.example.com',
      secret: SECRET,
      mailto: 'unsubscribe@mail.example.com',
    });
    const [https, mailto] = headers['List-Unsubscribe'].split(', ');
    expect(https).toMatch(/^<https:\/\/consent\.example\.com\/u\/[A-Za-z0-9_-]+>$/);
    expect(mailto).toMatch(/^<mailto:unsubscribe@mail\.example\.com\?subject=unsubscribe%20[A-Za-z0-9_-]+>$/);
    expect(headers['List-Unsubscribe']).not.toContain('jo@example.com');
  });

  it('property: every generated header carries a token that verifies to its input', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('contact', 'externalId', 'email', 'phone'),
        fc.string({ minLength: 1, maxLength: 60 }).filter((s) => /^\S/.test(s) && !/\p{Cc}/u.test(s)),
        fc.constantFrom('email', 'sms', 'push', 'all'),
        (kind, value, channel) => {
          const headers = listUnsubscribeHeaders({ contactKey: `${kind}:${value}` }, channel, {
            publicBaseUrl: 'https://c.example',
            secret: SECRET,
            issuedAt: ISSUED,
          });
          const token = /\/u\/([A-Za-z0-9_-]+)>/.exec(headers['List-Unsubscribe'])?.[1] ?? '';
          const verified = verifyUnsubscribeToken(token, SECRET);
          expect(verified.ok && verified.payload.contactKey).toBe(`${kind}:${value}`);
          expect(verified.ok && verified.payload.channel).toBe(channel);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('one-click body (RFC 8058: List-Unsubscribe=One-Click)', () => {
  it('accepts the form-encoded and multipart bodies, refuses anything else', async () => {
    const form = 'application/x-www-form-urlencoded';
    expect(await isOneClickBody(form, Buffer.from('List-Unsubscribe=One-Click'))).toBe(true);
    expect(await isOneClickBody(`${form}; charset=utf-8`, Buffer.from('List-Unsubscribe=One-Click'))).toBe(
      true,
    );
    expect(await isOneClickBody(form, Buffer.from('List-Unsubscribe=one-click'))).toBe(false);
    // a trailing line break (CRLF or LF), as a client copying the header value sends it
    expect(await isOneClickBody(form, Buffer.from('List-Unsubscribe=One-Click\r\n'))).toBe(true);
    expect(await isOneClickBody(form, Buffer.from('List-Unsubscribe=One-Click\n'))).toBe(true);
    // …but not other trailing text
    expect(await isOneClickBody(form, Buffer.from('List-Unsubscribe=One-Click\r\nx'))).toBe(false);
    expect(await isOneClickBody(form, Buffer.from('List-Unsubscribe=One-Click '))).toBe(false);
    expect(await isOneClickBody(form, Buffer.from(''))).toBe(false);
    expect(await isOneClickBody('application/json', Buffer.from('{"List-Unsubscribe":"One-Click"}'))).toBe(
      false,
    );
    expect(await isOneClickBody(undefined, Buffer.from('List-Unsubscribe=One-Click'))).toBe(false);
    const multipart = [
      '--b1',
      'Content-Disposition: form-data; name="List-Unsubscribe"',
      '',
      'One-Click',
      '--b1--',
      '',
    ].join('\r\n');
    expect(await isOneClickBody('multipart/form-data; boundary=b1', Buffer.from(multipart))).toBe(true);
    expect(await isOneClickBody('multipart/form-data; boundary=zz', Buffer.from(multipart))).toBe(false);
  });
});
