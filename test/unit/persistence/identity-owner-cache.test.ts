import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdentityOwnerCache } from '../../../src/persistence/identity-owner-cache.js';

describe('IdentityOwnerCache', () => {
  it('answers what it was told and never changes an owner once remembered', () => {
    const cache = new IdentityOwnerCache(10);
    cache.remember('email:a@x.org', 'c1');
    cache.remember('email:a@x.org', 'c2');
    expect(cache.get('email:a@x.org')).toBe('c1');
    expect(cache.get('email:b@x.org')).toBeUndefined();
  });

  it('keeps at most its capacity, dropping the oldest entries first', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.uniqueArray(fc.string({ minLength: 1 }), { maxLength: 60 }), (capacity, keys) => {
        const cache = new IdentityOwnerCache(capacity);
        for (const key of keys) cache.remember(key, `owner-of-${key}`);
        expect(cache.size).toBe(Math.min(capacity, keys.length));
        const kept = keys.slice(-capacity);
        for (const key of kept) expect(cache.get(key)).toBe(`owner-of-${key}`);
        for (const key of keys.slice(0, keys.length - kept.length)) expect(cache.get(key)).toBeUndefined();
      }),
    );
  });

  it('remembers nothing at capacity 0', () => {
    const cache = new IdentityOwnerCache(0);
    cache.remember('k', 'c');
    expect(cache.get('k')).toBeUndefined();
  });
});
