import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { type Config, type LoadConfigOptions, loadConfig } from '../../config/index.js';
import { withDatabase } from '../../src/dev/mongo-server.js';
import { type AppContext, createContext } from '../../src/app/context.js';
import { createLogger, type Logger } from '../../src/lib/logger.js';

/** Settings for one test file: shared servers, but its own database and queue prefix. */
export function isolatedEnv(extra: Record<string, string> = {}): Record<string, string> {
  const id = `${process.env['VITEST_POOL_ID'] ?? '0'}_${randomBytes(4).toString('hex')}`;
  return {
    NODE_ENV: 'test',
    BOARD_PASSWORD: 'integration-test-password',
    UNSUBSCRIBE_SECRET: 'integration-test-unsubscribe-secret-0123456789',
    LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
    REDIS_URL: inject('redisUrl'),
    MONGODB_URI: withDatabase(inject('mongoUri'), `t_${id}`),
    QUEUE_PREFIX: `t_${id}`,
    SHUTDOWN_GRACE_MS: '3000',
    // waitFor polls the contact view every 25 ms, faster than any sensible producer budget;
    // the rate limit is tested with its own settings (test/integration/chaos/producer-limits.test.ts).
    PRODUCER_RATE_LIMIT_PER_MINUTE: '0',
    ...extra,
  };
}

export function testConfig(extra: Record<string, string> = {}, options: LoadConfigOptions = {}): Config {
  return loadConfig(isolatedEnv(extra), options);
}

export function testLogger(config: Config): Logger {
  return createLogger({ level: config.log.level, format: 'json' });
}

/** A full application context on the shared servers; `dispose` removes its queues and database. */
export async function createTestContext(
  extra: Record<string, string> = {},
  options: LoadConfigOptions = {},
): Promise<AppContext & { dispose(): Promise<void> }> {
  const config = testConfig(extra, options);
  const ctx = await createContext(config, testLogger(config));
  return Object.assign(ctx, {
    async dispose() {
      await ctx.runtime.closeWorkers(2_000);
      await Promise.all(ctx.runtime.knownQueues().map((q) => q.obliterate({ force: true }).catch(() => {})));
      await ctx.mongo.dropDatabase().catch(() => {});
      await ctx.close();
    },
  });
}
