/**
 * The five ESP simulators in their own process, answering at once (no latency; rate limits
 * raised so the ESP budget never binds, or as documented with BENCH_SIM_LIMITS=documented),
 * with a request tally per ESP and route.
 */
import type { BuiltInEspName } from '../../src/esp/registry.js';
import { ESP_ORDER, type LoggedRequest, startSimulators } from '../../src/simulators/index.js';
import { contactEmail, contactExternalId } from '../lib/events.js';
import { emit, serve } from '../lib/ipc.js';

// CrossEngage opts out known users by id; unknown ones fall back to a lead event after a 404.
// The benchmark's people are known users there, as a CRM's customers would be.
const knownUsers = Number(process.env['BENCH_CROSSENGAGE_USERS'] ?? 0);
const users = Array.from({ length: knownUsers }, (_, i) => ({ id: contactExternalId(i), email: contactEmail(i) }));

// BENCH_SIM_LIMITS=documented (the lanes phase): the ESPs' documented limits as the simulators
// default them (Actito 100 calls/minute and 5 concurrent, Ometria push 8 rps). Otherwise raised,
// so that consent-sync's own cost is measured, not the ESPs' allowances.
const documented = process.env['BENCH_SIM_LIMITS'] === 'documented';
const sims = await startSimulators({
  basePort: 0,
  options: {
    ometria: documented
      ? { maxLogEntries: 20_000 }
      : { pushRatePerSecond: 1_000_000, dataApiRatePerSecond: 1_000_000, queueLimit: 100_000_000, maxLogEntries: 20_000 },
    actito: documented ? { maxLogEntries: 20_000 } : { callsPerMinute: 1_000_000_000, maxLogEntries: 20_000 },
    'optimizely-campaign': { maxLogEntries: 20_000 },
    crossengage: { maxLogEntries: 20_000, users },
    'dynamic-yield': { maxLogEntries: 20_000 },
  },
} as Parameters<typeof startSimulators>[0]);

interface Tally {
  total: number;
  unseen: number;
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
  contactsInBodies: number;
}

const lastSeq: Record<string, number> = {};
const tallies: Record<string, Tally> = {};
const fresh = (): Tally => ({ total: 0, unseen: 0, byRoute: {}, byStatus: {}, contactsInBodies: 0 });
for (const esp of ESP_ORDER) tallies[esp] = fresh();

/** `/v2/profiles/123`, `/rest/…/recipients/jo@x` → `:id`, so routes group. */
function route(req: LoggedRequest): string {
  const parts = req.path.split('/').map((seg) => {
    if (seg === '' || seg === '***') return seg;
    if (/[@%+]|\d{3,}/.test(seg) || seg.length > 32) return ':id';
    return seg;
  });
  return `${req.method} ${parts.join('/')}`;
}

function poll() {
  for (const esp of ESP_ORDER) {
    const entries = sims.sims[esp].requests();
    const since = lastSeq[esp] ?? 0;
    const tally = tallies[esp]!;
    for (const entry of entries) {
      if (entry.seq <= since) continue;
      if (entry.outcome === 'pending') break; // counted once answered
      if (entry.seq > (lastSeq[esp] ?? 0) + 1) tally.unseen += entry.seq - (lastSeq[esp] ?? 0) - 1;
      lastSeq[esp] = entry.seq;
      tally.total++;
      const r = route(entry);
      tally.byRoute[r] = (tally.byRoute[r] ?? 0) + 1;
      const s = String(entry.status ?? entry.outcome);
      tally.byStatus[s] = (tally.byStatus[s] ?? 0) + 1;
    }
  }
}
const timer = setInterval(poll, 200);

serve({
  stats: () => {
    poll();
    return { tallies, rssKb: Math.round(process.resourceUsage().maxRSS) };
  },
  reset: () => {
    poll();
    for (const esp of ESP_ORDER) {
      sims.sims[esp].reset();
      tallies[esp] = fresh();
    }
    return true;
  },
  /** Reconciliation seed: `count` recipients unsubscribed at Optimizely (email, GLOBAL list). */
  seedOptimizelyUnsubscribes: async (payload) => {
    const { from, to } = payload as { from: number; to: number };
    const sim = sims.sims['optimizely-campaign'];
    for (let i = from; i < to; i++) {
      await sim.unsubscribe({ recipient: contactEmail(i), channel: 'email', type: 'list_unsubscribe' });
    }
    return to - from;
  },
  stop: async () => {
    clearInterval(timer);
    await sims.close();
    process.exit(0);
  },
});

emit('ready', { urls: sims.urls as Record<BuiltInEspName, string> });
