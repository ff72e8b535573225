import type { Logger } from 'pino';
import type { CrossEngageSettings } from '../../../config/esps.js';
import type { PacerFactory } from '../concurrency.js';
import { createAdapterKit, deadLetterOrThrow, statusOf } from '../adapter-kit.js';
import { mapWithConcurrency } from '../concurrency.js';
import { type ChannelResult, type ChannelTarget, combineChannels, onChannel, onChannels, PUSHED } from '../outcome.js';
import type { ContactSnapshot, EspAdapter, PushOutcome } from '../types.js';
import {
  type ConsentEvent,
  consentEvents,
  type EventsRecipient,
  eventBodies,
  eventsRecipient,
  optOutStatusBody,
  planContact,
  unknownUserOutcome,
} from './crossengage.mapping.js';

/**
 * CrossEngage (esp-contracts.md §2). Vendor retry guidance (§2.4): retry connection failures and
 * 500/502/503/504 with exponential backoff — which is what the shared classifier does; other errors
 * are permanent here.
 *
 * Why one `POST /events` per contact, and no request that spans contacts:
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

  async function sendEvents(
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
   * CROSSENGAGE_USER_WRITE=optout-status: one synchronous PUT per channel (§2.1), 404 = unknown user.
   * An unknown user's channels go to the lead (by email) as events, opt-outs AND opt-ins alike: the
   * lead is where the state lives, so a re-opt-in must reach the lead that holds the opt-out
   * (seeds/001: otherwise "opted out forever, even after trying to opt in again").
   */
  async function putStatuses(
    contact: ContactSnapshot,
    externalId: string,
    targets: readonly ChannelTarget<string>[],
    signal?: AbortSignal,
  ): Promise<ChannelResult[]> {
    const results: ChannelResult[] = [];
    const fallback: ChannelTarget<string>[] = [];
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
        if (statusOf(err) !== 404) results.push(onChannel(target.channel, deadLetterOrThrow(err)));
        else if (settings.leadFallbackOn404 && contact.identities.email) fallback.push(target);
        else results.push(onChannel(target.channel, unknownUserOutcome()));
      }
    }
    const { email, businessUnit } = contact.identities;
    if (fallback.length > 0 && email) {
      kit.logger.info({ contactId: contact.contactId }, 'crossengage user unknown, writing the lead');
      const recipient = eventsRecipient({ kind: 'lead', email, ...(businessUnit ? { businessUnit } : {}) });
      const outcome = await sendEvents(recipient, consentEvents(fallback, settings), signal);
      results.push(...onChannels(fallback.map((t) => t.channel), outcome));
    }
    return results;
  }

  async function pushContact(contact: ContactSnapshot, signal?: AbortSignal): Promise<PushOutcome> {
    const { route, targets, skipped } = planContact(contact, settings);
    const results = [...skipped];
    if (route.kind === 'none' || targets.length === 0) return combineChannels(results);
    if (route.kind === 'user' && settings.userWrite === 'optout-status') {
      results.push(...(await putStatuses(contact, route.externalId, targets, signal)));
    } else {
      const outcome = await sendEvents(eventsRecipient(route), consentEvents(targets, settings), signal);
      results.push(...onChannels(targets.map((t) => t.channel), outcome));
    }
    return combineChannels(results);
  }

  return {
    name: 'crossengage',
    maxBatch: settings.maxBatch,
    // POST /events addresses one person per request (see the top of this file).
    contactsPerRequest: 1,
    async push(contacts: readonly ContactSnapshot[], signal?: AbortSignal) {
      const results = await mapWithConcurrency(contacts, settings.concurrency, (c) => pushContact(c, signal));
      return new Map(contacts.map((c, i) => [c.contactId, results[i] as PushOutcome]));
    },
  };
}
