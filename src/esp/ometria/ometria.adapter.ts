import type { Logger } from 'pino';
import type { OmetriaSettings } from './ometria.settings.js';
import type { PacerFactory } from '../kit/concurrency.js';
import { type AdapterKit, createAdapterKit, deadLetterOrThrow } from '../kit/adapter-kit.js';
import { type ChannelResult, combineChannels, deadLetter, onChannels, PUSHED } from '../kit/outcome.js';
import type { ContactSnapshot, EspAdapter, PushOutcome } from '../types.js';
import {
  type OmetriaContactRecord,
  type OmetriaPushResponse,
  parsePushResponse,
  pushVerdict,
  rejectionReason,
  toContactRecord,
} from './ometria.mapping.js';

/** DOC esp-contracts.md §5.1: at most 100 records per request. */
const MAX_RECORDS_PER_REQUEST = 100;

interface Entry {
  contactId: string;
  record: OmetriaContactRecord;
  /** The channels the record carries, and the outcomes of those it does not. */
  covered: string[];
  skipped: ChannelResult[];
}

/** What every Ometria request shares: the settings and the kit (auth header, pacing, retries). */
interface OmetriaClient {
  settings: OmetriaSettings;
  kit: AdapterKit;
}

function watchQueue(kit: AdapterKit, headers: unknown): void {
  // INFERENCE per §5.1: the backlog headers may still be sent; a near-full queue precedes 429s.
  const h = headers as Record<string, unknown> | undefined;
  const limit = Number(h?.['x-queuesize-limit']);
  const remaining = Number(h?.['x-queuesize-remaining']);
  if (Number.isFinite(limit) && Number.isFinite(remaining) && remaining < limit * 0.1) {
    kit.logger.warn({ queueLimit: limit, queueRemaining: remaining }, 'ometria push queue nearly full');
  }
}

async function post(
  { kit }: OmetriaClient,
  records: OmetriaContactRecord[],
  signal?: AbortSignal,
): Promise<OmetriaPushResponse | undefined> {
  const res = await kit.call('push', signal, () => kit.http.post('/v2/push', records, { signal }));
  watchQueue(kit, res.headers);
  return parsePushResponse(res.data);
}

async function explainRejection({ kit, settings }: OmetriaClient, signal?: AbortSignal): Promise<string> {
  if (!settings.fetchErrors) return 'Ometria rejected the record (OMETRIA_FETCH_ERRORS is off)';
  try {
    const res = await kit.call('push-errors', signal, () => kit.http.get('/v2/push/_errors', { signal }));
    return rejectionReason(res.data);
  } catch (err) {
    if (signal?.aborted) throw err;
    return `Ometria rejected the record (reading /v2/push/_errors failed: ${(err as Error).message})`;
  }
}

async function pushChunk(
  client: OmetriaClient,
  entries: Entry[],
  out: Map<string, PushOutcome>,
  signal?: AbortSignal,
): Promise<void> {
  const { kit, settings } = client;
  const setAll = (o: PushOutcome) => {
    for (const e of entries) out.set(e.contactId, combineChannels([...e.skipped, ...onChannels(e.covered, o)]));
  };
  let response: OmetriaPushResponse | undefined;
  try {
    response = await post(
      client,
      entries.map((e) => e.record),
      signal,
    );
  } catch (err) {
    setAll(deadLetterOrThrow(err));
    return;
  }
  const verdict = pushVerdict(response, entries.length);
  if (verdict !== 'accepted') {
    kit.logger.warn(
      { verdict, records: entries.length, rejected: response?.rejected, requestId: response?.requestId },
      'ometria push rejected records',
    );
  }
  switch (verdict) {
    case 'accepted':
      return setAll(PUSHED);
    case 'rejected':
      return setAll(deadLetter(await explainRejection(client, signal)));
    case 'unreadable':
      return setAll(deadLetter('Ometria answered the push without status OK and accepted/rejected counts'));
    case 'partial':
      if (!settings.isolateRejected) {
        return setAll(
          deadLetter(
            `Ometria rejected ${response?.rejected} of ${entries.length} records and does not say which`,
          ),
        );
      }
      // Records merge into the listing, so re-sending the accepted ones one by one is harmless.
      for (const entry of entries) await pushChunk(client, [entry], out, signal);
      return;
  }
}

/**
 * Ometria (esp-contracts.md §5): contact records with `marketing_optin` (email) and
 * `channels.sms.allow_marketing` (SMS) pushed as JSON arrays to
 * `POST /v2/push`. The push is asynchronous on Ometria's side; the response counts accepted and
 * rejected records, and a rejection is a per-record dead letter, not something to retry as-is.
 */
export function createOmetriaAdapter(settings: OmetriaSettings, logger: Logger, pacers?: PacerFactory): EspAdapter {
  const kit = createAdapterKit(settings, logger, {
    ...(pacers ? { pacers } : {}),
    headers: { 'X-Ometria-Auth': settings.credentials.apiKey, 'Content-Type': 'application/json' },
  });
  const chunkSize = Math.min(MAX_RECORDS_PER_REQUEST, Math.max(1, settings.maxBatch));
  const client: OmetriaClient = { settings, kit };

  return {
    name: 'ometria',
    maxBatch: chunkSize,
    async push(contacts: readonly ContactSnapshot[], signal?: AbortSignal) {
      const out = new Map<string, PushOutcome>();
      const entries: Entry[] = [];
      for (const contact of contacts) {
        const mapped = toContactRecord(contact, settings);
        if ('outcome' in mapped)
          out.set(contact.contactId, combineChannels([...mapped.skipped, ...onChannels(mapped.covered, mapped.outcome)]));
        else entries.push({ contactId: contact.contactId, ...mapped });
      }
      for (let i = 0; i < entries.length; i += chunkSize) {
        await pushChunk(client, entries.slice(i, i + chunkSize), out, signal);
      }
      return out;
    },
  };
}
