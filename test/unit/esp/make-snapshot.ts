import type { ChannelState, ContactSnapshot, EffectiveValue } from '../../../src/esp/types.js';

export const MOMENT = '2025-05-31T10:20:30.000Z';

export function state(value: EffectiveValue, extra: Partial<ChannelState> = {}): ChannelState {
  return { state: value, authoritative: false, ...(value === 'unknown' ? {} : { moment: MOMENT }), ...extra };
}

/** A contact with every channel unknown unless overridden. */
export function makeSnapshot(
  overrides: {
    contactId?: string;
    identities?: ContactSnapshot['identities'];
    email?: ChannelState;
    sms?: ChannelState;
    push?: ChannelState;
    tracking?: ChannelState;
  } = {},
): ContactSnapshot {
  return {
    contactId: overrides.contactId ?? 'contact-1',
    version: 3,
    identities: overrides.identities ?? { externalId: 'ext-1', email: 'ann@example.com' },
    marketing: {
      email: overrides.email ?? state('unknown'),
      sms: overrides.sms ?? state('unknown'),
      push: overrides.push ?? state('unknown'),
    },
    tracking: overrides.tracking ?? state('unknown'),
  };
}
