import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/lib/logger.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { log: createLogger({ level: 'trace', format: 'json', destination: stream }), text: () => lines.join('') };
}

const secrets = {
  email: 'Jo.Doe+news@Example.com',
  phone: '+49 151 1234 5678',
  token: 'tok_9f8e7d6c5b4a',
  apiKey: 'sk_live_abcdef123456',
  bearer: 'eyJhbGciOiJIUzI1NiJ9.payload.signature',
  basic: 'dXNlcjpwYXNzd29yZA==',
};

describe('logger redaction', () => {
  it('removes emails, phones, tokens, API keys and authorization headers wherever they appear', () => {
    const { log, text } = capture();
    log.info({ email: secrets.email, contact: { phone: secrets.phone, email: secrets.email } }, 'by key');
    log.info({ headers: { authorization: `Bearer ${secrets.bearer}`, 'X-Ometria-Auth': secrets.apiKey } }, 'headers');
    log.info({ req: { headers: { authorization: `Basic ${secrets.basic}` } } }, 'request');
    log.warn(`push failed for ${secrets.email} at ${secrets.phone}`);
    log.error({ err: new Error(`ESP rejected ${secrets.email}`), url: `/v2/x?api_key=${secrets.apiKey}&token=${secrets.token}` }, 'error');
    log.info({ nested: [{ deep: { token: secrets.token, note: `call ${secrets.phone}` } }] }, 'nested');
    log.debug({ apiKey: secrets.apiKey, password: 'pa55word!' }, 'config');
    const out = text();
    for (const value of [...Object.values(secrets), 'Jo.Doe', '1234 5678', 'pa55word!']) {
      expect(out, `leaked ${value}`).not.toContain(value);
    }
    expect(out).toContain('[redacted]');
  });

  it('keeps ordinary values such as ids, counts and versions', () => {
    const { log, text } = capture();
    log.info({ contactId: 'c-42', version: 17, count: 1234567, esp: 'ometria' }, 'pushed');
    const entry = JSON.parse(text());
    expect(entry).toMatchObject({ contactId: 'c-42', version: 17, count: 1234567, esp: 'ometria', msg: 'pushed' });
  });

  it("logs fastify's request and reply as method, path and status, without the query, headers or IP", async () => {
    const { log, text } = capture();
    const app = Fastify({ loggerInstance: log as FastifyBaseLogger });
    app.get('/v1/contacts', async () => ({ ok: true }));
    await app.inject({ url: '/v1/contacts?email=jo@example.com', headers: { authorization: 'Bearer sekret-token' } });
    await app.close();
    const entries = text().trim().split('\n').map((l) => JSON.parse(l));
    const incoming = entries.find((e) => e.msg === 'incoming request');
    const completed = entries.find((e) => e.msg === 'request completed');
    expect(incoming.req).toEqual({ method: 'GET', url: '/v1/contacts' });
    expect(completed.res).toEqual({ statusCode: 200 });
    expect(text()).not.toMatch(/jo@example|sekret|"req":\{\}|"res":\{\}/);
  });
});
