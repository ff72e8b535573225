import { z } from 'zod';
import { type CoreEnv, coreEnvSchema } from './env.schema.js';
import { BUILT_IN_ESPS, type EspModule } from '../src/esp/registry.js';
import type { EspName } from '../src/esp/types.js';
import { cronPattern, type EspSettings, espEnvSchemaFor, espSettingsFrom } from './esps.js';
import {
  buildWebhookConfig,
  describeWebhookConfig,
  type WebhookConfig,
  webhookEnvSchemaFor,
  webhookProductionProblems,
} from './webhooks.js';

export interface Config {
  readonly env: CoreEnv['NODE_ENV'];
  readonly log: { readonly level: CoreEnv['LOG_LEVEL']; readonly format: 'json' | 'pretty' };
  readonly http: { readonly host: string; readonly port: number };
  /** `clusterNodes` set: every connection is an ioredis Cluster (src/queues/connection.ts decides). */
  readonly redis: { readonly url: string; readonly prefix: string; readonly clusterNodes: readonly RedisNode[] | undefined };
  /** `eventWriteConcern`: the write concern of the event insert that precedes the API's 202. */
  readonly mongo: { readonly uri: string; readonly eventWriteConcern: EventWriteConcern };
  readonly board: { readonly username: string; readonly password: string; readonly readOnly: boolean };
  readonly metrics: { readonly token: string | undefined };
  readonly producer: ProducerApiConfig;
  readonly shutdownGraceMs: number;
  readonly worker: { readonly queues: readonly string[] | undefined; readonly applyConcurrency: number };
  readonly consent: {
    readonly channels: readonly string[];
    readonly maxEventsPerRequest: number;
    readonly maxFutureSkewMs: number;
  };
  readonly sweeper: { readonly delayMs: number; readonly intervalMs: number };
  /** How often the scheduler re-asserts its job schedulers; the port of its /metrics (0 = off). */
  readonly scheduler: { readonly checkIntervalMs: number; readonly metricsPort: number };
  readonly unsubscribeSecret: string;
  /** The configured ESPs (src/esp/registry.ts BUILT_IN_ESPS unless loadConfig was given others), in order. */
  readonly espModules: readonly EspModule[];
  /** Each configured ESP's settings, enabled or not, by name. */
  readonly esps: Readonly<Record<EspName, EspSettings>>;
  readonly espWorkerConcurrency: number;
  /** Events settled by one batch write, and how long a batch waits for other jobs' events. */
  readonly applyBatch: { readonly size: number; readonly lingerMs: number };
  /** How long a push owns the outbox entries it claimed, and the most contacts one push job carries. */
  readonly push: { readonly claimMs: number; readonly maxContactsPerJob: number };
  /**
   * Bulk mode (services/esp-sync/bulk.ts): lane 3 goes to an ESP's bulk path when its backlog
   * would take longer than `afterSeconds` at the per-call budget (0 = never; an ESP's own setting
   * wins); a bulk the ESP has not reported within `maxPendingMs` is given up.
   */
  readonly bulk: { readonly afterSeconds: number; readonly maxPendingMs: number };
  readonly espBackoffMs: number;
  readonly webhooks: WebhookConfig;
  readonly workerMetricsPort: number;
  readonly workerLocks: { readonly lockDurationMs: number; readonly stalledIntervalMs: number; readonly maxStalledCount: number };
  /** `cron`: when each ESP with no schedule of its own (EspSettings.reconcileCron) is reconciled. */
  readonly reconcile: { readonly cron: string; readonly pageSize: number };
  /** Fault injection for reliability tests only (refused in production). */
  readonly faults: { readonly exitAfterApplyEvery: number };
}

export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

export interface EventWriteConcern {
  readonly w: 'majority' | number;
  readonly journal: boolean;
  /** 0 = no timeout. */
  readonly wtimeoutMS: number;
}

/** Authentication and rate limit of the `/v1/` API (producers and operators' API calls). */
export interface ProducerApiConfig {
  /** `none`: the API answers without authentication (development/test default, or PRODUCER_AUTH=none). */
  readonly auth: 'keys' | 'none';
  readonly keys: readonly { readonly name: string; readonly secret: string }[];
  /** perMinute 0 = off; perWindow = requests each budget may make per `windowMs` window. */
  readonly rateLimit: { readonly perMinute: number; readonly windowMs: number; readonly perWindow: number };
}

function producerApiConfig(env: CoreEnv): { config: ProducerApiConfig; problems: string[] } {
  const keys = env.PRODUCER_API_KEYS ?? [];
  const problems: string[] = [];
  if (env.PRODUCER_AUTH === 'keys' && keys.length === 0) {
    problems.push('PRODUCER_API_KEYS: required when PRODUCER_AUTH=keys (comma-separated name:secret pairs)');
  }
  if (env.PRODUCER_AUTH === 'none' && keys.length > 0) {
    problems.push('PRODUCER_AUTH: is none but PRODUCER_API_KEYS is set; remove one of them');
  }
  if (env.PRODUCER_AUTH === undefined && keys.length === 0 && env.NODE_ENV === 'production') {
    problems.push(
      'PRODUCER_API_KEYS: required in production (comma-separated name:secret pairs); set PRODUCER_AUTH=none to run the /v1/ API without authentication, e.g. behind an authenticating gateway',
    );
  }
  const { PRODUCER_RATE_LIMIT_PER_MINUTE: perMinute, PRODUCER_RATE_LIMIT_WINDOW_MS: windowMs } = env;
  return {
    problems,
    config: {
      auth: keys.length > 0 ? 'keys' : 'none',
      keys,
      rateLimit: { perMinute, windowMs, perWindow: perMinute === 0 ? 0 : Math.ceil((perMinute * windowMs) / 60_000) },
    },
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const espQueueEnvSchema = z.object({
  ESP_WORKER_CONCURRENCY: z.coerce
    .number()
    .int()
    .min(1)
    .max(200)
    .default(4)
    .describe('Push jobs each worker process runs at once per ESP queue; a job carries many contacts, and the ESP\'s own concurrency and rate budget bound its requests.'),
  APPLY_BATCH_SIZE: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000)
    .default(500)
    .describe('Most events settled by one batch write (one read of events, identities and contacts, one bulk write). A producer request becomes one apply job; concurrent jobs share batches up to this size.'),
  APPLY_BATCH_LINGER_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(1_000)
    .default(5)
    .describe('How long a batch waits for the events of other apply jobs running at the same moment before it is written.'),
  PUSH_CLAIM_MS: z.coerce
    .number()
    .int()
    .min(10_000)
    .max(3_600_000)
    .default(60_000)
    .describe('How long a push owns the contacts it claimed; its requests stop 5 s before. A push left by a killed worker holds its contacts this long before another push takes them.'),
  PUSH_JOB_MAX_CONTACTS: z.coerce
    .number()
    .int()
    .min(1)
    .max(5_000)
    .default(2_000)
    .describe('Most contacts one push job carries; below it, jobs are sized to about 2 s of the ESP\'s rate budget so a person\'s opt-out soon gets a worker slot.'),
  BULK_MODE_AFTER_S: z.coerce
    .number()
    .int()
    .min(0)
    .default(3_600)
    .describe('An ESP switches imports, opt-ins and repairs (lane 3) to its bulk path when that backlog would take longer than this many seconds at its per-call budget, and back at a quarter of it; 0 = never. Per ESP: `ACTITO_BULK_MODE_AFTER_S`. Only ESPs with a bulk path (Actito) have one.'),
  BULK_MAX_PENDING_S: z.coerce
    .number()
    .int()
    .min(60)
    .default(86_400)
    .describe('A bulk the ESP has not reported processed after this long is given up: its contacts are pushed one by one again. Their newer states wait for the bulk until then.'),
  ESP_BACKOFF_MS: z.coerce
    .number()
    .int()
    .min(10)
    .default(2_000)
    .describe('First delay of the exponential, jittered backoff between attempts of a failed push job.'),
  WORKER_METRICS_PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65_535)
    .default(0)
    .describe('When set, each `worker` process serves its own counters (pushes, applied events, job durations) at http://HOST:PORT/metrics; 0 = off.'),
  WORKER_MAX_STALLED_COUNT: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(3)
    .describe('How many times a job may lose its worker (crash, kill) before BullMQ fails it; the sweeper retries such apply jobs.'),
  WORKER_LOCK_DURATION_MS: z.coerce
    .number()
    .int()
    .min(500)
    .default(30_000)
    .describe('BullMQ job lock: a worker that stops renewing it (crash, frozen process) loses its jobs to another worker after this long.'),
  WORKER_STALLED_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(500)
    .default(30_000)
    .describe('How often workers look for stalled jobs (whose lock expired) and put them back.'),
  RECONCILE_CRON: cronPattern('0 3 * * *')
    .default('0 3 * * *')
    .describe('When each ESP with a read-back is reconciled (cron, UTC).'),
  RECONCILE_PAGE_SIZE: z.coerce
    .number()
    .int()
    .min(10)
    .max(5_000)
    .default(500)
    .describe('Contacts or ESP list entries per reconciliation page job.'),
});

const fixedEnvSchema = coreEnvSchema.extend(espQueueEnvSchema.shape);

/** Every variable of a deployment with `esps`: one schema, so one error lists every bad variable. */
export function fullEnvSchemaFor(esps: readonly EspModule[]) {
  // The modules' variables are known only at run time; the cast keeps the fixed ones' types, which
  // zod's extend would otherwise fold into the modules' string-indexed shape.
  return fixedEnvSchema.extend(espEnvSchemaFor(esps).shape).extend(webhookEnvSchemaFor(esps).shape) as unknown as z.ZodObject<
    typeof fixedEnvSchema.shape & Readonly<Record<string, z.core.$ZodType>>
  >;
}

/** Every variable of the built-in ESPs' deployment (the README tables). */
export const fullEnvSchema = fullEnvSchemaFor(BUILT_IN_ESPS);

export interface LoadConfigOptions {
  /** The ESPs this deployment knows; default the built-in ones (src/esp/registry.ts). */
  readonly esps?: readonly EspModule[];
}

const DEVELOPMENT_UNSUBSCRIBE_SECRET = 'development-only-unsubscribe-secret';

/** Empty variables count as unset, the way most process managers write "no value". */
function withoutEmptyValues(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value.trim() !== '') out[key] = value;
  }
  return out;
}

function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

/** Where the web process listens when HOST is unset: only this machine, in development. */
export function defaultHost(nodeEnv: CoreEnv['NODE_ENV']): string {
  return nodeEnv === 'development' ? '127.0.0.1' : '0.0.0.0';
}

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function productionProblems(env: CoreEnv, raw: Record<string, string>): string[] {
  if (env.NODE_ENV === 'development') {
    // The development password is fine while only this machine can reach the board.
    const host = env.HOST ?? defaultHost(env.NODE_ENV);
    if (!raw['BOARD_PASSWORD'] || env.BOARD_PASSWORD === 'admin') {
      if (!isLoopbackHost(host)) {
        return [
          `BOARD_PASSWORD: the development default admin/admin is only accepted when HOST is loopback (127.0.0.1, ::1 or localhost), and HOST is ${host}; set BOARD_PASSWORD (at least 12 characters) or unset HOST`,
        ];
      }
    }
    return [];
  }
  const problems: string[] = [];
  if (!raw['BOARD_PASSWORD'] || env.BOARD_PASSWORD === 'admin' || env.BOARD_PASSWORD.length < 12) {
    problems.push('BOARD_PASSWORD: required outside development, at least 12 characters and not the default');
  }
  if (!env.UNSUBSCRIBE_SECRET || env.UNSUBSCRIBE_SECRET.length < 32) {
    problems.push('UNSUBSCRIBE_SECRET: required outside development, at least 32 characters');
  }
  return problems;
}

/**
 * Parses and validates every setting once. Throws a ConfigError that lists every bad
 * variable by name, so an operator fixes them all in one go instead of one per restart.
 */
export function loadConfig(rawEnv: Record<string, string | undefined>, options: LoadConfigOptions = {}): Config {
  const espModules = options.esps ?? BUILT_IN_ESPS;
  const raw = withoutEmptyValues(rawEnv);
  // One schema for every variable, so a single error lists core and ESP problems together.
  const parsed = fullEnvSchemaFor(espModules).safeParse(raw);
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error));
  // The ESP part of the schema is built from the module list, so its type is only known per module
  // (espSettingsFrom reads it); the fixed part keeps its types.
  const env = parsed.data as z.infer<typeof fixedEnvSchema> & Record<string, unknown>;
  const webhooks = buildWebhookConfig(raw, { port: env.PORT }, espModules);
  const producer = producerApiConfig(env);
  const problems = [...productionProblems(env, raw), ...producer.problems, ...webhookProductionProblems(webhooks, env.NODE_ENV)];
  if (env.NODE_ENV === 'production' && env.FAULT_EXIT_AFTER_APPLY_EVERY > 0) {
    problems.push('FAULT_EXIT_AFTER_APPLY_EVERY: fault injection is refused with NODE_ENV=production');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return Object.freeze({
    env: env.NODE_ENV,
    log: { level: env.LOG_LEVEL, format: env.LOG_FORMAT ?? (env.NODE_ENV === 'development' ? 'pretty' : 'json') },
    http: { host: env.HOST ?? defaultHost(env.NODE_ENV), port: env.PORT },
    redis: { url: env.REDIS_URL, prefix: env.QUEUE_PREFIX, clusterNodes: env.REDIS_CLUSTER_NODES },
    mongo: {
      uri: env.MONGODB_URI,
      eventWriteConcern: { w: env.MONGO_WRITE_CONCERN, journal: env.MONGO_WRITE_JOURNAL, wtimeoutMS: env.MONGO_WRITE_TIMEOUT_MS },
    },
    board: { username: env.BOARD_USERNAME, password: env.BOARD_PASSWORD, readOnly: env.BOARD_READ_ONLY },
    metrics: { token: env.METRICS_TOKEN },
    producer: producer.config,
    shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
    worker: {
      queues: env.WORKER_QUEUES?.split(',').map((q) => q.trim()).filter(Boolean),
      applyConcurrency: env.APPLY_CONCURRENCY,
    },
    consent: {
      channels: env.CHANNELS.split(','),
      maxEventsPerRequest: env.MAX_EVENTS_PER_REQUEST,
      maxFutureSkewMs: env.MAX_FUTURE_SKEW_MS,
    },
    sweeper: { delayMs: env.SWEEP_DELAY_MS, intervalMs: env.SWEEP_INTERVAL_MS },
    scheduler: { checkIntervalMs: env.SCHEDULE_CHECK_INTERVAL_MS, metricsPort: env.SCHEDULER_METRICS_PORT },
    unsubscribeSecret: env.UNSUBSCRIBE_SECRET ?? DEVELOPMENT_UNSUBSCRIBE_SECRET,
    espModules,
    esps: espSettingsFrom(env, espModules),
    espWorkerConcurrency: env.ESP_WORKER_CONCURRENCY,
    applyBatch: { size: env.APPLY_BATCH_SIZE, lingerMs: env.APPLY_BATCH_LINGER_MS },
    push: { claimMs: env.PUSH_CLAIM_MS, maxContactsPerJob: env.PUSH_JOB_MAX_CONTACTS },
    bulk: { afterSeconds: env.BULK_MODE_AFTER_S, maxPendingMs: env.BULK_MAX_PENDING_S * 1_000 },
    espBackoffMs: env.ESP_BACKOFF_MS,
    webhooks,
    workerMetricsPort: env.WORKER_METRICS_PORT,
    workerLocks: {
      lockDurationMs: env.WORKER_LOCK_DURATION_MS,
      stalledIntervalMs: env.WORKER_STALLED_INTERVAL_MS,
      maxStalledCount: env.WORKER_MAX_STALLED_COUNT,
    },
    reconcile: { cron: env.RECONCILE_CRON, pageSize: env.RECONCILE_PAGE_SIZE },
    faults: { exitAfterApplyEvery: env.FAULT_EXIT_AFTER_APPLY_EVERY },
  });
}

/** Secrets replaced, for the start-up log line. */
/** A connection URL without its user and password. */
export function maskUrlCredentials(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

export function describeConfig(config: Config): Record<string, unknown> {
  const mask = maskUrlCredentials;
  return {
    ...config,
    redis: { ...config.redis, url: mask(config.redis.url) },
    mongo: { ...config.mongo, uri: mask(config.mongo.uri) },
    board: { ...config.board, password: '***' },
    metrics: { token: config.metrics.token ? '***' : undefined },
    producer: { ...config.producer, keys: config.producer.keys.map((k) => ({ name: k.name, secret: '***' })) },
    unsubscribeSecret: '***',
    webhooks: describeWebhookConfig(config.webhooks),
    espModules: config.espModules.map((m) => m.name),
    esps: Object.fromEntries(
      Object.entries(config.esps).map(([name, s]) => [
        name,
        { enabled: s.enabled, baseUrl: s.baseUrl, disabledReason: s.disabledReason, rateLimit: s.rateLimit, maxBatch: s.maxBatch },
      ]),
    ),
  };
}
