import { createHash, randomUUID } from 'node:crypto';
import type { Model } from 'mongoose';
import type { WireConsentEvent } from '../contracts/consent-event.js';
import type { ContactIdentity, Decision, EffectiveState } from '../domain/index.js';
import { IdentityError, identityKeys } from '../domain/index.js';
import type { EspReadBack, ListReadBack, OptOutCheck, RemoteSuppression } from '../esp/readback.js';
import { CHANNEL_IN_STATE, type EspName } from '../esp/types.js';
import type { Logger } from '../lib/logger.js';
import { findContactsProjected, findIdentityOwners } from '../persistence/contacts.repository.js';
import type { ContactDoc, Models, SyncStatusEntry } from '../persistence/models.js';
import type { ReconcileRunDoc } from '../persistence/reconcile-run.model.js';
import { classifyDrift, type DriftAction, type DriftType } from './drift.js';

export interface ReconcileDeps {
  models: Models;
  runs: Model<ReconcileRunDoc>;
  readBacks: Partial<Record<EspName, EspReadBack>>;
  recordEvents: (events: readonly WireConsentEvent[]) => Promise<unknown>;
  /** Makes sure the contact has an outbox entry for the ESP and queues its push. */
  repush: (esp: EspName, contactId: string) => Promise<void>;
  now: () => Date;
  pageSize: number;
  log: Logger;
  /** Counts one drift found (never `in_sync`): consent_sync_reconcile_drift_total{esp,channel,kind}. */
  onDrift?: (esp: EspName, channel: string, kind: DriftType) => void;
}

export interface PageTask {
  runId: string;
  esp: EspName;
  phase: 'remote' | 'ours';
  cursor?: string;
  page: number;
}

const SAMPLES_PER_TYPE = 10;
const READ_CONCURRENCY = 4;
/** Repairs (repush) of one page run this many at a time. */
const REPAIR_CONCURRENCY = 8;
/** Opt-out events of one page are recorded in batches of at most this many. */
const RECORD_BATCH = 500;

const ACTION_COUNTER: Record<Exclude<DriftAction, 'none'>, string> = {
  ingest_opt_out: 'ingested_opt_out',
  repush: 'repushed',
  push_reactivation: 'reactivation_pushed',
};

/** A new run, queued; its first page task starts it. */
export async function createRun(esp: EspName, trigger: ReconcileRunDoc['trigger'], deps: ReconcileDeps): Promise<PageTask> {
  const readBack = deps.readBacks[esp];
  if (!readBack) throw new Error(`${esp} is not connected`);
  const runId = `${esp}-${deps.now().toISOString().replace(/[-:.]/g, '')}-${randomUUID().slice(0, 8)}`;
  await deps.runs.create({
    _id: runId,
    esp,
    trigger,
    status: 'queued',
    readBack: readBack.kind,
    queuedAt: deps.now(),
    pages: 0,
    compared: 0,
    counts: {},
    actions: {},
    samples: {},
    ...(readBack.kind === 'none' ? { note: readBack.reason } : {}),
  });
  return { runId, esp, phase: readBack.kind === 'list' ? 'remote' : 'ours', page: 0 };
}

interface Tally {
  compared: number;
  counts: Record<string, number>;
  actions: Record<string, number>;
  samples: Record<string, string[]>;
}

function note(tally: Tally, type: DriftType | string, sampleId: string) {
  tally.counts[type] = (tally.counts[type] ?? 0) + 1;
  const list = tally.samples[type] ?? [];
  if (list.length < SAMPLES_PER_TYPE) tally.samples[type] = [...list, sampleId];
}

/** What the drift rules read of a contact: the projection of a list page's contact reads. */
export interface DriftView {
  _id: string;
  effective: EffectiveState;
  version?: number;
  sync?: ContactDoc['sync'];
  outbox?: ContactDoc['outbox'];
  espIdentities?: ContactDoc['espIdentities'];
}

/** The fields of DriftView for one ESP, as a projection. */
export function driftFields(esp: EspName): string[] {
  return ['effective', 'version', `sync.${esp}`, `outbox.${esp}`, `espIdentities.${esp}`];
}

function decisionFor(contact: DriftView | null, channel: RemoteSuppression['channel']): Decision | undefined {
  if (!contact) return undefined;
  return channel === 'tracking' ? contact.effective.tracking : contact.effective.marketing[channel];
}

/** No PII in reports: a contact id, or a hash of the ESP's identity when we have no contact. */
function sampleId(contact: DriftView | null, remote: RemoteSuppression): string {
  return contact?._id ?? `remote:${createHash('sha256').update(JSON.stringify(remote.identity)).digest('hex').slice(0, 16)}`;
}

function optOutEvent(esp: EspName, remote: RemoteSuppression, runId: string): WireConsentEvent {
  // Deterministic: re-reading the same unsubscribe in a later run is a duplicate, not a new event.
  const digest = createHash('sha256').update(`${esp}|${JSON.stringify(remote.identity)}|${remote.channel}|${remote.at}`).digest('hex');
  const contact: ContactIdentity = {};
  for (const key of ['externalId', 'email', 'businessUnit', 'phone'] as const) {
    const value = remote.identity[key];
    if (value !== undefined) contact[key] = value;
  }
  const isTracking = remote.channel === 'tracking';
  return {
    eventId: `recon-${esp}-${digest.slice(0, 32)}`,
    contact,
    kind: isTracking ? 'tracking' : 'marketing',
    ...(isTracking ? {} : { channel: remote.channel }),
    value: 'opt_out',
    source: `esp:${esp}`,
    force: false,
    moment: remote.at,
    properties: { type: remote.type.slice(0, 200), reconciliationRun: runId },
  };
}

/** The repairs a page asks for, carried out together once the page is classified. */
interface Repairs {
  events: Map<string, WireConsentEvent>;
  repush: Set<string>;
}

/**
 * Compares one page of an ESP's list with our contacts. The page is the unit of work: its
 * identity keys are resolved in one batch, its contacts read in one batch (only the fields the
 * drift rules need), then every entry is classified and the repairs run in bulk.
 */
async function compareRemotePage(
  esp: EspName,
  items: readonly RemoteSuppression[],
  runId: string,
  tally: Tally,
  deps: ReconcileDeps,
) {
  const keysOf = items.map((item) => {
    try {
      return identityKeys(item.identity);
    } catch (err) {
      if (err instanceof IdentityError) return undefined;
      throw err;
    }
  });
  const owners = await findIdentityOwners(
    deps.models,
    keysOf.flatMap((keys) => keys ?? []),
  );
  // As findContactIdByIdentity: the first key (ext, email, phone) that has an owner decides.
  const contactIdOf = keysOf.map((keys) => keys?.map((k) => owners.get(k)).find((id) => id !== undefined));
  const contacts = await findContactsProjected<DriftView>(
    deps.models,
    contactIdOf.filter((id): id is string => id !== undefined),
    driftFields(esp),
  );
  const repairs: Repairs = { events: new Map(), repush: new Set() };
  items.forEach((item, i) => {
    if (keysOf[i] === undefined) {
      note(tally, 'invalid_identity', sampleId(null, item));
      return;
    }
    const contactId = contactIdOf[i];
    act(esp, item, (contactId && contacts.get(contactId)) || null, runId, tally, repairs, deps);
  });
  await carryOut(esp, repairs, deps);
}

/** Our last push put this channel in state: all of the ESP's channels (`synced`), or this one (`partial`). */
function deliveredChannel(sync: SyncStatusEntry | undefined, channel: string): boolean {
  if (sync?.status === 'synced') return true;
  const outcome = sync?.status === 'partial' ? sync.channels?.[channel] : undefined;
  return outcome !== undefined && CHANNEL_IN_STATE.has(outcome.kind);
}

function act(
  esp: EspName,
  remote: RemoteSuppression,
  contact: DriftView | null,
  runId: string,
  tally: Tally,
  repairs: Repairs,
  deps: Pick<ReconcileDeps, 'onDrift'>,
) {
  tally.compared++;
  const sync = contact?.sync?.[esp];
  const deliveredAt =
    contact && deliveredChannel(sync, remote.channel) && sync?.version === (contact.version ?? 0) && !contact.outbox?.[esp]
      ? new Date(sync.at).toISOString()
      : undefined;
  const drift = classifyDrift(remote, decisionFor(contact, remote.channel), deliveredAt);
  note(tally, drift.type, sampleId(contact, remote));
  if (drift.type !== 'in_sync') deps.onDrift?.(esp, remote.channel, drift.type);
  if (drift.action === 'none') return;
  if (drift.action === 'ingest_opt_out') {
    const event = optOutEvent(esp, remote, runId);
    repairs.events.set(event.eventId, event);
  } else if (contact) repairs.repush.add(contact._id);
  tally.actions[ACTION_COUNTER[drift.action]] = (tally.actions[ACTION_COUNTER[drift.action]] ?? 0) + 1;
}

/** Records the page's opt-outs in batches (the API's recording path) and re-queues its pushes. */
async function carryOut(esp: EspName, repairs: Repairs, deps: ReconcileDeps) {
  const events = [...repairs.events.values()];
  for (let i = 0; i < events.length; i += RECORD_BATCH) await deps.recordEvents(events.slice(i, i + RECORD_BATCH));
  const ids = [...repairs.repush];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(REPAIR_CONCURRENCY, ids.length) }, async () => {
      while (next < ids.length) await deps.repush(esp, ids[next++]!);
    }),
  );
}

function hasKnownState(contact: DriftView): boolean {
  return contact.effective.tracking.state !== 'unknown' || Object.values(contact.effective.marketing).some((d) => d.state !== 'unknown');
}

/** A contact of our side's sweep: the drift fields and the identities the ESP is asked about. */
type OurContact = DriftView & Pick<ContactDoc, 'identities'>;

const MARKETING_CHANNELS = ['email', 'sms', 'push'] as const;

/**
 * A list read-back's other direction (Optimizely): the page's contacts we hold opted out, asked in
 * bulk whether the ESP holds those opt-outs; each one it does not is compared like any read item.
 */
async function checkListOptOuts(esp: EspName, readBack: ListReadBack, contacts: OurContact[], runId: string, tally: Tally, deps: ReconcileDeps) {
  if (!readBack.checkOptOuts) return;
  const byIdentity = new Map<OptOutCheck['identity'], OurContact>();
  const checks: OptOutCheck[] = [];
  for (const contact of contacts) {
    const channels = MARKETING_CHANNELS.filter((c) => contact.effective.marketing[c]?.state === 'opted_out');
    if (channels.length === 0) continue;
    byIdentity.set(contact.identities, contact);
    checks.push({ identity: contact.identities, channels });
  }
  if (checks.length === 0) return;
  const repairs: Repairs = { events: new Map(), repush: new Set() };
  for (const item of await readBack.checkOptOuts(checks)) act(esp, item, byIdentity.get(item.identity) ?? null, runId, tally, repairs, deps);
  await carryOut(esp, repairs, deps);
}

async function compareOurs(esp: EspName, readBack: EspReadBack, contacts: OurContact[], runId: string, tally: Tally, deps: ReconcileDeps) {
  if (readBack.kind === 'list') return checkListOptOuts(esp, readBack, contacts, runId, tally, deps);
  for (let i = 0; i < contacts.length; i += READ_CONCURRENCY) {
    await Promise.all(
      contacts.slice(i, i + READ_CONCURRENCY).map(async (contact) => {
        if (readBack.kind === 'none') {
          // No read-back (Dynamic Yield): re-assert our state.
          if (!hasKnownState(contact)) return;
          tally.compared++;
          note(tally, 'reasserted', contact._id);
          await deps.repush(esp, contact._id);
          tally.actions['reasserted'] = (tally.actions['reasserted'] ?? 0) + 1;
          return;
        }
        if (readBack.kind !== 'per_contact') return;
        const remote = await readBack.readContact(contact.identities, undefined, contact.espIdentities?.[esp]);
        if (remote === 'unknown_contact' || remote === 'not_readable') {
          tally.compared++;
          note(tally, remote === 'unknown_contact' ? 'unknown_at_esp' : 'not_readable', contact._id);
          return;
        }
        const repairs: Repairs = { events: new Map(), repush: new Set() };
        for (const item of remote) act(esp, item, contact, runId, tally, repairs, deps);
        await carryOut(esp, repairs, deps);
      }),
    );
  }
}

/**
 * Processes one page of a run and returns the next page's task, or undefined when the run is
 * complete. Pages are separate jobs, so a run resumes from its cursor after a crash and memory
 * stays flat whatever the number of contacts.
 */
export async function runPage(task: PageTask, deps: ReconcileDeps): Promise<PageTask | undefined> {
  const run = await deps.runs.findById(task.runId).lean();
  if (!run || run.status === 'done' || run.status === 'failed') return undefined;
  const readBack = deps.readBacks[task.esp];
  if (!readBack) throw new Error(`${task.esp} is not connected`);
  if (run.status === 'queued') await deps.runs.updateOne({ _id: task.runId }, { $set: { status: 'running', startedAt: deps.now() } });

  const tally: Tally = { compared: 0, counts: {}, actions: {}, samples: {} };
  let next: PageTask | undefined;
  if (task.phase === 'remote' && readBack.kind === 'list') {
    const page = await readBack.listPage(task.cursor, deps.pageSize);
    await compareRemotePage(task.esp, page.items, task.runId, tally, deps);
    if (page.nextCursor) next = { ...task, cursor: page.nextCursor, page: task.page + 1 };
    // The list named the opt-outs it holds; our side's sweep then asks about ours it did not name.
    else if (readBack.checkOptOuts) next = { runId: task.runId, esp: task.esp, phase: 'ours', page: task.page + 1 };
  } else {
    const filter = task.cursor ? { _id: { $gt: task.cursor } } : {};
    const projection = Object.fromEntries(['identities', ...driftFields(task.esp)].map((f) => [f, 1]));
    const contacts = await deps.models.contacts
      .find(filter, projection)
      .sort({ _id: 1 })
      .limit(deps.pageSize)
      .lean<OurContact[]>();
    await compareOurs(task.esp, readBack, contacts, task.runId, tally, deps);
    const last = contacts.at(-1);
    if (contacts.length === deps.pageSize && last) next = { ...task, cursor: last._id, page: task.page + 1 };
  }
  await recordTally(task.runId, run, tally, deps, next === undefined);
  return next;
}

async function recordTally(runId: string, run: ReconcileRunDoc, tally: Tally, deps: ReconcileDeps, finished: boolean) {
  const inc: Record<string, number> = { pages: 1, compared: tally.compared };
  for (const [k, v] of Object.entries(tally.counts)) inc[`counts.${k}`] = v;
  for (const [k, v] of Object.entries(tally.actions)) inc[`actions.${k}`] = v;
  const set: Record<string, unknown> = {};
  for (const [type, ids] of Object.entries(tally.samples)) {
    const held = run.samples[type] ?? [];
    if (held.length < SAMPLES_PER_TYPE) set[`samples.${type}`] = [...held, ...ids].slice(0, SAMPLES_PER_TYPE);
  }
  if (finished) {
    const now = deps.now();
    set['status'] = 'done';
    set['finishedAt'] = now;
    set['durationMs'] = now.getTime() - (run.startedAt ?? run.queuedAt).getTime();
  }
  await deps.runs.updateOne({ _id: runId }, { $inc: inc, ...(Object.keys(set).length > 0 ? { $set: set } : {}) });
}

export async function failRun(runId: string, error: string, deps: Pick<ReconcileDeps, 'runs' | 'now'>) {
  await deps.runs.updateOne({ _id: runId, status: { $ne: 'done' } }, { $set: { status: 'failed', error, finishedAt: deps.now() } });
}
