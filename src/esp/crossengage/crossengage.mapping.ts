import type { CrossEngageSettings } from '../../../config/esps.js';
import { type ChannelTarget, isDecided, missingIdentity, notApplicable, planChannels } from '../outcome.js';
import type { ContactSnapshot, PushOutcome } from '../types.js';

/**
 * CrossEngage (esp-contracts.md §2). Full users (with an externalId) get their opt-out flag set per
 * channel; leads (email, optional businessUnit) can only be opted out by the "Opt Out" system event.
 */

export type CrossEngageRoute =
  | { kind: 'user'; externalId: string }
  | { kind: 'lead'; email: string; businessUnit?: string }
  | { kind: 'none' };

export interface CrossEngagePlan {
  route: CrossEngageRoute;
  targets: ChannelTarget<string>[];
  skipped: PushOutcome[];
}

/** A system event of `POST /events`; the name is "Opt Out" (or a configured "Opt In"). */
export interface OptOutEvent {
  event: string;
  /** At event level, not inside `properties` (§2.2). */
  'channel.type': string;
}

export interface LeadEventsBody {
  email: string;
  businessUnit?: string;
  events: OptOutEvent[];
}

export const LEAD_REOPT_IN_REASON =
  'CrossEngage cannot re-opt-in a lead: there is no "Opt In" event and optout-status needs an externalId ' +
  '(esp-contracts.md §2.2); give the contact an externalId or reset the flag in the CrossEngage UI';

export const TRACKING_NOT_APPLICABLE = 'CrossEngage has no tracking consent';

export function routeFor(snapshot: ContactSnapshot): CrossEngageRoute {
  const { externalId, email, businessUnit } = snapshot.identities;
  if (externalId) return { kind: 'user', externalId };
  if (email) return { kind: 'lead', email, ...(businessUnit ? { businessUnit } : {}) };
  return { kind: 'none' };
}

export function planContact(
  snapshot: ContactSnapshot,
  settings: Pick<CrossEngageSettings, 'channelTypes'>,
): CrossEngagePlan {
  const { targets, skipped } = planChannels('CrossEngage', snapshot, settings.channelTypes);
  if (isDecided(snapshot.tracking)) skipped.push(notApplicable(TRACKING_NOT_APPLICABLE));
  const route = routeFor(snapshot);
  if (route.kind === 'none' && targets.length > 0) {
    return {
      route,
      targets: [],
      skipped: [...skipped, missingIdentity('CrossEngage needs an externalId or an email')],
    };
  }
  return { route, targets, skipped };
}

/** Body of `PUT /users/{externalId}/optout-status?channelType=…`; `false` re-opts-in (§2.1). */
export function optOutStatusBody(target: ChannelTarget<string>): { optOut: boolean } {
  return { optOut: target.state.state === 'opted_out' };
}

/**
 * System events for a lead's channel states: "Opt Out" per opted-out channel; an opt-in only when
 * an "Opt In" event name is configured (NOT FOUND in §2.2), else the channel is reactivation_blocked.
 */
export function leadEvents(
  targets: readonly ChannelTarget<string>[],
  settings: Pick<CrossEngageSettings, 'optOutEventName' | 'optInEventName'>,
): { events: OptOutEvent[]; blocked: boolean } {
  const events: OptOutEvent[] = [];
  let blocked = false;
  for (const t of targets) {
    const name = t.state.state === 'opted_out' ? settings.optOutEventName : settings.optInEventName;
    if (name) events.push({ event: name, 'channel.type': t.espChannel });
    else blocked = true;
  }
  return { events, blocked };
}

/** `POST /events` bodies for one lead, at most `eventsPerRequest` events each (§2.2: ≤ 50). */
export function leadEventBodies(
  lead: { email: string; businessUnit?: string },
  events: readonly OptOutEvent[],
  settings: Pick<CrossEngageSettings, 'eventsPerRequest'>,
): LeadEventsBody[] {
  const bodies: LeadEventsBody[] = [];
  const size = Math.max(1, settings.eventsPerRequest);
  for (let i = 0; i < events.length; i += size) {
    bodies.push({
      email: lead.email,
      ...(lead.businessUnit ? { businessUnit: lead.businessUnit } : {}),
      events: events.slice(i, i + size),
    });
  }
  return bodies;
}

/** §2.1: 404 = "user does not exist". The identity we hold is unknown to CrossEngage. */
export function unknownUserOutcome(): PushOutcome {
  return missingIdentity('CrossEngage has no user with this externalId (404); it may exist only as a lead');
}
