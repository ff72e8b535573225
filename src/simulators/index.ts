/**
 * Local HTTP simulators of the five ESPs (esp-contracts.md). Each one is a
 * stateful `node:http` server on 127.0.0.1 that follows its ESP's documented contract, logs every request, plays
 * scripted faults and serves control routes under `/__sim/*` (see core/control.ts). Used by tests, benchmarks and
 * the demo; never called from production code paths.
 *
 * Recipient keys of `/__sim/state` (details at the top of each `<esp>.simulator.ts`):
 * - optimizely-campaign: the recipient id (usually the email address), as sent
 * - crossengage: the external id; leads `lead:<businessUnit>:<email>`
 * - actito: the profile's unique key value (default attribute `emailAddress`, lower-cased)
 * - dynamic-yield: the pushID, or the cuid / Reconnect identifier value (emails lower-cased)
 * - ometria: the profile's email (lower-cased), else `customer:<customer_id>`, else the profile id
 */
import type { ActitoOptions } from '../esp/actito/simulator/actito.options.js';
import { createActitoSimulator } from '../esp/actito/simulator/actito.simulator.js';
import type { SimContext, SimulatorDefinition } from './core/definition.js';
import { type HostOptions, startSimServer } from './core/http-server.js';
import { ESP_ORDER, type EspName, type SimulatorHandle } from './core/types.js';
import { WebhookDispatcher } from './core/webhooks.js';
import { type SimCredentials, type SimCredentialsOverride, credentialsFor } from './credentials.js';
import type { CrossEngageOptions } from '../esp/crossengage/simulator/crossengage.options.js';
import { createCrossEngageSimulator } from '../esp/crossengage/simulator/crossengage.simulator.js';
import type { DynamicYieldOptions } from '../esp/dynamic-yield/simulator/dynamic-yield.options.js';
import { createDynamicYieldSimulator } from '../esp/dynamic-yield/simulator/dynamic-yield.simulator.js';
import type { OmetriaOptions } from '../esp/ometria/simulator/ometria.options.js';
import { createOmetriaSimulator } from '../esp/ometria/simulator/ometria.simulator.js';
import type { OptimizelyCampaignOptions } from '../esp/optimizely-campaign/simulator/optimizely-campaign.options.js';
import { createOptimizelyCampaignSimulator } from '../esp/optimizely-campaign/simulator/optimizely-campaign.simulator.js';

export { ACTITO_SIM_SUBSCRIPTIONS, type ActitoOptions } from '../esp/actito/simulator/actito.options.js';
export type {
  CanonicalChannel,
  ConsentWord,
  EspName,
  FaultRule,
  FaultScript,
  FaultStep,
  LoggedRequest,
  RecipientConsent,
  SimState,
  SimulatorHandle,
  UnsubscribeInput,
  UnsubscribeResult,
} from './core/types.js';
export type { WebhookDelivery } from './core/webhooks.js';
export type { CrossEngageOptions } from '../esp/crossengage/simulator/crossengage.options.js';
export type { DynamicYieldOptions } from '../esp/dynamic-yield/simulator/dynamic-yield.options.js';
export type { OmetriaOptions } from '../esp/ometria/simulator/ometria.options.js';
export type { OptimizelyCampaignOptions } from '../esp/optimizely-campaign/simulator/optimizely-campaign.options.js';
export { ESP_ORDER };
export { simulatorCredentials, type SimCredentials, type SimCredentialsOverride } from './credentials.js';

/** ESP-specific options per simulator. */
export interface EspSimulatorOptions {
  'optimizely-campaign': OptimizelyCampaignOptions;
  crossengage: CrossEngageOptions;
  actito: ActitoOptions;
  'dynamic-yield': DynamicYieldOptions;
  ometria: OmetriaOptions;
}

/** Options every simulator takes. */
export interface CommonSimulatorOptions extends HostOptions {
  /** Per-ESP partial credential overrides; default `simulatorCredentials`. */
  credentials?: SimCredentialsOverride;
  /** Clock for data timestamps (unsubscribe dates, token expiry…); default `() => new Date()`. */
  now?: () => Date;
  /** Initial webhook target (same as `setWebhookTarget`). */
  webhookTarget?: string;
  /** Sign webhook deliveries with consent-sync's `hmac` scheme using this secret (default: unsigned). */
  webhookSecret?: string;
}

export type StartSimulatorOptions<N extends EspName> = CommonSimulatorOptions & EspSimulatorOptions[N];

type Factory<N extends EspName> = (
  opts: EspSimulatorOptions[N],
  creds: SimCredentials[N],
  ctx: SimContext,
) => SimulatorDefinition;

const factories: { [N in EspName]: Factory<N> } = {
  'optimizely-campaign': createOptimizelyCampaignSimulator,
  crossengage: createCrossEngageSimulator,
  actito: createActitoSimulator,
  'dynamic-yield': createDynamicYieldSimulator,
  ometria: createOmetriaSimulator,
};

/** Start one simulator on 127.0.0.1 (`port` 0 or absent = a free port). */
export async function startSimulator<N extends EspName>(
  name: N,
  opts: StartSimulatorOptions<N> = {} as StartSimulatorOptions<N>,
): Promise<SimulatorHandle> {
  const {
    credentials,
    now = () => new Date(),
    webhookTarget,
    webhookSecret,
    host,
    port,
    latencyMs,
    maxLogEntries,
    maxBodyBytes,
    ...espOptions
  } = opts;
  const webhooks = new WebhookDispatcher(now, webhookTarget, webhookSecret ? { secret: webhookSecret } : undefined);
  const factory = factories[name] as Factory<N>;
  const def = factory(espOptions as EspSimulatorOptions[N], credentialsFor(name, credentials), {
    now,
    webhooks,
  });
  const hostOptions: HostOptions = {};
  if (host !== undefined) hostOptions.host = host;
  if (port !== undefined) hostOptions.port = port;
  if (latencyMs !== undefined) hostOptions.latencyMs = latencyMs;
  if (maxLogEntries !== undefined) hostOptions.maxLogEntries = maxLogEntries;
  if (maxBodyBytes !== undefined) hostOptions.maxBodyBytes = maxBodyBytes;
  return startSimServer(def, webhooks, hostOptions);
}

export interface StartSimulatorsOptions {
  /** 0 or absent = random ports; else basePort..basePort+4 in ESP_ORDER. */
  basePort?: number;
  host?: string;
  credentials?: SimCredentialsOverride;
  now?: () => Date;
  /** Webhook signing secret for every simulator (see CommonSimulatorOptions.webhookSecret). */
  webhookSecret?: string;
  /** Per-ESP options (ports come from `basePort`). */
  options?: { [N in EspName]?: Omit<StartSimulatorOptions<N>, 'port' | 'host' | 'credentials' | 'now'> };
}

export interface RunningSimulators {
  sims: Record<EspName, SimulatorHandle>;
  urls: Record<EspName, string>;
  close(): Promise<void>;
}

/** Start all five simulators. If one fails to start, the others are closed and the error is rethrown. */
export async function startSimulators(opts: StartSimulatorsOptions = {}): Promise<RunningSimulators> {
  const started: SimulatorHandle[] = [];
  try {
    for (const [i, name] of ESP_ORDER.entries()) {
      const perEsp = (opts.options?.[name] ?? {}) as StartSimulatorOptions<typeof name>;
      const common: CommonSimulatorOptions = { port: opts.basePort ? opts.basePort + i : 0 };
      if (opts.host !== undefined) common.host = opts.host;
      if (opts.credentials !== undefined) common.credentials = opts.credentials;
      if (opts.now !== undefined) common.now = opts.now;
      if (opts.webhookSecret !== undefined) common.webhookSecret = opts.webhookSecret;
      started.push(await startSimulator(name, { ...perEsp, ...common }));
    }
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.close()));
    throw err;
  }
  const sims = Object.fromEntries(started.map((s) => [s.name, s])) as Record<EspName, SimulatorHandle>;
  const urls = Object.fromEntries(started.map((s) => [s.name, s.url])) as Record<EspName, string>;
  return {
    sims,
    urls,
    close: async () => {
      await Promise.all(started.map((s) => s.close()));
    },
  };
}
