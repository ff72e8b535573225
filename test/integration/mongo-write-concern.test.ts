import type { CommandStartedEvent } from 'mongodb';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestContext, isolatedEnv } from '../support/integration.js';

type Ctx = Awaited<ReturnType<typeof createTestContext>>;

/**
 * The options the driver really sends, read from its command monitoring (`monitorCommands=true`
 * in the URI): the event insert the API's 202 waits for carries the configured write concern,
 * and the test server (a standalone, where `majority` means the one server) accepts it.
 */
async function contextWithMonitoring(extra: Record<string, string> = {}) {
  const uri = isolatedEnv()['MONGODB_URI']!;
  const ctx = await createTestContext({ MONGODB_URI: `${uri}${uri.includes('?') ? '&' : '?'}monitorCommands=true`, ...extra });
  const commands: CommandStartedEvent[] = [];
  ctx.mongo.getClient().on('commandStarted', (e) => commands.push(e));
  return { ctx, commands };
}

const event = (eventId: string) => ({
  eventId,
  contact: { externalId: `wc-${eventId}` },
  kind: 'marketing' as const,
  channel: 'email',
  value: 'opt_out' as const,
  source: 'api',
  force: false,
  moment: '2026-11-20T10:00:00Z',
});

describe('MongoDB write concern and read preference as the driver uses them', () => {
  let ctx: Ctx | undefined;
  afterEach(async () => {
    await ctx?.dispose();
    ctx = undefined;
  });

  it('the event insert before 202 is w:majority, journaled, with a wtimeout (defaults), and the standalone test server accepts it', async () => {
    const monitored = await contextWithMonitoring();
    ctx = monitored.ctx;
    const result = await ctx.services.recordEvents([event('wc-1')] as never);
    expect(result).toEqual([{ eventId: 'wc-1', status: 'accepted' }]);
    const inserts = monitored.commands.filter((c) => c.commandName === 'insert' && c.command['insert'] === ctx!.models.events.collection.collectionName);
    expect(inserts).toHaveLength(1);
    expect(inserts[0]!.command['writeConcern']).toEqual({ w: 'majority', j: true, wtimeout: 10_000 });
    expect(await ctx.models.events.countDocuments({ _id: 'wc-1' })).toBe(1);

    // Reads go to the primary; retryable writes are the driver's default (on).
    const client = ctx.mongo.getClient();
    expect(client.readPreference.mode).toBe('primary');
    expect(ctx.mongo.db!.readPreference.mode).toBe('primary');
    expect(client.options.retryWrites).toBe(true);
    const reads = monitored.commands.filter((c) => c.commandName === 'find');
    expect(reads.length).toBeGreaterThan(0);
    for (const read of reads) expect(read.command['$readPreference']?.mode ?? 'primary').toBe('primary');
  });

  it('MONGO_WRITE_CONCERN, MONGO_WRITE_JOURNAL and MONGO_WRITE_TIMEOUT_MS change what is sent', async () => {
    const monitored = await contextWithMonitoring({ MONGO_WRITE_CONCERN: '1', MONGO_WRITE_JOURNAL: 'false', MONGO_WRITE_TIMEOUT_MS: '0' });
    ctx = monitored.ctx;
    await ctx.services.recordEvents([event('wc-2')] as never);
    const insert = monitored.commands.find((c) => c.commandName === 'insert' && c.command['insert'] === ctx!.models.events.collection.collectionName);
    expect(insert?.command['writeConcern']).toEqual({ w: 1, j: false });
  });
});
