import type { Logger } from 'pino';
import type { z } from 'zod';
import type { SimContext, SimulatorDefinition } from '../../simulators/core/definition.js';
import type { EspAdapter } from '../types.js';
import type { PacerFactory } from './concurrency.js';
import type { EspReadBack } from './readback-kit.js';
import type { EspSettings, RetryPolicyOf } from './settings-kit.js';
import type { WebhookBaseSettings, WebhookItem } from './webhook-kit.js';

/**
 * Everything the app knows about one ESP, exported by its folder (src/esp/<esp>/<esp>.module.ts)
 * and listed once in src/esp/registry.ts. Configuration, the push and reconciliation wiring, the
 * webhook routes, metrics and the simulator harness read the configured list of these and nothing
 * else, so adding an ESP touches no file outside its folder but the registry line.
 *
 * Members are declared as methods on purpose: TypeScript checks method parameters bivariantly, so
 * a module typed with its own settings (`EspModule<OmetriaSettings>`) joins a plain `EspModule[]`
 * list without casts.
 */
export interface EspModule<S extends EspSettings = EspSettings, C extends object = object, O extends object = object> {
  /** The ESP's name: settings key, queue names, metric label, `esp:<name>` event source. */
  readonly name: S['esp'];
  /** How people write it ("Dynamic Yield"), in variable descriptions. */
  readonly label: string;
  /** Its variables; each `.describe()` text is its README documentation. */
  readonly envSchema: z.ZodObject;
  /** Its settings from its validated variables and the in-job retry policy every ESP shares. */
  buildSettings(env: Record<string, unknown>, retry: RetryPolicyOf): S;
  /** The variable of its lane-1 reserve (percent of its budget only a person's own opt-outs use). */
  readonly laneReserveVariable: string;
  /** Its own reconciliation schedule, when it should not run on RECONCILE_CRON. */
  readonly reconcileCron?: { readonly variable: string; readonly defaultPattern: string; readonly description: string };
  createAdapter(settings: S, logger: Logger, pacers: PacerFactory | undefined): EspAdapter;
  /** Its read-back for reconciliation; `{ kind: 'none', reason }` when the ESP has no way to read consent back. */
  createReadBack(settings: S, logger: Logger): EspReadBack;
  /** The inbound webhook it sends us, when it has one. */
  readonly webhook?: EspWebhook<S>;
  readonly simulator: EspSimulator<C, O>;
}

/**
 * An ESP's webhook: served at `POST /v1/webhooks/<endpoint>`, disabled (404) while its secret
 * is unset, authenticated as its auth mode says (src/ingest/webhook-verify.ts). `W`: what its
 * parser reads from its own variables besides the ESP's settings.
 */
export interface EspWebhook<S extends EspSettings = EspSettings, W = unknown> {
  /** Path segment and metric label of the endpoint. */
  readonly endpoint: string;
  /** Its variables (secret, auth mode and any of its own); each `.describe()` is its README documentation. */
  readonly envSchema: z.ZodObject;
  /** The endpoint's settings from those variables, validated. */
  endpointConfig(env: Record<string, unknown>): WebhookEndpointSettings<W>;
  /** A delivery's body → its items, or WebhookPayloadError naming each bad field. */
  parse(body: unknown, base: WebhookBaseSettings, esp: S, endpoint: WebhookEndpointSettings<W>): WebhookItem[];
}

export type WebhookAuth =
  | { readonly type: 'hmac' }
  | { readonly type: 'key'; readonly header: string }
  | { readonly type: 'basic'; readonly username: string };

export interface WebhookEndpointSettings<W = unknown> {
  /** Empty = the endpoint is disabled (404). */
  readonly secrets: readonly string[];
  readonly auth: WebhookAuth;
  /** Client IPs allowed to call it; empty = any. */
  readonly allowedIps: readonly string[];
  /** What else the endpoint's parser reads from its own variables. */
  readonly options: W;
}

/**
 * Its local simulator (src/esp/<esp>/simulator/), for tests, the demo and `npm run dev`: the
 * factory the generic host (src/simulators/core) runs, the credentials it accepts by default
 * (public, fake and stable) and the variables that point the app at it.
 */
export interface EspSimulator<C extends object = object, O extends object = object> {
  readonly credentials: C;
  create(options: O, credentials: C, ctx: SimContext): SimulatorDefinition;
  /** The app's variables that connect this ESP to a simulator at `url` with `credentials`. */
  connectionEnv(url: string, credentials: C): Record<string, string>;
  /** Set in the environment, this variable means real credentials are configured (dev keeps them). */
  readonly realCredentialVariable: string;
  /** One line on how to call it, for `npm run sim`'s table. */
  describeCredentials(credentials: C): string;
  /**
   * The key under which its `/__sim/state` recipients hold a contact's channel; default the email.
   * The demo summary and the convergence tests compare that state with ours through it.
   */
  recipientKey?(identities: SimIdentities, channel: string): string | undefined;
  /** What a contact it holds nothing for reads as: `opted_in` for an opt-out list (nothing held = may be messaged). */
  readonly absentReadsAs?: 'opted_in';
}

/** A contact's identities, as the simulators key them. */
export interface SimIdentities {
  readonly externalId?: string | undefined;
  readonly email?: string | undefined;
  readonly phone?: string | undefined;
  readonly businessUnit?: string | undefined;
}
