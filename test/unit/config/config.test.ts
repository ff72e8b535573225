import { describe, expect, it } from 'vitest';
import { describeConfig, loadConfig } from '../../../config/index.js';
import { problemsOf } from './problems.js';


describe('loadConfig', () => {
  it('starts on development defaults with an empty environment', () => {
    const config = loadConfig({});
    expect(config.env).toBe('development');
    expect(config.http.port).toBe(3000);
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.log.format).toBe('pretty');
    expect(config.consent.channels).toEqual(['email', 'sms', 'push']);
  });

  it('lists every bad variable by name in one error', () => {
    const problems = problemsOf({ REDIS_URL: 'localhost:6379', MONGODB_URI: 'http://db', PORT: '70000', LOG_LEVEL: 'loud' });
    const names = problems.map((p) => p.split(':')[0]);
    expect(names).toEqual(expect.arrayContaining(['REDIS_URL', 'MONGODB_URI', 'PORT', 'LOG_LEVEL']));
    expect(problems).toHaveLength(4);
  });

  it('PUSH_CLAIM_MS and the lane reserves: defaults, bounds named', () => {
    const config = loadConfig({});
    expect(config.push).toEqual({ claimMs: 60_000, maxContactsPerJob: 2_000 });
    expect(config.esps['actito']?.firstLaneReservePercent).toBe(20);
    expect(loadConfig({ ACTITO_FIRST_LANE_RESERVE: '50' }).esps['actito']?.firstLaneReservePercent).toBe(50);
    expect(problemsOf({ PUSH_CLAIM_MS: '500', OMETRIA_FIRST_LANE_RESERVE: '95' })).toEqual([
      expect.stringMatching(/^PUSH_CLAIM_MS: .*10000/),
      expect.stringMatching(/^OMETRIA_FIRST_LANE_RESERVE: .*90/),
    ]);
  });

  it('concurrency of an ESP with no documented limit follows its request budget unless set', () => {
    const concurrency = (env: Record<string, string>) =>
      Object.fromEntries(['crossengage', 'dynamic-yield', 'optimizely-campaign', 'actito'].map((esp) => [esp, loadConfig(env).esps[esp]?.concurrency]));
    // 10 rps at 400 ms a request: 4 in flight; Actito's licence maximum (5) is its own.
    expect(concurrency({})).toEqual({ crossengage: 4, 'dynamic-yield': 4, 'optimizely-campaign': 4, actito: 5 });
    expect(concurrency({ CROSSENGAGE_RPS: '25', DY_RPS: '1000', OPTIMIZELY_RPS: '1' })).toEqual({
      crossengage: 10,
      'dynamic-yield': 32,
      'optimizely-campaign': 4,
      actito: 5,
    });
    expect(concurrency({ DY_RPS: '1000', DY_CONCURRENCY: '2' })['dynamic-yield']).toBe(2);
    expect(problemsOf({ CROSSENGAGE_CONCURRENCY: '0', OPTIMIZELY_CONCURRENCY: 'many' })).toEqual([
      expect.stringMatching(/^OPTIMIZELY_CONCURRENCY: /),
      expect.stringMatching(/^CROSSENGAGE_CONCURRENCY: /),
    ]);
  });

  it('development listens on loopback unless HOST says otherwise; elsewhere on every interface', () => {
    expect(loadConfig({}).http.host).toBe('127.0.0.1');
    expect(loadConfig({ HOST: '0.0.0.0', BOARD_PASSWORD: 'a-long-board-password' }).http.host).toBe('0.0.0.0');
    expect(loadConfig({ NODE_ENV: 'test', BOARD_PASSWORD: 'a-long-board-password', UNSUBSCRIBE_SECRET: 'u'.repeat(32) }).http.host).toBe('0.0.0.0');
  });

  it("refuses Bull Board's admin/admin in development when HOST is not loopback, naming HOST", () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.20']) {
      const problems = problemsOf({ HOST: host });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^BOARD_PASSWORD: .*admin\/admin.*loopback/);
      expect(problems[0]).toContain(`HOST is ${host}`);
      expect(problemsOf({ HOST: host, BOARD_PASSWORD: 'admin' })[0]).toMatch(/^BOARD_PASSWORD:/);
    }
    for (const host of ['127.0.0.1', '127.0.0.2', '::1', 'localhost']) expect(loadConfig({ HOST: host }).http.host).toBe(host);
  });

  it('the one-click base URL defaults to the port the web process really listens on', () => {
    expect(loadConfig({ PORT: '3917' }).webhooks.publicBaseUrl).toBe('http://127.0.0.1:3917');
    expect(loadConfig({}).webhooks.publicBaseUrl).toBe('http://127.0.0.1:3000');
    expect(loadConfig({ PORT: '3917', PUBLIC_BASE_URL: 'https://consent.example.com/' }).webhooks.publicBaseUrl).toBe('https://consent.example.com');
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ PORT: '', REDIS_URL: '  ' }).http.port).toBe(3000);
  });

  it('refuses default or missing secrets outside development, naming each', () => {
    const problems = problemsOf({ NODE_ENV: 'production' });
    expect(problems.some((p) => p.startsWith('BOARD_PASSWORD:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('UNSUBSCRIBE_SECRET:'))).toBe(true);
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        BOARD_PASSWORD: 'a-long-real-password',
        UNSUBSCRIBE_SECRET: 'x'.repeat(32),
        PUBLIC_BASE_URL: 'https://consent.example.com',
        PRODUCER_API_KEYS: `shop:${'k'.repeat(24)}`,
      }),
    ).not.toThrow();
  });

  it('rejects channel lists and prefixes that would break keys', () => {
    expect(problemsOf({ CHANNELS: 'email,,sms' })[0]).toMatch(/^CHANNELS:/);
    expect(problemsOf({ QUEUE_PREFIX: 'a:b' })[0]).toMatch(/^QUEUE_PREFIX:/);
  });

  it('describes the configuration without secrets', () => {
    const config = loadConfig({ REDIS_URL: 'redis://user:s3cret@redis:6379', BOARD_PASSWORD: 'hunter2' });
    const text = JSON.stringify(describeConfig(config));
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain('hunter2');
    expect(text).toContain('redis://***@redis:6379');
  });
});

const SECRET_A = 'a-secret-of-24-chars-000';
const SECRET_B = 'another-secret-24-chars!';

const production = {
  NODE_ENV: 'production',
  BOARD_PASSWORD: 'a-long-real-password',
  UNSUBSCRIBE_SECRET: 'x'.repeat(32),
  PUBLIC_BASE_URL: 'https://consent.example.com',
};

describe('producer API settings', () => {
  it('parses name:secret pairs and masks the secrets in the start-up log', () => {
    const config = loadConfig({ PRODUCER_API_KEYS: ` shop:${SECRET_A} , crm:${SECRET_B}:with-colon` });
    expect(config.producer.auth).toBe('keys');
    expect(config.producer.keys).toEqual([
      { name: 'shop', secret: SECRET_A },
      { name: 'crm', secret: `${SECRET_B}:with-colon` },
    ]);
    const logged = JSON.stringify(describeConfig(config));
    expect(logged).not.toContain(SECRET_A);
    expect(logged).not.toContain(SECRET_B);
    expect(logged).toContain('"shop"');
  });

  it.each([
    ['a short secret', `shop:${'x'.repeat(23)}`, /the secret of key "shop" must be 24-512 characters/],
    ['a secret with a space', `shop:${'x'.repeat(20)} ${'x'.repeat(20)}`, /the secret of key "shop"/],
    ['no colon', SECRET_A, /entry 1 must be name:secret/],
    ['an empty name', `:${SECRET_A}`, /entry 1 must be name:secret/],
    ['a bad name', `sh op:${SECRET_A}`, /entry 1 must be name:secret/],
    ['an empty entry', `shop:${SECRET_A},,crm:${SECRET_B}`, /entry 2 must be name:secret/],
    ['a repeated name', `shop:${SECRET_A},shop:${SECRET_B}`, /names must be unique; "shop"/],
    ['a shared secret', `shop:${SECRET_A},crm:${SECRET_A}`, /key "crm" has the same secret as key "shop"/],
  ])('PRODUCER_API_KEYS with %s is refused, naming the variable and the rule, never the secret', (_name, value, rule) => {
    const problems = problemsOf({ PRODUCER_API_KEYS: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^PRODUCER_API_KEYS: /);
    expect(problems[0]).toMatch(rule);
    expect(problems[0]).not.toContain('x'.repeat(20));
    expect(problems[0]).not.toContain(SECRET_A);
  });

  it('is open without keys in development and test, refused in production unless PRODUCER_AUTH=none', () => {
    expect(loadConfig({}).producer.auth).toBe('none');
    expect(loadConfig({ ...production, NODE_ENV: 'test' }).producer.auth).toBe('none');
    const problems = problemsOf(production);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^PRODUCER_API_KEYS: required in production.*PRODUCER_AUTH=none/);
    expect(loadConfig({ ...production, PRODUCER_AUTH: 'none' }).producer).toMatchObject({ auth: 'none', keys: [] });
    expect(loadConfig({ ...production, PRODUCER_API_KEYS: `shop:${SECRET_A}` }).producer.auth).toBe('keys');
  });

  it('refuses contradictory PRODUCER_AUTH settings, naming the variable', () => {
    expect(problemsOf({ PRODUCER_AUTH: 'keys' })).toEqual([expect.stringMatching(/^PRODUCER_API_KEYS: required when PRODUCER_AUTH=keys/)]);
    expect(problemsOf({ PRODUCER_AUTH: 'none', PRODUCER_API_KEYS: `shop:${SECRET_A}` })).toEqual([
      expect.stringMatching(/^PRODUCER_AUTH: is none but PRODUCER_API_KEYS is set/),
    ]);
    expect(problemsOf({ PRODUCER_AUTH: 'basic' })[0]).toMatch(/^PRODUCER_AUTH: /);
  });

  it('rate limit: 600 per minute by default, 0 = off, budget per window rounded up, bad values named', () => {
    expect(loadConfig({}).producer.rateLimit).toEqual({ perMinute: 600, windowMs: 60_000, perWindow: 600 });
    expect(loadConfig({ PRODUCER_RATE_LIMIT_PER_MINUTE: '0' }).producer.rateLimit.perWindow).toBe(0);
    expect(
      loadConfig({ PRODUCER_RATE_LIMIT_PER_MINUTE: '100', PRODUCER_RATE_LIMIT_WINDOW_MS: '1000' }).producer.rateLimit.perWindow,
    ).toBe(2);
    const problems = problemsOf({ PRODUCER_RATE_LIMIT_PER_MINUTE: '-1', PRODUCER_RATE_LIMIT_WINDOW_MS: '10' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['PRODUCER_RATE_LIMIT_PER_MINUTE', 'PRODUCER_RATE_LIMIT_WINDOW_MS']);
    expect(problemsOf({ PRODUCER_RATE_LIMIT_PER_MINUTE: 'lots' })[0]).toBe('PRODUCER_RATE_LIMIT_PER_MINUTE: must be a number');
  });
});
