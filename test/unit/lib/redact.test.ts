import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Types } from 'mongoose';
import { describe, expect, it } from 'vitest';
import { sweptApplyJobId } from '../../../jobs/apply-consent-events.job.js';
import { identityKeys } from '../../../src/domain/index.js';
import { REDACTED, scrubString, scrubValue } from '../../../src/lib/redact.js';
import { webhookEventId } from '../../../src/esp/kit/webhook-kit.js';

/**
 * Ids of every kind the app stores or shows (contact UUIDs, MongoDB ObjectIds, event ids the
 * app makes, job and run ids) must come out of the scrubber intact: an operator copies them from
 * Bull Board or a log line to look a contact up. The UUID below is the one issue #17 saw cut.
 */
const SEEN_IN_ISSUE = '97f69956-4b50-4123-8123-bd133b645caa';

const hex = (length: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });
const digitHeavyHex = (length: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789012345678901234567890123456789abcdef'), minLength: length, maxLength: length });
/** UUIDs whose groups are often all digits: the shape the old phone pattern cut. */
const digitHeavyUuid = fc
  .tuple(digitHeavyHex(8), digitHeavyHex(4), digitHeavyHex(3), fc.constantFrom('8', '9', 'a', 'b'), digitHeavyHex(3), digitHeavyHex(12))
  .map(([a, b, c, v, d, e]) => `${a}-${b}-4${c}-${v}${d}-${e}`);
const objectId = fc.oneof(digitHeavyHex(24), hex(24));
/** Event ids as the demo traffic, the reconciler and the webhooks make them. */
const appEventId = fc.oneof(
  fc.tuple(fc.integer({ min: 1_600_000_000_000, max: 2_000_000_000_000 }), fc.nat(99_999)).map(([ms, n]) => `demo-${ms}-${n}`),
  fc.tuple(fc.constantFrom('ometria', 'crossengage', 'actito'), digitHeavyHex(32)).map(([esp, d]) => `recon-${esp}-${d}`),
  fc.tuple(fc.constantFrom('ometria', 'dynamic-yield'), fc.string()).map(([esp, part]) => webhookEventId(esp, ['id', part])),
);
const anyId = fc.oneof(fc.uuid(), digitHeavyUuid, objectId, appEventId);

/** Where an id shows up: alone, in a sentence, in a URL path, as a job id. */
const inContext = (id: string) => [
  id,
  `contact ${id} pushed`,
  `/contacts/${id}`,
  `(${id})`,
  `"${id}",`,
  sweptApplyJobId(id, () => 'h'),
  `${id}.`,
];

describe('scrubString keeps ids intact', () => {
  it('the contact UUID issue #17 saw cut in Bull Board', () => {
    expect(scrubString(SEEN_IN_ISSUE)).toBe(SEEN_IN_ISSUE);
    expect(scrubString(`contact ${SEEN_IN_ISSUE} was pushed`)).toBe(`contact ${SEEN_IN_ISSUE} was pushed`);
  });

  it('UUIDs, ObjectIds and the event ids the app makes, wherever they appear', () => {
    fc.assert(
      fc.property(anyId, (id) => {
        for (const text of inContext(id)) expect(scrubString(text)).toBe(text);
      }),
      { numRuns: 500 },
    );
  });

  it('real ones: randomUUID, mongoose ObjectIds, run ids and ISO dates', () => {
    for (let i = 0; i < 200; i++) {
      const uuid = randomUUID();
      const oid = new Types.ObjectId().toHexString();
      const runId = `ometria-20261206T032900000Z-${uuid.slice(0, 8)}`;
      for (const text of [uuid, oid, runId, `recon-${runId}-p${i}`]) expect(scrubString(text)).toBe(text);
    }
    for (const date of ['2026-12-06', '2026-12-06T03:29:00.000Z', 'at 2026-12-06 03:29:00 UTC'])
      expect(scrubString(date)).toBe(date);
  });

  it('in a job payload scrubbed by value, ids stay and personal data goes', () => {
    const data = { contactIds: [SEEN_IN_ISSUE, randomUUID()], lane: 1, eventId: 'demo-1765000000000-3', email: 'jo@example.com' };
    expect(scrubValue(data)).toEqual({ ...data, email: REDACTED });
  });
});

describe('scrubString still removes phone numbers and emails', () => {
  const phones = ['+49 151 2345 6789', '+4915123456789', '0151-2345-6789', '(0151) 2345 6789', '+1 (415) 555-0123'];

  it('in free text, at the end of a sentence too', () => {
    for (const phone of phones) {
      for (const text of [phone, `call ${phone} now`, `call ${phone}.`, `tel:${phone}`, `"${phone}"`]) {
        const out = scrubString(text);
        expect(out, text).toContain(REDACTED);
        expect(out, text).not.toMatch(/\d{4}/);
      }
    }
  });

  it('inside an identity key', () => {
    for (const key of identityKeys({ email: 'jo@example.com', phone: '+49 151 2345 6789' })) {
      expect(scrubString(key)).not.toMatch(/jo@|2345/);
    }
  });

  it('by field, whatever the value looks like', () => {
    expect(scrubValue({ phone: '12', mobile: 'x', msisdn: '4915123456789', phone_number: '1', emailAddress: 'a' })).toEqual({
      phone: REDACTED,
      mobile: REDACTED,
      msisdn: REDACTED,
      phone_number: REDACTED,
      emailAddress: REDACTED,
    });
  });
});
