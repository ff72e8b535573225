import { describe, expect, it } from 'vitest';
import { basicAuth, createHttpClient, safeUrlForLog } from '../../../src/esp/kit/http/client.js';

describe('createHttpClient', () => {
  it('keeps every request on the configured host (allowAbsoluteUrls: false, no redirects)', () => {
    const client = createHttpClient({ baseURL: 'https://api.ometria.com', timeoutMs: 1_000 });
    expect(client.defaults.allowAbsoluteUrls).toBe(false);
    expect(client.defaults.maxRedirects).toBe(0);
    expect(client.getUri({ url: 'https://evil.example/steal' })).toMatch(/^https:\/\/api\.ometria\.com\//);
    expect(client.defaults.timeout).toBe(1_000);
  });
});

describe('safeUrlForLog', () => {
  it('drops the query, masks secrets and email-looking segments', () => {
    expect(safeUrlForLog('/http/form/SECRETCODE/unsubscribe?bmRecipientId=a@b.c', ['SECRETCODE'])).toBe(
      '/http/form/***/unsubscribe',
    );
    expect(safeUrlForLog('/rest/1/blacklistentries/a%40b.c')).toBe('/rest/1/blacklistentries/[redacted]');
    expect(safeUrlForLog(undefined)).toBe('');
  });
});

describe('basicAuth', () => {
  it('encodes user:password', () => {
    expect(basicAuth('u', 'p')).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
  });
});
