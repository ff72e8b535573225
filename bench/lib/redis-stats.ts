import { Redis } from 'ioredis';

/** `INFO commandstats` as {command: calls}. */
export async function commandStats(redis: Redis): Promise<Record<string, number>> {
  const info = await redis.info('commandstats');
  const out: Record<string, number> = {};
  for (const line of info.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** Calls per command between two snapshots, minus the two INFO calls that took them. */
export function commandDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [cmd, calls] of Object.entries(after)) {
    const d = calls - (before[cmd] ?? 0) - (cmd === 'info' ? 1 : 0);
    if (d > 0) out[cmd] = d;
  }
  return out;
}

export function total(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

export async function redisVersion(redis: Redis): Promise<{ version: string; pid: number | undefined }> {
  const info = await redis.info('server');
  return {
    version: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    pid: Number(/process_id:(\d+)/.exec(info)?.[1]) || undefined,
  };
}

export interface MonitorSample {
  seconds: number;
  /** Commands sent by clients (network round trips, pipelined or not), by command. */
  client: Record<string, number>;
  /** Commands run inside Lua scripts (BullMQ's), by command. */
  lua: Record<string, number>;
  /** Client SETs on consent-sync's per-contact lease keys (each one a lease attempt). */
  contactLeaseAttempts: number;
}

/**
 * A short MONITOR sample: which commands are network round trips and which run inside Lua,
 * and how many round trips go to the per-contact lease. MONITOR costs Redis some CPU while on,
 * so it runs for a few seconds only, after the counted interval.
 */
export async function monitorSample(redisUrl: string, ms: number): Promise<MonitorSample> {
  const conn = new Redis(redisUrl, { lazyConnect: true });
  const monitor = await conn.monitor();
  // ioredis can report a reply arriving after monitor mode ends as a queue state error: harmless here.
  monitor.on('error', () => {});
  conn.on('error', () => {});
  const client: Record<string, number> = {};
  const lua: Record<string, number> = {};
  let lease = 0;
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const cmd = (args[0] ?? '').toLowerCase();
    const bucket = source === 'lua' ? lua : client;
    bucket[cmd] = (bucket[cmd] ?? 0) + 1;
    if (source !== 'lua' && cmd === 'set' && (args[1] ?? '').includes(':lock:contact:')) lease++;
  });
  await new Promise((r) => setTimeout(r, ms));
  monitor.removeAllListeners('monitor');
  monitor.disconnect();
  conn.disconnect();
  return { seconds: ms / 1000, client, lua, contactLeaseAttempts: lease };
}
