/**
 * Credentials the simulators accept. The defaults are public, fake and stable (each ESP's module,
 * src/esp/<esp>/<esp>.module.ts, gives its own) so that dev, demo and tests can point adapters at
 * the simulators without configuration. Override per ESP with `startSimulator(name, {
 * credentials: { <esp>: { ... } } })`.
 */
import { BUILT_IN_ESPS, type BuiltInEspName, type EspModule } from '../esp/registry.js';

type BuiltIn = (typeof BUILT_IN_ESPS)[number];

/** The built-in simulators' credentials, each with its own shape. */
export type SimCredentials = { [M in BuiltIn as M['name']]: M['simulator']['credentials'] };

/** Per-ESP partial overrides of the default credentials (any configured ESP's, by name). */
export type SimCredentialsOverride = { [K in BuiltInEspName]?: Partial<SimCredentials[K]> } & {
  readonly [esp: string]: object | undefined;
};

/** The default credentials each built-in simulator accepts (dev, demo and tests use these). */
export const simulatorCredentials = Object.freeze(
  Object.fromEntries(BUILT_IN_ESPS.map((m) => [m.name, m.simulator.credentials])),
) as SimCredentials;

/** Default credentials of one ESP's simulator merged with an override. */
export function credentialsFor(esp: EspModule, override?: SimCredentialsOverride): object {
  return { ...esp.simulator.credentials, ...(override?.[esp.name] ?? {}) };
}
