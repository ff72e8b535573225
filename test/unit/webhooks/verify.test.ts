import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { webhookSignatureHeaders } from '../../../src/simulators/core/webhooks.js';
import {
  signedHeaders,
  signWebhook,
  verifyHmacSignature,
  verifyWebhook,
  WEBHOOK_HEADERS,
} from '../../../src/ingest/webhook-verify.js';

const SECRET = 'whsec-unit-test-0123456789';
const NOW_S = 1_795_000_000;
const NOW_MS = NOW_S * 1000;
const body = Buffer.from(
  '{"type":"unsubscribe","recipientId":"jo@example.com","created":"2026-11-20T10:15:00Z"}',
);

const verify = (
  headers: Record<string, string | string[] | undefined>,
  raw: Buffer = body,
  secrets = [SECRET],
) => verifyHmacSignature({ secrets, rawBody: raw, headers, nowMs: NOW_MS, maxSkewS: 300 });

describe('HMAC webhook signatures (X-Webhook-Timestamp + X-Webhook-Signature)', () => {
  it('accepts a valid signature and returns a replay key for the exact delivery', () => {
    const result = verify(signedHeaders(SECRET, body, NOW_S, 'd-1'));
    expect(result).toEqual({ ok: true, replayKey: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const again = verify(signedHeaders(SECRET, body, NOW_S, 'd-2'));
    expect(again).toEqual(result); // same timestamp + signature = same delivery, whatever the unsigned id says
    const later = verify(signedHeaders(SECRET, body, NOW_S + 1));
    expect(later.ok && later.replayKey).not.toBe(result.ok && result.replayKey);
  });

  it('signs "<timestamp>.<raw body>" with HMAC-SHA256, hex, prefixed v1=', async () => {
    const { createHmac } = await import('node:crypto');
    const expected = createHmac('sha256', SECRET).update(`${NOW_S}.${body.toString()}`).digest('hex');
    expect(signWebhook(SECRET, NOW_S, body)).toBe(`v1=${expected}`);
  });

  it('rejects the wrong secret', () => {
    expect(verify(signedHeaders('another-secret-0123456789', body, NOW_S))).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('rejects a stale or future timestamp beyond the allowed skew', () => {
    expect(verify(signedHeaders(SECRET, body, NOW_S - 301))).toEqual({
      ok: false,
      reason: 'stale_timestamp',
    });
    expect(verify(signedHeaders(SECRET, body, NOW_S + 301))).toEqual({
      ok: false,
      reason: 'stale_timestamp',
    });
    expect(verify(signedHeaders(SECRET, body, NOW_S - 300)).ok).toBe(true);
  });

  it('rejects a tampered body, including re-serialised JSON with the same meaning', () => {
    const headers = signedHeaders(SECRET, body, NOW_S);
    const tampered = Buffer.from(body);
    tampered[10] = (tampered[10] ?? 0) ^ 1;
    expect(verify(headers, tampered)).toEqual({ ok: false, reason: 'bad_signature' });
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 1));
    expect(verify(headers, reserialised)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('rejects a timestamp changed after signing', () => {
    const headers = signedHeaders(SECRET, body, NOW_S);
    headers[WEBHOOK_HEADERS.timestamp] = String(NOW_S + 1);
    expect(verify(headers)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('answers false, never throws, for missing, malformed and length-mismatched signatures', () => {
    expect(verify({})).toEqual({ ok: false, reason: 'missing_signature' });
    expect(verify({ [WEBHOOK_HEADERS.signature]: signWebhook(SECRET, NOW_S, body) })).toEqual({
      ok: false,
      reason: 'missing_signature',
    });
    expect(
      verify({ [WEBHOOK_HEADERS.timestamp]: 'yesterday', [WEBHOOK_HEADERS.signature]: 'v1=00' }),
    ).toEqual({
      ok: false,
      reason: 'bad_timestamp',
    });
    const ts = { [WEBHOOK_HEADERS.timestamp]: String(NOW_S) };
    expect(verify({ ...ts, [WEBHOOK_HEADERS.signature]: 'v1=abcd' })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(verify({ ...ts, [WEBHOOK_HEADERS.signature]: `v0=${'a'.repeat(64)}` })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(verify({ ...ts, [WEBHOOK_HEADERS.signature]: `v1=${'z'.repeat(64)}` })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('accepts any of several v1 signatures and any of several secrets (rotation)', () => {
    const good = signWebhook(SECRET, NOW_S, body);
    const headers = {
      [WEBHOOK_HEADERS.timestamp]: String(NOW_S),
      [WEBHOOK_HEADERS.signature]: `v1=${'0'.repeat(64)}, ${good}`,
    };
    expect(verify(headers).ok).toBe(true);
    expect(verify(signedHeaders(SECRET, body, NOW_S), body, ['new-secret-0123456789abc', SECRET]).ok).toBe(
      true,
    );
  });

  it('verifies what the simulators sign (src/simulators/core/webhooks.ts)', () => {
    const json = '{"eventType":"UPDATED_SUBSCRIPTION"}';
    const headers = webhookSignatureHeaders(SECRET, json, NOW_S);
    expect(headers['x-webhook-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(verify(headers, Buffer.from(json)).ok).toBe(true);
  });

  it('property: sign-then-verify holds for any body and secret; any body mutation fails; nothing throws', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 512 }),
        fc.string({ minLength: 1, maxLength: 64 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (bytes, secret, at, flip) => {
          const raw = Buffer.from(bytes);
          const headers = signedHeaders(secret, raw, NOW_S);
          expect(
            verifyHmacSignature({ secrets: [secret], rawBody: raw, headers, nowMs: NOW_MS, maxSkewS: 300 })
              .ok,
          ).toBe(true);
          const mutated = Buffer.concat([raw, Buffer.alloc(raw.length === 0 ? 1 : 0)]);
          const i = at % mutated.length;
          mutated[i] = (mutated[i] ?? 0) ^ flip;
          const res = verifyHmacSignature({
            secrets: [secret],
            rawBody: mutated,
            headers,
            nowMs: NOW_MS,
            maxSkewS: 300,
          });
          expect(res.ok).toBe(false);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: arbitrary header values never throw', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.string({ maxLength: 200 }), (timestamp, signature) => {
        const res = verify({
          [WEBHOOK_HEADERS.timestamp]: timestamp,
          [WEBHOOK_HEADERS.signature]: signature,
        });
        expect(res.ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});

describe('key and basic authentication (Optimizely keyAuth / basicAuth, esp-contracts.md §1.2)', () => {
  const input = (headers: Record<string, string>) => ({
    secrets: [SECRET],
    rawBody: body,
    headers,
    nowMs: NOW_MS,
    maxSkewS: 300,
  });

  it('keyAuth: the named header must carry the secret', () => {
    const auth = { type: 'key', header: 'x-webhook-key' } as const;
    expect(verifyWebhook(auth, input({ 'x-webhook-key': SECRET }))).toEqual({ ok: true });
    expect(verifyWebhook(auth, input({ 'x-webhook-key': `${SECRET}x` }))).toEqual({
      ok: false,
      reason: 'bad_credentials',
    });
    expect(verifyWebhook(auth, input({}))).toEqual({ ok: false, reason: 'missing_credentials' });
  });

  it('basicAuth: user and secret as password', () => {
    const auth = { type: 'basic', username: 'optimizely' } as const;
    const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
    expect(verifyWebhook(auth, input({ authorization: basic('optimizely', SECRET) }))).toEqual({ ok: true });
    expect(verifyWebhook(auth, input({ authorization: basic('someone', SECRET) })).ok).toBe(false);
    expect(verifyWebhook(auth, input({ authorization: basic('optimizely', 'nope') })).ok).toBe(false);
    expect(verifyWebhook(auth, input({ authorization: 'Bearer x' }))).toEqual({
      ok: false,
      reason: 'missing_credentials',
    });
  });

  it('no secrets configured: nothing verifies', () => {
    expect(
      verifyWebhook({ type: 'hmac' }, { ...input(signedHeaders(SECRET, body, NOW_S)), secrets: [] }).ok,
    ).toBe(false);
  });
});
