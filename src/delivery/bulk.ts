import { randomUUID } from 'node:crypto';
import type { AnyBulkWriteOperation } from 'mongoose';
import { BULK_LANE, bulkDisposition, drainSeconds, type Lane, LANES, nextBulkMode } from '../domain/index.js';
import { EspError } from '../esp/kit/http/errors.js';
import { deadLetter } from '../esp/kit/outcome.js';
import type { EspAdapter, EspBulkPath, EspName, PushOutcome } from '../esp/types.js';
import { chunk } from '../lib/chunk.js';
import type { Logger } from '../lib/logger.js';
import { laneFilter } from '../metrics/backlog.js';
import type { BulkContact, BulkModels, EspBulkDoc } from '../persistence/bulk.model.js';
import { hydrateContact } from '../persistence/contacts.repository.js';
import type { ContactDoc, Models } from '../persistence/models.js';
import { acknowledgeOp, BULK_CLAIM_PREFIX, claimOp, laneOfEntry, releaseOp } from '../persistence/outbox.js';
import { bulkUpdate, readByIds } from '../persistence/read-by-ids.js';
import { acknowledgement, type EnqueuePush, pushFields } from './delivery.js';
import { toSnapshot } from './snapshot.js';

/**
 * Bulk mode (issue #21 item 3). When an ESP's lane-3 backlog (imports, opt-ins, repairs) would
 * take longer than BULK_MODE_AFTER_S at its per-call budget, lane 3 goes to the ESP's documented
 * bulk path (Actito: a mass import, 12 a table a day), and back to per-call pushes once the
 * backlog would drain in a quarter of that (domain/bulk-mode.ts). One check per ESP runs with
 * the outbox sweeper: settle the open bulk, decide the mode, start the next bulk.
 *
 * Why newer states wait for the bulk. A bulk lands when the ESP runs it, maybe hours after we
 * sent it, and it carries each contact's state as it was then. Were a person's opt-out pushed
 * while their opt-in sat in a pending bulk, the import could land the opt-in over it afterwards:
 * an older state over a newer one, at the ESP, silently. So a bulk is a claim on its contacts'
 * outbox entries (`bulk:<id>`, persistence/outbox.ts rule 6) that lasts until the ESP reports the
 * bulk processed: a push finds the contact held and leaves it (delivery.ts counts it `inBulk`),
 * and once the ESP has reported, each contact whose entry moved on since (a newer version) is
 * pushed again in its own lane, the opt-out in lane 1 (bulkDisposition). A contact that changes
 * between the claim and the file is simply in the file with the state read after the claim; a
 * later change is after the file, and waits. A bulk the ESP never reports is given up after
 * BULK_MAX_PENDING_S and its contacts pushed one by one: should it land even later, the bulk
 * could still undo them, which the README states (nothing better is possible without a report).
 *
 * Per-call pushes of lane 3 go on meanwhile for whatever no bulk has taken (claims keep the two
 * apart), so switching is never a pause; only one bulk per ESP is open at a time.
 */

export interface BulkDeps {
  models: Models;
  bulkModels: BulkModels;
  adapter: EspAdapter;
  /** BULK_MODE_AFTER_S for this ESP (0 = never). */
  afterSeconds: number;
  maxPendingMs: number;
  /** Lane 3 contacts a second at the per-call budget (domain/bulk-mode.ts laneThreeContactsPerSecond). */
  contactsPerSecond: number;
  now: () => Date;
  log: Logger;
  enqueuePush: EnqueuePush;
  onMode?: (esp: EspName, on: boolean) => void;
  /** A bulk submitted, processed, failed or given up, with the contacts it carried. */
  onBulk?: (esp: EspName, outcome: string, contacts: number) => void;
  onOutcome?: (esp: EspName, outcome: string, lane: Lane, channels?: PushOutcome['channels']) => void;
}

export interface BulkTickResult {
  on: boolean;
  backlog: number;
  drainSeconds: number;
  settled?: { id: string; state: string; acknowledged: number; pushedAgain: number };
  started?: { id: string; contacts: number };
  skipped?: string;
}

/** Contact operations per write: a bulk of 100,000 contacts is written in slices. */
const WRITE_CHUNK = 2_000;
const OPEN_STATES = ['submitting', 'pending'] as const;
/** How long a bulk refused with 429 keeps lane 3 on per-call pushes (see startBulk). */
const QUOTA_PAUSE_MS = 3_600_000;

function utcDayStart(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
}

async function writeInChunks(models: Models, ops: readonly AnyBulkWriteOperation<ContactDoc>[]): Promise<number> {
  let matched = 0;
  for (const slice of chunk(ops, WRITE_CHUNK)) matched += (await bulkUpdate(models.contacts, slice)).matchedCount;
  return matched;
}

/**
 * Ends a bulk: acknowledges each contact whose entry still holds the version the bulk carried
 * (only if the ESP processed it), and pushes every other contact it still holds again, in the
 * lane of its entry now. See bulkDisposition for the rule, and the header for why only now.
 */
export async function settleBulk(
  esp: EspName,
  bulk: EspBulkDoc,
  result: { processed: boolean; state: EspBulkDoc['state']; reason?: string; rejected?: { index: number; reason: string }[] },
  deps: BulkDeps,
): Promise<{ acknowledged: number; pushedAgain: number }> {
  const { models } = deps;
  const path = deps.adapter.bulk!;
  const sent = new Map(bulk.contacts.map((b) => [b.c, b.v]));
  // A row the ESP refused is that contact's dead letter, as a refused per-call push would be.
  const refused = new Map((result.rejected ?? []).flatMap((r) => (bulk.contacts[r.index] ? [[bulk.contacts[r.index]!.c, r.reason] as const] : [])));
  const docs = await readByIds(models.contacts, [...sent.keys()], pushFields(esp));
  const now = deps.now();
  const acks: { contact: ContactDoc; outcome: PushOutcome }[] = [];
  const again = new Map<string, Lane>();
  for (const [id, version] of sent) {
    const stored = docs.get(id);
    const entry = stored?.outbox?.[esp];
    const disposition = bulkDisposition({ token: bulk._id, processed: result.processed }, version, entry);
    if (disposition === 'acknowledge') {
      const contact = hydrateContact(stored!);
      const reason = refused.get(id);
      acks.push({ contact, outcome: reason === undefined ? path.landedOutcome(toSnapshot(contact)) : deadLetter(reason) });
    } else if (disposition === 'push-again') again.set(id, laneOfEntry(entry));
  }
  const matched = await writeInChunks(
    models,
    acks.map(({ contact, outcome }) => acknowledgeOp(esp, contact._id, bulk._id, sent.get(contact._id)!, acknowledgement(esp, contact, outcome, now))),
  );
  if (matched < acks.length) {
    // Changed between our read and the acknowledgement: still the bulk's, so pushed again.
    const after = await readByIds(models.contacts, acks.map((a) => a.contact._id), { [`outbox.${esp}`]: 1 });
    for (const [id, doc] of after) {
      const entry = doc.outbox?.[esp];
      if (entry?.claimBy === bulk._id) again.set(id, laneOfEntry(entry));
    }
  }
  for (const { contact, outcome } of acks) {
    if (!again.has(contact._id)) deps.onOutcome?.(esp, outcome.kind, BULK_LANE, outcome.channels);
  }
  await writeInChunks(models, [...again.keys()].map((id) => releaseOp(esp, id, bulk._id)));
  for (const lane of LANES) await deps.enqueuePush(esp, lane, [...again].filter(([, l]) => l === lane).map(([id]) => id));
  await deps.bulkModels.bulks.updateOne(
    { _id: bulk._id },
    { $set: { state: result.state, finishedAt: now, contacts: [], ...(result.reason ? { reason: result.reason } : {}) } },
  );
  deps.onBulk?.(esp, result.state, bulk.size);
  const acknowledged = acks.filter((a) => !again.has(a.contact._id)).length;
  deps.log.info({ esp, bulk: bulk._id, espId: bulk.espId, state: result.state, acknowledged, pushedAgain: again.size }, 'bulk settled');
  return { acknowledged, pushedAgain: again.size };
}

/** Asks the ESP about the open bulk; settles it when the ESP has finished it or it is overdue. */
async function settleOpen(esp: EspName, open: EspBulkDoc, path: EspBulkPath, deps: BulkDeps): Promise<BulkTickResult['settled'] | 'open'> {
  const age = deps.now().getTime() - (open.submittedAt ?? open.createdAt).getTime();
  const overdue = age > deps.maxPendingMs;
  let outcome: Parameters<typeof settleBulk>[2] | undefined;
  if (open.state === 'pending' && open.espId) {
    try {
      const status = await path.status(open.espId);
      if (status.state === 'processed') outcome = { processed: true, state: 'processed', ...(status.rejected ? { rejected: status.rejected } : {}) };
      else if (status.state === 'failed') outcome = { processed: false, state: 'failed', reason: status.reason };
    } catch (err) {
      deps.log.warn({ esp, bulk: open._id, err: EspError.is(err) ? err.message : String(err) }, 'bulk status not read; asked again at the next check');
    }
  }
  if (!outcome && overdue) {
    outcome = { processed: false, state: 'given_up', reason: `not reported processed within ${Math.round(deps.maxPendingMs / 1000)} s` };
    deps.log.error({ esp, bulk: open._id, espId: open.espId, alert: 'esp_bulk_given_up' }, 'bulk given up: its contacts are pushed one by one');
  }
  if (!outcome) return 'open';
  const done = await settleBulk(esp, open, outcome, deps);
  return { id: open._id, state: outcome.state, ...done };
}

/** Claims the oldest lane-3 entries for a new bulk and sends it. */
async function startBulk(esp: EspName, path: EspBulkPath, deps: BulkDeps): Promise<BulkTickResult['started']> {
  const { models } = deps;
  const candidates = await models.contacts
    .find(laneFilter(esp, BULK_LANE) as never, { _id: 1 })
    .sort({ [`outbox.${esp}.since`]: 1 })
    .limit(path.maxContacts)
    .lean<Pick<ContactDoc, '_id'>[]>();
  if (candidates.length === 0) return undefined;
  const token = `${BULK_CLAIM_PREFIX}${randomUUID()}`;
  const claimedAt = deps.now();
  const until = claimedAt.getTime() + deps.maxPendingMs;
  await writeInChunks(models, candidates.map((c) => claimOp(esp, c._id, token, claimedAt.getTime(), until)));
  const docs = await readByIds(models.contacts, candidates.map((c) => c._id), pushFields(esp));
  const mine = [...docs.values()].filter((d) => d.outbox?.[esp]?.claimBy === token).map(hydrateContact);
  if (mine.length === 0) return undefined;
  const contacts: BulkContact[] = mine.map((c) => ({ c: c._id, v: c.outbox[esp]!.version }));
  // Written before the ESP sees the file: a crash after sending leaves a record that holds the
  // claims until the bulk is given up, never a bulk nobody knows about.
  await deps.bulkModels.bulks.create({ _id: token, esp, state: 'submitting', contacts, size: contacts.length, createdAt: claimedAt });
  let submitted: Awaited<ReturnType<EspBulkPath['submit']>>;
  try {
    submitted = await path.submit(mine.map(toSnapshot));
  } catch (err) {
    // Given back and queued in their lanes: their own push jobs may have passed them by while
    // the bulk held them.
    await writeInChunks(models, mine.map((c) => releaseOp(esp, c._id, token)));
    for (const lane of LANES) {
      await deps.enqueuePush(esp, lane, mine.filter((c) => laneOfEntry(c.outbox[esp]) === lane).map((c) => c._id));
    }
    const reason = EspError.is(err) ? err.message : String(err);
    await deps.bulkModels.bulks.updateOne({ _id: token }, { $set: { state: 'failed', finishedAt: deps.now(), contacts: [], reason } });
    if (EspError.is(err) && err.kind === 'rate_limited') {
      // Actito's bulk quota is per day (§3.2) and its 429 does not clear before the next day, but
      // the same 429 also means "a 6th request in flight", which clears at once: an hour's pause
      // neither hot-loops on a spent quota nor loses a day to a passing 429.
      const until = Math.min(utcDayStart(deps.now()).getTime() + 86_400_000, deps.now().getTime() + QUOTA_PAUSE_MS);
      await deps.bulkModels.modes.updateOne({ _id: esp }, { $set: { quotaUntil: new Date(until) } });
    }
    deps.log.warn({ esp, bulk: token, reason }, 'bulk not accepted; lane 3 goes on with per-call pushes');
    deps.onBulk?.(esp, 'refused', contacts.length);
    return undefined;
  }
  const sentIds = new Set(mine.map((c) => c._id));
  if (submitted.settled.size > 0) {
    // Not in the file (nothing to send, no identity): their outcome is final now.
    const now = deps.now();
    const settledContacts = mine.filter((c) => submitted.settled.has(c._id));
    await writeInChunks(
      models,
      settledContacts.map((c) => acknowledgeOp(esp, c._id, token, c.outbox[esp]!.version, acknowledgement(esp, c, submitted.settled.get(c._id)!, now))),
    );
    // One whose entry moved on meanwhile is released and pushed again, as any superseded push.
    await writeInChunks(models, settledContacts.map((c) => releaseOp(esp, c._id, token)));
    const after = await readByIds(models.contacts, settledContacts.map((c) => c._id), { [`outbox.${esp}`]: 1 });
    for (const [id, doc] of after) if (doc.outbox?.[esp]) await deps.enqueuePush(esp, laneOfEntry(doc.outbox[esp]), [id]);
    for (const id of submitted.settled.keys()) sentIds.delete(id);
  }
  const carried = contacts.filter((b) => sentIds.has(b.c));
  if (carried.length === 0 || submitted.id === '') {
    await deps.bulkModels.bulks.updateOne({ _id: token }, { $set: { state: 'processed', finishedAt: deps.now(), contacts: [], size: 0 } });
    return undefined;
  }
  await deps.bulkModels.bulks.updateOne(
    { _id: token },
    { $set: { state: 'pending', espId: submitted.id, submittedAt: deps.now(), contacts: carried, size: carried.length } },
  );
  deps.onBulk?.(esp, 'submitted', carried.length);
  deps.log.info({ esp, bulk: token, espId: submitted.id, contacts: carried.length }, 'bulk submitted');
  return { id: token, contacts: carried.length };
}

/** One bulk-mode check of one ESP: settle the open bulk, decide the mode, start the next bulk. */
export async function bulkTick(esp: EspName, deps: BulkDeps): Promise<BulkTickResult> {
  const path = deps.adapter.bulk;
  const { bulks, modes } = deps.bulkModels;
  const result: BulkTickResult = { on: false, backlog: 0, drainSeconds: 0 };
  if (!path) {
    deps.onMode?.(esp, false);
    return { ...result, skipped: `${esp} has no bulk path` };
  }
  // Normally one; two when checks overlapped (each claims other contacts, so both are sound).
  const open = await bulks.find({ esp, state: { $in: [...OPEN_STATES] } }).lean<EspBulkDoc[]>();
  let stillOpen = false;
  for (const bulk of open) {
    const settled = await settleOpen(esp, bulk, path, deps);
    if (settled === 'open') stillOpen = true;
    else result.settled = settled;
  }

  const previous = await modes.findOne({ _id: esp }).lean();
  // Contacts an open bulk holds still count: bulk mode lasts until the ESP has them, so an
  // operator sees it on while an import is pending at the ESP.
  result.backlog = await deps.models.contacts.countDocuments(laneFilter(esp, BULK_LANE) as never);
  result.drainSeconds = drainSeconds(result.backlog, deps.contactsPerSecond);
  result.on = nextBulkMode(previous?.on ?? false, result.drainSeconds, deps.afterSeconds);
  const now = deps.now();
  const switched = (previous?.on ?? false) !== result.on;
  await modes.updateOne(
    { _id: esp },
    {
      $set: {
        on: result.on,
        checkedAt: now,
        backlog: result.backlog,
        drainSeconds: Number.isFinite(result.drainSeconds) ? result.drainSeconds : -1,
        ...(switched || !previous ? { since: now } : {}),
      },
    },
    { upsert: true },
  );
  deps.onMode?.(esp, result.on);
  if (switched) {
    deps.log.info(
      { esp, backlog: result.backlog, drainSeconds: Math.round(result.drainSeconds), afterSeconds: deps.afterSeconds },
      result.on ? 'bulk mode on: lane 3 goes to the bulk path' : 'bulk mode off: lane 3 back to per-call pushes',
    );
  }
  if (!result.on) return result;
  if (stillOpen) return { ...result, skipped: 'a bulk is still open' };
  if (previous?.quotaUntil && previous.quotaUntil.getTime() > now.getTime()) return { ...result, skipped: 'the ESP refused a bulk with 429 within the hour' };
  if (path.perDay !== undefined) {
    const recent = await bulks.find({ esp, submittedAt: { $exists: true } }, { submittedAt: 1 }).sort({ submittedAt: -1 }).limit(path.perDay).lean();
    const today = recent.filter((b) => b.submittedAt !== undefined && b.submittedAt.getTime() >= utcDayStart(now).getTime()).length;
    if (today >= path.perDay) return { ...result, skipped: `${today} bulks today, the ESP allows ${path.perDay}` };
  }
  const started = await startBulk(esp, path, deps);
  return started ? { ...result, started } : result;
}
