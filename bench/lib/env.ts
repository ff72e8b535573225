import { withDatabase } from '../../src/dev/mongo-server.js';
import { simulatorConnectionEnv } from '../../src/dev/simulator-env.js';
import { ESP_NAMES } from '../../src/esp/registry.js';
import type { BuiltInEspName } from '../../src/esp/registry.js';

/**
 * ESP budgets raised so the documented request limits (Ometria 8 rps, Actito 100 calls/min…)
 * never bind: the benchmark measures consent-sync's own cost, not the ESPs' allowances.
 * Concurrency caps and batch sizes stay at their defaults: for CrossEngage, Dynamic Yield and
 * Optimizely the default follows the budget (32 in flight at these), Actito keeps its licence
 * maximum of 5, Ometria 2; Ometria batches of 100, Optimizely REST batches of up to 5000.
 */
export const UNBOUNDED_ESP_BUDGETS: Record<string, string> = {
  OPTIMIZELY_RPS: '100000',
  CROSSENGAGE_RPS: '100000',
  ACTITO_CALLS_PER_MINUTE: '100000000',
  DY_RPS: '100000',
  OMETRIA_PUSH_RPS: '100',
  ESP_BACKOFF_MS: '200',
};

/** The environment of a measured consent-sync process: production mode, its own database and prefix. */
export function appEnv(opts: {
  redisUrl: string;
  mongoUri: string;
  database: string;
  prefix: string;
  simUrls: Record<BuiltInEspName, string>;
  esps?: readonly BuiltInEspName[];
  extra?: Record<string, string>;
  /** 'default': consent-sync's own ESP budgets (the lanes phase); otherwise UNBOUNDED_ESP_BUDGETS. */
  budgets?: 'unbounded' | 'default';
}): Record<string, string> {
  const uri = withDatabase(opts.mongoUri, opts.database);
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    HOST: '127.0.0.1',
    BOARD_PASSWORD: 'bench-board-password-not-secret',
    UNSUBSCRIBE_SECRET: 'bench-unsubscribe-secret-0123456789abcdef',
    PUBLIC_BASE_URL: 'https://consent-sync.bench.example',
    REDIS_URL: opts.redisUrl,
    // Commands are counted by bench/children/app.ts (lib/mongo-commands.ts), not by the driver's
    // command monitoring, which would add its own cost to the measured processes.
    MONGODB_URI: uri,
    QUEUE_PREFIX: opts.prefix,
    SHUTDOWN_GRACE_MS: '5000',
    // Production refuses an unauthenticated /v1/ API unless told; the rate limit runs (its Redis
    // round trip is part of the measured cost) with a budget the load generators never reach.
    PRODUCER_AUTH: 'none',
    PRODUCER_RATE_LIMIT_PER_MINUTE: '1000000',
    ...(opts.budgets === 'default' ? {} : UNBOUNDED_ESP_BUDGETS),
  };
  for (const esp of opts.esps ?? ESP_NAMES) Object.assign(env, simulatorConnectionEnv(esp, opts.simUrls[esp]));
  return { ...env, ...opts.extra };
}
