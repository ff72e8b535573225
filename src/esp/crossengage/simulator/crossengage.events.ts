/**
 * `POST /events` (User Management v1, esp-contracts.md §2.2):
 *   {"id": "<externalId>" | "email": "...", "businessUnit"?: "...", "events": [{"event": "...", "channel.type"?: CH, "properties"?: {}}]}
 * One person per request (v1 blueprint: "Events are individually assigned to users"). 1..50 events → 202 (empty
 * body); 400 `{"field","type"}` otherwise. The system "Opt Out" event with an event-level `channel.type` sets the
 * opt-out like `PUT optout-status` (`ALL` → the overall status), and "Opt In" (seeds/001) clears it; without a
 * channel it "does nothing" to the status (recorded with effect `none`), and `channel.type` nested inside
 * `properties` is not read either. Email-only events land on the user with that email + businessUnit if one
 * exists, else on the lead `lead:<businessUnit>:<email>` (created on demand).
 */
import { empty, isRecord } from '../../../simulators/core/reply.js';
import type { Router } from '../../../simulators/core/router.js';
import { type CeDeps, guarded, objectBody, optionalString, v1Fail } from './crossengage.common.js';
import { type CeProfile, type ChannelType, isChannelType } from './crossengage.state.js';

const OPT_OUT_EVENT = 'Opt Out';

export function registerEventRoutes(router: Router, deps: CeDeps): void {
  router.post(
    '/events',
    guarded(deps, 'v1', (req, version) => {
      const body = objectBody(req, version);
      const { id: rawId, email: rawEmail, businessUnit: rawBu, events } = body;
      const id = optionalString(rawId);
      const email = optionalString(rawEmail);
      const businessUnit = optionalString(rawBu) ?? null;
      if (!id && !email) v1Fail(400, 'id', 'MISSING_VALUE');
      if (!Array.isArray(events) || events.length === 0) v1Fail(400, 'events', 'MISSING_VALUE');
      // INFERENCE: the error body for more than 50 events is not documented; same {field,type} shape.
      if (events.length > deps.opts.maxEventsPerRequest) v1Fail(400, 'events', 'TOO_MANY_VALUES');
      const parsed = events.map((raw) => {
        if (!isRecord(raw)) v1Fail(400, 'event', 'UNKNOWN_VALUE');
        const { event, properties } = raw;
        const channelType = raw['channel.type'];
        if (typeof event !== 'string' || event.trim() === '') v1Fail(400, 'event', 'UNKNOWN_VALUE');
        if (
          channelType !== undefined &&
          (typeof channelType !== 'string' || (channelType !== 'ALL' && !isChannelType(channelType)))
        ) {
          v1Fail(400, 'channel.type', 'UNKNOWN_VALUE');
        }
        return {
          event,
          channelType: (channelType as ChannelType | 'ALL' | undefined) ?? null,
          properties: properties ?? null,
        };
      });

      const profile = resolveProfile(deps, id, email, businessUnit);
      const now = deps.now();
      for (const e of parsed) {
        let effect: 'opt-out' | 'opt-in' | 'none' | 'dropped' = profile ? 'none' : 'dropped';
        if (profile && e.channelType !== null) {
          const channel = e.channelType === 'ALL' ? null : e.channelType;
          if (e.event === OPT_OUT_EVENT) {
            deps.state.setOptOut(profile, channel, true, now);
            effect = 'opt-out';
          } else if (deps.opts.optInEventName !== null && e.event === deps.opts.optInEventName) {
            deps.state.setOptOut(profile, channel, false, now);
            effect = 'opt-in';
          }
        }
        deps.state.recordEvent({
          at: now.toISOString(),
          recipient: profile ? deps.state.keyOf(profile) : null,
          event: e.event,
          channelType: e.channelType,
          properties: e.properties,
          effect,
        });
      }
      return empty(202);
    }),
  );
}

function resolveProfile(
  deps: CeDeps,
  id: string | undefined,
  email: string | undefined,
  businessUnit: string | null,
): CeProfile | undefined {
  const { state, opts } = deps;
  if (id) {
    const user = state.users.get(id);
    if (user) return user;
    if (opts.eventsForUnknownUser === 'ignore') return undefined;
    return state.upsertUser(id, { email: email ?? null, businessUnit }, deps.now());
  }
  if (!email) return undefined;
  return state.userByEmail(email, businessUnit) ?? state.upsertLead(email, businessUnit, {}, deps.now());
}
