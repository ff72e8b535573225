import type { Model } from 'mongoose';
import type { EspName } from '../esp/types.js';
import { countDeadLetters, deadLetterFilter } from '../persistence/dead-letters.js';
import type { EspPauseDoc } from '../persistence/esp-pause.model.js';
import type { ContactDoc, Models } from '../persistence/models.js';

/** One contact's push an ESP refused permanently: the version it refused and the ESP's reason. */
export interface DeadLetterView {
  esp: string;
  contactId: string;
  version: number;
  /** The contact's version now: greater than `version` when a newer change is already on its way. */
  contactVersion: number;
  reason: string;
  at: string;
}

/** Where one connected ESP stands for an operator: paused or not (and why, and what to do), dead letters. */
export interface EspStatusView {
  esp: string;
  paused: boolean;
  /** Why it was paused, as the ESP answered (absent when paused from outside consent-sync, e.g. Bull Board). */
  reason?: string;
  pausedAt?: string;
  /** What the operator does to resume, or null when running. */
  resume: string | null;
  deadLetters: number;
}

type DeadLetterDoc = Pick<ContactDoc, '_id' | 'version' | 'deadLetters'>;

function viewsOf(doc: DeadLetterDoc, only?: string): DeadLetterView[] {
  return Object.entries(doc.deadLetters ?? {})
    .filter(([esp]) => only === undefined || esp === only)
    .map(([esp, d]) => ({
      esp,
      contactId: doc._id,
      version: d.version,
      contactVersion: doc.version ?? 0,
      reason: d.reason,
      at: new Date(d.at).toISOString(),
    }));
}

/** Dead letters of the given ESPs, oldest first per ESP, at most `limit` per ESP. */
export async function listDeadLetters(models: Pick<Models, 'contacts'>, esps: readonly string[], limit: number): Promise<DeadLetterView[]> {
  const perEsp = await Promise.all(
    esps.map(async (esp) => {
      const docs = await models.contacts
        .find(deadLetterFilter(esp) as never, { _id: 1, version: 1, [`deadLetters.${esp}`]: 1 })
        .sort({ [`deadLetters.${esp}.at`]: 1 })
        .limit(limit)
        .lean<DeadLetterDoc[]>();
      return docs.flatMap((doc) => viewsOf(doc, esp));
    }),
  );
  return perEsp.flat();
}

/** Every dead letter one contact holds (one per ESP at most); null for an unknown contact. */
export async function deadLettersOfContact(models: Pick<Models, 'contacts'>, contactId: string): Promise<DeadLetterView[] | null> {
  const doc = await models.contacts.findById(contactId, { _id: 1, version: 1, deadLetters: 1 }).lean<DeadLetterDoc | null>();
  return doc ? viewsOf(doc) : null;
}

/** The operator's instruction for a paused ESP: the cause is at the ESP, so the fix comes first. */
export function resumeInstruction(esp: string): string {
  return `fix ${esp}'s credentials (its settings in the environment; restart the workers), then run \`consent-sync resume ${esp}\` or press Resume at /admin/consent`;
}

export interface EspStatusDeps {
  models: Pick<Models, 'contacts'>;
  pauses: Model<EspPauseDoc>;
  isPaused: (esp: EspName) => Promise<boolean>;
}

/** Each connected ESP: paused (from its queues' flag in Redis) with the recorded reason, and its dead letters. */
export async function espStatuses(deps: EspStatusDeps, esps: readonly EspName[]): Promise<EspStatusView[]> {
  const reasons = new Map((await deps.pauses.find({ _id: { $in: [...esps] } }).lean()).map((p) => [p._id, p]));
  return Promise.all(
    esps.map(async (esp) => {
      const [paused, deadLetters] = await Promise.all([deps.isPaused(esp), countDeadLetters(deps.models, esp)]);
      const recorded = paused ? reasons.get(esp) : undefined;
      return {
        esp,
        paused,
        ...(recorded ? { reason: recorded.reason, pausedAt: new Date(recorded.at).toISOString() } : {}),
        resume: paused ? resumeInstruction(esp) : null,
        deadLetters,
      };
    }),
  );
}
