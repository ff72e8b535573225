import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, type StartedChild, startChild } from './child.js';
import { REDIS_INSTALL_HINT } from './redis-server.js';

const run = promisify(execFile);

export interface LocalRedisCluster {
  /** Seed nodes as REDIS_CLUSTER_NODES wants them: `127.0.0.1:P1,127.0.0.1:P2,…`. */
  nodesSetting: string;
  nodes: { host: string; port: number; child: StartedChild }[];
  /** SIGKILLs node `index` (chaos tests): no shutdown; its nodes.conf and AOF stay. */
  kill(index: number): Promise<void>;
  /**
   * Starts node `index` again on its port with its nodes.conf (so it rejoins as the master of its
   * slots) and its data files; resolves once every node reports `cluster_state:ok` again.
   */
  restart(index: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of `masters` (default 3) Debian redis-server children on loopback, no
 * replicas, each in its own temporary directory (nodes.conf), joined with
 * `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`. The cluster bus gets its
 * own free port (`cluster-port`) instead of port + 10000, which may be taken or out of range.
 * Resolves once every node reports `cluster_state:ok`; about a second on a 2-core machine.
 */
export async function startLocalRedisCluster(opts: { masters?: number; appendonly?: boolean } = {}): Promise<LocalRedisCluster> {
  const masters = opts.masters ?? 3;
  const dir = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'consent-sync-redis-cluster-'));
  const nodes: LocalRedisCluster['nodes'] = [];
  const stop = async () => {
    await Promise.allSettled(nodes.map((n) => n.child.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const ports = await distinctFreePorts(masters * 2);
    const startNode = async (i: number) => {
      const port = ports[i * 2]!;
      const child = await startChild(
        'redis-server',
        [
          '--port', String(port),
          '--cluster-port', String(ports[i * 2 + 1]),
          '--bind', '127.0.0.1',
          '--cluster-enabled', 'yes',
          '--cluster-config-file', join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout', '2000',
          '--dir', dir,
          '--dbfilename', `dump-${port}.rdb`,
          '--save', '',
          '--appendonly', opts.appendonly ? 'yes' : 'no',
          '--appendfilename', `appendonly-${port}.aof`,
          '--appenddirname', `aof-${port}`,
          '--maxmemory-policy', 'noeviction',
          '--protected-mode', 'yes',
        ],
        { ready: /Ready to accept connections/, timeoutMs: 15_000, label: `redis-server (cluster node ${port})`, missingHint: REDIS_INSTALL_HINT },
      );
      nodes[i] = { host: '127.0.0.1', port, child };
    };
    const allOk = async () => {
      const deadline = Date.now() + 20_000;
      for (const node of nodes) {
        for (;;) {
          const { stdout } = await run('redis-cli', ['-h', node.host, '-p', String(node.port), 'cluster', 'info'], { timeout: 5_000 });
          if (/cluster_state:ok/.test(stdout)) break;
          if (Date.now() > deadline) throw new Error(`redis cluster node ${node.port} not ok within 20 s:\n${stdout}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    await Promise.all(Array.from({ length: masters }, (_, i) => startNode(i)));
    const addresses = nodes.map((n) => `${n.host}:${n.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    await allOk();
    return {
      nodesSetting: addresses.join(','),
      nodes,
      kill: async (index) => {
        const { child } = nodes[index]!.child;
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGKILL');
        await exited;
      },
      restart: async (index) => {
        await startNode(index);
        await allOk();
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}
