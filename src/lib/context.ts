import type { Connection } from 'mongoose';
import type { Config } from '../../config/index.js';
import { connectMongo } from '../persistence/connect.js';
import { type HeartbeatDoc, heartbeatModel } from '../persistence/heartbeat.model.js';
import { assertRedisReachable } from '../queues/connection.js';
import { QueueRuntime } from '../queues/runtime.js';
import { recordHeartbeat } from '../services/heartbeat.js';
import type { Logger } from './logger.js';

export interface Services {
  recordHeartbeat(source: string): Promise<HeartbeatDoc>;
}

export interface AppContext {
  config: Config;
  log: Logger;
  mongo: Connection;
  runtime: QueueRuntime;
  services: Services;
  close(): Promise<void>;
}

/**
 * Connects to Redis and MongoDB (failing fast, naming the one that is down) and wires the
 * services every process shares.
 */
export async function createContext(config: Config, log: Logger, clock: () => Date = () => new Date()): Promise<AppContext> {
  await assertRedisReachable(config.redis.url);
  const mongo = await connectMongo(config.mongo.uri);
  const runtime = new QueueRuntime({ redisUrl: config.redis.url, prefix: config.redis.prefix, log });
  const heartbeats = heartbeatModel(mongo);
  const services: Services = {
    recordHeartbeat: (source) => recordHeartbeat(heartbeats, source, clock()),
  };
  return {
    config,
    log,
    mongo,
    runtime,
    services,
    async close() {
      await runtime.close(config.shutdownGraceMs);
      await mongo.close();
    },
  };
}
