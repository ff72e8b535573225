import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildEspSettings } from '../../../config/esps.js';
import {
  blacklistPattern,
  type HttpOperation,
  parseToken,
  tokenResult,
  unsubscribedIds,
  unsuccessfulIds,
} from '../../../src/esp/optimizely-campaign/optimizely-campaign.mapping.js';
import { planOperations } from '../../../src/esp/optimizely-campaign/optimizely-campaign.plan.js';
import { makeSnapshot, state } from './make-snapshot.js';

describe('Optimizely HTTP API tokens (esp-contracts.md §1.1)', () => {
  it.each<[string, HttpOperation, unknown]>([
    ['ok', 'unsubscribe', { outcome: { kind: 'pushed' } }],
    ['ok\n', 'createtrackingoptout', { outcome: { kind: 'pushed' } }],
    ['ok:update', 'subscribe', { outcome: { kind: 'pushed' } }],
    ['ok: already_unsubscribed', 'unsubscribe', { outcome: { kind: 'already_in_state' } }],
    ['ok: already_blacklisted', 'blacklist', { outcome: { kind: 'already_in_state' } }],
    ['ok: not_found', 'unsubscribe', { outcome: { kind: 'already_in_state' } }],
    ['enqueued', 'subscribe', { outcome: { kind: 'pushed' } }],
    ['duplicate', 'subscribe', { outcome: { kind: 'already_in_state' } }],
    [
      'blacklisted',
      'subscribe',
      { outcome: { kind: 'reactivation_blocked', reason: expect.stringMatching(/blacklisted/) } },
    ],
    [
      'unsubscribed',
      'subscribe',
      { outcome: { kind: 'reactivation_blocked', reason: expect.stringMatching(/opt-in process/) } },
    ],
    [
      'vetoed',
      'createtrackingoptout',
      { outcome: { kind: 'not_applicable', detail: expect.stringMatching(/vetoed/) } },
    ],
    [
      'missing_id',
      'unsubscribe',
      { outcome: { kind: 'dead_letter', reason: expect.stringMatching(/missing_id/) } },
    ],
    [
      'system_error',
      'unsubscribe',
      { error: { kind: 'retryable', reason: expect.stringMatching(/system_error/) } },
    ],
    [
      'wrong_tag',
      'unsubscribe',
      { error: { kind: 'auth', reason: expect.stringMatching(/wrong_tag \(configuration\)/) } },
    ],
    [
      'something else',
      'unsubscribe',
      { outcome: { kind: 'dead_letter', reason: expect.stringMatching(/unrecognised/) } },
    ],
    ['', 'unsubscribe', { outcome: { kind: 'dead_letter', reason: expect.stringMatching(/unrecognised/) } }],
  ])('%j from %s', (body, operation, expected) => {
    expect(tokenResult(operation, parseToken(body))).toEqual(expected);
  });

  it.each([
    [501, 'wrong authentication tag'],
    [502, 'wrong request IP'],
    [503, 'wrong request method'],
    [504, 'wrong protocol'],
    [505, 'wrong recipient list'],
    [506, 'wrong action'],
    [507, 'action not found'],
  ])('wrong_tag %i is a configuration (auth) failure naming "%s", in any spelling', (code, meaning) => {
    for (const body of [
      `wrong_tag ${code}`,
      `wrong_tag: ${code}`,
      `wrong_tag:${code}`,
      `wrong_tag (${code})`,
    ]) {
      expect(parseToken(body)).toEqual({ token: 'wrong_tag', code });
      expect(tokenResult('unsubscribe', parseToken(body))).toEqual({
        error: {
          kind: 'auth',
          reason: `Optimizely HTTP API answered wrong_tag ${code}: ${meaning} (configuration)`,
        },
      });
    }
  });
});

describe('system_error retry class (INFERENCE §1.1, OPTIMIZELY_SYSTEM_ERROR_RETRY)', () => {
  it('is retryable by default and a dead letter when configured off', () => {
    expect(tokenResult('unsubscribe', parseToken('system_error'))).toMatchObject({
      error: { kind: 'retryable' },
    });
    expect(tokenResult('unsubscribe', parseToken('system_error'), { systemErrorRetry: false })).toEqual({
      outcome: { kind: 'dead_letter', reason: 'Optimizely unsubscribe answered system_error' },
    });
  });
});

describe('Optimizely REST shapes (esp-contracts.md §1.2)', () => {
  it('reads unsuccessfulIds case-insensitively; a missing list means none failed', () => {
    expect(unsuccessfulIds({ successfulIds: ['a@x.io'], unsuccessfulIds: ['B@x.io'] })).toEqual(
      new Set(['b@x.io']),
    );
    expect(unsuccessfulIds({})).toEqual(new Set());
    expect(unsuccessfulIds('nope')).toEqual(new Set());
  });

  it('reads a GET /unsubscribes page: recipient ids lower-cased and the element count', () => {
    expect(
      unsubscribedIds({
        elements: [
          { recipientId: 'A@x.io', mediaType: 'EMAIL' },
          { recipientId: 'a@x.io' },
          { mailingId: 1 },
        ],
        count: 3,
      }),
    ).toEqual({ ids: new Set(['a@x.io']), elements: 3 });
    expect(unsubscribedIds({})).toEqual({ ids: new Set(), elements: 0 });
  });

  it('property: every listed id is found whatever its case, and nothing else', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.emailAddress(), { maxLength: 20 }),
        fc.array(fc.boolean()),
        (emails, upper) => {
          const elements = emails.map((e, i) => ({ recipientId: upper[i] ? e.toUpperCase() : e }));
          const { ids } = unsubscribedIds({ elements });
          for (const e of emails) expect(ids.has(e.toLowerCase())).toBe(true);
          expect(ids.size).toBe(new Set(emails.map((e) => e.toLowerCase())).size);
        },
      ),
    );
  });

  it('escapes blocklist wildcards so an address only matches itself', () => {
    expect(blacklistPattern('a*b?c@x.io')).toBe('a\\*b\\?c@x.io');
  });
});

describe('planOperations', () => {
  const rest = buildEspSettings({
    OPTIMIZELY_CLIENT_ID: 'c',
    OPTIMIZELY_API_USER: 'u',
    OPTIMIZELY_API_PASSWORD: 'p',
  })['optimizely-campaign'];
  const http = buildEspSettings({ OPTIMIZELY_FORM_AUTH_CODE: 'CODE' })['optimizely-campaign'];

  it('REST: opt-outs become per-media-type unsubscribes, opt-ins re-subscribes, tracking its own call', () => {
    const { ops, skipped } = planOperations(
      makeSnapshot({
        email: state('opted_out'),
        sms: state('opted_in'),
        push: state('unknown'),
        tracking: state('opted_out'),
      }),
      rest,
    );
    expect(ops).toEqual([
      { api: 'rest', type: 'unsubscribe', mediaType: 'EMAIL', recipientId: 'ann@example.com', channel: 'email' },
      { api: 'rest', type: 'resubscribe', mediaType: 'SMS', recipientId: 'ann@example.com', channel: 'sms' },
      { api: 'rest', type: 'tracking-optout', recipientId: 'ann@example.com', channel: 'tracking' },
    ]);
    expect(skipped).toEqual([
      {
        channel: 'push',
        decided: false,
        outcome: { kind: 'not_applicable', detail: 'push consent is unknown; nothing to push' },
      },
    ]);
  });

  it('REST: an email re-opt-in also lifts the GLOBAL unsubscribe, unless configured off', () => {
    const snap = makeSnapshot({ email: state('opted_in', { authoritative: true }) });
    expect(planOperations(snap, rest).ops).toEqual([
      { api: 'rest', type: 'resubscribe', mediaType: 'EMAIL', recipientId: 'ann@example.com', channel: 'email' },
      { api: 'rest', type: 'resubscribe', mediaType: 'GLOBAL', recipientId: 'ann@example.com', channel: 'email' },
    ]);
    expect(planOperations(snap, { ...rest, reoptInClearsGlobal: false }).ops).toHaveLength(1);
  });

  it('HTTP API: email only, with verbose tokens', () => {
    const { ops, skipped } = planOperations(
      makeSnapshot({ email: state('opted_in'), sms: state('opted_out'), tracking: state('opted_in') }),
      http,
    );
    expect(ops).toEqual([
      { api: 'http', operation: 'subscribe', params: { bmRecipientId: 'ann@example.com' }, channel: 'email' },
      {
        api: 'http',
        operation: 'deletetrackingoptout',
        params: { bmRecipientId: 'ann@example.com', bmVerbose: 'true' },
        channel: 'tracking',
      },
    ]);
    expect(skipped).toContainEqual({
      channel: 'sms',
      decided: true,
      outcome: {
        kind: 'not_applicable',
        detail: 'the Optimizely HTTP API (form service) has no media type: it carries email only, not sms',
      },
    });
  });

  it('blacklist mode uses the blocklist for email', () => {
    const { ops } = planOperations(makeSnapshot({ email: state('opted_out') }), {
      ...http,
      optOutAction: 'blacklist',
    });
    expect(ops).toEqual([
      {
        api: 'http',
        operation: 'blacklist',
        params: { bmPattern: 'ann@example.com', bmReason: 'consent-sync', bmVerbose: 'true' },
        channel: 'email',
      },
    ]);
  });

  it('a missing recipient id is missing_identity', () => {
    const { ops, skipped } = planOperations(
      makeSnapshot({ identities: { externalId: 'x' }, email: state('opted_out') }),
      rest,
    );
    expect(ops).toEqual([]);
    expect(skipped).toContainEqual({
      channel: 'email',
      decided: true,
      outcome: { kind: 'missing_identity', detail: expect.stringMatching(/recipient id/) },
    });
  });
});
