import { consentEventSchema, describeZodIssues, type WireConsentEvent, type WireConsentEventInput } from '../contracts/consent-event.js';
import type { ConsentChange } from '../apply/consent-changes.js';
import type { ContactView } from '../operate/contact-view.js';

export type { WireConsentEvent as ConsentEvent, WireConsentEventInput as ConsentEventInput } from '../contracts/consent-event.js';
export type { ContactView } from '../operate/contact-view.js';
export type { ConsentChange } from '../apply/consent-changes.js';

/** Which contact: its id, or one identity (sent in a POST body, so no email or phone is put in a URL). */
export type ContactRef = { contactId: string } | { externalId: string } | { email: string; businessUnit?: string } | { phone: string };

export interface ConsentClientOptions {
  /** Base URL of the consent-sync `web` process, e.g. http://consent-sync:3000 */
  baseUrl: string;
  /** Channels the service is configured with (CHANNELS); validation rejects others before sending. */
  channels?: readonly string[];
  /** Largest batch the service accepts (MAX_EVENTS_PER_REQUEST); larger inputs are split. */
  maxBatch?: number;
  timeoutMs?: number;
  /** Attempts per request on network errors and 5xx; safe because eventIds make retries idempotent. */
  attempts?: number;
  /** A producer API key (the secret of one PRODUCER_API_KEYS entry), sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Longest `Retry-After` of a 429 the client waits for before its next attempt (default 60 s); longer ones fail at once. */
  maxRetryAfterMs?: number;
  headers?: Record<string, string>;
}

export interface RecordedEvent {
  eventId: string;
  status: 'accepted' | 'duplicate';
}

export class ConsentClientError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly problems: readonly { field: string; rule: string }[] = [],
  ) {
    super(message);
    this.name = 'ConsentClientError';
  }
}

/**
 * The typed client app servers import to record consent events. It validates with the same
 * schema as the API, so a bad event fails in the caller's process with the field named, and
 * retries transient failures (the eventId makes a retried event a duplicate, never a second change).
 */
export class ConsentClient {
  private readonly schema;
  private readonly maxBatch: number;

  constructor(private readonly options: ConsentClientOptions) {
    this.schema = consentEventSchema(options.channels ?? ['email', 'sms', 'push']);
    this.maxBatch = options.maxBatch ?? 500;
  }

  validate(event: WireConsentEventInput, index?: number): WireConsentEvent {
    const parsed = this.schema.safeParse(event);
    if (parsed.success) return parsed.data;
    const prefix = index === undefined ? '' : `events.${index}.`;
    const problems = describeZodIssues(parsed.error).map((p) => ({ field: `${prefix}${p.field}`, rule: p.rule }));
    throw new ConsentClientError(`invalid consent event: ${problems.map((p) => `${p.field}: ${p.rule}`).join('; ')}`, undefined, problems);
  }

  async record(event: WireConsentEventInput): Promise<RecordedEvent> {
    const [result] = await this.recordMany([event]);
    return result!;
  }

  /** Records many events, in batches of at most `maxBatch`; all are validated before any is sent. */
  async recordMany(events: readonly WireConsentEventInput[]): Promise<RecordedEvent[]> {
    const valid = events.map((e, i) => this.validate(e, i));
    const results: RecordedEvent[] = [];
    for (let i = 0; i < valid.length; i += this.maxBatch) {
      const body = { events: valid.slice(i, i + this.maxBatch) };
      const response = (await this.post('/v1/consent-events', body)) as { events: RecordedEvent[] };
      results.push(...response.events);
    }
    return results;
  }

  /** The contact's view (consent per channel, why, listings, audit, sync per ESP), or null when no contact matches. */
  async getContact(ref: ContactRef): Promise<ContactView | null> {
    try {
      return (await ('contactId' in ref
        ? this.request('GET', `/v1/contacts/by-id/${encodeURIComponent(ref.contactId)}`)
        : this.request('POST', '/v1/contacts/search', ref))) as ContactView;
    } catch (err) {
      if (err instanceof ConsentClientError && err.status === 404) return null;
      throw err;
    }
  }

  /**
   * Consent history as it streams in (NDJSON, oldest first): one contact's (`contactId`), or
   * every change applied since `since`, or everything. Records arrive while the server still
   * reads; a connection lost midway throws, and nothing is retried (resume with a later `since`).
   * Breaking out of the loop, or aborting `signal`, ends the request.
   */
  async *exportHistory(opts: { contactId?: string; since?: Date | string; signal?: AbortSignal } = {}): AsyncGenerator<ConsentChange> {
    const url = new URL('/v1/consent-history', this.options.baseUrl);
    if (opts.contactId !== undefined) url.searchParams.set('contactId', opts.contactId);
    if (opts.since !== undefined) url.searchParams.set('since', opts.since instanceof Date ? opts.since.toISOString() : opts.since);
    // No overall timeout: an export may rightly take long. `signal` stops it.
    const res = await fetch(url, { headers: this.headers(), ...(opts.signal ? { signal: opts.signal } : {}) });
    if (!res.ok || !res.body) {
      const payload = (await res.json().catch(() => ({}))) as { message?: string; problems?: { field: string; rule: string }[] };
      throw new ConsentClientError(payload.message ?? `HTTP ${res.status}`, res.status, payload.problems ?? []);
    }
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim() !== '') yield JSON.parse(line) as ConsentChange;
        newline = buffered.indexOf('\n');
      }
    }
    if (buffered.trim() !== '') yield JSON.parse(buffered) as ConsentChange;
  }

  private headers(): Record<string, string> {
    return { ...this.options.headers, ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}) };
  }

  private post(path: string, body: unknown): Promise<unknown> {
    return this.request('POST', path, body);
  }

  private async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const attempts = this.options.attempts ?? 4;
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const res = await fetch(new URL(path, this.options.baseUrl), {
          method,
          headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...this.headers() },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
        });
        const payload = (await res.json().catch(() => ({}))) as { message?: string; problems?: { field: string; rule: string }[] };
        if (res.ok) return payload;
        const error = new ConsentClientError(payload.message ?? `HTTP ${res.status}`, res.status, payload.problems ?? []);
        if (res.status === 429 && attempt < attempts) {
          // Rate limited: nothing was stored; wait as told, then try again (counts as an attempt).
          const waitMs = Math.max(1, Number(res.headers.get('retry-after')) || 1) * 1_000;
          if (waitMs > (this.options.maxRetryAfterMs ?? 60_000)) throw error;
          await new Promise((r) => setTimeout(r, waitMs));
          continue;
        }
        if (res.status < 500) throw error;
        lastError = error;
      } catch (err) {
        if (err instanceof ConsentClientError && err.status !== undefined && err.status < 500) throw err;
        lastError = err;
      }
      if (attempt < attempts) await new Promise((r) => setTimeout(r, Math.random() * 200 * 2 ** attempt));
    }
    throw lastError instanceof Error ? lastError : new ConsentClientError(String(lastError), undefined);
  }
}
