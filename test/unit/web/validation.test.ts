import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { consentBatchSchema, consentEventSchema, describeZodIssues, READABLE_ERRORS } from '../../../src/contracts/consent-event.js';
import { duplicateMessage } from '../../../src/web/consent.routes.js';
import { formatBytes } from '../../../src/web/errors.js';
import { forbiddenKeyPath } from '../../../src/web/json-body.js';

const channels = ['email', 'sms', 'push'];
const problemsOf = (body: unknown, batch = false) => {
  const schema = batch ? consentBatchSchema(channels, 3) : consentEventSchema(channels);
  const parsed = schema.safeParse(body, READABLE_ERRORS);
  return parsed.success ? [] : describeZodIssues(parsed.error);
};

describe('validation messages', () => {
  it('an empty event lists every missing field as required, the fixed sets with their values', () => {
    expect(problemsOf({})).toEqual(
      expect.arrayContaining([
        { field: 'eventId', rule: 'required' },
        { field: 'contact', rule: 'required' },
        { field: 'kind', rule: 'required: one of marketing, tracking' },
        { field: 'value', rule: 'required: one of opt_in, opt_out' },
        { field: 'source', rule: 'required' },
      ]),
    );
    expect(JSON.stringify(problemsOf({}))).not.toContain('received undefined');
  });

  it('a value that is there but wrong keeps its own rule, with the limit', () => {
    const rules = Object.fromEntries(problemsOf({ eventId: 'x'.repeat(129), contact: { phone: '1' }, kind: 'k', value: 'opt_out', source: 'api' }).map((p) => [p.field, p.rule]));
    expect(rules['eventId']).toMatch(/128/);
    expect(rules['contact.phone']).toMatch(/4/);
    expect(rules['kind']).toMatch(/marketing/);
    expect(problemsOf({ events: [1, 2, 3, 4] }, true)).toContainEqual({ field: 'events', rule: 'at most 3 events per request' });
  });
});

describe('forbiddenKeyPath', () => {
  it('finds __proto__ and constructor.prototype at any depth, naming the path', () => {
    expect(forbiddenKeyPath(JSON.parse('{"a":1,"__proto__":{"x":1}}'))).toBe('__proto__');
    expect(forbiddenKeyPath(JSON.parse('{"contact":{"way":{"__proto__":{}}}}'))).toBe('contact.way.__proto__');
    expect(forbiddenKeyPath(JSON.parse('{"events":[{"constructor":{"prototype":{}}}]}'))).toBe('events.0.constructor.prototype');
    expect(forbiddenKeyPath({ constructor: 'a string is only a string' })).toBeUndefined();
  });

  it('finds nothing in JSON without those keys', () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        fc.pre(!text.includes('__proto__') && !text.includes('"constructor"'));
        expect(forbiddenKeyPath(JSON.parse(text))).toBeUndefined();
      }),
    );
  });
});

describe('formatBytes and duplicateMessage', () => {
  it('states limits in the unit they were set in', () => {
    expect(formatBytes(1_048_576)).toBe('1 MiB');
    expect(formatBytes(262_144)).toBe('256 KiB');
    expect(formatBytes(1_000)).toBe('1000 bytes');
  });

  it('names the duplicates, at most five of them', () => {
    expect(duplicateMessage(['e1'])).toBe('e1 was already recorded with the same content (a duplicate): nothing changed');
    expect(duplicateMessage(['a', 'b', 'c', 'd', 'e', 'f', 'g'])).toMatch(/^a, b, c, d, e and 2 more were already recorded/);
  });
});
