import type { Logger } from 'pino';
import type { DynamicYieldSettings } from './dynamic-yield.settings.js';
import type { PacerFactory } from '../kit/concurrency.js';
import { createAdapterKit, deadLetterOrThrow } from '../kit/adapter-kit.js';
import { mapWithConcurrency } from '../kit/concurrency.js';
import { combineChannels, onChannels, PUSHED } from '../kit/outcome.js';
import type { ContactSnapshot, EspAdapter, PushOutcome } from '../types.js';
import { planRequests } from './dynamic-yield.mapping.js';

/**
 * Dynamic Yield (esp-contracts.md §4). Response codes of `/collect/user/event` are NOT FOUND; the
 * INFERENCE of §4.2 applies (2xx accepted, 400 schema error, 401/403 bad key, 429/5xx transient),
 * which is the shared classifier's default. DY has no read-back (§4.4), so reconciliation re-asserts.
 */
export function createDynamicYieldAdapter(settings: DynamicYieldSettings, logger: Logger, pacers?: PacerFactory): EspAdapter {
  const kit = createAdapterKit(settings, logger, {
    ...(pacers ? { pacers } : {}),
    headers: { 'DY-API-Key': settings.credentials.apiKey, 'Content-Type': 'application/json' },
  });

  async function pushContact(contact: ContactSnapshot, signal?: AbortSignal): Promise<PushOutcome> {
    const { requests, skipped } = planRequests(contact, settings);
    const results = [...skipped];
    for (const request of requests) {
      const [operation, path] =
        request.kind === 'events' ? ['collect-event', '/v2/collect/user/event'] : ['reconnect', request.path];
      try {
        await kit.call(operation, signal, () => kit.http.post(path, request.body, { signal }));
        results.push(...onChannels(request.channels, PUSHED));
      } catch (err) {
        results.push(...onChannels(request.channels, deadLetterOrThrow(err)));
      }
    }
    return combineChannels(results);
  }

  return {
    name: 'dynamic-yield',
    maxBatch: settings.maxBatch,
    async push(contacts: readonly ContactSnapshot[], signal?: AbortSignal) {
      const results = await mapWithConcurrency(contacts, settings.concurrency, (c) => pushContact(c, signal));
      return new Map(contacts.map((c, i) => [c.contactId, results[i] as PushOutcome]));
    },
  };
}
