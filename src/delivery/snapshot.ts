import type { Decision } from '../domain/index.js';
import type { ChannelState, ContactSnapshot } from '../esp/types.js';
import type { ContactDoc } from '../persistence/models.js';

function channelState(decision: Decision): ChannelState {
  return {
    state: decision.state,
    authoritative: decision.authoritative,
    ...(decision.decidedBy ? { moment: decision.decidedBy.moment, source: decision.decidedBy.source } : {}),
  };
}

/** The contact's *current* state as adapters push it: state-based, never a delta. */
export function toSnapshot(contact: ContactDoc): ContactSnapshot {
  const { externalId, email, businessUnit, phone } = contact.identities;
  return {
    contactId: contact._id,
    version: contact.version,
    identities: {
      ...(externalId !== undefined ? { externalId } : {}),
      ...(email !== undefined ? { email } : {}),
      ...(businessUnit !== undefined ? { businessUnit } : {}),
      ...(phone !== undefined ? { phone } : {}),
    },
    marketing: Object.fromEntries(Object.entries(contact.effective.marketing).map(([c, d]) => [c, channelState(d)])),
    tracking: channelState(contact.effective.tracking),
    ...(contact.espIdentities ? { espIdentities: contact.espIdentities } : {}),
  };
}
