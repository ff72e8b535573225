import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import mongoose, { type Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withDatabase } from '../../src/dev/mongo-server.js';
import type { EspName } from '../../src/esp/types.js';
import { createModels, type Models } from '../../src/persistence/models.js';
import { ContactLocks } from '../../src/queues/contact-lock.js';
import { acknowledgeAll, type EspAck } from '../../src/services/esp-sync/acknowledge.js';

/**
 * acknowledgeAll on a real MongoDB-protocol server, on both write paths: guards in the filter
 * (MongoDB) and guards checked under the contact lease (servers without atomic filtered updates).
 */
const PATHS = [
  { name: 'guards in the update filter', atomicGuards: true },
  { name: 'guards checked under leases', atomicGuards: false },
] as const;

let connection: Connection;
let redis: Redis;
const updateCommands: number[] = [];

beforeAll(async () => {
  const db = `t_ack_${randomBytes(4).toString('hex')}`;
  connection = await mongoose.createConnection(withDatabase(inject('mongoUri'), db), { monitorCommands: true }).asPromise();
  connection.getClient().on('commandStarted', (e) => {
    if (e.commandName === 'update' && e.command['update'] === 'contacts') updateCommands.push(e.command['updates'].length);
  });
  redis = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  await connection?.dropDatabase().catch(() => {});
  await connection?.close();
  redis?.disconnect();
});

function contactDoc(id: string, outbox: Partial<Record<EspName, number>>) {
  const entries = Object.fromEntries(Object.entries(outbox).map(([esp, version]) => [esp, { version, since: new Date(), optOut: true }]));
  return {
    _id: id,
    version: 3,
    rev: 7,
    identities: { externalId: id },
    effective: { marketing: {}, tracking: { state: 'unknown', authoritative: false } },
    outbox: entries,
    sync: {},
  };
}

function ack(esp: EspName, contactId: string, pendingVersion: number): EspAck {
  return {
    esp,
    contactId,
    pendingVersion,
    update: {
      $set: { [`sync.${esp}`]: { status: 'synced', version: pendingVersion, outcome: 'pushed', at: new Date() } },
      $unset: { [`outbox.${esp}`]: '', [`deadLetters.${esp}`]: '' },
    },
  };
}

describe.each(PATHS)('acknowledgeAll ($name)', ({ atomicGuards }) => {
  let models: Models;
  let locks: ContactLocks;
  const prefix = `t_ack_${randomBytes(4).toString('hex')}`;
  beforeAll(() => {
    models = createModels(connection, { atomicGuards, reads: { batched: atomicGuards, concurrency: 4 } });
    locks = new ContactLocks(redis, prefix, 5_000, 2_000);
  });
  const deps = () => ({ models, inLeasedRounds: locks.inLeasedRounds.bind(locks) });
  const outboxOf = async (id: string) => (await models.contacts.findById(id).lean())?.outbox ?? {};

  it('writes the acknowledgements of every ESP for one contact as one update', async () => {
    const id = `one-${atomicGuards}`;
    await models.contacts.collection.insertOne(contactDoc(id, { ometria: 4, actito: 4, crossengage: 4 }) as never);
    const acks = [ack('ometria', id, 4), ack('actito', id, 4), ack('crossengage', id, 4)];
    updateCommands.length = 0;

    const acked = await acknowledgeAll(acks, deps());

    expect([...acked]).toEqual(acks);
    expect(updateCommands).toEqual([1]); // one update command holding one document update
    expect(await outboxOf(id)).toEqual({});
    const sync = (await models.contacts.findById(id).lean())?.sync as Record<string, { version: number }>;
    expect(Object.keys(sync).sort()).toEqual(['actito', 'crossengage', 'ometria']);
  });

  it('leaves an ESP whose entry moved to a newer version pending, and acknowledges the others of that contact', async () => {
    const id = `newer-${atomicGuards}`;
    await models.contacts.collection.insertOne(contactDoc(id, { ometria: 5, actito: 4, crossengage: 4 }) as never);
    const other = `plain-${atomicGuards}`;
    await models.contacts.collection.insertOne(contactDoc(other, { ometria: 2 }) as never);
    // ometria was pushed at version 4, but version 5 arrived meanwhile.
    const stale = ack('ometria', id, 4);
    const fresh = [ack('actito', id, 4), ack('crossengage', id, 4), ack('ometria', other, 2)];

    const acked = await acknowledgeAll([stale, ...fresh], deps());

    expect(acked.has(stale)).toBe(false);
    for (const a of fresh) expect(acked.has(a)).toBe(true);
    expect(await outboxOf(id)).toEqual({ ometria: expect.objectContaining({ version: 5 }) });
    expect(await outboxOf(other)).toEqual({});
  });

  it('acknowledges nothing for a contact that is gone, and the same (contact, ESP) twice only for the version still pending', async () => {
    const id = `twice-${atomicGuards}`;
    await models.contacts.collection.insertOne(contactDoc(id, { 'dynamic-yield': 6 }) as never);
    const older = ack('dynamic-yield', id, 5);
    const current = ack('dynamic-yield', id, 6);
    const missing = ack('dynamic-yield', `missing-${atomicGuards}`, 1);

    const acked = await acknowledgeAll([older, current, missing], deps());

    expect(acked.has(current)).toBe(true);
    expect(acked.has(older)).toBe(false);
    expect(acked.has(missing)).toBe(false);
    expect(await outboxOf(id)).toEqual({});
  });
});
