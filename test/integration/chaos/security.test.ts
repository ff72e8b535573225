import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp } from '../../support/app.js';

/**
 * Input hardening found by an injection fuzz: keys that reach prototypes or BSON type tags
 * (`_bsontype` made the serializer throw a 500 the client would retry forever; `constructor`
 * and `prototype` were stored or silently dropped), and operator-shaped query parameters of the
 * contact view. Every one must be a 400 that stores nothing. Also: after real traffic, no email
 * address or phone number is anywhere in Redis (job payloads carry ids only).
 */
describe('security: reserved keys and unknown query parameters are a 400', () => {
  let app: Awaited<ReturnType<typeof startTestApp>>;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => app?.close());

  const base = {
    contact: { externalId: 'reserved-user', email: 'reserved@example.com' },
    kind: 'marketing',
    channel: 'email',
    value: 'opt_out',
    source: 'api',
    moment: '2026-11-01T00:00:00Z',
  };

  it.each([
    ['properties', '_bsontype'],
    ['way', '_bsontype'],
    ['proof', '_bsontype'],
    ['way', 'constructor'],
    ['proof', 'constructor'],
    ['properties', 'constructor'],
    ['properties', 'prototype'],
    ['way', 'prototype'],
  ])('%s.%s → 400, nothing stored', async (field, key) => {
    const eventId = `reserved-${field}-${key.replace(/_/g, '')}`;
    const res = await app.post('/v1/consent-events', { ...base, eventId, [field]: { [key]: 'x' } });
    expect(res.status).toBe(400);
    expect(await app.ctx.models.events.findById(eventId).lean()).toBeNull();
  });

  it('leaves no email or phone number anywhere in Redis after traffic', async () => {
    const worked = await startTestApp({ workers: 1 });
    try {
      for (let i = 0; i < 10; i++) {
        const res = await worked.post('/v1/consent-events', {
          eventId: `pii-${i}`, contact: { externalId: `pii-${i}`, email: `pii.person${i}@example.com`, phone: `+4915112345${String(i).padStart(3, '0')}` },
          kind: 'marketing', channel: 'all', value: 'opt_out', source: 'list_unsubscribe',
        });
        expect(res.status).toBe(202);
      }
      await new Promise<void>((resolve, reject) => {
        const started = Date.now();
        const poll = async () => {
          if ((await worked.ctx.models.events.countDocuments({ status: 'pending' })) === 0) return resolve();
          if (Date.now() - started > 30_000) return reject(new Error('events not applied'));
          setTimeout(poll, 100);
        };
        void poll();
      });
      const redis = worked.ctx.runtime.producer;
      let cursor = '0';
      let scanned = 0;
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${worked.ctx.config.redis.prefix}*`, 'COUNT', 500);
        cursor = next;
        for (const key of keys) {
          scanned++;
          const type = await redis.type(key);
          const content =
            type === 'hash' ? JSON.stringify(await redis.hgetall(key))
            : type === 'string' ? ((await redis.get(key)) ?? '')
            : type === 'list' ? JSON.stringify(await redis.lrange(key, 0, -1))
            : type === 'zset' ? JSON.stringify(await redis.zrange(key, 0, -1))
            : type === 'set' ? JSON.stringify(await redis.smembers(key))
            : type === 'stream' ? JSON.stringify(await redis.xrange(key, '-', '+'))
            : '';
          expect(content, key).not.toMatch(/pii\.person\d@example\.com/);
          expect(content, key).not.toMatch(/\+4915112345\d{3}/);
        }
      } while (cursor !== '0');
      expect(scanned).toBeGreaterThan(5);
    } finally {
      await worked.close();
    }
  });

  it('unknown or operator-shaped query parameters of the contact view → 400', async () => {
    expect((await app.post('/v1/consent-events', { ...base, eventId: 'reserved-ok' })).status).toBe(202);
    expect((await app.get('/v1/contacts/email:reserved@example.com?businessUnit[$ne]=x')).status).toBe(400);
    expect((await app.get('/v1/contacts/externalId:reserved-user?businessUnit[$gt]=')).status).toBe(400);
    expect((await app.get('/v1/contacts/externalId:reserved-user?anything=1')).status).toBe(400);
  });
});
