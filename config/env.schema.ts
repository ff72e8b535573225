import { z } from 'zod';

/**
 * Every environment variable of consent-sync except the per-ESP ones (config/esps.ts).
 * Each `.describe()` text is the README's documentation of that variable.
 */

const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const positiveInt = z.coerce.number().int().positive();

const redisUrl = z
  .string()
  .refine((v) => /^rediss?:\/\/[^\s/]+/.test(v) && URL.canParse(v), 'must be a redis:// or rediss:// URL with a host');

const mongoUri = z
  .string()
  .refine((v) => /^mongodb(\+srv)?:\/\/[^/\s]+/.test(v), 'must be a mongodb:// or mongodb+srv:// URI with a host');

export const coreEnvSchema = z.object({
  NODE_ENV: z
    .enum(['development', 'test', 'production'])
    .default('development')
    .describe('`development` enables pretty logs and development defaults; anything else is strict.'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('pino log level.'),
  LOG_FORMAT: z
    .enum(['json', 'pretty'])
    .optional()
    .describe('Log output; defaults to `pretty` in development and `json` otherwise.'),
  HOST: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Interface the `web` process (and the worker and scheduler metrics listeners) listen on. Unset: `127.0.0.1` in development (nothing outside the machine reaches the development defaults, Bull Board\'s `admin`/`admin` included), `0.0.0.0` otherwise.',
    ),
  PORT: z.coerce.number('must be a number').int().min(1).max(65535).default(3000).describe('HTTP port of the `web` process.'),
  REDIS_URL: redisUrl.default('redis://127.0.0.1:6379').describe('Redis used by BullMQ (needs `maxmemory-policy noeviction`).'),
  REDIS_CLUSTER_NODES: z
    .string()
    .regex(/^\s*[^\s,:]+:\d{1,5}\s*(,\s*[^\s,:]+:\d{1,5}\s*)*$/, 'comma-separated host:port pairs, e.g. "10.0.0.1:6379,10.0.0.2:6379"')
    .transform((v) => v.split(',').map((node) => {
      const [host, port] = node.trim().split(':');
      return { host: host!, port: Number(port) };
    }))
    .optional()
    .describe(
      'Redis Cluster seed nodes, comma-separated `host:port` (a few masters are enough; the rest is discovered). When set, every process connects with an ioredis `Cluster` instead of `REDIS_URL` (whose user, password and `rediss://` TLS still apply to the nodes), and each queue gets its own hash-tagged key prefix (see "Redis Cluster").',
    ),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9{}_-]+$/, 'letters, digits, _, -, {} only (use {name} as a Redis Cluster hash tag)')
    .default('consent-sync')
    .describe(
      'BullMQ key prefix. On Redis Cluster each queue is prefixed `{QUEUE_PREFIX-queue}` (one hash slot per queue, queues spread over the masters); a prefix that already holds a `{…}` hash tag is used as is, putting every queue in that one slot.',
    ),
  MONGODB_URI: mongoUri
    .default('mongodb://127.0.0.1:27017/consent-sync')
    .describe('MongoDB connection string, including the database name.'),
  MONGO_WRITE_CONCERN: z
    .string()
    .regex(/^(majority|\d{1,2})$/, '`majority` or a number of members, e.g. 1')
    .default('majority')
    .transform((v) => (v === 'majority' ? ('majority' as const) : Number(v)))
    .describe(
      'Write concern `w` of the consent event insert that precedes the 202: `majority` (an acknowledged opt-out survives a replica-set failover) or a number of members. A standalone server treats `majority` as 1.',
    ),
  MONGO_WRITE_JOURNAL: booleanFlag
    .default(true)
    .describe('Write concern `j` of that insert: acknowledged only once it is in the on-disk journal.'),
  MONGO_WRITE_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(10_000)
    .describe(
      'Write concern `wtimeout` of that insert: when a majority does not confirm within this long (e.g. a replica set without a majority), the API answers 5xx instead of hanging and the producer retries; the event may still be stored (a retry is a duplicate, answered 202). 0 = wait forever.',
    ),
  BOARD_USERNAME: z.string().min(1).default('admin').describe('Bull Board basic-auth user.'),
  BOARD_PASSWORD: z
    .string()
    .default('admin')
    .describe('Bull Board basic-auth password; an empty or default password is refused outside development.'),
  BOARD_READ_ONLY: booleanFlag
    .default(true)
    .describe('Bull Board is read-only for the consent and ESP queues (no one deletes pending opt-outs from a browser).'),
  METRICS_TOKEN: z
    .string()
    .optional()
    .describe('When set, `/metrics` requires `Authorization: Bearer <token>`.'),
  PRODUCER_API_KEYS: z
    .string()
    .transform((value, ctx) => {
      // name:secret pairs; problems name the key, never echo a secret.
      const keys: { name: string; secret: string }[] = [];
      const fail = (message: string) => ctx.addIssue({ code: 'custom', message });
      for (const [i, entry] of value.split(',').map((e) => e.trim()).entries()) {
        const colon = entry.indexOf(':');
        const name = colon > 0 ? entry.slice(0, colon) : '';
        const secret = colon > 0 ? entry.slice(colon + 1) : '';
        if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
          fail(`entry ${i + 1} must be name:secret with a name of 1-64 letters, digits, _ . -`);
        } else if (secret.length < 24 || secret.length > 512 || /\s/.test(secret)) {
          fail(`the secret of key "${name}" must be 24-512 characters without spaces`);
        } else if (keys.some((k) => k.name === name)) {
          fail(`key names must be unique; "${name}" appears more than once`);
        } else if (keys.some((k) => k.secret === secret)) {
          fail(`key "${name}" has the same secret as key "${keys.find((k) => k.secret === secret)?.name}"; each key needs its own`);
        } else {
          keys.push({ name, secret });
        }
      }
      return keys;
    })
    .optional()
    .describe(
      'Producer API keys, comma-separated `name:secret` pairs (secrets of at least 24 characters, unique names). When set, every `/v1/` API request needs `Authorization: Bearer <secret>`; the name is the rate-limit budget and appears in logs.',
    ),
  PRODUCER_AUTH: z
    .enum(['keys', 'none'])
    .optional()
    .describe(
      '`keys` (the default when `PRODUCER_API_KEYS` is set) or `none`: the `/v1/` API without authentication. Without keys, development and test run open; production refuses to start unless this is `none` (e.g. behind an authenticating gateway).',
    ),
  PRODUCER_RATE_LIMIT_PER_MINUTE: z.coerce
    .number('must be a number')
    .int()
    .min(0)
    .max(1_000_000)
    .default(600)
    .describe(
      'Requests per minute each API key (each client address without keys) may make to the `/v1/` API, counted in Redis across all `web` processes, reads and writes in separate budgets; over it → 429 with `Retry-After`. 0 = off.',
    ),
  PRODUCER_RATE_LIMIT_WINDOW_MS: z.coerce
    .number('must be a number')
    .int()
    .min(1_000)
    .max(3_600_000)
    .default(60_000)
    .describe(
      'Fixed counting window of the producer rate limit: each budget allows `PRODUCER_RATE_LIMIT_PER_MINUTE` × window / 60 000 requests (rounded up) per window. A fixed window lets up to twice that through across a window boundary.',
    ),
  SHUTDOWN_GRACE_MS: positiveInt.default(10_000).describe('How long SIGTERM waits for in-flight jobs and requests.'),
  WORKER_QUEUES: z
    .string()
    .optional()
    .describe('Comma-separated queue names this `worker` runs; all queues when unset.'),
  APPLY_CONCURRENCY: positiveInt.default(4).describe('Apply jobs each worker process runs at once; each carries up to 1,000 events, and jobs running together share batch writes (APPLY_BATCH_SIZE).'),
  CHANNELS: z
    .string()
    .regex(/^[a-z][a-z0-9_]*(,[a-z][a-z0-9_]*)*$/, 'comma-separated lower-case channel names')
    .default('email,sms,push')
    .describe('Canonical marketing channels; `all` in an event means every one of them.'),
  MAX_EVENTS_PER_REQUEST: positiveInt
    .max(10_000)
    .default(500)
    .describe('Largest batch accepted by `POST /v1/consent-events`.'),
  SWEEP_DELAY_MS: positiveInt
    .default(30_000)
    .describe('Stored events still pending after this long are re-enqueued by the sweeper.'),
  SWEEP_INTERVAL_MS: positiveInt.default(15_000).describe('How often the sweeper runs.'),
  SCHEDULE_CHECK_INTERVAL_MS: positiveInt
    .min(100)
    .default(30_000)
    .describe(
      'How often the `scheduler` process checks that its job schedulers (sweepers, reconciliation, heartbeat) are still in Redis and re-creates the missing ones (also on every Redis reconnect): a Redis that came back empty loses them.',
    ),
  SCHEDULER_METRICS_PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65_535)
    .default(0)
    .describe('When set, the `scheduler` process serves its counters (e.g. `consent_sync_schedules_restored_total`) at http://HOST:PORT/metrics; 0 = off.'),
  MAX_FUTURE_SKEW_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(300_000)
    .describe('Event moments further in the future than this are clamped to the receipt time.'),
  UNSUBSCRIBE_SECRET: z
    .string()
    .optional()
    .describe('HMAC key of one-click unsubscribe tokens; required outside development.'),
  FAULT_EXIT_AFTER_APPLY_EVERY: z.coerce
    .number()
    .int()
    .min(0)
    .default(0)
    .describe(
      'Fault injection for reliability tests: a `worker` kills itself (SIGKILL) after every Nth state-changing apply, after its MongoDB write and before its ESP pushes are queued; 0 = off. Refused with `NODE_ENV=production`.',
    ),
});

export type CoreEnv = z.infer<typeof coreEnvSchema>;
