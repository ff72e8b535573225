import { describe, expect, it } from 'vitest';
import {
  parsePushResponse,
  pushVerdict,
  rejectionReason,
  toContactRecord,
} from '../../../src/esp/ometria/ometria.mapping.js';
import { MOMENT, makeSnapshot, state } from './make-snapshot.js';

const settings = { collection: 'default', listingId: 'contactId' as const };

describe('toContactRecord (esp-contracts.md §5.2)', () => {
  it('an authoritative opt-out is a forced EXPLICITLY_OPTEDOUT with timestamp_unsubscribed', () => {
    expect(
      toContactRecord(makeSnapshot({ email: state('opted_out', { authoritative: true }) }), settings),
    ).toEqual({
      record: {
        '@type': 'contact',
        '@collection': 'default',
        id: 'contact-1',
        customer_id: 'ext-1',
        email: 'ann@example.com',
        marketing_optin: 'EXPLICITLY_OPTEDOUT',
        '@force_optin': true,
        timestamp_unsubscribed: MOMENT,
      },
      covered: ['email'],
      skipped: [
        { channel: 'sms', decided: false, outcome: expect.objectContaining({ kind: 'not_applicable' }) },
        { channel: 'push', decided: false, outcome: expect.objectContaining({ kind: 'not_applicable' }) },
      ],
    });
  });

  it('SMS consent travels as channels.sms.allow_marketing with its timestamp (and the phone number); push and tracking are not applicable', () => {
    const result = toContactRecord(
      makeSnapshot({
        identities: { email: 'ann@example.com', phone: '+4915112345678' },
        sms: state('opted_out'),
        push: state('opted_out'),
        tracking: state('opted_in'),
      }),
      settings,
    );
    expect(result).toEqual({
      record: {
        '@type': 'contact',
        '@collection': 'default',
        id: 'contact-1',
        email: 'ann@example.com',
        phone_number: '+4915112345678',
        '@force_optin': false,
        channels: { sms: { allow_marketing: false, timestamp_unsubscribed: MOMENT } },
      },
      covered: ['sms'],
      skipped: [
        { channel: 'email', decided: false, outcome: expect.objectContaining({ kind: 'not_applicable' }) },
        {
          channel: 'push',
          decided: true,
          outcome: { kind: 'not_applicable', detail: "Ometria's push API carries email and SMS marketing consent only, not push" },
        },
        { channel: 'tracking', decided: true, outcome: { kind: 'not_applicable', detail: 'Ometria has no tracking consent field' } },
      ],
    });
  });

  it('a plain opt-in is EXPLICITLY_OPTEDIN, not forced, with timestamp_subscribed', () => {
    const result = toContactRecord(makeSnapshot({ email: state('opted_in') }), settings);
    expect(result).toMatchObject({
      record: { marketing_optin: 'EXPLICITLY_OPTEDIN', '@force_optin': false, timestamp_subscribed: MOMENT },
    });
    expect(JSON.stringify(result)).not.toContain('EXPLICITYLY');
  });

  it.each([
    ['nothing decided', makeSnapshot({ push: state('opted_out') }), 'not_applicable'],
    [
      'no email address',
      makeSnapshot({ identities: { externalId: 'x' }, email: state('opted_out') }),
      'missing_identity',
    ],
    [
      'implausible email',
      makeSnapshot({ identities: { email: 'nope' }, email: state('opted_out') }),
      'dead_letter',
    ],
  ])('%s → %s', (_label, snapshot, kind) => {
    expect(toContactRecord(snapshot, settings)).toMatchObject({ outcome: { kind } });
  });

  it('listing id from externalId needs one', () => {
    const snap = makeSnapshot({ identities: { email: 'a@b.io' }, email: state('opted_out') });
    expect(toContactRecord(snap, { ...settings, listingId: 'externalId' })).toMatchObject({
      outcome: { kind: 'missing_identity' },
    });
  });
});

describe('push response (esp-contracts.md §5.2)', () => {
  it.each([
    [{ status: 'OK', request_id: 'r', accepted: 3, rejected: 0 }, 3, 'accepted'],
    [{ status: 'OK', accepted: 0, rejected: 3 }, 3, 'rejected'],
    [{ status: 'OK', accepted: 2, rejected: 1 }, 3, 'partial'],
    [{ status: 'OK', accepted: 0, rejected: 1 }, 1, 'rejected'],
    [{ status: 'ERROR', accepted: 0, rejected: 0 }, 1, 'unreadable'],
    [{ status: 'OK' }, 1, 'unreadable'],
    ['OK', 1, 'unreadable'],
    [[], 1, 'unreadable'],
  ])('%j for %i records → %s', (body, n, verdict) => {
    expect(pushVerdict(parsePushResponse(body), n)).toBe(verdict);
  });

  it('keeps the request id', () => {
    expect(parsePushResponse({ status: 'OK', request_id: 'e8d9', accepted: 1, rejected: 0 })).toEqual({
      status: 'OK',
      requestId: 'e8d9',
      accepted: 1,
      rejected: 0,
    });
  });
});

describe('rejectionReason from /v2/push/_errors', () => {
  it('names up to three distinct latest errors with their paths', () => {
    const errors = [
      { error_message: 'not a valid value', error_path: 'root > marketing_optin' },
      { error_message: 'not a valid value', error_path: 'root > marketing_optin' },
      { error_message: 'Record is too large.' },
      { error_message: 'x', error_path: 'a' },
      { error_message: 'y', error_path: 'b' },
    ];
    expect(rejectionReason(errors)).toBe(
      'Ometria rejected the record; latest push errors: not a valid value at root > marketing_optin; Record is too large.; x at a',
    );
  });

  it.each([[[]], [null], ['text'], [[{ nope: 1 }]]])('without usable entries (%j) says so', (errors) => {
    expect(rejectionReason(errors)).toBe('Ometria rejected the record (no details in /v2/push/_errors)');
  });
});
