import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxInWindow } from '../../bench/lib/stats.js';
import { startEspSimulators } from '../support/esp-sims.js';
import { chaosContact, sendEvents, type Stack, startStack, waitForQuiescence } from '../support/chaos.js';

/** Ometria's documented push limit (esp-contracts.md), which OMETRIA_PUSH_RPS defaults to. */
const OMETRIA_PUSHES_PER_SECOND = 8;
const CONTACTS = 48;

/**
 * Two worker processes push to one Ometria simulator that enforces the documented 8 pushes per
 * second. Each worker alone may use the whole budget; the budget lives in Redis (one window per
 * ESP, shared), so together they stay inside it: no 429, never more than 8 arrivals in a second.
 */
describe('the ESP budget is shared by every worker process', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      workers: 2,
      scheduler: false,
      startSims: () => startEspSimulators(['ometria'], { documentedLimits: true }),
      // One contact per request, so the pushes outnumber what one window allows many times over.
      extra: { OMETRIA_PUSH_RPS: String(OMETRIA_PUSHES_PER_SECOND), OMETRIA_MAX_BATCH: '1', OMETRIA_FETCH_ERRORS: 'false' },
    });
  });
  afterAll(async () => stack?.stop());

  it('two workers together never exceed Ometria’s documented pushes per second', { timeout: 120_000 }, async () => {
    const events = Array.from({ length: CONTACTS }, (_, i) => ({
      eventId: `budget-${i}`,
      contact: chaosContact('budget', i),
      kind: 'marketing' as const,
      channel: 'email',
      value: 'opt_in' as const,
      source: 'form',
      moment: '2026-11-20T10:00:00Z',
    }));
    const load = await sendEvents(stack.url, events, { batch: 12, inFlight: 2 });
    expect(load.acked.size).toBe(CONTACTS);
    await waitForQuiescence(stack.ctx, { timeoutMs: 90_000 });

    const log = (await (await fetch(`${stack.sims.urls.ometria}/__sim/requests`)).json()) as { method: string; path: string; time: string; status: number | null }[];
    const pushes = log.filter((r) => r.method === 'POST' && r.path === '/v2/push');
    expect(pushes.filter((r) => r.status === 429)).toEqual([]);
    expect(pushes.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(CONTACTS);
    // The ESP counts arrivals: the most that fall in any one second.
    expect(maxInWindow(pushes.map((r) => Date.parse(r.time)).sort((x, y) => x - y), 1_000)).toBeLessThanOrEqual(OMETRIA_PUSHES_PER_SECOND);
    const recipients = (await (await fetch(`${stack.sims.urls.ometria}/__sim/state`)).json()) as { recipients: Record<string, unknown> };
    expect(Object.keys(recipients.recipients)).toHaveLength(CONTACTS);
  });
});
