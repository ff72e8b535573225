import { type LocalMongo, startLocalMongo } from './mongo-server.js';
import { startLocalRedis } from './redis-server.js';

export interface DevServices {
  redisUrl: string;
  mongoUri: string;
  mongoKind: LocalMongo['kind'];
  stop(): Promise<void>;
}

/**
 * The one service starter behind both the vitest global setup and `npm run dev`: uses
 * REDIS_URL / MONGODB_URI when given, otherwise starts local child processes.
 */
export async function startDevServices(env: Record<string, string | undefined>, log: (msg: string) => void): Promise<DevServices> {
  const redis = env['REDIS_URL'] ? undefined : await startLocalRedis();
  try {
    const mongo = await startLocalMongo(env, log);
    return {
      redisUrl: env['REDIS_URL'] ?? redis!.url,
      mongoUri: mongo.uri,
      mongoKind: mongo.kind,
      stop: async () => {
        await Promise.allSettled([mongo.stop(), redis?.stop()]);
      },
    };
  } catch (err) {
    await redis?.stop();
    throw err;
  }
}
