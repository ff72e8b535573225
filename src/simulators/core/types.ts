/**
 * Shared vocabulary of the ESP simulators (see esp-contracts.md).
 *
 * Terminology:
 * - simulator: one stateful `node:http` server on loopback that follows one ESP's documented contract.
 * - ESP route: a path of the ESP's public API (logged, subject to faults and limits).
 * - control route: `/__sim/*`, the simulator's own inspect/script API (never logged, never faulted).
 * - recipient key: the ESP's natural identifier of a person, used as key of `SimState.recipients`.
 * - canonical words: `opted_in` / `opted_out` per channel (`email`, `sms`, `push`) plus `tracking`.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** A simulator's name: its ESP's (src/esp/registry.ts lists the built-in ones). */
export type EspName = string;

export type CanonicalChannel = 'email' | 'sms' | 'push';
export const CANONICAL_CHANNELS: readonly CanonicalChannel[] = ['email', 'sms', 'push'];
export type ConsentWord = 'opted_in' | 'opted_out';

/** Consent of one recipient in canonical words; a channel is absent when the ESP holds no value for it. */
export type RecipientConsent = { [K in CanonicalChannel | 'tracking']?: ConsentWord };

/**
 * Snapshot served by `GET /__sim/state`. `recipients` is keyed by the ESP's recipient key (documented at the top
 * of each `<esp>.simulator.ts`); every other top-level key is ESP-specific detail (JSON-serialisable).
 */
export interface SimState {
  recipients: Record<string, RecipientConsent>;
  [detail: string]: unknown;
}

/** One ESP request as recorded by the simulator (credentials masked). */
export interface LoggedRequest {
  /** 1-based sequence number, increasing per simulator; `GET /__sim/requests?since=N` returns seq > N. */
  seq: number;
  /** ISO-8601 arrival time (wall clock). */
  time: string;
  method: string;
  /** Path without query; credentials carried in the path (Optimizely authCode) are masked. */
  path: string;
  query: Record<string, string | string[]>;
  /** Lower-cased header names; credential headers are masked (`***`, `Basic ***`, `Bearer ***`). */
  headers: Record<string, string>;
  /** Parsed JSON, form fields as an object, text, or null when empty. Secret-looking fields are masked. */
  body: unknown;
  /** HTTP status sent, or null when no response was sent (pending, reset, timeout). */
  status: number | null;
  outcome: 'pending' | 'answered' | 'reset' | 'timeout' | 'aborted';
  /** True when a scripted fault step decided the outcome. */
  fault: boolean;
  durationMs: number | null;
}

/**
 * One scripted answer, consumed by one matching request.
 * - `status`: answer with this status instead of the simulator (body default: empty).
 * - `body`: a string is sent as text/plain, anything else as JSON.
 * - `headers`: extra response headers (e.g. `Retry-After: 7` or an HTTP-date, `X-RateLimit-Reset`). Also added to
 *   the simulator's own answer when the step has no `status`.
 * - `delayMs`: wait before acting. A step with only `delayMs`/`headers` lets the simulator answer afterwards.
 * - `reset`: destroy the socket (the client sees ECONNRESET / "socket hang up").
 * - `timeout`: never answer (the socket stays open until the client gives up or the simulator closes).
 */
export interface FaultStep {
  status?: number;
  body?: unknown;
  headers?: Record<string, string | number>;
  delayMs?: number;
  reset?: boolean;
  timeout?: boolean;
}

/** Steps for requests matching `method` (default any; `*` = any) and `path` (a path prefix, or `*` = any). */
export interface FaultRule {
  method?: string;
  path: string;
  steps: FaultStep[];
}

/** A fault script replaces the previous one. `latencyMs` is added to every ESP request until replaced. */
export interface FaultScript {
  rules?: FaultRule[];
  latencyMs?: number;
}

/** Body of `POST /__sim/unsubscribe`: act out a recipient unsubscribing at the ESP itself. */
export interface UnsubscribeInput {
  /** The ESP's recipient key (see the simulator's header comment). */
  recipient: string;
  /** Canonical channel; default `email`. */
  channel?: CanonicalChannel;
  /** How the person unsubscribed, in the ESP's words where it has them (e.g. Ometria `list_unsubscribe`). */
  type?: string;
  /** Free-text reason stored where the ESP stores one. */
  reason?: string;
  /** When it happened (ISO-8601); default now. */
  at?: string;
  /** ESP-specific extras (e.g. Actito `subscription`, Optimizely `recipientListId`/`mailingId`). */
  [extra: string]: unknown;
}

export interface UnsubscribeResult {
  recipient: string;
  channel: CanonicalChannel;
  type: string;
  /** Whether the simulator POSTed a webhook (best effort; see `state().webhooks`). */
  webhook: boolean;
  [detail: string]: unknown;
}

/** The in-process handle on a running simulator. */
export interface SimulatorHandle {
  name: EspName;
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  state(): SimState;
  requests(): LoggedRequest[];
  /** Clear state (back to the seeded state given in options), request log and faults. */
  reset(): void;
  setFaults(script: FaultScript): void;
  close(): Promise<void>;
  setWebhookTarget(url: string | undefined): void;
  /** Same as `POST /__sim/unsubscribe`. */
  unsubscribe(input: UnsubscribeInput): Promise<UnsubscribeResult>;
}

/** What the simulator answers: status, headers and exact body bytes. */
export interface SimReply {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** A parsed request as handed to route handlers. */
export interface SimRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
  remoteAddress: string;
  /** Path parameters of the matched route (already URL-decoded). */
  params: Record<string, string>;
  /** A path parameter of the matched route, or '' when absent. */
  param(name: string): string;
  header(name: string): string | undefined;
  text(): string;
  /** Parsed JSON body; throws a SimHttpError(400) on malformed JSON. Empty body → undefined. */
  json(): unknown;
  /** Form-encoded body (also accepts a flat JSON object body). */
  form(): URLSearchParams;
  /** `Content-Type` without parameters, lower-cased. */
  contentType(): string;
}

export type RouteHandler = (req: SimRequest) => SimReply | Promise<SimReply>;

/** Decision of a simulator's admission hook, taken on arrival, before latency and faults. */
export interface Admission {
  /** Answer immediately (e.g. Actito's 6th request in flight → 429). */
  reply?: SimReply;
  /** Extra delay before handling (e.g. Actito's throttling above 100 calls/minute). */
  delayMs?: number;
  /** Called once the request has been answered, reset or abandoned. */
  release?: () => void;
}
