import { type Connection, type Model, Schema } from 'mongoose';

/**
 * Why an ESP's queues were paused, kept beside the pause itself (a flag in Redis that carries no
 * reason): the worker that met the 401/403 writes it, the operator's views in other processes read it.
 */
export interface EspPauseDoc {
  _id: string; // ESP name
  reason: string;
  at: Date;
}

const espPauseSchema = new Schema<EspPauseDoc>(
  { _id: { type: String, required: true }, reason: { type: String, required: true }, at: { type: Date, required: true } },
  { collection: 'esp_pauses', versionKey: false },
);

export function espPauseModel(connection: Connection): Model<EspPauseDoc> {
  return (connection.models['EspPause'] as Model<EspPauseDoc> | undefined) ?? connection.model<EspPauseDoc>('EspPause', espPauseSchema);
}
