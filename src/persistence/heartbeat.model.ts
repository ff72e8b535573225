import { type Connection, type Model, Schema } from 'mongoose';

export interface HeartbeatDoc {
  _id: string;
  at: Date;
  beats: number;
}

const heartbeatSchema = new Schema<HeartbeatDoc>(
  { _id: { type: String, required: true }, at: { type: Date, required: true }, beats: { type: Number, default: 0 } },
  { collection: 'heartbeats', versionKey: false },
);

export function heartbeatModel(connection: Connection): Model<HeartbeatDoc> {
  return (connection.models['Heartbeat'] as Model<HeartbeatDoc> | undefined) ?? connection.model<HeartbeatDoc>('Heartbeat', heartbeatSchema);
}
