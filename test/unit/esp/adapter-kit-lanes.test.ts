import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { EspSettings } from '../../../config/esps.js';
import { createAdapterKit } from '../../../src/esp/kit/adapter-kit.js';
import { EspError } from '../../../src/esp/kit/http/errors.js';
import { inLane } from '../../../src/esp/kit/lane-scope.js';

const settings = {
  esp: 'actito',
  enabled: true,
  baseUrl: 'http://127.0.0.1:9',
  timeoutMs: 1_000,
  rateLimit: { max: 1_000, durationMs: 1_000 },
  concurrency: 1,
  maxBatch: 1,
  attempts: 1,
  retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1, retryRateLimited: false, maxInlineWaitMs: 0, retryAfterCapMs: 1_000 },
} as unknown as EspSettings;

describe('adapter kit lanes', () => {
  it("orders waiting requests by the lane their push's signal carries: lane 1 first, then arrival", async () => {
    const kit = createAdapterKit(settings, pino({ level: 'silent' }));
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const call = (name: string, signal: AbortSignal | undefined, wait?: Promise<void>) =>
      kit.call(name, signal, async () => {
        order.push(name);
        await wait;
      });
    // The only slot is taken; the others queue behind it in arrival order, each from its own push.
    const first = call('holder', inLane(3, new AbortController().signal), held);
    const waiting = [
      call('import-a', inLane(3, new AbortController().signal)),
      call('read-back', undefined),
      call('opt-out', inLane(1, new AbortController().signal)),
      call('repair', inLane(2, new AbortController().signal)),
    ];
    release();
    await Promise.all([first, ...waiting]);
    expect(order).toEqual(['holder', 'opt-out', 'repair', 'import-a', 'read-back']);
  });
});

describe('adapter kit budget', () => {
  it('a budget that cannot be read (Redis down) fails the call as retryable, never as a permanent dead letter', async () => {
    let sent = 0;
    const kit = createAdapterKit(settings, pino({ level: 'silent' }), {
      pacers: () => ({
        take: async () => {
          throw new Error('write ECONNRESET');
        },
      }),
    });
    const failure = await kit
      .call('push', undefined, async () => {
        sent += 1;
      })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(EspError.is(failure)).toBe(true);
    expect(failure).toMatchObject({ kind: 'retryable', esp: 'actito' });
    expect((failure as Error).message).toContain('ECONNRESET');
    expect(sent).toBe(0);
  });
});
