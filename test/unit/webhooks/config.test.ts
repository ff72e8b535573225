import { describe, expect, it } from 'vitest';
import { buildWebhookConfig, webhookEnvSchema, webhookProductionProblems } from '../../../config/webhooks.js';
import { describeEnvSchema } from '../../../src/dev/env-docs.js';

describe('webhook configuration', () => {
  it('has working defaults: every endpoint disabled, 300 s skew, local base URL', () => {
    const config = buildWebhookConfig({});
    const { endpoints } = config;
    // In the registry's order.
    expect(Object.keys(endpoints)).toEqual(['optimizely-campaign', 'generic', 'actito']);
    expect(endpoints['optimizely-campaign']).toEqual({
      esp: 'optimizely-campaign',
      secrets: [],
      auth: { type: 'key', header: 'x-webhook-key' },
      allowedIps: [],
      options: undefined,
    });
    expect(endpoints['actito']).toEqual({ esp: 'actito', secrets: [], auth: { type: 'hmac' }, allowedIps: [], options: undefined });
    expect(endpoints['generic']).toEqual({
      esp: 'crossengage',
      secrets: [],
      auth: { type: 'hmac' },
      allowedIps: [],
      options: { esp: 'crossengage', events: ['mail.unsubscribe', 'message.unsubscribed', 'Message Unsubscribed'] },
    });
    expect(config).toMatchObject({
      maxSkewS: 300,
      bodyLimitBytes: 262_144,
      maxEvents: 100,
      publicBaseUrl: 'http://127.0.0.1:3000',
      listUnsubscribeMailto: undefined,
      unsubscribeTokenMaxAgeS: 0,
    });
  });

  it('parses secrets (rotation lists), auth modes and IP lists', () => {
    const config = buildWebhookConfig({
      WEBHOOK_SECRET_OPTIMIZELY: 'new-secret-0123456789, old-secret-0123456789',
      WEBHOOK_AUTH_OPTIMIZELY: 'basic:optimizely',
      WEBHOOK_OPTIMIZELY_ALLOWED_IPS: '193.169.180.1',
      WEBHOOK_SECRET_ACTITO: 'actito-secret-0123456789',
      WEBHOOK_AUTH_ACTITO: 'key:X-Actito-Key',
      WEBHOOK_AUTH_GENERIC: '',
      PUBLIC_BASE_URL: 'https://consent.example.com/',
      UNSUBSCRIBE_TOKEN_MAX_AGE_DAYS: '365',
    });
    expect(config.endpoints['optimizely-campaign']).toMatchObject({
      secrets: ['new-secret-0123456789', 'old-secret-0123456789'],
      auth: { type: 'basic', username: 'optimizely' },
      allowedIps: ['193.169.180.1'],
    });
    expect(config.endpoints['actito']?.auth).toEqual({ type: 'key', header: 'x-actito-key' });
    expect(config.endpoints['generic']?.auth).toEqual({ type: 'hmac' });
    expect(config.publicBaseUrl).toBe('https://consent.example.com');
    expect(config.unsubscribeTokenMaxAgeS).toBe(365 * 86_400);
  });

  it('names every bad variable', () => {
    const result = webhookEnvSchema.safeParse({
      WEBHOOK_SECRET_ACTITO: 'short',
      WEBHOOK_AUTH_GENERIC: 'bearer',
      WEBHOOK_MAX_SKEW_S: '0',
      PUBLIC_BASE_URL: 'not a url',
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.')).sort()).toEqual([
      'PUBLIC_BASE_URL',
      'WEBHOOK_AUTH_GENERIC',
      'WEBHOOK_MAX_SKEW_S',
      'WEBHOOK_SECRET_ACTITO',
    ]);
  });

  it('documents every variable with its default (README table rows)', () => {
    const docs = describeEnvSchema(webhookEnvSchema);
    for (const d of docs) expect(d.description.length, d.name).toBeGreaterThan(10);
    expect(docs.find((d) => d.name === 'WEBHOOK_MAX_SKEW_S')?.defaultValue).toBe('300');
    expect(docs.find((d) => d.name === 'WEBHOOK_SECRET_ACTITO')?.description).toMatch(/404/);
  });

  it('requires an https PUBLIC_BASE_URL in production only', () => {
    expect(webhookProductionProblems(buildWebhookConfig({}), 'production')).toEqual([
      expect.stringMatching(/^PUBLIC_BASE_URL/),
    ]);
    expect(webhookProductionProblems(buildWebhookConfig({}), 'test')).toEqual([]);
    expect(
      webhookProductionProblems(buildWebhookConfig({ PUBLIC_BASE_URL: 'https://c.example' }), 'production'),
    ).toEqual([]);
  });
});

describe('describeWebhookConfig', () => {
  it('never shows a secret', async () => {
    const { describeWebhookConfig } = await import('../../../config/webhooks.js');
    const described = describeWebhookConfig(
      buildWebhookConfig({ WEBHOOK_SECRET_ACTITO: 'actito-secret-0123456789' }),
    );
    expect(JSON.stringify(described)).not.toContain('actito-secret-0123456789');
    const endpoints = described['endpoints'] as Record<string, unknown>;
    expect(endpoints['actito']).toMatchObject({ secrets: ['***'], enabled: true });
    expect(endpoints['generic']).toMatchObject({ secrets: [], enabled: false });
  });
});
