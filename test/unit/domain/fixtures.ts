import {
  type ApplyResult,
  applyEvent,
  type ConsentEvent,
  type ConsentKind,
  type ConsentPolicy,
  type ConsentValue,
  defaultPolicy,
  type Listing,
} from '../../../src/domain/index.js';

const BASE_MS = Date.UTC(2026, 2, 1, 10, 0, 0);

/** Minute `n` after a fixed base instant, as an ISO-8601 UTC string (no clock read). */
export function at(minute: number): string {
  return new Date(BASE_MS + minute * 60_000).toISOString();
}

export interface EventSpec {
  id: string;
  value: ConsentValue;
  source: string;
  minute: number;
  /** Omit for an event without channel. */
  channel?: string;
  kind?: ConsentKind;
  force?: boolean;
}

export function ev(spec: EventSpec): ConsentEvent {
  const event: ConsentEvent = {
    eventId: spec.id,
    kind: spec.kind ?? 'marketing',
    value: spec.value,
    source: spec.source,
    force: spec.force ?? false,
    moment: at(spec.minute),
  };
  if (spec.channel !== undefined) event.channel = spec.channel;
  return event;
}

/** Applies events in order; returns every result and the final listings. */
export function applyAll(
  events: readonly ConsentEvent[],
  policy: ConsentPolicy = defaultPolicy,
  start: readonly Listing[] = [],
): { listings: Listing[]; results: ApplyResult[]; last: ApplyResult | undefined } {
  let listings: Listing[] = [...start];
  const results: ApplyResult[] = [];
  for (const event of events) {
    const result = applyEvent(listings, event, policy);
    results.push(result);
    listings = result.listings;
  }
  return { listings, results, last: results[results.length - 1] };
}
