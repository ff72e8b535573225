import type { Logger } from 'pino';
import type { ActitoSettings } from './actito.settings.js';
import type { PacerFactory } from '../kit/concurrency.js';
import { createAdapterKit, deadLetterOrThrow } from '../kit/adapter-kit.js';
import { mapWithConcurrency } from '../kit/concurrency.js';
import { combineChannels, notApplicable, onChannel, onChannels, PUSHED } from '../kit/outcome.js';
import type { ContactSnapshot, EspAdapter, PushOutcome } from '../types.js';
import { type ActitoProfileBody, buildProfileUpsert, gatedByMarketingConsent, profilePath } from './actito.mapping.js';
import { createActitoBulk } from './actito.bulk.js';
import { createActitoSession } from './actito.session.js';

/**
 * Actito (esp-contracts.md §3). The API key buys a 15-minute bearer token, cached and shared by
 * concurrent pushes; a 401 on a call refreshes it once, a second 401 is an auth failure. At most
 * `concurrency` (≤ 5, the licence limit) requests are in flight, token requests included.
 */
export function createActitoAdapter(
  settings: ActitoSettings,
  logger: Logger,
  now: () => number = Date.now,
  pacers?: PacerFactory,
): EspAdapter {
  const kit = createAdapterKit(settings, logger, { headers: { 'Content-Type': 'application/json' }, ...(pacers ? { pacers } : {}) });
  const path = profilePath(settings);
  const session = createActitoSession(kit, settings, now);

  async function upsert(body: ActitoProfileBody, signal?: AbortSignal): Promise<void> {
    await session.call('profile-upsert', signal, (bearer) =>
      kit.http.post(path, body, { headers: { Authorization: `Bearer ${bearer}` }, signal }),
    );
  }

  async function pushContact(contact: ContactSnapshot, signal?: AbortSignal): Promise<PushOutcome> {
    const built = buildProfileUpsert(contact, settings, new Date(now()).toISOString());
    if ('outcome' in built) return combineChannels([...built.skipped, ...onChannels(built.covered, built.outcome)]);
    try {
      await upsert(built.body, signal);
      const gated = built.gated.map((c) => onChannel(c, notApplicable(gatedByMarketingConsent(c, settings.marketingConsentChannel))));
      return combineChannels([...built.skipped, ...gated, ...onChannels(built.covered, PUSHED)]);
    } catch (err) {
      return combineChannels([...built.skipped, ...onChannels([...built.covered, ...built.gated], deadLetterOrThrow(err))]);
    }
  }

  const bulk = createActitoBulk(kit, session, settings, now);
  return {
    name: 'actito',
    maxBatch: settings.maxBatch,
    ...(bulk ? { bulk } : {}),
    async push(contacts: readonly ContactSnapshot[], signal?: AbortSignal) {
      const results = await mapWithConcurrency(contacts, settings.concurrency, (c) => pushContact(c, signal));
      return new Map(contacts.map((c, i) => [c.contactId, results[i] as PushOutcome]));
    },
  };
}
