import { describe, expect, it } from 'vitest';
import { buildEspSettings, espEnvSchema, espEnvSchemaFor, parseChannelMap } from '../../../config/esps.js';
import { BUILT_IN_ESPS, ESP_NAMES, type EspModule } from '../../../src/esp/registry.js';

describe('espEnvSchema', () => {
  it('documents every variable and accepts an empty environment', () => {
    for (const [key, schema] of Object.entries(espEnvSchema.shape)) {
      expect((schema as { description?: string }).description, key).toMatch(/\S/);
      expect(key).toMatch(/^[A-Z][A-Z0-9_]*$/);
    }
    expect(espEnvSchema.safeParse({}).success).toBe(true);
  });
});

describe('buildEspSettings', () => {
  it('disables every ESP whose credentials are absent, naming the missing variables', () => {
    const settings = buildEspSettings({});
    for (const name of ESP_NAMES) {
      expect(settings[name].esp).toBe(name);
      expect(settings[name].enabled).toBe(false);
      expect(settings[name].disabledReason).toMatch(/missing [A-Z_]+/);
    }
    expect(settings.actito.disabledReason).toBe('missing ACTITO_API_KEY, ACTITO_ENTITY, ACTITO_TABLE');
  });

  it('applies the documented defaults', () => {
    const s = buildEspSettings({
      OMETRIA_API_KEY: 'k',
      CROSSENGAGE_API_KEY: 'k',
      ACTITO_API_KEY: 'k',
      ACTITO_ENTITY: 'e',
      ACTITO_TABLE: 't',
      DY_API_KEY: 'k',
      OPTIMIZELY_CLIENT_ID: 'c',
      OPTIMIZELY_API_USER: 'u',
      OPTIMIZELY_API_PASSWORD: 'p',
    });
    expect(s.ometria).toMatchObject({
      enabled: true,
      baseUrl: 'https://api.ometria.com',
      rateLimit: { max: 8, durationMs: 1_000 },
      maxBatch: 100,
      collection: 'default',
    });
    expect(s.actito).toMatchObject({
      rateLimit: { max: 100, durationMs: 60_000 },
      concurrency: 5,
      tokenTtlMs: 840_000,
    });
    expect(s.actito.retry.retryRateLimited).toBe(true);
    expect(s['dynamic-yield']).toMatchObject({ baseUrl: 'https://dy-api.com', api: 'reconnect' });
    expect(s['optimizely-campaign']).toMatchObject({ enabled: true, writeApi: 'rest', maxBatch: 500 });
    expect(s.crossengage).toMatchObject({
      apiVersion: '1',
      channelTypes: { email: 'MAIL', sms: 'SMS', push: 'PUSH_NOTIFICATION' },
      eventsPerRequest: 50,
      // One POST /events per contact (all channels); "Opt In" re-opts-in (seeds/001).
      userWrite: 'events',
      optInEventName: 'Opt In',
      maxBatch: 50,
    });
    expect(s.ometria.retry).toMatchObject({ retries: 2, retryAfterCapMs: 900_000 });
  });

  it('chooses the DY host from region and direct, unless overridden', () => {
    expect(buildEspSettings({ DY_REGION: 'eu' })['dynamic-yield'].baseUrl).toBe('https://dy-api.eu');
    expect(buildEspSettings({ DY_REGION: 'eu', DY_DIRECT: 'true' })['dynamic-yield'].baseUrl).toBe(
      'https://direct.dy-api.eu',
    );
    expect(buildEspSettings({ DY_BASE_URL: 'http://127.0.0.1:9' })['dynamic-yield'].baseUrl).toBe(
      'http://127.0.0.1:9',
    );
  });

  it('uses the Optimizely HTTP API when only a form code is set, one recipient per push', () => {
    const s = buildEspSettings({ OPTIMIZELY_FORM_AUTH_CODE: 'ABC123' })['optimizely-campaign'];
    expect(s).toMatchObject({
      enabled: true,
      writeApi: 'http',
      maxBatch: 1,
      credentials: { formAuthCode: 'ABC123' },
    });
  });

  it('treats empty variables as unset and rejects bad ones, listing all of them', () => {
    expect(buildEspSettings({ OMETRIA_API_KEY: '  ' }).ometria.enabled).toBe(false);
    const result = espEnvSchema.safeParse({
      DY_REGION: 'asia',
      ACTITO_CONCURRENCY: '6',
      OMETRIA_MAX_BATCH: '500',
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path[0]).sort()).toEqual([
      'ACTITO_CONCURRENCY',
      'DY_REGION',
      'OMETRIA_MAX_BATCH',
    ]);
  });

  it('never clamps ESP_INLINE_RETRIES silently above 2', () => {
    expect(() => buildEspSettings({ ESP_INLINE_RETRIES: '5' })).toThrow();
  });
});

describe('parseChannelMap', () => {
  it('reads channel:NAME pairs', () => {
    expect(parseChannelMap('email:MAIL, sms:SMS')).toEqual({ email: 'MAIL', sms: 'SMS' });
    expect(parseChannelMap('')).toEqual({});
  });
});

describe('the configured ESP modules', () => {
  it('refuses a module whose name could not name a queue, a metric label or a URL', () => {
    const [first] = BUILT_IN_ESPS;
    expect(() => espEnvSchemaFor([{ ...first, name: 'Acme Mail' } as unknown as EspModule])).toThrow(
      /ESP module name "Acme Mail" must be lower-case letters, digits and dashes/,
    );
  });

  it('refuses two modules that declare the same variable', () => {
    const [first] = BUILT_IN_ESPS;
    const twin = { ...first, name: 'twin' } as unknown as EspModule;
    expect(() => espEnvSchemaFor([first, twin])).toThrow(/ESP twin declares OPTIMIZELY_\w+, which ESP optimizely-campaign already declares/);
  });
});
