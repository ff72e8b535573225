import type { Model } from 'mongoose';
import type { HeartbeatDoc } from '../persistence/heartbeat.model.js';

/**
 * Proves the whole pipe (producer → Redis → worker → MongoDB) end to end; the scheduler
 * sends one a minute and `/readyz` can show when the workers last answered.
 */
export async function recordHeartbeat(model: Model<HeartbeatDoc>, source: string, now: Date): Promise<HeartbeatDoc> {
  const doc = await model
    .findOneAndUpdate({ _id: source }, { $set: { at: now }, $inc: { beats: 1 } }, { upsert: true, returnDocument: 'after' })
    .lean();
  return doc!;
}
