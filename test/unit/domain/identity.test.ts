import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  IdentityError,
  identityKeys,
  normaliseEmail,
  normaliseIdentity,
  normalisePhone,
} from '../../../src/domain/index.js';

function identityErrorOf(fn: () => unknown): IdentityError {
  try {
    fn();
  } catch (error) {
    if (error instanceof IdentityError) return error;
    throw error;
  }
  throw new Error('expected an IdentityError');
}

describe('normaliseEmail', () => {
  it.each([
    ['  Bob@Example.COM ', 'bob@example.com'],
    ['first.last+tag@sub.example.co.uk', 'first.last+tag@sub.example.co.uk'],
    ["o'neil@example.ie", "o'neil@example.ie"],
    ['\tJÖRG@Bücher.de\n', 'jörg@bücher.de'],
    ['x@xn--bcher-kva.de', 'x@xn--bcher-kva.de'],
  ])('%j → %j', (raw, expected) => {
    expect(normaliseEmail(raw)).toBe(expected);
  });

  it.each([
    '',
    '   ',
    'bob',
    'bob@',
    '@example.com',
    'bob@example',
    'bob@@example.com',
    'bob@exa@mple.com',
    'bob smith@example.com',
    'bob@exa mple.com',
    '.bob@example.com',
    'bob.@example.com',
    'bo..b@example.com',
    'bob@-example.com',
    'bob@example-.com',
    'bob@example..com',
    'bob@example.c',
    'bob@example.123',
    'bob@[192.168.0.1]',
    '"bob"@example.com',
    `${'a'.repeat(65)}@example.com`,
    `bob@${'a'.repeat(250)}.com`,
  ])('rejects %j with a field and no echo of the value', (raw) => {
    const error = identityErrorOf(() => normaliseEmail(raw));
    expect(error.field).toBe('email');
    expect(error.name).toBe('IdentityError');
    if (raw.trim() !== '') expect(error.message).not.toContain(raw.trim());
  });

  it('is idempotent on every address it accepts', () => {
    fc.assert(
      fc.property(fc.emailAddress(), fc.constantFrom('', ' ', '\t'), (email, pad) => {
        let once: string;
        try {
          once = normaliseEmail(`${pad}${email.toUpperCase()}${pad}`);
        } catch (error) {
          // fast-check generates RFC-legal shapes we deliberately refuse (e.g. one-letter TLDs).
          expect(error).toBeInstanceOf(IdentityError);
          return;
        }
        expect(once).toBe(once.trim().toLowerCase());
        expect(normaliseEmail(once)).toBe(once);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('normalisePhone', () => {
  it.each([
    ['+49 30 1234567', '+49301234567'],
    ['+1 (415) 555-2671', '+14155552671'],
    ['0044 20 7946 0958', '+442079460958'],
    ['+44 (0)20 7946 0958', '+442079460958'],
    ['+33.1.23.45.67.89', '+33123456789'],
    [' +31 6 1234 5678 ', '+31612345678'],
    ['+49\u00a0170\u20111234567', '+491701234567'],
    ['+12345678', '+12345678'],
    ['+123456789012345', '+123456789012345'],
  ])('%j → %j (E.164)', (raw, expected) => {
    expect(normalisePhone(raw)).toBe(expected);
  });

  it.each([
    '',
    '030 1234567', // national: no country to guess
    '4930123456', // no + or 00
    '+0301234567', // country codes never start with 0
    '+1234567', // 7 digits
    '+1234567890123456', // 16 digits
    '+49 30 12a4567',
    '+49/30/1234567',
    '++49301234567',
    '+49 30 1234567 ext. 12',
  ])('rejects %j', (raw) => {
    expect(identityErrorOf(() => normalisePhone(raw)).field).toBe('phone');
  });
});

describe('normaliseIdentity', () => {
  it('normalises every present field and leaves absent ones absent', () => {
    expect(
      normaliseIdentity({
        externalId: '  u-42 ',
        email: ' Ann@Shop.EXAMPLE ',
        businessUnit: ' DE ',
        phone: '0049 170 1234567',
      }),
    ).toEqual({
      externalId: 'u-42',
      email: 'ann@shop.example',
      businessUnit: 'DE',
      phone: '+491701234567',
    });
    const lead = normaliseIdentity({ email: 'lead@example.com' });
    expect(lead).toEqual({ email: 'lead@example.com' });
    expect(Object.keys(lead)).toEqual(['email']);
  });

  it.each([
    [{ externalId: '   ' }, 'externalId'],
    [{ externalId: 'u1', email: 'nope' }, 'email'],
    [{ email: 'a@example.com', businessUnit: '' }, 'businessUnit'],
    [{ externalId: 'u1', phone: '12345' }, 'phone'],
    [{ externalId: 'u\u00001' }, 'externalId'],
    [{}, 'identity'],
    [{ businessUnit: 'DE' }, 'identity'],
  ])('rejects %j naming %s', (identity, field) => {
    expect(identityErrorOf(() => normaliseIdentity(identity)).field).toBe(field);
  });
});

describe('identityKeys', () => {
  it('gives one key per identity in a fixed order', () => {
    expect(
      identityKeys({ phone: '+49 170 1234567', email: 'A@B.example', externalId: 'u1', businessUnit: 'de' }),
    ).toEqual(['ext:u1', 'email:de:a@b.example', 'phone:+491701234567']);
  });

  it('scopes email by business unit, with - for none', () => {
    expect(identityKeys({ email: 'a@b.example' })).toEqual(['email:-:a@b.example']);
    expect(identityKeys({ email: 'a@b.example', businessUnit: 'fr' })).toEqual(['email:fr:a@b.example']);
  });

  it('spelling variants of one identity give the same keys; distinct identities never collide', () => {
    expect(identityKeys({ email: ' A@B.Example ', phone: '0049-170-1234567' })).toEqual(
      identityKeys({ email: 'a@b.example', phone: '+491701234567' }),
    );
    // A literal "-" business unit must not look like "no business unit", and ":" must not shift the email.
    const keys = [
      identityKeys({ email: 'a@b.example' }),
      identityKeys({ email: 'a@b.example', businessUnit: '-' }),
      identityKeys({ email: 'a@b.example', businessUnit: 'x:y' }),
      identityKeys({ email: 'a@b.example', businessUnit: 'x' }),
    ].flat();
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('throws like normaliseIdentity', () => {
    expect(() => identityKeys({ email: 'not-an-address' })).toThrow(IdentityError);
  });
});
