import { describe, expect, it } from 'vitest';
import { ConfigError, describeConfig, loadConfig } from '../../../config/index.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error('expected a ConfigError');
}

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
