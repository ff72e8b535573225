import { type Connection, type Model, Schema } from 'mongoose';

export type RunStatus = 'queued' | 'running' | 'done' | 'failed';

/** One reconciliation run of one ESP: its progress and its drift report (ids only, no PII). */
export interface ReconcileRunDoc {
  _id: string;
  esp: string;
  trigger: 'schedule' | 'api' | 'cli';
  status: RunStatus;
  readBack: 'list' | 'per_contact' | 'none';
  queuedAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
  durationMs?: number;
  pages: number;
  compared: number;
  counts: Record<string, number>;
  actions: Record<string, number>;
  samples: Record<string, string[]>;
  error?: string;
  note?: string;
}

const schema = new Schema<ReconcileRunDoc>(
  {
    _id: String,
    esp: { type: String, required: true },
    trigger: { type: String, required: true },
    status: { type: String, required: true },
    readBack: { type: String, required: true },
    queuedAt: { type: Date, required: true },
    startedAt: Date,
    finishedAt: Date,
    durationMs: Number,
    pages: { type: Number, default: 0 },
    compared: { type: Number, default: 0 },
    counts: { type: Schema.Types.Mixed, default: {} },
    actions: { type: Schema.Types.Mixed, default: {} },
    samples: { type: Schema.Types.Mixed, default: {} },
    error: String,
    note: String,
  },
  { collection: 'reconciliation_runs', versionKey: false, minimize: false },
);
schema.index({ esp: 1, queuedAt: -1 });

export function reconcileRunModel(connection: Connection): Model<ReconcileRunDoc> {
  return (connection.models['ReconcileRun'] as Model<ReconcileRunDoc> | undefined) ?? connection.model<ReconcileRunDoc>('ReconcileRun', schema);
}
