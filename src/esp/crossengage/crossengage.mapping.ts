import type { CrossEngageSettings } from './crossengage.settings.js';
import {
  type ChannelResult,
  type ChannelTarget,
  isDecided,
  missingIdentity,
  notApplicable,
  onChannel,
  planChannels,
} from '../kit/outcome.js';
import type { ContactSnapshot, PushOutcome } from '../types.js';

/**
 * CrossEngage (esp-contracts.md §2). Every channel state becomes one system event of
 * `POST /events` ("Opt Out" / "Opt In" with an event-level `channel.type`, seeds/001), all of one
 * contact's channels in one request; full users are addressed by externalId, leads by email
 * (+ businessUnit). The per-channel `PUT /users/{externalId}/optout-status` remains selectable for
 * full users (CROSSENGAGE_USER_WRITE=optout-status).
 */

export type CrossEngageRoute =
  | { kind: 'user'; externalId: string }
  | { kind: 'lead'; email: string; businessUnit?: string }
  | { kind: 'none' };

export interface CrossEngagePlan {
  route: CrossEngageRoute;
  targets: ChannelTarget<string>[];
  skipped: ChannelResult[];
}

/** A system event of `POST /events`: "Opt Out" or "Opt In" (seeds/001, esp-contracts.md §2.2). */
export interface ConsentEvent {
  event: string;
  /** At event level, not inside `properties` (§2.2); without it the event changes nothing. */
  'channel.type': string;
}

/** One `POST /events` body: one person (v1 blueprint: "Events are individually assigned to users"). */
export type EventsBody = ({ id: string } | { email: string; businessUnit?: string }) & {
  events: ConsentEvent[];
};

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
  if (isDecided(snapshot.tracking)) skipped.push(onChannel('tracking', notApplicable(TRACKING_NOT_APPLICABLE)));
  const route = routeFor(snapshot);
  if (route.kind === 'none' && targets.length > 0) {
    const missing = missingIdentity('CrossEngage needs an externalId or an email');
    return { route, targets: [], skipped: [...skipped, ...targets.map((t) => onChannel(t.channel, missing))] };
  }
  return { route, targets, skipped };
}

/** Body of `PUT /users/{externalId}/optout-status?channelType=…`; `false` re-opts-in (§2.1). */
export function optOutStatusBody(target: ChannelTarget<string>): { optOut: boolean } {
  return { optOut: target.state.state === 'opted_out' };
}

/**
 * One system event per channel: "Opt Out" for an opted-out channel, "Opt In" for an opted-in one.
 * "Opt In" sets the opt-out status back to false (seeds/001 "(Re)Opt In"); it is the only way to
 * re-opt-in a lead, which would otherwise stay "opted out forever".
 */
export function consentEvents(
  targets: readonly ChannelTarget<string>[],
  settings: Pick<CrossEngageSettings, 'optOutEventName' | 'optInEventName'>,
): ConsentEvent[] {
  return targets.map((t) => ({
    event: t.state.state === 'opted_out' ? settings.optOutEventName : settings.optInEventName,
    'channel.type': t.espChannel,
  }));
}

/** Who a `POST /events` body is about: the externalId of a full user, else email (+ businessUnit). */
export type EventsRecipient = { id: string } | { email: string; businessUnit?: string };

export function eventsRecipient(route: Exclude<CrossEngageRoute, { kind: 'none' }>): EventsRecipient {
  if (route.kind === 'user') return { id: route.externalId };
  return { email: route.email, ...(route.businessUnit ? { businessUnit: route.businessUnit } : {}) };
}

/** `POST /events` bodies for one person, at most `eventsPerRequest` events each (§2.2: ≤ 50). */
export function eventBodies(
  recipient: EventsRecipient,
  events: readonly ConsentEvent[],
  settings: Pick<CrossEngageSettings, 'eventsPerRequest'>,
): EventsBody[] {
  const bodies: EventsBody[] = [];
  const size = Math.max(1, settings.eventsPerRequest);
  for (let i = 0; i < events.length; i += size) {
    bodies.push({ ...recipient, events: events.slice(i, i + size) });
  }
  return bodies;
}

/**
 * `PushOutcome.holder` when a lead (the profile CrossEngage addresses by email + businessUnit)
 * holds some of the contact's state. Remembered on the contact, it sends every later push to the
 * lead as well as to the user: a lead and a user are separate recipients until CrossEngage merges
 * them (v1 blueprint "Leads": on a matching email and businessUnit), so both must hold the
 * person's state, and after a merge the email-addressed write lands on the merged user. An opt-in
 * sent only to the user would leave the lead "opted out forever, even after trying to opt in
 * again" (seeds/001), the trap this memory exists for.
 */
export const LEAD_HOLDER = 'lead';

/** Whether an earlier push left state on the contact's lead. */
export function heldByLead(snapshot: ContactSnapshot): boolean {
  return snapshot.espIdentities?.['crossengage'] === LEAD_HOLDER;
}

/** The contact's lead as a `POST /events` recipient (email + businessUnit), if it has an email. */
export function leadRecipient(snapshot: ContactSnapshot): EventsRecipient | undefined {
  const { email, businessUnit } = snapshot.identities;
  return email ? eventsRecipient({ kind: 'lead', email, ...(businessUnit ? { businessUnit } : {}) }) : undefined;
}

/** §2.1: 404 = "user does not exist". The identity we hold is unknown to CrossEngage. */
export function unknownUserOutcome(): PushOutcome {
  return missingIdentity('CrossEngage has no user with this externalId (404); it may exist only as a lead');
}
