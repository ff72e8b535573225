import {
  consentEventSchema,
  describeZodIssues,
  READABLE_ERRORS,
  type WireConsentEvent,
  type WireConsentEventInput,
} from '../contracts/consent-event.js';

export type { WireConsentEvent as ConsentEvent, WireConsentEventInput as ConsentEventInput } from '../contracts/consent-event.js';

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
    /** The HTTP status; undefined when the request got no answer or was never sent (validation). */
    readonly status: number | undefined,
    readonly problems: readonly { field: string; rule: string }[] = [],
    /** The URL requested; undefined for an event refused before sending. */
    readonly url?: string,
    /** The service's error code, e.g. `validation_failed`, `unsupported_media_type`. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ConsentClientError';
  }
}

/** "POST http://…/v1/consent-events answered 400 validation_failed: … (events.0.value: required)" */
export function describeHttpFailure(
  url: string,
  status: number,
  payload: { error?: string; message?: string; problems?: readonly { field: string; rule: string }[] },
): string {
  const problems = payload.problems?.length ? ` (${payload.problems.map((p) => `${p.field}: ${p.rule}`).join('; ')})` : '';
  return `POST ${url} answered ${status}${payload.error ? ` ${payload.error}` : ''}: ${payload.message ?? 'no message'}${problems}`;
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
    const parsed = this.schema.safeParse(event, READABLE_ERRORS);
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

  private async post(path: string, body: unknown): Promise<unknown> {
    const attempts = this.options.attempts ?? 4;
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const url = new URL(path, this.options.baseUrl);
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...this.options.headers,
            ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
          },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
        });
        const payload = (await res.json().catch(() => ({}))) as { error?: string; message?: string; problems?: { field: string; rule: string }[] };
        if (res.ok) return payload;
        const error = new ConsentClientError(describeHttpFailure(url.href, res.status, payload), res.status, payload.problems ?? [], url.href, payload.error);
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
        if (err instanceof ConsentClientError) {
          if (err.status !== undefined && err.status < 500) throw err;
          lastError = err;
        } else {
          // No answer at all (refused, reset, timed out): the URL says which service was meant.
          lastError = new ConsentClientError(`POST ${url.href} failed: ${(err as Error).message}`, undefined, [], url.href);
        }
      }
      if (attempt < attempts) await new Promise((r) => setTimeout(r, Math.random() * 200 * 2 ** attempt));
    }
    throw lastError instanceof Error ? lastError : new ConsentClientError(String(lastError), undefined);
  }
}
