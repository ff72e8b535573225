import { randomUUID } from 'node:crypto';
import { type Lane, LANES } from '../domain/index.js';
import { EspError } from '../esp/kit/http/errors.js';
import { inLane } from '../esp/kit/lane-scope.js';
import { CHANNEL_IN_STATE, type ChannelOutcome, type EspAdapter, type EspName, type PushOutcome } from '../esp/types.js';
import { chunk } from '../lib/chunk.js';
import type { Logger } from '../lib/logger.js';
import { hydrateContact } from '../persistence/contacts.repository.js';
import type { ContactDoc, Models, SyncStatusEntry } from '../persistence/models.js';
import { acknowledgeOp, claimOp, heldByBulk, heldByOther, laneOfEntry, releaseOp } from '../persistence/outbox.js';
import { bulkUpdate, readByIds } from '../persistence/read-by-ids.js';
import { JobRateLimited } from '../queues/failure-policy.js';
import { toSnapshot } from './snapshot.js';

/** Queues push jobs for contacts pending at an ESP in one lane (the composition root sizes and gathers them). */
export type EnqueuePush = (esp: EspName, lane: Lane, contactIds: readonly string[], delayMs?: number) => Promise<void>;

export interface DeliveryDeps {
  models: Models;
  adapter: EspAdapter;
  /** Requests in flight per push job (the adapter's own semaphore bounds the process). */
  concurrency: number;
  /** How long a push owns the contacts it claimed (PUSH_CLAIM_MS). */
  claimMs: number;
  now: () => Date;
  log: Logger;
  /** Queues pushes again: superseded contacts at once, contacts another push holds once its claim ends. */
  enqueuePush: EnqueuePush;
  /** 401/403: stop this ESP's queue and alert; its pending entries stay where they are. */
  pauseEsp: (esp: EspName, reason: string) => Promise<void>;
  /** Per acknowledged contact: its overall outcome and, per decided channel, that channel's. */
  onOutcome?: (esp: EspName, outcome: string, lane: Lane, channels?: Readonly<Record<string, ChannelOutcome>>) => void;
}

export interface PushBatchResult {
  /** Contacts sent and acknowledged, by outcome. */
  outcomes: Record<string, number>;
  /** Pushed, but a newer change arrived meanwhile: queued again. */
  superseded: number;
  /** Another push holds them: queued again for when its claim ends. */
  contended: number;
  /** Nothing pending any more (acknowledged by an earlier push, or no such contact). */
  nothingPending: number;
  /** In a bulk the ESP has not reported processed: the bulk queues them again once it has. */
  inBulk?: number;
}

/**
 * What a push to `esp` reads of a contact: what adapters are sent (toSnapshot) and that ESP's
 * outbox entry, which the acknowledgement guards. The journal, listings, sync states and the
 * other ESPs' entries are most of a document, and BSON decoding was the worker's largest cost.
 */
export const pushFields = (esp: EspName) =>
  ({ identities: 1, effective: 1, version: 1, [`outbox.${esp}`]: 1, [`espIdentities.${esp}`]: 1 }) as const;

/** Requests stop this long before the claim ends, so none is in flight when another push may claim. */
export const CLAIM_MARGIN_MS = 5_000;
/** The job goes back to the (now paused) queue at once; the pause, not a delay, holds it. */
const AUTH_PAUSE_RECHECK_MS = 1_000;
const DEFAULT_RATE_LIMIT_MS = 1_000;
/** How soon contacts another push holds are looked at again (at the latest when its claim ends). */
const CONTENDED_RECHECK_MS = 5_000;

function outcomeLabel(outcome: PushOutcome): string {
  return outcome.kind;
}

function outcomeReason(outcome: PushOutcome): string | undefined {
  if ('reason' in outcome) return outcome.reason;
  if ('detail' in outcome) return outcome.detail;
  return undefined;
}

/** The decided channels whose outcome is not pushed / already_in_state, as `channel: kind (reason)`. */
function channelsNotInState(outcome: PushOutcome): string[] {
  return Object.entries(outcome.channels ?? {})
    .filter(([, o]) => !CHANNEL_IN_STATE.has(o.kind))
    .map(([channel, o]) => `${channel}: ${o.kind}${'reason' in o ? ` (${o.reason})` : ''}`);
}

/**
 * `synced` only when every decided channel is pushed or already in state; `partial` names the
 * channels that are not and why (also when an adapter reports a failing kind without channels);
 * `dead_letter` when the ESP refused the contact.
 */
export function acknowledgement(esp: EspName, contact: ContactDoc, outcome: PushOutcome, now: Date) {
  const notInState = channelsNotInState(outcome);
  const failingKind = outcome.kind === 'missing_identity' || outcome.kind === 'reactivation_blocked';
  const status: SyncStatusEntry['status'] =
    outcome.kind === 'dead_letter' ? 'dead_letter' : notInState.length > 0 || failingKind ? 'partial' : 'synced';
  const reason = notInState.length > 0 ? notInState.join('; ') : outcomeReason(outcome);
  const sync: SyncStatusEntry = {
    status,
    version: contact.version,
    outcome: outcomeLabel(outcome),
    at: now,
    ...(reason ? { reason } : {}),
    ...(outcome.channels ? { channels: outcome.channels } : {}),
  };
  const $set: Record<string, unknown> = { [`sync.${esp}`]: sync };
  const $unset: Record<string, ''> = {};
  if (outcome.kind === 'dead_letter') $set[`deadLetters.${esp}`] = { version: contact.version, reason: reason ?? 'refused', at: now };
  else $unset[`deadLetters.${esp}`] = '';
  return { $set, $unset };
}

type ChunkResult = { ok: true; outcomes: Map<string, PushOutcome> } | { ok: false; error: unknown };

/**
 * Pushes one job's contacts to one ESP: claims their outbox entries, reads their current state,
 * sends it in requests of the adapter's batch size and acknowledges each entry that still holds
 * the version sent. See persistence/outbox.ts for why an ESP never receives an older state after
 * a newer one. A retried job pushes only what is still pending: acknowledged contacts have no
 * entry left to claim. A contact the ESP refuses gets its own dead letter and does not fail the
 * rest; a request that fails as a whole fails the job after the other requests are acknowledged.
 */
export async function pushBatch(esp: EspName, lane: Lane, contactIds: readonly string[], deps: DeliveryDeps): Promise<PushBatchResult> {
  const { models } = deps;
  const result: PushBatchResult = { outcomes: {}, superseded: 0, contended: 0, nothingPending: 0 };
  const ids = [...new Set(contactIds)];
  const token = randomUUID();
  const claimedAt = deps.now().getTime();
  const claimUntil = claimedAt + deps.claimMs;
  await bulkUpdate(models.contacts, ids.map((id) => claimOp(esp, id, token, claimedAt, claimUntil)));
  const docs = await readByIds(models.contacts, ids, pushFields(esp));

  const mine: ContactDoc[] = [];
  const contended = new Map<string, number>();
  for (const id of ids) {
    const stored = docs.get(id);
    const entry = stored?.outbox?.[esp];
    if (!stored || !entry) result.nothingPending++;
    else if (entry.claimBy === token) mine.push(hydrateContact(stored));
    else if (heldByBulk(entry, claimedAt)) result.inBulk = (result.inBulk ?? 0) + 1;
    // Held by another push, or taken and given back between our claim and our read: either way
    // someone else is on it now or was a moment ago, so it is looked at again once that ends.
    else contended.set(id, heldByOther(entry, token, claimedAt) ? (entry.claimUntil ?? claimedAt) : claimedAt);
  }
  if (contended.size > 0) {
    // Looked at again soon: a live holder has usually acknowledged by then (the new job finds
    // nothing to do); a dead one's claim is found still held, and the job comes back again at
    // the claim's end. Never later than that end, never sooner than CONTENDED_RECHECK_MS.
    result.contended = contended.size;
    const latest = Math.max(...contended.values());
    await deps.enqueuePush(esp, lane, [...contended.keys()], Math.min(Math.max(0, latest - claimedAt) + 100, CONTENDED_RECHECK_MS));
  }
  if (mine.length === 0) return result;

  const deadline = inLane(lane, AbortSignal.timeout(Math.max(1_000, claimUntil - CLAIM_MARGIN_MS - deps.now().getTime())));
  const chunks = chunk(mine, Math.max(1, deps.adapter.maxBatch));
  const settled = await runChunks(chunks, deps.concurrency, (contacts) => deps.adapter.push(contacts.map(toSnapshot), deadline));

  const now = deps.now();
  const acks: { contact: ContactDoc; outcome: PushOutcome }[] = [];
  const failed: ContactDoc[] = [];
  let failure: unknown;
  settled.forEach((outcome, i) => {
    const contacts = chunks[i]!;
    if (!outcome.ok) {
      failed.push(...contacts);
      failure ??= outcome.error;
      return;
    }
    for (const contact of contacts) {
      const answered = outcome.outcomes.get(contact._id);
      // An adapter that forgets a contact fails that contact alone, visibly, never silently.
      acks.push({ contact, outcome: answered ?? { kind: 'dead_letter', reason: `${esp} adapter returned no outcome for this contact` } });
    }
  });

  const superseded = new Set(await acknowledge(esp, token, acks, now, deps));
  result.superseded = superseded.size;
  for (const { contact, outcome } of acks) {
    if (superseded.has(contact._id)) continue;
    const label = outcomeLabel(outcome);
    result.outcomes[label] = (result.outcomes[label] ?? 0) + 1;
    deps.onOutcome?.(esp, label, contact.outbox[esp]?.lane ?? lane, outcome.channels);
    if (outcome.kind === 'dead_letter') deps.log.warn({ esp, contactId: contact._id, reason: outcomeReason(outcome) }, 'push dead-lettered');
  }
  if (failed.length > 0) {
    // Given back for the job's retry or another push, but not claimable for CLAIM_MARGIN_MS: a
    // request that failed without an answer may still land at the ESP, and a newer state sent
    // at once could land before it (the same margin that ends a claim's requests, rule 3 of
    // outbox.ts). A definite refusal (4xx, 429) waits as long; the retry's backoff covers it.
    const heldUntil = now.getTime() + CLAIM_MARGIN_MS;
    await bulkUpdate(models.contacts, failed.map((c) => releaseOp(esp, c._id, token, heldUntil)));
    throw await failureSignal(esp, failure, deps);
  }
  return result;
}

/**
 * Acknowledges what was sent; returns the contacts whose entry moved on meanwhile (a newer
 * version, or a claim that ran out), after giving back their claims and queueing them again.
 */
async function acknowledge(
  esp: EspName,
  token: string,
  acks: readonly { contact: ContactDoc; outcome: PushOutcome }[],
  now: Date,
  deps: DeliveryDeps,
): Promise<string[]> {
  if (acks.length === 0) return [];
  const { models } = deps;
  // Where the ESP holds the state is a fact about the ESP, not about a version: kept even when a
  // newer version supersedes this push, so that push goes to the same place.
  const moved = acks.filter(({ contact, outcome }) => outcome.holder !== undefined && contact.espIdentities?.[esp] !== outcome.holder);
  if (moved.length > 0)
    await bulkUpdate(
      models.contacts,
      moved.map(({ contact, outcome }) => ({ updateOne: { filter: { _id: contact._id }, update: { $set: { [`espIdentities.${esp}`]: outcome.holder } } } })),
    );
  const written = await bulkUpdate(
    models.contacts,
    acks.map(({ contact, outcome }) =>
      acknowledgeOp(esp, contact._id, token, contact.outbox[esp]!.version, acknowledgement(esp, contact, outcome, now)),
    ),
  );
  if (written.matchedCount === acks.length) return [];
  // Some entries hold a newer version (not rare at full load: the contact changed while its push
  // was out). Which ones, the write result does not say.
  const after = await readByIds(models.contacts, acks.map((a) => a.contact._id), { [`outbox.${esp}`]: 1 });
  const superseded = acks.filter((a) => after.get(a.contact._id)?.outbox?.[esp] !== undefined);
  if (superseded.length === 0) return [];
  await bulkUpdate(models.contacts, superseded.map((a) => releaseOp(esp, a.contact._id, token)));
  const byLane = new Map<Lane, string[]>();
  for (const a of superseded) {
    const entryLane = laneOfEntry(after.get(a.contact._id)?.outbox?.[esp]);
    byLane.set(entryLane, [...(byLane.get(entryLane) ?? []), a.contact._id]);
  }
  for (const [entryLane, ids] of byLane) await deps.enqueuePush(esp, entryLane, ids);
  return superseded.map((a) => a.contact._id);
}

/** What a failed request means for its job: a pause, a rate-limit wait, or a retry with backoff. */
async function failureSignal(esp: EspName, err: unknown, deps: DeliveryDeps): Promise<unknown> {
  if (!EspError.is(err)) return err;
  if (err.kind === 'auth') {
    await deps.pauseEsp(esp, err.message);
    return new JobRateLimited(AUTH_PAUSE_RECHECK_MS, err.message);
  }
  if (err.kind === 'rate_limited') return new JobRateLimited(err.retryAfterMs ?? DEFAULT_RATE_LIMIT_MS, err.message);
  return err;
}

/**
 * Runs every chunk, at most `limit` at once, and settles each on its own. A permanent refusal of
 * a whole request becomes a dead letter for each of its contacts; other failures stop new chunks
 * from starting (the ESP is down or pushing back), and the chunks not started count as failed.
 */
async function runChunks(
  chunks: readonly ContactDoc[][],
  limit: number,
  send: (contacts: readonly ContactDoc[]) => Promise<Map<string, PushOutcome>>,
): Promise<ChunkResult[]> {
  const results: ChunkResult[] = new Array(chunks.length);
  let next = 0;
  let stopped: unknown;
  const lane = async () => {
    while (next < chunks.length) {
      const index = next++;
      const contacts = chunks[index]!;
      if (stopped !== undefined) {
        results[index] = { ok: false, error: stopped };
        continue;
      }
      try {
        results[index] = { ok: true, outcomes: await send(contacts) };
      } catch (error) {
        if (EspError.is(error) && error.kind === 'permanent') {
          const outcome: PushOutcome = { kind: 'dead_letter', reason: error.message };
          results[index] = { ok: true, outcomes: new Map(contacts.map((c) => [c._id, outcome])) };
        } else {
          stopped ??= error;
          results[index] = { ok: false, error };
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), chunks.length) }, lane));
  return results;
}

/**
 * Contacts whose outbox entry for `esp` has waited longer than `olderThan`: lost or stuck pushes,
 * most urgent lane first. One query per lane, each a range of the (lane, since) index.
 */
export async function stalePendingContacts(
  models: Models,
  esp: EspName,
  olderThan: Date,
  limit: number,
  nowMs = Date.now(),
): Promise<{ contactId: string; lane: Lane }[]> {
  const found: { contactId: string; lane: Lane }[] = [];
  for (const lane of LANES) {
    if (found.length >= limit) break;
    const docs = await models.contacts
      .find({ [`outbox.${esp}.lane`]: lane, [`outbox.${esp}.since`]: { $lt: olderThan } }, { _id: 1, [`outbox.${esp}.claimBy`]: 1, [`outbox.${esp}.claimUntil`]: 1 })
      .limit(limit - found.length)
      .lean<Pick<ContactDoc, '_id' | 'outbox'>[]>();
    // A contact in a pending bulk is queued again by its bulk (services/esp-sync/bulk.ts), not here.
    for (const d of docs) if (!heldByBulk(d.outbox?.[esp], nowMs)) found.push({ contactId: d._id, lane });
  }
  if (found.length < limit) {
    // Entries written before lanes existed carry none; they are pushed with the imports.
    const unlaned = await models.contacts
      .find({ [`outbox.${esp}.lane`]: { $exists: false }, [`outbox.${esp}.since`]: { $lt: olderThan } }, { _id: 1 })
      .limit(limit - found.length)
      .lean<Pick<ContactDoc, '_id'>[]>();
    for (const d of unlaned) found.push({ contactId: d._id, lane: 3 });
  }
  return found;
}
