/**
 * Worker CPU per event by load: the same end-to-end run at several fixed rates.
 *
 * Why a sweep. Jobs carry many changes, so what one event costs the worker depends on how many
 * events arrive together: at a low rate a push job carries one or two contacts and pays its
 * claim, read, acknowledgement and queue round trips for them alone; at a high rate it carries
 * dozens, and more of one contact's changes fold into one push. A single figure at maximum load
 * says what the machine allowed, not what the code costs. The sweep shows the curve, and beside
 * it what held the load where it stopped (the test MongoDB server's CPU, the machine's cores).
 */
import { type E2eResult, type E2eSetup, runE2e } from './e2e.js';

/** One rate of the sweep, or the max-load and half-load phases of the same run for comparison. */
export interface LoadRow {
  phase: 'sweep' | 'half' | 'max';
  /** Events/s the producer offered (max: as fast as it could). */
  offered_events_per_s: number | null;
  events_per_s: number;
  worker_cpu_ms_per_event: number;
  /** Worker CPU seconds per second of the run: the cost per event times the rate. */
  worker_cores: number;
  jobs_per_event: number;
  /** HTTP requests per event, all ESPs together: fewer as more changes share a request or fold into one push. */
  http_requests_per_event: number;
  mongo_server_cpu_ms_per_event: number | null;
  mongo_server_cores: number | null;
  machine_cores_busy: number | null;
  p99_latency_ms: number | null;
}

export function loadRow(phase: LoadRow['phase'], r: E2eResult): LoadRow {
  const worker = r.processes['worker'];
  const mongo = r.processes['mongo'];
  return {
    phase,
    offered_events_per_s: r.offered_events_per_s ?? null,
    events_per_s: r.events_per_s,
    worker_cpu_ms_per_event: worker?.cpu_ms_per_event ?? 0,
    worker_cores: r.cores_used['worker'] ?? 0,
    jobs_per_event: r.jobs_per_event,
    http_requests_per_event: Math.round(Object.values(r.http_requests_per_event).reduce((a, b) => a + b, 0) * 100) / 100,
    mongo_server_cpu_ms_per_event: mongo?.cpu_ms_per_event ?? null,
    mongo_server_cores: r.cores_used['mongo'] ?? null,
    machine_cores_busy: r.machine_cores_busy,
    p99_latency_ms: r.latency_ms.p99 ?? null,
  };
}

/** How a fixed-rate run is shaped: the half phase and each rate of the sweep. */
export interface RateRunOptions {
  seconds: number;
  warmupSeconds: number;
  contacts: number;
  extraEnv: Record<string, string>;
  run: Partial<Pick<Parameters<typeof runE2e>[1], 'workers' | 'esps' | 'redis'>>;
}

/** Fresh web and worker processes, a warm-up at the rate on other people, then `seconds` at the rate. */
export function runAtRate(setup: E2eSetup, label: string, rate: number, seed: number, opts: RateRunOptions): Promise<E2eResult> {
  return runE2e(setup, {
    label,
    events: 0,
    contacts: opts.contacts,
    mode: { kind: 'rate', eventsPerSecond: rate, durationS: opts.seconds },
    warmupEvents: Math.round(rate * opts.warmupSeconds),
    seed,
    stallTimeoutMs: 120_000,
    extraEnv: opts.extraEnv,
    ...opts.run,
  });
}

export async function runLoadSweep(
  setup: E2eSetup,
  rates: readonly number[],
  opts: RateRunOptions & { log: (line: string) => void },
): Promise<{ rows: LoadRow[]; errors: Record<string, string> }> {
  const rows: LoadRow[] = [];
  const errors: Record<string, string> = {};
  for (const rate of rates) {
    const label = `load-${rate}`;
    try {
      const row = loadRow('sweep', await runAtRate(setup, label, rate, 17, opts));
      rows.push(row);
      opts.log(`    ${rate} events/s offered: ${row.events_per_s} delivered/s, worker ${row.worker_cpu_ms_per_event} ms CPU/event (${row.worker_cores} cores)`);
    } catch (err) {
      errors[label] = (err as Error).message;
      opts.log(`    ${label} FAILED: ${(err as Error).message}`);
    }
  }
  return { rows, errors };
}

/** The sweep with the half and max phases of the same run, slowest first. */
export function formatLoadTable(rows: readonly LoadRow[]): string[] {
  const sorted = [...rows].sort((a, b) => a.events_per_s - b.events_per_s);
  const header = ['phase', 'offered/s', 'events/s', 'worker ms/event', 'worker cores', 'jobs/event', 'requests/event', 'test MongoDB ms/event (cores)', 'machine busy cores', 'p99 ms'];
  const cells = sorted.map((r) => [
    r.phase,
    r.offered_events_per_s === null ? 'max' : String(r.offered_events_per_s),
    String(r.events_per_s),
    String(r.worker_cpu_ms_per_event),
    String(r.worker_cores),
    String(r.jobs_per_event),
    String(r.http_requests_per_event),
    r.mongo_server_cpu_ms_per_event === null ? '–' : `${r.mongo_server_cpu_ms_per_event} (${r.mongo_server_cores ?? '–'})`,
    r.machine_cores_busy === null ? '–' : String(r.machine_cores_busy),
    r.p99_latency_ms === null ? '–' : String(r.p99_latency_ms),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) => `  ${c.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ')}`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)];
}
