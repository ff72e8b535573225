/**
 * Local HTTP simulators of the ESPs (esp-contracts.md), one per configured ESP module. Each one is a
 * stateful `node:http` server on 127.0.0.1 that follows its ESP's documented contract, logs every request, plays
 * scripted faults and serves control routes under `/__sim/*` (see core/control.ts). Used by tests, benchmarks and
 * the demo; never called from production code paths.
 *
 * Each ESP's folder holds its simulator (src/esp/<esp>/simulator/) and its module says how to start
 * it; the recipient keys of its `/__sim/state` are described at the top of its `<esp>.simulator.ts`
 * (and followed by the module's `simulator.recipientKey`).
 */
import { BUILT_IN_ESPS, type BuiltInEspName, ESP_NAMES, type EspModule, espModule } from '../esp/registry.js';
import { type HostOptions, startSimServer } from './core/http-server.js';
import type { SimulatorHandle } from './core/types.js';
import { WebhookDispatcher } from './core/webhooks.js';
import { type SimCredentialsOverride, credentialsFor } from './credentials.js';
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
/** The built-in ESPs in their canonical order (also the port order of `startSimulators({ basePort })`). */
export const ESP_ORDER: readonly BuiltInEspName[] = ESP_NAMES;
export { simulatorCredentials, type SimCredentials, type SimCredentialsOverride } from './credentials.js';

type BuiltIn = (typeof BUILT_IN_ESPS)[number];

/** ESP-specific options per built-in simulator. */
export type EspSimulatorOptions = { [M in BuiltIn as M['name']]: Parameters<M['simulator']['create']>[0] };

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

export type StartSimulatorOptions<N extends BuiltInEspName> = CommonSimulatorOptions & EspSimulatorOptions[N];

/** Start one built-in simulator on 127.0.0.1 (`port` 0 or absent = a free port). */
export function startSimulator<N extends BuiltInEspName>(
  name: N,
  opts: StartSimulatorOptions<N> = {} as StartSimulatorOptions<N>,
): Promise<SimulatorHandle> {
  return startEspSimulator(espModule(BUILT_IN_ESPS, name), opts);
}

/** Start the simulator of any ESP module; options beyond the common ones go to its factory. */
export async function startEspSimulator(
  esp: EspModule,
  opts: CommonSimulatorOptions & object = {},
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
  const def = esp.simulator.create(espOptions, credentialsFor(esp, credentials), { now, webhooks });
  const hostOptions: HostOptions = {};
  if (host !== undefined) hostOptions.host = host;
  if (port !== undefined) hostOptions.port = port;
  if (latencyMs !== undefined) hostOptions.latencyMs = latencyMs;
  if (maxLogEntries !== undefined) hostOptions.maxLogEntries = maxLogEntries;
  if (maxBodyBytes !== undefined) hostOptions.maxBodyBytes = maxBodyBytes;
  return startSimServer(def, webhooks, hostOptions);
}

export interface StartSimulatorsOptions {
  /** The ESPs to simulate, in port order; default the built-in ones (ESP_ORDER). */
  esps?: readonly EspModule[];
  /** 0 or absent = random ports; else basePort, basePort+1… in the order of `esps`. */
  basePort?: number;
  host?: string;
  credentials?: SimCredentialsOverride;
  now?: () => Date;
  /** Webhook signing secret for every simulator (see CommonSimulatorOptions.webhookSecret). */
  webhookSecret?: string;
  /** Per-ESP options (ports come from `basePort`). */
  options?: { [N in BuiltInEspName]?: Omit<StartSimulatorOptions<N>, 'port' | 'host' | 'credentials' | 'now'> } & {
    readonly [esp: string]: object | undefined;
  };
}

/**
 * By ESP name. Typed with the built-in names for their callers' convenience: when `esps` leaves
 * one out, it is absent.
 */
export interface RunningSimulators {
  sims: Record<BuiltInEspName, SimulatorHandle> & { readonly [esp: string]: SimulatorHandle | undefined };
  urls: Record<BuiltInEspName, string> & { readonly [esp: string]: string | undefined };
  close(): Promise<void>;
}

/** Start one simulator per ESP. If one fails to start, the others are closed and the error is rethrown. */
export async function startSimulators(opts: StartSimulatorsOptions = {}): Promise<RunningSimulators> {
  const started: SimulatorHandle[] = [];
  try {
    for (const [i, esp] of (opts.esps ?? BUILT_IN_ESPS).entries()) {
      const perEsp = opts.options?.[esp.name] ?? {};
      const common: CommonSimulatorOptions = { port: opts.basePort ? opts.basePort + i : 0 };
      if (opts.host !== undefined) common.host = opts.host;
      if (opts.credentials !== undefined) common.credentials = opts.credentials;
      if (opts.now !== undefined) common.now = opts.now;
      if (opts.webhookSecret !== undefined) common.webhookSecret = opts.webhookSecret;
      started.push(await startEspSimulator(esp, { ...perEsp, ...common }));
    }
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.close()));
    throw err;
  }
  const sims = Object.fromEntries(started.map((s) => [s.name, s])) as RunningSimulators['sims'];
  const urls = Object.fromEntries(started.map((s) => [s.name, s.url])) as RunningSimulators['urls'];
  return {
    sims,
    urls,
    close: async () => {
      await Promise.all(started.map((s) => s.close()));
    },
  };
}
