import type { Logger } from 'pino';
import type { CrossEngageSettings } from '../../../config/esps.js';
import { createAdapterKit, deadLetterOrThrow, statusOf } from '../adapter-kit.js';
import { mapWithConcurrency } from '../concurrency.js';
import { type ChannelTarget, combineOutcomes, PUSHED } from '../outcome.js';
import type { ContactSnapshot, EspAdapter, PushOutcome } from '../types.js';
import {
  LEAD_REOPT_IN_REASON,
  leadEventBodies,
  leadEvents,
  type OptOutEvent,
  optOutStatusBody,
  planContact,
  unknownUserOutcome,
} from './crossengage.mapping.js';

/**
 * CrossEngage (esp-contracts.md §2). Vendor retry guidance (§2.4): retry connection failures and
 * 500/502/503/504 with exponential backoff — which is what the shared classifier does; other errors
 * are permanent here. `POST /events` has no idempotency key, so a retried opt-out may be recorded
 * twice; a duplicate "Opt Out" event sets the same flag and is harmless.
 */
export function createCrossEngageAdapter(settings: CrossEngageSettings, logger: Logger): EspAdapter {
  const kit = createAdapterKit(settings, logger, {
    headers: {
      'X-XNG-AuthToken': settings.credentials.apiKey,
      'X-XNG-ApiVersion': settings.apiVersion,
      'Content-Type': 'application/json',
    },
  });

  async function sendLeadEvents(
    lead: { email: string; businessUnit?: string },
    events: OptOutEvent[],
    signal?: AbortSignal,
  ): Promise<PushOutcome> {
    try {
      for (const body of leadEventBodies(lead, events, settings)) {
        await kit.call('lead-event', signal, () => kit.http.post('/events', body, { signal }));
      }
      return PUSHED;
    } catch (err) {
      return deadLetterOrThrow(err);
    }
  }

  async function setUserStatus(externalId: string, target: ChannelTarget<string>, signal?: AbortSignal) {
    const path = `/users/${encodeURIComponent(externalId)}/optout-status`;
    await kit.call('optout-status', signal, () =>
      kit.http.put(path, optOutStatusBody(target), { params: { channelType: target.espChannel }, signal }),
    );
  }

  async function pushContact(contact: ContactSnapshot, signal?: AbortSignal): Promise<PushOutcome> {
    const { route, targets, skipped } = planContact(contact, settings);
    const outcomes = [...skipped];
    if (route.kind === 'lead') {
      const { events, blocked } = leadEvents(targets, settings);
      if (blocked) outcomes.push({ kind: 'reactivation_blocked', reason: LEAD_REOPT_IN_REASON });
      if (events.length > 0) outcomes.push(await sendLeadEvents(route, events, signal));
    } else if (route.kind === 'user') {
      const fallback: OptOutEvent[] = [];
      for (const target of targets) {
        try {
          await setUserStatus(route.externalId, target, signal);
          outcomes.push(PUSHED);
        } catch (err) {
          if (statusOf(err) !== 404) {
            outcomes.push(deadLetterOrThrow(err));
          } else if (
            target.state.state === 'opted_out' &&
            settings.leadFallbackOn404 &&
            contact.identities.email
          ) {
            fallback.push({ event: settings.optOutEventName, 'channel.type': target.espChannel });
          } else {
            outcomes.push(unknownUserOutcome());
          }
        }
      }
      if (fallback.length > 0 && contact.identities.email) {
        const { email, businessUnit } = contact.identities;
        kit.logger.info(
          { contactId: contact.contactId, channels: fallback },
          'crossengage user unknown, opting out as lead',
        );
        outcomes.push(
          await sendLeadEvents({ email, ...(businessUnit ? { businessUnit } : {}) }, fallback, signal),
        );
      }
    }
    return combineOutcomes(outcomes);
  }

  return {
    name: 'crossengage',
    maxBatch: settings.maxBatch,
    async push(contacts: readonly ContactSnapshot[], signal?: AbortSignal) {
      const results = await mapWithConcurrency(contacts, settings.concurrency, (c) => pushContact(c, signal));
      return new Map(contacts.map((c, i) => [c.contactId, results[i] as PushOutcome]));
    },
  };
}
