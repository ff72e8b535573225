/**
 * The end of `npm run demo`: what happened at each ESP, in about ten lines and without PII.
 * Per simulated ESP: the requests its simulator received and the statuses it answered, the
 * faults it acted out, what it holds for our contacts against MongoDB (per channel, opted out
 * and opted in), dead letters and whether its queue is paused.
 */
import type { AppContext } from '../app/context.js';
import type { EspName } from '../esp/types.js';
import type { ContactDoc } from '../persistence/models.js';
import { espQueueNames, QUEUE_APPLY } from '../queues/names.js';
import type { FaultScript, LoggedRequest } from '../simulators/core/types.js';
import {
  compareEspsWithMongo,
  NOT_CARRIED,
  SIM_CHANNELS,
  type SimChannel,
  type SimulatorUrls,
  simHolds,
  simRecipients,
} from './esp-comparison.js';

type SummaryContext = Pick<AppContext, 'models' | 'services' | 'runtime' | 'esps'>;

export interface ChannelCounts {
  /** What the ESP holds, over the contacts MongoDB has a decision for on this channel (and the ESP can carry). */
  esp: { optedOut: number; optedIn: number };
  ours: { optedOut: number; optedIn: number };
}

export interface EspSummary {
  esp: EspName;
  /** ESP requests the simulator received (its control endpoints not counted). */
  requests: number;
  /** Requests per answer: the HTTP status, or `reset` / `timeout` / `aborted` / `pending` when none was sent. */
  statuses: Record<string, number>;
  /** Requests a scripted fault answered. */
  faulted: number;
  /** Scripted fault steps not consumed yet. */
  faultsLeft: number;
  channels: Record<SimChannel, ChannelCounts>;
  /** Contact channels compared, and those where the ESP reads as MongoDB. */
  compared: number;
  agree: number;
  /** Differences MongoDB records a reason for (the ESP refused: reactivation blocked, dead letter). */
  explained: number;
  deadLetters: number;
  paused: boolean;
}

export interface PipelineBacklog {
  pendingEvents: number;
  /** Contacts with a change not yet pushed to some ESP. */
  pendingOutbox: number;
  /** Jobs waiting, active, delayed or prioritized in the apply queue and the ESP queues. */
  jobs: number;
}

export interface DemoSummary {
  contacts: number;
  backlog: PipelineBacklog;
  esps: EspSummary[];
}

const BUSY_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

/** What is still on its way: pending events, unpushed outbox entries, busy consent jobs. */
export async function pipelineBacklog(ctx: SummaryContext): Promise<PipelineBacklog> {
  let jobs = 0;
  for (const name of [QUEUE_APPLY, ...ctx.esps.flatMap(espQueueNames)]) {
    const counts = await ctx.runtime.queue(name).getJobCounts(...BUSY_STATES);
    jobs += BUSY_STATES.reduce((sum, s) => sum + (counts[s] ?? 0), 0);
  }
  return {
    pendingEvents: await ctx.models.events.countDocuments({ status: 'pending' }),
    pendingOutbox: await ctx.models.contacts.countDocuments({ outbox: { $ne: {} } }),
    jobs,
  };
}

const idle = (b: PipelineBacklog) => b.pendingEvents === 0 && b.pendingOutbox === 0 && b.jobs === 0;

/**
 * Waits until nothing is left on its way (twice in a row, so a job between two queues is not
 * missed), or `timeoutMs` passes; returns the last backlog seen. A paused ESP never drains.
 */
export async function waitForDrain(
  ctx: SummaryContext,
  timeoutMs: number,
  intervalMs = 500,
): Promise<PipelineBacklog> {
  const deadline = Date.now() + timeoutMs;
  let quiet = 0;
  for (;;) {
    const backlog = await pipelineBacklog(ctx);
    quiet = idle(backlog) ? quiet + 1 : 0;
    if (quiet >= 2 || Date.now() >= deadline) return backlog;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return (await res.json()) as T;
}

function channelCounts(
  esp: EspName,
  recipients: Record<string, Record<string, string>>,
  contacts: readonly ContactDoc[],
  channel: SimChannel,
): ChannelCounts {
  const counts: ChannelCounts = { esp: { optedOut: 0, optedIn: 0 }, ours: { optedOut: 0, optedIn: 0 } };
  for (const c of contacts) {
    const ours = channel === 'tracking' ? c.effective.tracking.state : c.effective.marketing[channel]?.state;
    if (ours !== 'opted_in' && ours !== 'opted_out') continue;
    const outcome = c.sync[esp]?.channels?.[channel]?.kind;
    if (outcome !== undefined && NOT_CARRIED.has(outcome)) continue;
    counts.ours[ours === 'opted_out' ? 'optedOut' : 'optedIn']++;
    const theirs = simHolds(esp, recipients, c.identities, channel);
    if (theirs === 'opted_out') counts.esp.optedOut++;
    else if (theirs === 'opted_in') counts.esp.optedIn++;
  }
  return counts;
}

/** Reads every simulated ESP's request log, fault script and state, and MongoDB, now. */
export async function collectDemoSummary(ctx: SummaryContext, sims: SimulatorUrls): Promise<DemoSummary> {
  const esps = ctx.esps.filter((esp) => sims.urls[esp] !== undefined);
  const contacts = await ctx.models.contacts.find({}).lean<ContactDoc[]>();
  const statuses = new Map((await ctx.services.espStatuses()).map((s) => [s.esp, s]));
  const out: EspSummary[] = [];
  for (const esp of esps) {
    const url = sims.urls[esp]!;
    const [requests, faults, recipients, comparison] = await Promise.all([
      getJson<LoggedRequest[]>(`${url}/__sim/requests`),
      getJson<FaultScript>(`${url}/__sim/faults`),
      simRecipients(sims, esp),
      compareEspsWithMongo(sims, [esp], contacts),
    ]);
    const byStatus: Record<string, number> = {};
    for (const r of requests) {
      const key = r.status === null ? r.outcome : String(r.status);
      byStatus[key] = (byStatus[key] ?? 0) + 1;
    }
    const status = statuses.get(esp);
    out.push({
      esp,
      requests: requests.length,
      statuses: byStatus,
      faulted: requests.filter((r) => r.fault).length,
      faultsLeft: (faults.rules ?? []).reduce((sum, rule) => sum + rule.steps.length, 0),
      channels: Object.fromEntries(
        SIM_CHANNELS.map((ch) => [ch, channelCounts(esp, recipients, contacts, ch)]),
      ) as Record<SimChannel, ChannelCounts>,
      compared: comparison.compared,
      agree: comparison.compared - comparison.mismatches.length - comparison.explained.length,
      explained: comparison.explained.length,
      deadLetters: status?.deadLetters ?? 0,
      paused: status?.paused ?? false,
    });
  }
  return { contacts: contacts.length, backlog: await pipelineBacklog(ctx), esps: out };
}

/** What the demo's traffic did (src/dev/traffic.ts), for the summary's first line. */
export interface TrafficCounts {
  accepted: number;
  refused: number;
  faultsInjected: number;
}

/**
 * The summary as lines: one headline, then two per ESP. Counts only, no contact's identity.
 * `ESP/ours: email 7/7 out 16/16 in` reads: the ESP holds 7 opt-outs and 16 opt-ins where MongoDB has 7 and 16.
 */
export function formatDemoSummary(summary: DemoSummary, traffic?: TrafficCounts): string[] {
  const { backlog } = summary;
  const n = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;
  const sent = traffic
    ? `${n(traffic.accepted, 'event')} accepted, ${traffic.refused} bad ${traffic.refused === 1 ? 'one' : 'ones'} refused, ${n(traffic.faultsInjected, 'fault script')} injected; `
    : '';
  const left = idle(backlog)
    ? 'everything delivered'
    : `still on its way: ${n(backlog.pendingEvents, 'event')}, ${n(backlog.pendingOutbox, 'contact')} to push, ${n(backlog.jobs, 'job')}`;
  const lines = [`demo summary: ${sent}${n(summary.contacts, 'contact')}; ${left}`];
  for (const e of summary.esps) {
    const answers = Object.entries(e.statuses)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([s, n]) => `${s}×${n}`)
      .join(' ');
    const faults = `${e.faulted} faulted${e.faultsLeft > 0 ? `, ${e.faultsLeft} fault step${e.faultsLeft === 1 ? '' : 's'} unused` : ''}`;
    lines.push(
      `  ${e.esp}: ${e.requests} requests (${answers || 'none'}; ${faults}); ${e.deadLetters} dead letters; ${e.paused ? 'PAUSED' : 'running'}`,
    );
    const channels = SIM_CHANNELS.flatMap((ch) => {
      const { esp, ours } = e.channels[ch];
      const out = esp.optedOut + ours.optedOut > 0 ? ` ${esp.optedOut}/${ours.optedOut} out` : '';
      const inn = esp.optedIn + ours.optedIn > 0 ? ` ${esp.optedIn}/${ours.optedIn} in` : '';
      return out || inn ? [`${ch}${out}${inn}`] : [];
    });
    const differ = e.compared - e.agree;
    lines.push(
      `    ESP/ours: ${channels.join(', ') || 'no decisions'}; ${e.agree}/${e.compared} agree${differ > 0 ? ` (${differ} differ, ${e.explained} explained)` : ''}`,
    );
  }
  return lines;
}
