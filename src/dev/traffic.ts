import { ConsentClient, ConsentClientError, type ConsentEventInput } from '../client/index.js';
import type { EspName } from '../esp/types.js';
import type { TrafficCounts } from './demo-summary.js';

/**
 * Sample traffic for `npm run demo`: opt-outs on all channels, forced re-opt-ins after a
 * list-unsubscribe, tracking refusals, deliberately bad events, and ESP faults injected into
 * the simulators, so a newcomer sees every path move in Bull Board within a minute.
 */
export interface TrafficOptions {
  baseUrl: string;
  simulatorUrls: Partial<Record<EspName, string>>;
  intervalMs: number;
  log: (line: string) => void;
  /** Producer API key (the secret of a PRODUCER_API_KEYS entry) when the API requires one. */
  apiKey?: string;
}

const SOURCES = ['preference_center', 'unsubscribe_link', 'list_unsubscribe', 'form', 'api', 'app_settings'];

function pick<T>(items: readonly T[], n: number): T {
  return items[n % items.length]!;
}

function scenario(tick: number): { label: string; events: ConsentEventInput[] } {
  const person = `demo-${tick % 40}`;
  const contact = { externalId: person, email: `${person}@example.com` };
  const moment = new Date(Date.now() - 1_000).toISOString();
  const id = `demo-${Date.now()}-${tick}`;
  switch (tick % 5) {
    case 0:
      return { label: `${person}: opt-out on all channels`, events: [{ eventId: id, contact, kind: 'marketing', channel: 'all', value: 'opt_out', source: pick(SOURCES, tick), moment }] };
    case 1:
      return {
        label: `${person}: list-unsubscribe, then a forced re-opt-in (double opt-in)`,
        events: [
          { eventId: `${id}-a`, contact, kind: 'marketing', channel: 'email', value: 'opt_out', source: 'list_unsubscribe', moment: new Date(Date.now() - 60_000).toISOString() },
          { eventId: `${id}-b`, contact, kind: 'marketing', channel: 'email', value: 'opt_in', source: 'form', force: true, moment, proof: { doubleOptInId: id } },
        ],
      };
    case 2:
      return { label: `${person}: tracking refusal`, events: [{ eventId: id, contact, kind: 'tracking', value: 'opt_out', source: 'app_settings', moment, way: { device: 'mobile' } }] };
    case 3:
      return { label: `${person}: opt-in attempt (blocked if opted out)`, events: [{ eventId: id, contact, kind: 'marketing', channel: 'email', value: 'opt_in', source: 'form', moment }] };
    default:
      return { label: `${person}: sms opt-out`, events: [{ eventId: id, contact, kind: 'marketing', channel: 'sms', value: 'opt_out', source: 'sms_stop', moment }] };
  }
}

async function injectFault(tick: number, urls: TrafficOptions['simulatorUrls'], log: (l: string) => void): Promise<boolean> {
  const targets = Object.entries(urls) as [EspName, string][];
  if (targets.length === 0) return false;
  const [esp, url] = pick(targets, tick);
  const steps =
    tick % 2 === 0
      ? [{ status: 503 }, { status: 503 }, { status: 503 }]
      : [{ status: 429, headers: { 'Retry-After': '2' } }];
  const ok = await fetch(`${url}/__sim/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rules: [{ path: '*', steps }] }),
  }).then((r) => r.ok, () => false);
  if (ok) log(`fault injected: ${esp} answers ${steps.map((s) => s.status).join(', ')} next`);
  return ok;
}

export interface Traffic {
  /** Stops sending; resolves once the ticks under way have finished. */
  stop(): Promise<void>;
  /** What was sent so far: events the API accepted, bad events it refused, fault scripts injected. */
  counts(): TrafficCounts;
  /** Ticks started so far (one scenario each; every 7th also a bad event, every 15th a fault). */
  ticks(): number;
}

export function startTraffic(opts: TrafficOptions): Traffic {
  const client = new ConsentClient({ baseUrl: opts.baseUrl, attempts: 1, ...(opts.apiKey ? { apiKey: opts.apiKey } : {}) });
  const counts: TrafficCounts = { accepted: 0, refused: 0, faultsInjected: 0 };
  const inFlight = new Set<Promise<void>>();
  let tick = 0;
  const timer = setInterval(() => {
    const running = once(++tick).finally(() => inFlight.delete(running));
    inFlight.add(running);
  }, opts.intervalMs);
  async function once(tick: number) {
    const { label, events } = scenario(tick);
    try {
      await client.recordMany(events);
      counts.accepted += events.length;
      opts.log(label);
    } catch (err) {
      opts.log(`${label}: ${(err as Error).message}`);
    }
    if (tick % 7 === 0) {
      // A bad event, to show the API's answer: a 400 naming the field; nothing stored.
      try {
        await client.record({ eventId: `bad-${tick}`, contact: {}, kind: 'marketing', value: 'opt_out', source: 'api' } as ConsentEventInput);
      } catch (err) {
        if (err instanceof ConsentClientError) {
          counts.refused++;
          opts.log(`bad event refused: ${err.message}`);
        }
      }
    }
    if (tick % 15 === 0 && (await injectFault(tick / 15, opts.simulatorUrls, opts.log))) counts.faultsInjected++;
  }
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
    },
    counts: () => ({ ...counts }),
    ticks: () => tick,
  };
}
