/**
 * consent-sync benchmark: `npm run bench` (quick profile) or `npm run bench -- --full`.
 * Options: --cpu-prof (profile the end-to-end worker), --only=baselines,costs,e2e,half,load,lanes,reconcile,scale,
 * --mongo=java|memory (default java, or memory when MONGOMS_SYSTEM_BINARY names a mongod),
 * --workers=N, --redis=single|cluster and --esps=a,b (the e2e and half phases), --events=N --contacts=N
 * --reconcile=N --lanes-import=N --scale-events=N, --set=KEY=VALUE, --half-rate=N (the half phase offers
 * N events/s instead of half the e2e rate: two builds compared at one load, whatever their maximum),
 * --load-rates=a,b (the rates of the load phase: worker CPU per event by load).
 * See bench/README.md for what is measured and how.
 */
import { mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type LocalRedisCluster, startLocalRedisCluster } from '../src/dev/redis-cluster.js';
import { startDevServices } from '../src/dev/services.js';
import { ESP_NAMES } from '../src/esp/registry.js';
import type { BuiltInEspName } from '../src/esp/registry.js';
import { createLogger } from '../src/lib/logger.js';
import { type BullmqBaseline, bullmqBaseline, type MongoBaseline, mongoBaseline, openModels } from './baselines.js';
import { type E2eResult, type E2eSetup, runE2e } from './e2e.js';
import { type LanesResult, runLanes } from './lanes.js';
import { chartInput, renderChart } from './lib/chart.js';
import { UNBOUNDED_ESP_BUDGETS } from './lib/env.js';
import { forkChild } from './lib/ipc.js';
import { JAVA_MONGO_VERSION } from '../src/dev/java-mongo.js';
import { baseMachine, type MachineInfo, pidListeningOn, round, uptimeLine } from './lib/proc.js';
import { type ProfileSummary, summariseProfile } from './lib/profile.js';
import { redisVersion, total } from './lib/redis-stats.js';
import { type BenchRedis, clusterRedis, singleRedis } from './lib/redis-topology.js';
import { formatLoadTable, type LoadRow, loadRow, type RateRunOptions, runAtRate, runLoadSweep } from './load-sweep.js';
import { type ReconcileResult, runReconcile } from './reconcile.js';
import { type CostRow, serverCosts } from './server-costs.js';
import { coreEnvSchema } from '../config/env.schema.js';
import { fullEnvSchema } from '../config/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const option = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

const PROFILES = {
  quick: {
    events: 5_000,
    contacts: 1_000,
    bullmqJobs: 20_000,
    mongoDocuments: 1_000,
    mongoUpdates: 5_000,
    e2eWarmupEvents: 5_000,
    halfLoadSeconds: 20,
    halfLoadWarmupSeconds: 5,
    loadRates: [100, 200, 300],
    lanesImport: 10_000,
    reconcile: [{ contacts: 100_000, deadlineS: 900 }],
    costSizes: [500, 2_500],
    scaleEvents: 3_000,
  },
  full: {
    events: 50_000,
    contacts: 10_000,
    bullmqJobs: 50_000,
    mongoDocuments: 10_000,
    mongoUpdates: 20_000,
    e2eWarmupEvents: 10_000,
    halfLoadSeconds: 60,
    halfLoadWarmupSeconds: 10,
    loadRates: [100, 200, 300, 400],
    lanesImport: 10_000,
    reconcile: [
      { contacts: 100_000, deadlineS: 1_800 },
      { contacts: 1_000_000, deadlineS: 1_200 },
    ],
    costSizes: [10_000, 50_000],
    scaleEvents: 20_000,
  },
} as const;

/** Issue 15's targets for requests per event (it names none for the other ESPs). */
const HTTP_TARGETS: Partial<Record<string, string>> = { crossengage: '≤ 0.1', 'optimizely-campaign': '≤ 0.1', ometria: '≤ 0.05' };

const profileName = flag('full') ? 'full' : 'quick';
/** --set=KEY=VALUE (repeatable): environment for the measured consent-sync processes, for experiments. */
const experimentEnv = Object.fromEntries(
  argv
    .filter((a) => a.startsWith('--set='))
    .map((a) => {
      const kv = a.slice('--set='.length);
      return [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)];
    }),
);
const numberOption = (name: string) => (option(name) === undefined ? undefined : Number(option(name)));
/** --events=N / --contacts=N / --reconcile=N override the profile's sizes (for iterating on one figure). */
const profile = {
  ...PROFILES[profileName],
  events: numberOption('events') ?? PROFILES[profileName].events,
  contacts: numberOption('contacts') ?? PROFILES[profileName].contacts,
  lanesImport: numberOption('lanes-import') ?? PROFILES[profileName].lanesImport,
  scaleEvents: numberOption('scale-events') ?? PROFILES[profileName].scaleEvents,
  // --warmup=N: warm-up events of the e2e phase; --warmup=0 measures the processes from their start, in both phases.
  e2eWarmupEvents: numberOption('warmup') ?? PROFILES[profileName].e2eWarmupEvents,
  halfLoadWarmupSeconds: numberOption('warmup') === 0 ? 0 : PROFILES[profileName].halfLoadWarmupSeconds,
  loadRates: option('load-rates')?.split(',').map(Number) ?? PROFILES[profileName].loadRates,
  reconcile:
    numberOption('reconcile') !== undefined
      ? [{ contacts: numberOption('reconcile')!, deadlineS: 1_800 }]
      : PROFILES[profileName].reconcile,
};
for (const rate of profile.loadRates) {
  if (!Number.isFinite(rate) || rate <= 0) throw new Error(`--load-rates=${option('load-rates')}: expected events/s above 0, separated by commas`);
}
const only = option('only')?.split(',');
const wants = (phase: string) => !only || only.includes(phase);
/** --esps=a,b: the ESPs the e2e and half phases connect (default all): an ESP's cost is the difference. */
const e2eEsps = option('esps')
  ?.split(',')
  .filter((e) => e !== '')
  .map((e) => {
    if (!(ESP_NAMES as readonly string[]).includes(e)) throw new Error(`--esps: ${e} is not one of ${ESP_NAMES.join(', ')}`);
    return e as BuiltInEspName;
  });
/** --workers=N: worker processes in the e2e and half phases (the scale phase runs 1, 2 and 4). */
const workerCount = numberOption('workers') ?? 1;
if (!Number.isInteger(workerCount) || workerCount < 1) throw new Error(`--workers=${option('workers')}: expected a whole number ≥ 1`);
/** --redis=single|cluster: the Redis of the e2e and half phases (the scale phase runs on both). */
const redisChoice = option('redis') ?? 'single';
if (redisChoice !== 'single' && redisChoice !== 'cluster') throw new Error(`--redis=${redisChoice}: expected single or cluster`);
const SCALE_WORKERS = [1, 2, 4] as const;
/** The default of APPLY_CONCURRENCY, which the bench does not override: the baselines run at it. */
const APPLY_CONCURRENCY = coreEnvSchema.shape.APPLY_CONCURRENCY.parse(undefined);
/** The default of ESP_WORKER_CONCURRENCY (push jobs per ESP queue at once), also not overridden. */
const ESP_WORKER_CONCURRENCY = fullEnvSchema.shape.ESP_WORKER_CONCURRENCY.parse(undefined);
const RECONCILE_PAGE_SIZE = 500; // the default of RECONCILE_PAGE_SIZE

const say = (line: string) => process.stdout.write(`${line}\n`);
const workDir = mkdtempSync(join(tmpdir(), 'consent-sync-bench-'));
const resultsDir = join(here, 'results');
mkdirSync(resultsDir, { recursive: true });

const started = new Date();
const machineBase = baseMachine();
say(`consent-sync benchmark, ${profileName} profile — ${machineBase.load_at_start}`);
say(`logs and profiles: ${workDir}`);

const mongoChoice = option('mongo') ?? (process.env['MONGOMS_SYSTEM_BINARY'] ? 'memory' : 'java');
if (mongoChoice !== 'java' && mongoChoice !== 'memory') throw new Error(`--mongo=${mongoChoice}: expected java or memory`);
const services = await startDevServices(
  {
    CONSENT_SYNC_TEST_MONGO: mongoChoice,
    ...(process.env['MONGOMS_SYSTEM_BINARY'] ? { MONGOMS_SYSTEM_BINARY: process.env['MONGOMS_SYSTEM_BINARY'] } : {}),
  },
  (line) => say(`  ${line}`),
);
const single = singleRedis(services.redisUrl, undefined);
// A 3-master cluster on loopback, as the tests start it, when a phase runs on one.
let localCluster: LocalRedisCluster | undefined;
let cluster: BenchRedis | undefined;
if (redisChoice === 'cluster' || wants('scale')) {
  localCluster = await startLocalRedisCluster();
  cluster = clusterRedis(localCluster);
  say(`  Redis Cluster: 3 masters at ${localCluster.nodesSetting}`);
}
const e2eRedis = redisChoice === 'cluster' ? cluster! : single;
const sims = forkChild('simulators', join(here, 'children', 'simulators.ts'), {
  env: { BENCH_CROSSENGAGE_USERS: String(profile.contacts) },
  logDir: workDir,
});
const errors: Record<string, string> = {};

let shuttingDown = false;
async function shutdown() {
  if (shuttingDown) return;
  shuttingDown = true;
  await sims.stop(5_000).catch(() => {});
  single.close();
  cluster?.close();
  await localCluster?.stop();
  await services.stop();
}
process.on('SIGINT', () => {
  void shutdown().then(() => process.exit(130));
});

try {
  const redisInfo = await redisVersion(single.nodes[0]!.stats);
  single.nodes[0]!.pid = redisInfo.pid;
  const { conn } = await openModels(services.mongoUri, 'bench_info');
  const buildInfo = (await conn.db!.admin().command({ buildInfo: 1 })) as { version?: string };
  const serverStatus = (await conn.db!.admin().command({ serverStatus: 1 }).catch(() => ({}))) as { pid?: number };
  await conn.dropDatabase().catch(() => {});
  await conn.close();
  const mongoPid = serverStatus.pid ?? pidListeningOn(Number(new URL(services.mongoUri).port));
  const machine: MachineInfo = {
    ...machineBase,
    redis: redisInfo.version,
    mongo_server:
      services.mongoKind === 'mongo-java-server'
        ? `mongo-java-server ${JAVA_MONGO_VERSION} (in-memory; reports MongoDB ${buildInfo.version})`
        : `MongoDB ${buildInfo.version}`,
    mongo_kind: services.mongoKind,
  };
  say(`machine: ${machine.cpu_model}, ${machine.cores} cores, Node ${machine.node}, Redis ${machine.redis}, ${machine.mongo_server}`);

  const { urls } = await sims.waitEvent<{ urls: Record<BuiltInEspName, string> }>('ready', 60_000);
  const setup: E2eSetup = {
    redisUrl: services.redisUrl,
    mongoUri: services.mongoUri,
    simUrls: urls,
    redis: single,
    sims,
    serverPids: mongoPid ? { mongo: mongoPid } : {},
    logDir: workDir,
    here,
  };
  const log = createLogger({ level: 'warn', format: 'json', name: 'bench' });

  let bullmq: BullmqBaseline | undefined;
  let mongo: MongoBaseline | undefined;
  if (wants('baselines')) {
    say(`(A) BullMQ no-op jobs: ${profile.bullmqJobs.toLocaleString('en')} at concurrency ${APPLY_CONCURRENCY}…`);
    bullmq = await bullmqBaseline({ redisUrl: services.redisUrl, prefix: 'bench_noop', jobs: profile.bullmqJobs, concurrency: APPLY_CONCURRENCY, log });
    say(`    ${bullmq.jobs_per_s} jobs/s processed, ${bullmq.add_jobs_per_s} jobs/s added (addBulk 500)`);
    say(`(B) mongoose updateOne by _id: ${profile.mongoUpdates.toLocaleString('en')} at concurrency ${APPLY_CONCURRENCY}…`);
    mongo = await mongoBaseline({
      mongoUri: services.mongoUri,
      database: 'bench_baseline',
      documents: profile.mongoDocuments,
      updates: profile.mongoUpdates,
      concurrency: APPLY_CONCURRENCY,
    });
    say(`    ${mongo.updates_per_s} updates/s, ${mongo.reads_per_s} reads/s`);
  }

  let costs: CostRow[] | undefined;
  if (wants('costs')) {
    say(`query costs on this server at ${profile.costSizes.map((n) => n.toLocaleString('en')).join(' and ')} contacts…`);
    costs = await serverCosts({ mongoUri: services.mongoUri, database: 'bench_costs', sizes: [...profile.costSizes] });
  }

  let e2e: E2eResult | undefined;
  let profileSummary: ProfileSummary | undefined;
  if (wants('e2e')) {
    say(
      `end to end, maximum load: ${profile.events.toLocaleString('en')} events over ${profile.contacts.toLocaleString('en')} contacts, after ${profile.e2eWarmupEvents.toLocaleString('en')} warm-up events on others…`,
    );
    try {
      const cpuProfDir = flag('cpu-prof') ? join(workDir, 'profiles') : undefined;
      e2e = await runE2e(setup, {
        label: 'e2e-max',
        events: profile.events,
        contacts: profile.contacts,
        mode: { kind: 'max', producers: 2 },
        warmupEvents: profile.e2eWarmupEvents,
        seed: 7,
        stallTimeoutMs: 120_000,
        extraEnv: experimentEnv,
        workers: workerCount,
        ...(e2eEsps ? { esps: e2eEsps } : {}),
        redis: e2eRedis,
        ...(cpuProfDir ? { cpuProfDir } : {}),
      });
      say(`    ${e2e.events_per_s} events/s, p50 ${e2e.latency_ms.p50} ms, p99 ${e2e.latency_ms.p99} ms`);
      if (e2e.cpu_profile) {
        e2e.cpu_profile = largestProfile(e2e.cpu_profile);
        profileSummary = summariseProfile(e2e.cpu_profile);
        say(`    worker CPU profile: ${e2e.cpu_profile}`);
      }
    } catch (err) {
      errors['e2e'] = (err as Error).message;
      say(`    FAILED: ${(err as Error).message}`);
    }
  }

  /** The half phase and the load phase: fixed rates, each on fresh processes after a warm-up at its rate. */
  const rateRun: RateRunOptions = {
    seconds: profile.halfLoadSeconds,
    warmupSeconds: profile.halfLoadWarmupSeconds,
    contacts: profile.contacts,
    extraEnv: experimentEnv,
    run: { workers: workerCount, redis: e2eRedis, ...(e2eEsps ? { esps: e2eEsps } : {}) },
  };
  let half: E2eResult | undefined;
  const halfRate = numberOption('half-rate');
  if (wants('half') && (e2e || halfRate !== undefined)) {
    const rate = halfRate ?? Math.max(1, e2e!.events_per_s / 2);
    say(`end to end at 50% load: ${round(rate)} events/s for ${profile.halfLoadSeconds} s after a ${profile.halfLoadWarmupSeconds} s warm-up…`);
    try {
      half = await runAtRate(setup, 'e2e-half', rate, 11, rateRun);
      say(`    p50 ${half.latency_ms.p50} ms, p99 ${half.latency_ms.p99} ms (warm-up: p99 ${half.warmup?.latency_ms.p99} ms)`);
    } catch (err) {
      errors['half'] = (err as Error).message;
      say(`    FAILED: ${(err as Error).message}`);
    }
  }

  const loadRows: LoadRow[] = [];
  if (wants('load')) {
    say(`worker CPU per event by load: ${profile.loadRates.join(', ')} events/s, ${profile.halfLoadSeconds} s each after a ${profile.halfLoadWarmupSeconds} s warm-up…`);
    const sweep = await runLoadSweep(setup, profile.loadRates, { ...rateRun, log: say });
    loadRows.push(...sweep.rows);
    Object.assign(errors, sweep.errors);
  }
  if (half) loadRows.push(loadRow('half', half));
  if (e2e) loadRows.push(loadRow('max', e2e));

  let lanes: LanesResult | undefined;
  if (wants('lanes')) {
    say(`lanes: ${profile.lanesImport.toLocaleString('en')} imported opt-ins, then 20 person opt-outs over 20 s; ESPs at their documented limits, default budgets…`);
    try {
      lanes = await runLanes(setup, { importContacts: profile.lanesImport, optOuts: 20, spreadS: 20, deadlineS: 90, log: say });
      say(`    opt-outs applied ${lanes.optouts_applied}/20, 202 → applied p50 ${lanes.optout_apply_ms.p50 ?? '–'} ms, max ${lanes.optout_apply_ms.max ?? '–'} ms`);
      for (const [esp, r] of Object.entries(lanes.by_esp)) {
        say(`    ${esp}: opt-outs p50 ${r.optout_ms.p50 ?? '–'} ms, max ${r.optout_ms.max ?? '–'} ms (${r.optouts_delivered}/${lanes.optouts}); import ${r.import_delivered} delivered, ${r.import_contacts_per_s}/s; max ${r.max_calls_in_60s} calls in 60 s (limit ${r.limit_per_60s})`);
      }
    } catch (err) {
      errors['lanes'] = (err as Error).message;
      say(`    FAILED: ${(err as Error).message}`);
    }
  }

  const scaleOut: ScaleRow[] = [];
  if (wants('scale') && cluster) {
    say(`scale-out: ${profile.scaleEvents.toLocaleString('en')} events per row, ${SCALE_WORKERS.join(', ')} worker processes, single Redis and 3-master cluster…`);
    for (const topology of [single, cluster]) {
      for (const workers of SCALE_WORKERS) {
        const label = `scale-${topology.kind}-${workers}w`;
        try {
          const r = await runE2e(setup, {
            label,
            events: profile.scaleEvents,
            contacts: profile.contacts,
            mode: { kind: 'max', producers: 2 },
            seed: 13,
            stallTimeoutMs: 120_000,
            extraEnv: experimentEnv,
            workers,
            redis: topology,
          });
          const row = scaleRow(r);
          scaleOut.push(row);
          say(`    ${formatScaleRow(row)}`);
        } catch (err) {
          errors[label] = (err as Error).message;
          say(`    ${label} FAILED: ${(err as Error).message}`);
        }
      }
    }
  }

  const reconciles: ReconcileResult[] = [];
  if (wants('reconcile')) {
    for (const r of profile.reconcile) {
      say(`reconciliation (optimizely-campaign list read-back): ${r.contacts.toLocaleString('en')} contacts, 1% drift…`);
      try {
        const result = await runReconcile(setup, {
          label: `reconcile-${r.contacts}`,
          contacts: r.contacts,
          deadlineS: r.deadlineS,
          pageSize: RECONCILE_PAGE_SIZE,
          log: say,
        });
        reconciles.push(result);
        say(`    ${result.contacts_per_s} contacts/s, peak RSS ${result.peak_rss_mb} MB${result.complete ? '' : ` (${result.note})`}`);
      } catch (err) {
        errors[`reconcile-${r.contacts}`] = (err as Error).message;
        say(`    FAILED: ${(err as Error).message}`);
      }
    }
  }

  machine.load_at_end = uptimeLine();
  const floor = bullmq && mongo ? Math.min(bullmq.jobs_per_s, mongo.updates_per_s) : undefined;
  const headlineReconcile = reconciles.find((r) => r.contacts === 100_000) ?? reconciles[0];
  const results = {
    profile: profileName,
    started_at: started.toISOString(),
    command: `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`,
    machine,
    // Issue 15's figures, all from this run.
    worker_cpu_ms_per_event: e2e?.processes['worker']?.cpu_ms_per_event ?? null,
    jobs_per_event: e2e?.jobs_per_event ?? null,
    jobs_per_event_method: 'sum over the run\'s queues of GET <prefix>:<queue>:id (BullMQ INCRs it on every add) ÷ events',
    redis_cmds_per_event: e2e?.redis_cmds_per_event ?? null,
    mongo_cmds_per_event: e2e?.mongo_cmds_per_event ?? null,
    http_requests_per_event: e2e ? Object.fromEntries(ESP_NAMES.map((esp) => [esp, e2e!.http_requests_per_event[esp] ?? 0])) : null,
    baseline_bullmq_jobs_per_s: bullmq?.jobs_per_s ?? null,
    baseline_mongo_updates_per_s: mongo?.updates_per_s ?? null,
    e2e_events_per_s: e2e?.events_per_s ?? null,
    state_changes_per_s: e2e?.state_changes_per_s ?? null,
    ratio: e2e && floor ? round(e2e.events_per_s / floor, 3) : null,
    p50_latency_ms: e2e?.latency_ms.p50 ?? null,
    p99_latency_ms: e2e?.latency_ms.p99 ?? null,
    max_latency_ms: e2e?.latency_ms.max ?? null,
    p99_latency_ms_at_half_load: half?.latency_ms.p99 ?? null,
    /** The half phase's first seconds (fresh web and worker processes), kept out of the figure above. */
    p99_latency_ms_at_half_load_warmup: half?.warmup?.latency_ms.p99 ?? null,
    /** The worker's CPU per event at each load of this run (the load phase, half and max): it falls as jobs carry more. */
    worker_cpu_ms_per_event_by_load: loadRows
      .map((r) => ({ phase: r.phase, events_per_s: r.events_per_s, worker_cpu_ms_per_event: r.worker_cpu_ms_per_event, worker_cores: r.worker_cores }))
      .sort((a, b) => a.events_per_s - b.events_per_s),
    dead_letters: e2e ? total(e2e.dead_letters) + (half ? total(half.dead_letters) : 0) : null,
    dead_letters_by_esp: e2e?.dead_letters ?? null,
    events_per_s_by_window: e2e?.events_per_s_by_window ?? null,
    lanes: lanes
      ? {
          optouts_all_within_10s: lanes.optouts_all_within_10s,
          no_esp_above_limit: lanes.no_esp_above_limit,
          stopped: lanes.stopped,
          import_accepted_s: lanes.import_accepted_s,
          optouts_applied: lanes.optouts_applied,
          optout_apply_p50_ms: lanes.optout_apply_ms.p50 ?? null,
          optout_apply_max_ms: lanes.optout_apply_ms.max ?? null,
          by_esp: Object.fromEntries(
            Object.entries(lanes.by_esp).map(([esp, r]) => [
              esp,
              {
                optout_p50_ms: r.optout_ms.p50 ?? null,
                optout_max_ms: r.optout_ms.max ?? null,
                optouts_delivered: r.optouts_delivered,
                import_delivered: r.import_delivered,
                import_contacts_per_s: r.import_contacts_per_s,
                import_drain_s: r.import_drained_s ?? r.import_projected_drain_s ?? null,
                import_drain_projected: r.import_drained_s === undefined,
                calls: r.calls,
                max_calls_in_60s: r.max_calls_in_60s,
                limit_per_60s: r.limit_per_60s,
              },
            ]),
          ),
        }
      : null,
    worker_peak_rss_mb: e2e?.processes['worker']?.peak_rss_mb ?? null,
    web_peak_rss_mb: e2e?.processes['web']?.peak_rss_mb ?? null,
    reconcile_contacts_per_s: headlineReconcile?.contacts_per_s ?? null,
    reconcile_peak_rss_mb: headlineReconcile?.peak_rss_mb ?? null,
    reconcile_contacts: headlineReconcile?.contacts ?? null,
    settings: {
      apply_concurrency: APPLY_CONCURRENCY,
      esp_worker_concurrency: ESP_WORKER_CONCURRENCY,
      esp_budgets: UNBOUNDED_ESP_BUDGETS,
      lanes_phase: 'simulators at their documented limits, consent-sync ESP budgets and lane reserves at their defaults',
      simulator_latency_ms: 0,
      producer: 'ConsentClient.recordMany, batches of 500, 2 concurrent producers (max load); a batch every 100 ms (fixed load)',
      processes: 'web, worker, reconciler and simulators are separate child processes; baselines run in the orchestrator',
      e2e_workers: workerCount,
      e2e_redis: redisChoice,
      reconcile_page_size: RECONCILE_PAGE_SIZE,
      experiment_env: experimentEnv,
    },
    details: {
      bullmq,
      mongo,
      e2e,
      half,
      load: loadRows.length > 0 ? loadRows : undefined,
      lanes,
      reconcile: reconciles,
      server_costs: costs,
      worker_profile: profileSummary,
      scale_out: scaleOut.length > 0 ? scaleOut : undefined,
    },
    errors,
  };
  const stamp = started.toISOString().slice(0, 10);
  // Only a whole profile with default settings goes to bench/results; subsets and experiments stay with the logs.
  const partial =
    Object.keys(experimentEnv).length > 0 ||
    only !== undefined ||
    argv.some((a) => /^--(events|contacts|reconcile|lanes-import|scale-events|workers|redis|load-rates)=/.test(a));
  const outDir = partial ? workDir : resultsDir;
  const base = `${stamp}-${profileName}-mongo-${mongoChoice}${partial ? '-partial' : ''}`;
  const jsonFile = join(outDir, `${base}.json`);
  writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
  const chartFile = join(outDir, `${base}.svg`);
  writeFileSync(
    chartFile,
    renderChart(chartInput(results)),
  );

  printTable(results, { bullmq, mongo, e2e, half, lanes, reconciles, costs, profileSummary });
  // The max row alone repeats the table above; any sweep row, or half beside max, is a curve.
  if (loadRows.some((r) => r.phase === 'sweep') || loadRows.length > 1) {
    say('');
    say('worker CPU per event by load (fresh processes per rate, each after a warm-up at its rate; "max" = the e2e phase):');
    for (const line of formatLoadTable(loadRows)) say(line);
  }
  if (scaleOut.length > 0) printScaleTable(scaleOut, machine.cores);
  say('');
  say(`JSON:  ${relative(process.cwd(), jsonFile)}`);
  say(`chart: ${relative(process.cwd(), chartFile)}`);
} finally {
  await shutdown();
}

/** The main thread's profile: the largest .cpuprofile the worker wrote. */
function largestProfile(dir: string): string {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => ({ f: join(dir, f), size: statSync(join(dir, f)).size }))
    .sort((a, b) => b.size - a.size);
  if (!files[0]) throw new Error(`no .cpuprofile written in ${dir}`);
  return files[0].f;
}

function printTable(
  r: { machine: MachineInfo; ratio: number | null },
  d: {
    bullmq: BullmqBaseline | undefined;
    mongo: MongoBaseline | undefined;
    e2e: E2eResult | undefined;
    half: E2eResult | undefined;
    lanes: LanesResult | undefined;
    reconciles: ReconcileResult[];
    costs: CostRow[] | undefined;
    profileSummary: ProfileSummary | undefined;
  },
) {
  const rows: [string, string, string][] = [];
  const row = (name: string, value: unknown, target = '') => rows.push([name, value === undefined || value === null ? '–' : String(value), target]);
  const m = r.machine;
  say('');
  say(`machine   ${m.cpu_model}, ${m.cores} cores, ${m.memory_gb} GB, ${m.os}, Node ${m.node}`);
  say(`servers   Redis ${m.redis}; ${m.mongo_server} [${m.mongo_kind}]`);
  say(`load      start: ${m.load_at_start}`);
  say(`          end:   ${m.load_at_end ?? ''}`);
  say('');
  row(`(A) BullMQ no-op jobs/s (concurrency ${APPLY_CONCURRENCY})`, d.bullmq?.jobs_per_s);
  row(`(B) mongoose updateOne by _id /s (concurrency ${APPLY_CONCURRENCY})`, d.mongo?.updates_per_s);
  row(`    mongoose findById /s (concurrency ${APPLY_CONCURRENCY})`, d.mongo?.reads_per_s);
  const e = d.e2e;
  const espCount = e ? Object.keys(e.latency_ms_by_esp).length : ESP_NAMES.length;
  row(`e2e events/s / state changes delivered/s (202 → all ${espCount} ESPs answered)`, e ? `${e.events_per_s} / ${e.state_changes_per_s}` : undefined);
  row('ratio e2e / min(A, B)', r.ratio, '≥ 0.2');
  row('  ingest (API) events/s', e?.ingest_events_per_s);
  row('latency p50 / p99 / max ms (max load)', e ? `${e.latency_ms.p50} / ${e.latency_ms.p99} / ${e.latency_ms.max}` : undefined);
  row(
    `latency p50 / p99 / max ms (50% load, ${d.half?.offered_events_per_s ?? '–'} ev/s)`,
    d.half ? `${d.half.latency_ms.p50} / ${d.half.latency_ms.p99} / ${d.half.latency_ms.max}` : undefined,
    'p99 ≤ 1000',
  );
  const warm = d.half?.warmup;
  row(
    `  its warm-up (${warm?.events ?? '–'} events first, processes just started; not in the figure above)`,
    warm ? `${warm.latency_ms.p50} / ${warm.latency_ms.p99} / ${warm.latency_ms.max}` : undefined,
  );
  if (d.half) {
    row(
      '  p99 ms per ESP (50% load)',
      Object.entries(d.half.latency_ms_by_esp).map(([esp, l]) => `${esp.slice(0, 4)} ${l.p99}`).join(' '),
    );
  }
  row('worker CPU ms per event', e?.processes['worker']?.cpu_ms_per_event, '≤ 1.0');
  row('BullMQ jobs added per event (queues\' id counters)', e?.jobs_per_event, '≤ 1.5');
  row('MongoDB commands per event', e?.mongo_cmds_per_event, '≤ 3');
  row('Redis commands per event (INFO commandstats, Lua-internal included)', e?.redis_cmds_per_event, '≤ 40');
  row('  of which network round trips (MONITOR sample)', e ? round(e.redis_cmds_per_event * e.redis_monitor.round_trip_share, 1) : undefined);
  for (const esp of ESP_NAMES) {
    row(`HTTP requests per event: ${esp}`, e?.http_requests_per_event[esp], HTTP_TARGETS[esp] ?? '');
  }
  for (const [label, p] of Object.entries(e?.processes ?? {})) {
    row(`peak RSS MB / CPU ms per event: ${label}`, `${p.peak_rss_mb} / ${p.cpu_ms_per_event}`, label === 'worker' ? 'RSS ≤ 300' : '');
  }
  if (e) row('  RSS MB right after start-up: web / worker', `${e.rss_at_ready_mb.web} / ${e.rss_at_ready_mb.worker}`);
  row(
    'undelivered state changes / outbox left / dead letters / failed jobs',
    e ? `${e.undelivered} / ${e.outbox_left} / ${total(e.dead_letters)} / ${e.job_failures}` : undefined,
    '0 / 0 / 0 / 0',
  );
  if (d.lanes) {
    const l = d.lanes;
    row(
      `lanes: ${l.import_contacts.toLocaleString('en')} imported, ${l.optouts} opt-outs; stopped after ${l.ran_s} s (${l.stopped})`,
      `${l.optouts_all_within_10s ? 'all' : 'NOT all'} ≤ 10 s, ${l.no_esp_above_limit ? 'no ESP' : 'an ESP'} above limit`,
      'every opt-out ≤ 10 s at every ESP; no ESP above its limit',
    );
    row(
      `  import accepted in s; opt-outs applied, 202 → applied p50 / max ms`,
      `${l.import_accepted_s}; ${l.optouts_applied}/${l.optouts}, ${l.optout_apply_ms.p50 ?? '–'} / ${l.optout_apply_ms.max ?? '–'}`,
    );
    for (const [esp, x] of Object.entries(l.by_esp)) {
      row(`  ${esp}: opt-out p50 / max ms (delivered)`, `${x.optout_ms.p50 ?? '–'} / ${x.optout_ms.max ?? '–'} (${x.optouts_delivered}/${l.optouts})`, '≤ 10000');
      row(
        `  ${esp}: import delivered, /s, drain s`,
        `${x.import_delivered}, ${x.import_contacts_per_s}, ${x.import_drained_s ?? `~${x.import_projected_drain_s ?? '–'} (projected)`}`,
      );
      row(`  ${esp}: calls, max in 60 s / 1 s`, `${x.calls}, ${x.max_calls_in_60s} / ${x.max_calls_in_1s}`, `≤ ${x.limit_per_60s} per 60 s: ${x.limit}`);
    }
  }
  for (const rc of d.reconciles) {
    row(
      `reconcile ${rc.contacts.toLocaleString('en')} contacts: contacts/s, peak RSS MB`,
      `${rc.contacts_per_s}, ${rc.peak_rss_mb}${rc.complete ? '' : ' (partial)'}`,
      '≥ 20000/s, ≤ 300 MB',
    );
    row(`  MongoDB commands per contact compared`, rc.mongo_cmds_per_contact);
    for (const [how, perS] of Object.entries(rc.lookup_strategies)) row(`  lookups/s: ${how}`, perS);
  }
  const w = [Math.max(...rows.map((x) => x[0].length)), Math.max(...rows.map((x) => x[1].length))];
  say(`${'figure'.padEnd(w[0]!)}  ${'value'.padStart(w[1]!)}  target`);
  say(`${'-'.repeat(w[0]!)}  ${'-'.repeat(w[1]!)}  ------`);
  for (const [a, b, c] of rows) say(`${a.padEnd(w[0]!)}  ${b.padStart(w[1]!)}  ${c}`);

  if (e) {
    say('');
    say(`MongoDB commands per event, by command and collection: ${JSON.stringify(e.mongo_cmds_top)}`);
    say(`Redis commands per event, by command: ${JSON.stringify(e.redis_cmds_top)}`);
    say(`Redis round trips, share by command (MONITOR ${e.redis_monitor.seconds} s): ${JSON.stringify(e.redis_monitor.round_trips_top)}`);
    say(`BullMQ jobs added, by queue: ${JSON.stringify(e.jobs_added)}`);
    say(`events/s per 10,000-event window (completion order): ${e.events_per_s_by_window.map((w) => `${w.events}: ${w.events_per_s}`).join(', ')}`);
    if (total(e.dead_letters) > 0) say(`dead letters by ESP: ${JSON.stringify(e.dead_letters)}`);
    say(`event loop utilisation: ${JSON.stringify(e.event_loop_utilization)}`);
  }
  if (d.costs) {
    say('');
    say('query cost on this server (ms per operation, one at a time) by collection size:');
    const sizes = Object.keys(d.costs[0]?.ms ?? {});
    const width = Math.max(...d.costs.map((c) => c.operation.length));
    say(`  ${'operation'.padEnd(width)}  ${sizes.map((s) => `${Number(s).toLocaleString('en')} docs`.padStart(12)).join('')}  growth  used by`);
    for (const c of d.costs) {
      say(`  ${c.operation.padEnd(width)}  ${sizes.map((s) => String(c.ms[s]).padStart(12)).join('')}  ${`×${c.growth}`.padStart(6)}  ${c.used_by}`);
    }
  }
  if (d.profileSummary) {
    const p = d.profileSummary;
    say('');
    say(`worker CPU profile: ${p.busy_s} s busy of ${p.wall_s} s`);
    say(`  self time by package: ${p.by_package.slice(0, 12).map((x) => `${x.name} ${Math.round(x.share * 100)}%`).join(', ')}`);
    say(`  by owning package (native and node: time charged to the caller): ${p.by_owner.slice(0, 12).map((x) => `${x.name} ${Math.round(x.share * 100)}%`).join(', ')}`);
    say(`  inclusive: ${p.inclusive.map((x) => `${x.name} ${Math.round(x.share * 100)}%`).join(', ')}`);
    say('  hottest functions (self):');
    for (const f of p.top_functions.slice(0, 12)) say(`    ${String(Math.round(f.share * 1000) / 10).padStart(5)}%  ${f.name}`);
  }
}

/** One row of the scale-out table: throughput beside what each event cost and who was busiest. */
interface ScaleRow {
  redis: 'single' | 'cluster';
  workers: number;
  e2e_events_per_s: number;
  state_changes_per_s: number;
  /** CPU of every worker process added up, per event. */
  worker_cpu_ms_per_event: number;
  redis_cmds_per_event: number;
  mongo_cmds_per_event: number;
  jobs_per_event: number;
  /** CPU seconds per second of the row, per process (each worker and each Redis master apart). */
  cores_used: Record<string, number>;
  /** The process that used the most CPU, and all processes together, in cores. */
  busiest: string;
  total_cores_used: number;
  /** The machine's busy CPU in cores during the row, everyone's processes included: near the core count, the CPU was the limit. */
  machine_cores_busy: number | null;
  p99_latency_ms: number | null;
  undelivered: number;
  dead_letters: number;
}

function scaleRow(r: E2eResult): ScaleRow {
  const cores = Object.entries(r.cores_used).filter(([label]) => label !== 'bench (producer)');
  const [busiest] = [...cores].sort((a, b) => b[1] - a[1]);
  return {
    redis: r.redis_topology,
    workers: r.worker_processes,
    e2e_events_per_s: r.events_per_s,
    state_changes_per_s: r.state_changes_per_s,
    worker_cpu_ms_per_event: r.processes['worker']?.cpu_ms_per_event ?? 0,
    redis_cmds_per_event: r.redis_cmds_per_event,
    mongo_cmds_per_event: r.mongo_cmds_per_event,
    jobs_per_event: r.jobs_per_event,
    cores_used: r.cores_used,
    busiest: busiest ? `${busiest[0]} (${busiest[1]} cores)` : '–',
    total_cores_used: round(Object.values(r.cores_used).reduce((a, b) => a + b, 0), 2),
    machine_cores_busy: r.machine_cores_busy,
    p99_latency_ms: r.latency_ms.p99 ?? null,
    undelivered: r.undelivered,
    dead_letters: total(r.dead_letters),
  };
}

function formatScaleRow(r: ScaleRow): string {
  return `${r.redis} Redis, ${r.workers} worker${r.workers === 1 ? '' : 's'}: ${r.e2e_events_per_s} events/s, worker ${r.worker_cpu_ms_per_event} ms CPU/event, ${r.redis_cmds_per_event} Redis cmds/event; busiest ${r.busiest}`;
}

function printScaleTable(rows: readonly ScaleRow[], machineCores: number) {
  say('');
  say(`scale-out (${machineCores} cores on this machine; CPU in cores = CPU seconds per second of the row; "ours" = the run's processes, bench producer included; "machine busy" = every process on the machine):`);
  const head = ['redis', 'workers', 'events/s', 'worker ms CPU/ev', 'redis cmds/ev', 'mongo cmds/ev', 'jobs/ev', 'ours cores', 'machine busy', 'CPU by process (cores)'];
  const body = rows.map((r) => [
    r.redis,
    String(r.workers),
    String(r.e2e_events_per_s),
    String(r.worker_cpu_ms_per_event),
    String(r.redis_cmds_per_event),
    String(r.mongo_cmds_per_event),
    String(r.jobs_per_event),
    String(r.total_cores_used),
    r.machine_cores_busy === null ? '–' : `${r.machine_cores_busy}/${machineCores}`,
    Object.entries(r.cores_used)
      .sort((a, b) => b[1] - a[1])
      .map(([p, c]) => `${p} ${c}`)
      .join(', '),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  say(line(head));
  say(line(widths.map((w) => '-'.repeat(w))));
  for (const b of body) say(line(b));
}
