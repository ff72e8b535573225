import { connect } from 'node:net';
import type { Redis } from 'ioredis';

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
}

/**
 * A short MONITOR sample: which commands are network round trips and which run inside Lua.
 * MONITOR costs Redis some CPU while on,
 * so it runs for a few seconds only, after the counted interval.
 */
export async function monitorSample(redisUrl: string, ms: number): Promise<MonitorSample> {
  // A plain socket, not ioredis: ioredis can take a MONITOR line arriving around the end of
  // monitor mode for a reply and emit an unhandled "Command queue state error" (seen here).
  const url = new URL(redisUrl);
  const socket = connect(Number(url.port || 6379), url.hostname);
  socket.on('error', () => {});
  const client: Record<string, number> = {};
  const lua: Record<string, number> = {};
  let rest = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\r\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      // +1700000000.123456 [0 127.0.0.1:5000] "set" "key" …   or   [0 lua] for calls from scripts
      const m = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]*)"/.exec(line);
      if (!m) continue;
      const cmd = m[2]!.toLowerCase();
      const bucket = m[1] === 'lua' ? lua : client;
      bucket[cmd] = (bucket[cmd] ?? 0) + 1;
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write('MONITOR\r\n');
  await new Promise((r) => setTimeout(r, ms));
  socket.removeAllListeners('data');
  socket.destroy();
  return { seconds: ms / 1000, client, lua };
}
