import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';

/** Linux /proc readings of the processes under test: RSS (current, peak) and CPU time. */

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

export function rssKb(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+)/.exec(status);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds consumed so far by `pid` (its threads included). */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** The pid of the process listening on a loopback TCP port (`ss -ltnp`), for servers started elsewhere. */
export function pidListeningOn(port: number): number | undefined {
  try {
    const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`]).toString();
    const m = /pid=(\d+)/.exec(out);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds the whole machine spent busy so far (all cores; /proc/stat minus idle and iowait). */
export function machineBusySeconds(): number | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const busy = cpu.reduce((a, b) => a + b, 0) - (cpu[3] ?? 0) - (cpu[4] ?? 0);
    return busy / CLK_TCK;
  } catch {
    return undefined;
  }
}

export interface ProcessFigures {
  peak_rss_mb: number;
  cpu_s: number;
}

/**
 * Samples the RSS of labelled processes every `intervalMs` and keeps each one's peak; CPU time
 * is the difference between `start()` and `stop()`. One sampler per measured phase.
 */
export class ProcessSampler {
  private readonly peaks = new Map<string, number>();
  private readonly cpuStart = new Map<string, number>();
  private readonly cpuEnd = new Map<string, number>();
  private readonly pids = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs = 100) {}

  add(label: string, pid: number | undefined): this {
    if (pid === undefined || pid <= 0) return this;
    this.pids.set(label, pid);
    this.cpuStart.set(label, cpuSeconds(pid) ?? 0);
    this.sampleOne(label, pid);
    return this;
  }

  private sampleOne(label: string, pid: number) {
    const kb = rssKb(pid);
    if (kb !== undefined) this.peaks.set(label, Math.max(this.peaks.get(label) ?? 0, kb));
    const cpu = cpuSeconds(pid);
    if (cpu !== undefined) this.cpuEnd.set(label, cpu);
  }

  start(): this {
    this.timer = setInterval(() => {
      for (const [label, pid] of this.pids) this.sampleOne(label, pid);
    }, this.intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): Record<string, ProcessFigures> {
    if (this.timer) clearInterval(this.timer);
    for (const [label, pid] of this.pids) this.sampleOne(label, pid);
    const out: Record<string, ProcessFigures> = {};
    for (const label of this.pids.keys()) {
      out[label] = {
        peak_rss_mb: round((this.peaks.get(label) ?? 0) / 1024, 1),
        cpu_s: round((this.cpuEnd.get(label) ?? 0) - (this.cpuStart.get(label) ?? 0), 2),
      };
    }
    return out;
  }
}

export function round(n: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export interface MachineInfo {
  cpu_model: string;
  cores: number;
  memory_gb: number;
  os: string;
  node: string;
  redis: string;
  mongo_server: string;
  mongo_kind: string;
  load_at_start: string;
  load_at_end?: string;
}

export function uptimeLine(): string {
  try {
    return execFileSync('uptime').toString().trim();
  } catch {
    return `load average: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')}`;
  }
}

export function baseMachine(): Omit<MachineInfo, 'redis' | 'mongo_server' | 'mongo_kind'> {
  const list = cpus();
  let model = list[0]?.model ?? 'unknown';
  try {
    // os.cpus() can report a generic name in VMs; lscpu sometimes knows more.
    const lscpu = execFileSync('lscpu').toString();
    const m = /Model name:\s+(.+)/.exec(lscpu);
    if (m?.[1] && m[1].trim().length > model.length) model = m[1].trim();
  } catch {
    // keep os.cpus()'s model
  }
  return {
    cpu_model: model,
    cores: list.length,
    memory_gb: round(totalmem() / 1024 ** 3, 1),
    os: `linux ${release()}`,
    node: process.version,
    load_at_start: uptimeLine(),
  };
}

/**
 * The node flags the Procfile gives a process (e.g. the worker's heap cap), so that the
 * measured children run as production runs them: `worker: node --max-old-space-size=128 dist/…`.
 */
export function procfileNodeFlags(procfile: string, role: string): string[] {
  const line = readFileSync(procfile, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${role}:`));
  if (!line) return [];
  const words = line.slice(role.length + 1).trim().split(/\s+/);
  return words[0] === 'node' ? words.slice(1).filter((w) => w.startsWith('--')) : [];
}
