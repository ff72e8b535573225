import fc from 'fast-check';
import type { ConsentEvent, ConsentKind, ConsentValue } from '../../../src/domain/index.js';
import { at } from './fixtures.js';

export const SOURCES = [
  'list_unsubscribe',
  'unsubscribe_link',
  'preference_center',
  'sms_stop',
  'esp:ometria',
  'api',
  'import',
  'form',
  'third_party',
  'double_opt_in',
] as const;

export const RECIPIENT_SOURCES = new Set<string>([
  'list_unsubscribe',
  'unsubscribe_link',
  'preference_center',
  'sms_stop',
  'esp:ometria',
]);

/**
 * Few distinct minutes so that equal moments (and equal moments written with another offset)
 * are common: ties are where order-dependence would hide.
 */
export const minuteArb = fc.integer({ min: 0, max: 12 });

function momentFor(minute: number, withOffset: boolean): string {
  if (!withOffset) return at(minute);
  // The same instant written as UTC+02:00.
  const utc = at(minute);
  const hour = Number(utc.slice(11, 13)) + 2;
  return `${utc.slice(0, 11)}${String(hour).padStart(2, '0')}${utc.slice(13, 23)}+02:00`;
}

export interface GenEvent {
  event: ConsentEvent;
  minute: number;
}

export const eventArb = (
  opts: { channels?: readonly (string | undefined)[]; minutes?: fc.Arbitrary<number> } = {},
) =>
  fc
    .record({
      id: fc.integer({ min: 0, max: 1_000_000 }).map((n) => `ev-${n.toString(36)}`),
      kind: fc.constantFrom<ConsentKind>('marketing', 'marketing', 'marketing', 'tracking'),
      channel: fc.constantFrom<string | undefined>(
        ...(opts.channels ?? ['email', 'sms', 'push', 'all', 'email', 'sms', undefined]),
      ),
      value: fc.constantFrom<ConsentValue>('opt_in', 'opt_out'),
      source: fc.constantFrom(...SOURCES),
      force: fc.boolean(),
      minute: opts.minutes ?? minuteArb,
      withOffset: fc.boolean(),
    })
    .map((r): GenEvent => {
      const event: ConsentEvent = {
        eventId: r.id,
        kind: r.kind,
        value: r.value,
        source: r.source,
        force: r.force,
        moment: momentFor(r.minute, r.withOffset),
      };
      if (r.channel !== undefined) event.channel = r.channel;
      return { event, minute: r.minute };
    });

/** Events with distinct eventIds: an eventId is an idempotency key, so reuse means "the same event". */
export const eventSetArb = (opts: Parameters<typeof eventArb>[0] = {}, maxLength = 14) =>
  fc.uniqueArray(eventArb(opts), { selector: (g) => g.event.eventId, maxLength });

export const permutationOf = <T>(items: readonly T[]) =>
  fc.shuffledSubarray([...items], { minLength: items.length, maxLength: items.length });
