import type { Logger } from 'pino';
import type { CrossEngageSettings } from './crossengage.settings.js';
import type { PacerFactory } from '../kit/concurrency.js';
import { type AdapterKit, createAdapterKit, deadLetterOrThrow, statusOf } from '../kit/adapter-kit.js';
import { mapWithConcurrency } from '../kit/concurrency.js';
import { type ChannelResult, type ChannelTarget, combineChannels, onChannel, onChannels, PUSHED } from '../kit/outcome.js';
import type { ContactSnapshot, EspAdapter, PushOutcome } from '../types.js';
import {
  type ConsentEvent,
  consentEvents,
  type EventsRecipient,
  eventBodies,
  eventsRecipient,
  heldByLead,
  LEAD_HOLDER,
  leadRecipient,
  optOutStatusBody,
  planContact,
  unknownUserOutcome,
} from './crossengage.mapping.js';

/** What every CrossEngage request shares: the settings and the kit (auth and version headers, pacing, retries). */
interface CrossEngageClient {
  settings: CrossEngageSettings;
  kit: AdapterKit;
}

async function sendEvents(
  { kit, settings }: CrossEngageClient,
  recipient: EventsRecipient,
  events: readonly ConsentEvent[],
  signal?: AbortSignal,
): Promise<PushOutcome> {
  try {
    for (const body of eventBodies(recipient, events, settings)) {
      await kit.call('events', signal, () => kit.http.post('/events', body, { signal }));
    }
    return PUSHED;
  } catch (err) {
    return deadLetterOrThrow(err);
  }
}

/**
 * CROSSENGAGE_USER_WRITE=optout-status: one synchronous PUT per channel (§2.1). The channels
 * CrossEngage answered 404 for (no such user) come back apart, for the lead or as missing.
 */
async function putStatuses(
  { kit }: CrossEngageClient,
  externalId: string,
  targets: readonly ChannelTarget<string>[],
  signal?: AbortSignal,
): Promise<{ results: ChannelResult[]; unknownUser: ChannelTarget<string>[] }> {
  const results: ChannelResult[] = [];
  const unknownUser: ChannelTarget<string>[] = [];
  const path = `/users/${encodeURIComponent(externalId)}/optout-status`;
  for (const target of targets) {
    try {
      await kit.call(
        'optout-status',
        signal,
        () =>
          kit.http.put(path, optOutStatusBody(target), {
            params: { channelType: target.espChannel },
            signal,
          }),
        [404],
      );
      results.push(onChannel(target.channel, PUSHED));
    } catch (err) {
      if (statusOf(err) === 404) unknownUser.push(target);
      else results.push(onChannel(target.channel, deadLetterOrThrow(err)));
    }
  }
  return { results, unknownUser };
}

/**
 * A full user: its channels go to the user (events by externalId, or the PUT). They go to the
 * lead (events by email) too when an earlier push left state there (LEAD_HOLDER), and, with the
 * PUT, for the channels CrossEngage has no user for yet: the lead is where that state lives, so a
 * re-opt-in must reach it (seeds/001: otherwise "opted out forever, even after trying to opt in
 * again"). A channel the lead write fails for takes the lead's outcome.
 */
async function pushUser(
  client: CrossEngageClient,
  contact: ContactSnapshot,
  externalId: string,
  targets: readonly ChannelTarget<string>[],
  signal?: AbortSignal,
): Promise<{ results: ChannelResult[]; lead: boolean }> {
  const { kit, settings } = client;
  const byChannel = new Map<string, ChannelResult>();
  let unknownUser: ChannelTarget<string>[] = [];
  if (settings.userWrite === 'optout-status') {
    const put = await putStatuses(client, externalId, targets, signal);
    for (const r of put.results) byChannel.set(r.channel, r);
    unknownUser = put.unknownUser;
  } else {
    const outcome = await sendEvents(client, { id: externalId }, consentEvents(targets, settings), signal);
    for (const r of onChannels(targets.map((t) => t.channel), outcome)) byChannel.set(r.channel, r);
  }
  const lead = leadRecipient(contact);
  const toLead = heldByLead(contact) ? targets : settings.leadFallbackOn404 ? unknownUser : [];
  if (lead && toLead.length > 0) {
    if (unknownUser.length > 0) kit.logger.info({ contactId: contact.contactId }, 'crossengage user unknown, writing the lead');
    const outcome = await sendEvents(client, lead, consentEvents(toLead, settings), signal);
    for (const t of toLead) {
      if (!byChannel.has(t.channel) || outcome.kind !== 'pushed') byChannel.set(t.channel, onChannel(t.channel, outcome));
    }
  }
  for (const t of unknownUser) if (!byChannel.has(t.channel)) byChannel.set(t.channel, onChannel(t.channel, unknownUserOutcome()));
  return { results: [...byChannel.values()], lead: lead !== undefined && toLead.length > 0 };
}

async function pushContact(
  client: CrossEngageClient,
  contact: ContactSnapshot,
  signal?: AbortSignal,
): Promise<PushOutcome> {
  const { settings } = client;
  const { route, targets, skipped } = planContact(contact, settings);
  if (route.kind === 'none' || targets.length === 0) return combineChannels(skipped);
  if (route.kind === 'user') {
    const { results, lead } = await pushUser(client, contact, route.externalId, targets, signal);
    const outcome = combineChannels([...skipped, ...results]);
    return lead || heldByLead(contact) ? { ...outcome, holder: LEAD_HOLDER } : outcome;
  }
  const outcome = await sendEvents(client, eventsRecipient(route), consentEvents(targets, settings), signal);
  // A lead now; remembered, so the user it may become (an externalId later) is written with it.
  return { ...combineChannels([...skipped, ...onChannels(targets.map((t) => t.channel), outcome)]), holder: LEAD_HOLDER };
}

/**
 * CrossEngage (esp-contracts.md §2). Vendor retry guidance (§2.4): retry connection failures and
 * 500/502/503/504 with exponential backoff — which is what the shared classifier does; other errors
 * are permanent here.
 *
 * Why one `POST /events` per contact (two for a full user whose state a lead also holds, see
 * LEAD_HOLDER), and no request that spans contacts:
 * - `POST /events` (User Management v1, "Group Event management") takes up to 50 events, but its
 *   body names ONE person at top level (`{"id"|"email", "businessUnit"?, "events": [...]}`; "Events
 *   are individually assigned to users"). So all of a contact's channels travel in one request
 *   ("Opt Out" / "Opt In" with an event-level `channel.type`, seeds/001_90036fe4e142a232.txt: "Both
 *   ways will have the same technical result" as `PUT optout-status`), where the PUT needed one
 *   request per channel; but two contacts never share a request.
 * - `POST /users/batch` (≤ 1000 users; v1 synchronous with per-item `success`, v2 202 + trackingId)
 *   writes user traits. No contract documents a writable opt-out trait per channel: the opt-out
 *   status is a *system* trait (seeds/001), the FAQ's `"traits.optOut": "false"` has no channel, v2
 *   rejects unknown attributes (error code 6), and neither version can reach leads. Not used.
 *   Sources: blueprint/crossenagage-user-management-v1.apib and -v2.apib (api-evangelist/crossenagage,
 *   harvested from usermanagementv1/v2.docs.apiary.io); documentation.crossengage.io
 *   …/consent-management/system-opt-out-opt-in and /faq/getting-started/how-can-i-set-up-the-opt-out-process.
 *
 * What `pushed` means on the events path: CrossEngage answered 202 (accepted; processed
 * asynchronously). The 202 carries no per-user result, so an externalId CrossEngage does not know
 * is not reported (the PUT's 404 was); CROSSENGAGE_USER_WRITE=optout-status keeps the synchronous
 * per-channel PUT for full users where that signal matters. `POST /events` has no idempotency key:
 * a retried request may record an event twice, which sets the same flag and is harmless.
 */
export function createCrossEngageAdapter(settings: CrossEngageSettings, logger: Logger, pacers?: PacerFactory): EspAdapter {
  const kit = createAdapterKit(settings, logger, {
    ...(pacers ? { pacers } : {}),
    headers: {
      'X-XNG-AuthToken': settings.credentials.apiKey,
      'X-XNG-ApiVersion': settings.apiVersion,
      'Content-Type': 'application/json',
    },
  });
  const client: CrossEngageClient = { settings, kit };
  return {
    name: 'crossengage',
    maxBatch: settings.maxBatch,
    // POST /events addresses one person per request (see the top of this file).
    contactsPerRequest: 1,
    async push(contacts: readonly ContactSnapshot[], signal?: AbortSignal) {
      const results = await mapWithConcurrency(contacts, settings.concurrency, (c) => pushContact(client, c, signal));
      return new Map(contacts.map((c, i) => [c.contactId, results[i] as PushOutcome]));
    },
  };
}
