import { type LocalMongo, startLocalMongo } from './mongo-server.js';
import { startLocalRedis } from './redis-server.js';

export interface DevServices {
  redisUrl: string;
  mongoUri: string;
  mongoKind: LocalMongo['kind'];
  /** Whether the Redis this started has exited on its own (no local Redis: false). */
  redisExited(): boolean;
  stop(): Promise<void>;
}

/**
 * The one service starter behind both the vitest global setup and `npm run dev`: uses
 * REDIS_URL / MONGODB_URI when given, otherwise starts local child processes.
 */
export async function startDevServices(
  env: Record<string, string | undefined>,
  log: (msg: string) => void,
  opts: { ownProcessGroup?: boolean } = {},
): Promise<DevServices> {
  const redis = env['REDIS_URL'] ? undefined : await startLocalRedis(opts);
  try {
    const mongo = await startLocalMongo(env, log, opts);
    return {
      redisUrl: env['REDIS_URL'] ?? redis!.url,
      mongoUri: mongo.uri,
      mongoKind: mongo.kind,
      redisExited: () => redis !== undefined && (redis.child.child.exitCode !== null || redis.child.child.signalCode !== null),
      // Reverse order of start: MongoDB, then Redis.
      stop: async () => {
        await mongo.stop().catch(() => {});
        await redis?.stop();
      },
    };
  } catch (err) {
    await redis?.stop();
    throw err;
  }
}
