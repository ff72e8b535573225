import { join } from 'node:path';
import { ConsentClient, type ConsentEventInput } from '../src/client/index.js';
import type { BuiltInEspName } from '../src/esp/registry.js';
import { openModels } from './baselines.js';
import type { E2eSetup, WorkerRecords } from './e2e.js';
import { appEnv } from './lib/env.js';
import { contactIdentity } from './lib/events.js';
import { type BenchChild, forkChild } from './lib/ipc.js';
import { procfileNodeFlags, round } from './lib/proc.js';
import { maxInWindow, percentiles } from './lib/stats.js';

/**
 * Lanes (issue 21 item 5): does a person's opt-out overtake an import at every ESP, without any
 * ESP going above its documented limit? The simulators run at their documented limits and
 * consent-sync at its default ESP budgets (lane 1 reserve included). An import of N opt-ins for
 * new contacts goes in first (requests of 500), then `optOuts` person-initiated opt-outs
 * (`unsubscribe_link`, people not in the import) spread evenly over `spreadS` seconds. It stops
 * once every opt-out reached every ESP, or at `deadlineS` after the import started: the import
 * itself is not waited for (at Actito's 100 calls/minute 10,000 contacts take ~100 minutes).
 */

/** Documented request limits per 60 s (Actito 100 calls/minute, Ometria push 8 rps); the others
 * publish none, so consent-sync's default budget (10 rps) is the reference. */
export const DOCUMENTED_LIMITS: Record<BuiltInEspName, { per60s: number; text: string }> = {
  'optimizely-campaign': { per60s: 600, text: '10 rps (no published limit; consent-sync default)' },
  crossengage: { per60s: 600, text: '10 rps (no published limit; consent-sync default)' },
  actito: { per60s: 100, text: '100 calls/minute, 5 concurrent' },
  'dynamic-yield': { per60s: 600, text: '10 rps (no published limit; consent-sync default)' },
  ometria: { per60s: 480, text: '8 rps (push)' },
};

export interface LanesEspResult {
  /** Opt-outs: 202 → the ESP answered for the contact (not with a dead letter). */
  optout_ms: { p50?: number; max?: number };
  optouts_delivered: number;
  optouts_within_10s: number;
  import_delivered: number;
  import_drained_s?: number;
  import_contacts_per_s: number;
  import_projected_drain_s?: number;
  calls: number;
  max_calls_in_60s: number;
  max_calls_in_1s: number;
  limit_per_60s: number;
  limit: string;
  statuses: Record<string, number>;
  /** Calls by method and path (ids as `:id`). */
  routes: Record<string, number>;
}

export interface LanesResult {
  import_contacts: number;
  optouts: number;
  spread_s: number;
  deadline_s: number;
  ran_s: number;
  stopped: 'all opt-outs delivered' | 'deadline';
  import_accepted_s: number;
  /** Opt-outs applied (202 → the apply job carrying it finished): the apply queue has no lanes. */
  optouts_applied: number;
  optout_apply_ms: { p50?: number; max?: number };
  by_esp: Record<string, LanesEspResult>;
  optouts_all_within_10s: boolean;
  no_esp_above_limit: boolean;
}

export async function runLanes(
  setup: E2eSetup,
  opts: { importContacts: number; optOuts: number; spreadS: number; deadlineS: number; log: (line: string) => void },
): Promise<LanesResult> {
  const tag = `lanes-${Date.now().toString(36)}`;
  const database = `bench_${tag}`;
  const total = opts.importContacts + opts.optOuts;
  // Its own simulators, at their documented limits.
  const sims = forkChild('lanes-simulators', join(setup.here, 'children', 'simulators.ts'), {
    env: { BENCH_CROSSENGAGE_USERS: String(total), BENCH_SIM_LIMITS: 'documented' },
    logDir: setup.logDir,
  });
  const children: BenchChild[] = [sims];
  try {
    const { urls } = await sims.waitEvent<{ urls: Record<BuiltInEspName, string> }>('ready', 60_000);
    const env = appEnv({ ...setup, simUrls: urls, database, prefix: `bench_${tag}`, budgets: 'default' });
    const script = join(setup.here, 'children', 'app.ts');
    const procfile = join(setup.here, '..', 'Procfile');
    const worker = forkChild('lanes-worker', script, {
      env: { ...env, BENCH_ROLE: 'worker' },
      logDir: setup.logDir,
      nodeFlags: procfileNodeFlags(procfile, 'worker'),
    });
    const web = forkChild('lanes-web', script, {
      env: { ...env, BENCH_ROLE: 'web' },
      logDir: setup.logDir,
      nodeFlags: procfileNodeFlags(procfile, 'web'),
    });
    children.push(worker, web);
    const [{ esps }, { url }] = await Promise.all([
      worker.waitEvent<{ esps: BuiltInEspName[] }>('ready', 60_000),
      web.waitEvent<{ url: string }>('ready', 60_000),
    ]);
    const answers: [string, number, number, number, number][] = [];
    const appliedAt = new Map<string, number>();
    worker.onEvent('records', (r) => {
      const records = r as WorkerRecords;
      for (const d of records.deliveries) answers.push(d);
      for (const [id, t] of records.applied) if (id.includes('-optout-')) appliedAt.set(id, t);
    });

    const client = new ConsentClient({ baseUrl: url, maxBatch: 500, timeoutMs: 120_000 });
    const moment = (i: number) => new Date(Date.now() - 60_000 + i).toISOString();
    const imports: ConsentEventInput[] = Array.from({ length: opts.importContacts }, (_, i) => ({
      eventId: `${tag}-import-${i}`,
      contact: contactIdentity(i),
      kind: 'marketing',
      channel: 'email',
      value: 'opt_in',
      source: 'import',
      moment: moment(i),
    }));
    const started = Date.now();
    for (let i = 0; i < imports.length; i += 500) await client.recordMany(imports.slice(i, i + 500));
    const importAccepted = Date.now();
    opts.log(`    import of ${opts.importContacts.toLocaleString('en')} accepted in ${round((importAccepted - started) / 1000, 1)} s; opt-outs follow over ${opts.spreadS} s`);

    const optOutIds: string[] = [];
    const acceptedAt = new Map<string, number>();
    const sending: Promise<void>[] = [];
    for (let k = 0; k < opts.optOuts; k++) {
      const eventId = `${tag}-optout-${k}`;
      optOutIds.push(eventId);
      const at = importAccepted + Math.round((k * opts.spreadS * 1000) / Math.max(1, opts.optOuts));
      sending.push(
        new Promise<void>((resolve, reject) =>
          setTimeout(() => {
            const event: ConsentEventInput = {
              eventId,
              contact: contactIdentity(opts.importContacts + k),
              kind: 'marketing',
              channel: 'email',
              value: 'opt_out',
              source: 'unsubscribe_link',
              moment: new Date().toISOString(),
              way: { device: 'web' },
            };
            client.recordMany([event]).then(() => {
              acceptedAt.set(eventId, Date.now());
              resolve();
            }, reject);
          }, Math.max(0, at - Date.now())),
        ),
      );
    }

    // Until every opt-out reached every ESP, or the deadline.
    const { conn, models } = await openModels(setup.mongoUri, database);
    const contactOf = new Map<string, string>();
    const deadline = started + opts.deadlineS * 1000;
    let stopped: LanesResult['stopped'] = 'deadline';
    const firstAnswer = () => {
      const at = new Map<string, number>(); // `${contactId}\0${espIndex}` → first non-dead answer
      for (const [c, i, , t, dead] of answers) {
        const key = `${c}\u0000${i}`;
        if (!dead && !at.has(key)) at.set(key, t);
      }
      return at;
    };
    try {
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        await worker.request('progress');
        if (contactOf.size < optOutIds.length) {
          const docs = await models.events
            .find({ _id: { $in: optOutIds }, status: 'done' }, { contactId: 1 })
            .lean<{ _id: string; contactId?: string }[]>();
          for (const d of docs) if (d.contactId) contactOf.set(d._id, d.contactId);
        }
        if (acceptedAt.size < optOutIds.length || contactOf.size < optOutIds.length) continue;
        const at = firstAnswer();
        if ([...contactOf.values()].every((c) => esps.every((_, i) => at.has(`${c}\u0000${i}`)))) {
          stopped = 'all opt-outs delivered';
          break;
        }
      }
      await Promise.all(sending).catch(() => {});
      await worker.request('progress');
    } finally {
      await conn.close();
    }
    const stoppedAt = Date.now();
    const ranS = (stoppedAt - started) / 1000;

    const at = firstAnswer();
    const optOutContacts = new Set(contactOf.values());
    const requestLogs = await Promise.all(
      esps.map(async (esp) => {
        const res = await fetch(new URL('/__sim/requests', urls[esp]));
        const entries = (await res.json()) as { time: string; method: string; path: string; status: number | null; outcome: string }[];
        return entries.filter((e) => !e.path.startsWith('/__sim'));
      }),
    );
    const byEsp: Record<string, LanesEspResult> = {};
    esps.forEach((esp, i) => {
      const latencies: number[] = [];
      for (const id of optOutIds) {
        const c = contactOf.get(id);
        const answered = c ? at.get(`${c}\u0000${i}`) : undefined;
        if (answered !== undefined) latencies.push(Math.max(0, answered - acceptedAt.get(id)!));
      }
      const [p50, max] = percentiles(latencies, [50, 100]);
      let delivered = 0;
      let lastImport = 0;
      for (const [key, t] of at) {
        const [c, idx] = key.split('\u0000');
        if (Number(idx) !== i || optOutContacts.has(c!)) continue;
        delivered++;
        lastImport = Math.max(lastImport, t);
      }
      const drained = delivered >= opts.importContacts;
      const rate = delivered / Math.max(0.001, ((drained ? lastImport : stoppedAt) - started) / 1000);
      const times = requestLogs[i]!.map((e) => Date.parse(e.time)).sort((a, b) => a - b);
      const statuses: Record<string, number> = {};
      const routes: Record<string, number> = {};
      for (const e of requestLogs[i]!) {
        statuses[String(e.status ?? e.outcome)] = (statuses[String(e.status ?? e.outcome)] ?? 0) + 1;
        const r = `${e.method} ${e.path.split('/').map((seg) => (/[@%+]|\d{3,}/.test(seg) || seg.length > 32 ? ':id' : seg)).join('/')}`;
        routes[r] = (routes[r] ?? 0) + 1;
      }
      byEsp[esp] = {
        optout_ms: { p50, max },
        optouts_delivered: latencies.length,
        optouts_within_10s: latencies.filter((l) => l <= 10_000).length,
        import_delivered: delivered,
        ...(drained ? { import_drained_s: round((lastImport - started) / 1000, 1) } : {}),
        import_contacts_per_s: round(rate, 1),
        ...(drained ? {} : { import_projected_drain_s: rate > 0 ? round(opts.importContacts / rate) : undefined }),
        calls: times.length,
        max_calls_in_60s: maxInWindow(times, 60_000),
        max_calls_in_1s: maxInWindow(times, 1_000),
        limit_per_60s: DOCUMENTED_LIMITS[esp].per60s,
        limit: DOCUMENTED_LIMITS[esp].text,
        statuses,
        routes,
      };
    });
    const all = Object.values(byEsp);
    const applyMs = optOutIds.filter((id) => appliedAt.has(id) && acceptedAt.has(id)).map((id) => appliedAt.get(id)! - acceptedAt.get(id)!);
    const [a50, amax] = percentiles(applyMs, [50, 100]);
    return {
      import_contacts: opts.importContacts,
      optouts: opts.optOuts,
      spread_s: opts.spreadS,
      deadline_s: opts.deadlineS,
      ran_s: round(ranS, 1),
      stopped,
      import_accepted_s: round((importAccepted - started) / 1000, 1),
      optouts_applied: applyMs.length,
      optout_apply_ms: { p50: a50, max: amax },
      by_esp: byEsp,
      optouts_all_within_10s: all.every((r) => r.optouts_within_10s === opts.optOuts),
      no_esp_above_limit: all.every((r) => r.max_calls_in_60s <= r.limit_per_60s),
    };
  } finally {
    await Promise.all(children.reverse().map((c) => c.stop()));
  }
}
