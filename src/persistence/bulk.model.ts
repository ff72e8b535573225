import { type Connection, type Model, Schema } from 'mongoose';

/**
 * One bulk sent to an ESP's bulk path (services/esp-sync/bulk.ts). `_id` is also the claim its
 * contacts' outbox entries carry while the ESP has not reported it (persistence/outbox.ts), and
 * `contacts` the version of each that it carries. Contact ids only: no PII.
 */
export type BulkState = 'submitting' | 'pending' | 'processed' | 'failed' | 'given_up';

export interface BulkContact {
  c: string;
  v: number;
}

export interface EspBulkDoc {
  _id: string;
  esp: string;
  state: BulkState;
  /** The ESP's id of the bulk (Actito's import id). */
  espId?: string;
  /**
   * Each contact carried (`c`) and the version sent (`v`); emptied once the bulk is settled
   * (`size` keeps the count). Objects, not pairs: no nested arrays (mongo-compat.md §7).
   */
  contacts: BulkContact[];
  size: number;
  createdAt: Date;
  submittedAt?: Date;
  finishedAt?: Date;
  reason?: string;
}

/** Whether lane 3 of one ESP is in bulk mode, and the figures it was decided on. */
export interface BulkModeDoc {
  _id: string;
  on: boolean;
  since: Date;
  checkedAt: Date;
  backlog: number;
  drainSeconds: number;
  /** The ESP refused a bulk for its daily quota: no bulk before this moment. */
  quotaUntil?: Date;
}

const bulkSchema = new Schema<EspBulkDoc>(
  {
    _id: String,
    esp: { type: String, required: true },
    state: { type: String, required: true },
    espId: String,
    contacts: { type: Schema.Types.Mixed, default: [] },
    size: { type: Number, default: 0 },
    createdAt: { type: Date, required: true },
    submittedAt: Date,
    finishedAt: Date,
    reason: String,
  },
  { collection: 'esp_bulks', versionKey: false, minimize: false },
);
bulkSchema.index({ esp: 1, state: 1 });
bulkSchema.index({ esp: 1, submittedAt: -1 });

const modeSchema = new Schema<BulkModeDoc>(
  {
    _id: String,
    on: { type: Boolean, required: true },
    since: { type: Date, required: true },
    checkedAt: { type: Date, required: true },
    backlog: Number,
    drainSeconds: Number,
    quotaUntil: Date,
  },
  { collection: 'esp_bulk_modes', versionKey: false },
);

export interface BulkModels {
  bulks: Model<EspBulkDoc>;
  modes: Model<BulkModeDoc>;
}

export function bulkModels(connection: Connection): BulkModels {
  return {
    bulks: (connection.models['EspBulk'] as Model<EspBulkDoc> | undefined) ?? connection.model<EspBulkDoc>('EspBulk', bulkSchema),
    modes: (connection.models['EspBulkMode'] as Model<BulkModeDoc> | undefined) ?? connection.model<BulkModeDoc>('EspBulkMode', modeSchema),
  };
}
