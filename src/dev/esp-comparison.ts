/**
 * What an ESP simulator holds for our contacts, against MongoDB: shared by the demo's summary
 * (src/dev/demo-summary.ts) and the convergence and chaos tests (test/support/chaos.ts).
 */
import { BUILT_IN_ESPS, type EspModule, espModule } from '../esp/registry.js';
import type { EspName } from '../esp/types.js';
import type { ContactDoc } from '../persistence/models.js';

/** Where the simulators listen (a running set of simulators, or just their URLs). */
export interface SimulatorUrls {
  urls: Partial<Record<EspName, string>>;
}

/** Every channel a simulator can hold, compared for every ESP (what one cannot carry is recorded as such). */
export const SIM_CHANNELS = ['email', 'sms', 'push', 'tracking'] as const;
export type SimChannel = (typeof SIM_CHANNELS)[number];

/**
 * The state a simulator holds for one contact's channel, read under the key its ESP's module gives
 * (`simulator.recipientKey`: CrossEngage by externalId or its lead key, Dynamic Yield SMS by phone,
 * the others by email). Opt-out lists (Optimizely, CrossEngage) hold nothing for a person who may
 * be messaged, which reads as their `absentReadsAs`, opted in.
 */
export function simHolds(
  esp: EspName,
  recipients: Record<string, Record<string, string>>,
  identities: ContactDoc['identities'],
  channel: SimChannel,
  esps: readonly EspModule[] = BUILT_IN_ESPS,
): string | undefined {
  const { simulator } = espModule(esps, esp);
  const key = simulator.recipientKey ? simulator.recipientKey(identities, channel) : identities.email;
  return (key === undefined ? undefined : recipients[key]?.[channel]) ?? simulator.absentReadsAs;
}

export async function simRecipients(sims: SimulatorUrls, esp: EspName): Promise<Record<string, Record<string, string>>> {
  const state = (await (await fetch(`${sims.urls[esp] ?? ''}/__sim/state`)).json()) as { recipients: Record<string, Record<string, string>> };
  return state.recipients;
}

export interface EspComparison {
  compared: number;
  mismatches: string[];
  /** Simulator ≠ MongoDB where MongoDB records why (the ESP refused the change: reactivation_blocked, dead letter). */
  explained: string[];
  /** Decided channels the ESP cannot hold, recorded so on the contact (not_applicable, missing_identity). */
  notCarried: number;
}

/** Sync outcomes of a decided channel the ESP cannot hold. */
export const NOT_CARRIED: ReadonlySet<string> = new Set(['not_applicable', 'missing_identity']);
const REFUSED: ReadonlySet<string> = new Set(['reactivation_blocked', 'dead_letter']);

/**
 * Every simulator's final state against MongoDB's effective state, per contact and for every
 * channel: a decided channel must read the same at the ESP, unless the contact's sync entry records
 * that the ESP cannot carry it; an undecided one must not read opted_out there. A difference
 * MongoDB itself explains (reactivation_blocked or a dead letter) is listed apart.
 */
export async function compareEspsWithMongo(
  sims: SimulatorUrls,
  esps: readonly EspName[],
  contacts: readonly ContactDoc[],
  modules: readonly EspModule[] = BUILT_IN_ESPS,
): Promise<EspComparison> {
  const result: EspComparison = { compared: 0, mismatches: [], explained: [], notCarried: 0 };
  for (const esp of esps) {
    const recipients = await simRecipients(sims, esp);
    for (const c of contacts) {
      const sync = c.sync[esp];
      for (const channel of SIM_CHANNELS) {
        const ours = channel === 'tracking' ? c.effective.tracking.state : c.effective.marketing[channel]?.state;
        const theirs = simHolds(esp, recipients, c.identities, channel, modules);
        const decided = ours === 'opted_in' || ours === 'opted_out';
        const outcome = sync?.channels?.[channel]?.kind;
        if (decided && outcome !== undefined && NOT_CARRIED.has(outcome)) {
          result.notCarried++;
          continue;
        }
        result.compared++;
        if (decided ? theirs === ours : theirs !== 'opted_out') continue;
        const who = c.identities.externalId ?? c.identities.email ?? c._id;
        const line = `${esp} ${who} ${channel}: ESP ${theirs ?? '(none)'}, MongoDB ${ours} (v${c.version}, sync ${JSON.stringify(sync ?? null)})`;
        const explained =
          sync?.outcome === 'reactivation_blocked' || sync?.status === 'dead_letter' || (outcome !== undefined && REFUSED.has(outcome));
        (explained ? result.explained : result.mismatches).push(line);
      }
    }
  }
  return result;
}
