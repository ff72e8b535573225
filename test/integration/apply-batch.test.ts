import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { WireConsentEvent } from '../../src/contracts/consent-event.js';
import { withDatabase } from '../../src/dev/mongo-server.js';
import { createContacts } from '../../src/persistence/contacts.repository.js';
import { applyStoredEvents } from '../../src/apply/apply-batch.js';
import { JOURNAL_LENGTH } from '../../src/apply/journal.js';
import { createTestContext } from '../support/integration.js';

/**
 * The batch apply path with new people, on a real MongoDB-protocol server: one batch creates the
 * contacts of everyone it plainly can, and the result equals applying the events one at a time.
 */
type Ctx = Awaited<ReturnType<typeof createTestContext>>;

let ctx: Ctx;
const commands: string[] = [];

beforeAll(async () => {
  const uri = withDatabase(inject('mongoUri'), `t_batch_${randomBytes(4).toString('hex')}`);
  ctx = await createTestContext({ MONGODB_URI: `${uri}${uri.includes('?') ? '&' : '?'}monitorCommands=true` });
  ctx.mongo.getClient().on('commandStarted', (e) => {
    const collection = e.command[e.commandName];
    if (typeof collection === 'string') commands.push(`${e.commandName} ${collection}`);
  });
});
afterAll(async () => ctx?.dispose());

let counter = 0;
function event(contact: WireConsentEvent['contact'], value: 'opt_in' | 'opt_out', channel = 'email'): WireConsentEvent {
  counter++;
  return {
    eventId: `batch-${counter}-${randomBytes(3).toString('hex')}`,
    contact,
    kind: 'marketing',
    channel,
    value,
    source: 'preference_center',
    force: false,
    moment: new Date(Date.UTC(2026, 10, 1, 0, 0, counter)).toISOString(),
  } as WireConsentEvent;
}

/** Records the events, then applies them all at once, so they settle in one batch. */
async function applyTogether(events: WireConsentEvent[]) {
  await ctx.services.recordEvents(events);
  commands.length = 0;
  const settled = await applyStoredEvents(
    events.map((e) => e.eventId),
    { models: ctx.models, policy: ctx.policy, connectedEsps: () => ctx.esps, now: () => new Date() },
  );
  return events.map((e) => {
    const result = settled.get(e.eventId);
    if (!result?.ok) throw result?.error ?? new Error(`no result for ${e.eventId}`);
    return result.value;
  });
}

async function ownerOf(key: string) {
  return (await ctx.models.identities.findById(key).lean())?.contactId;
}

describe('batch apply with new people', () => {
  it('creates every new person of a batch with a handful of commands, one contact each, events applied in order', async () => {
    const people = Array.from({ length: 8 }, (_, i) => ({ externalId: `new-${i}-${counter}`, email: `new${i}.${counter}@example.com` }));
    // two events for each person: opt out, then opt in again on another channel
    const events = people.flatMap((p) => [event(p, 'opt_out'), event(p, 'opt_out', 'sms')]);

    const results = await applyTogether(events);

    expect(results.map((r) => r.outcome)).toEqual(events.map(() => 'applied'));
    const insertsOfIdentities = commands.filter((c) => c === 'insert contact_identities').length;
    expect(insertsOfIdentities).toBe(2); // first keys (the claims), then the other keys
    expect(commands.filter((c) => c === 'insert contacts')).toHaveLength(1);
    for (const [i, p] of people.entries()) {
      const contactId = await ownerOf(`ext:${p.externalId}`);
      expect(contactId).toBeDefined();
      expect(await ownerOf(`email:-:${p.email}`)).toBe(contactId);
      expect(results[2 * i]!.contactId).toBe(contactId);
      const contact = await ctx.models.contacts.findById(contactId).lean();
      expect(contact?.version).toBe(2);
      expect(contact?.effective.marketing['email']?.state).toBe('opted_out');
      expect(contact?.effective.marketing['sms']?.state).toBe('opted_out');
      expect(contact?.identities).toMatchObject({ externalId: p.externalId, email: p.email });
    }
    expect(await ctx.models.audit.countDocuments({ _id: { $in: events.map((e) => e.eventId) } })).toBe(events.length);
  });

  it('leaves people whose keys overlap to the single path, and applies their events there', async () => {
    const email = `overlap.${counter}@example.com`;
    const full = { externalId: `ov-${counter}`, email };
    const events = [event(full, 'opt_out'), event({ email }, 'opt_out', 'sms')];

    const results = await applyTogether(events);

    expect(results.map((r) => r.outcome)).toEqual(['applied', 'applied']);
    // The single path creates contacts by upsert; the batch creation inserts them.
    expect(commands.filter((c) => c === 'insert contacts')).toHaveLength(0);
    expect(await ownerOf(`ext:${full.externalId}`)).toBe(results[0]!.contactId);
    expect(await ownerOf(`email:-:${email}`)).toBeDefined();
    expect(await ctx.models.audit.countDocuments({ _id: { $in: events.map((e) => e.eventId) } })).toBe(2);
  });

  it('creates no contact for a person whose first key another creator claimed, and records a lost second key as a conflict', async () => {
    const taken = { externalId: `taken-${counter}`, email: `taken.${counter}@example.com` };
    const halfTaken = { externalId: `half-${counter}`, email: `half.${counter}@example.com` };
    await ctx.models.identities.create({ _id: `ext:${taken.externalId}`, contactId: 'someone-else' });
    await ctx.models.identities.create({ _id: `email:-:${halfTaken.email}`, contactId: 'someone-else' });

    const created = await createContacts(ctx.models, [taken, halfTaken], ctx.policy, new Date());

    expect(created.has(`ext:${taken.externalId}`)).toBe(false);
    expect(await ctx.models.contacts.countDocuments({ 'identities.externalId': taken.externalId })).toBe(0);
    expect(await ownerOf(`email:-:${taken.email}`)).toBeUndefined();
    const contactId = created.get(`ext:${halfTaken.externalId}`);
    expect(contactId).toBeDefined();
    expect(await ownerOf(`email:-:${halfTaken.email}`)).toBe('someone-else');
    expect((await ctx.models.contacts.findById(contactId).lean())?.identityConflicts).toEqual(['email']);
  });

  it('restores the contact of an identity whose creator died before writing it, then applies the event', async () => {
    const person = { externalId: `orphan-${counter}` };
    await ctx.models.identities.create({ _id: `ext:${person.externalId}`, contactId: 'orphaned-contact' });
    ctx.models.owners.remember(`ext:${person.externalId}`, 'orphaned-contact');

    const [result] = await applyTogether([event(person, 'opt_out')]);

    expect(result).toMatchObject({ outcome: 'applied', contactId: 'orphaned-contact', version: 1 });
    const contact = await ctx.models.contacts.findById('orphaned-contact').lean();
    expect(contact?.effective.marketing['email']?.state).toBe('opted_out');
  });
});

describe('batches that race for the same contact (two workers handed the same events)', () => {
  it('apply every event once in effect, whichever batch loses its rev guard', async () => {
    const batch = (ids: string[]) =>
      applyStoredEvents(ids, { models: ctx.models, policy: ctx.policy, connectedEsps: () => ctx.esps, now: () => new Date() });
    for (let round = 0; round < 8; round++) {
      const person = { externalId: `race-${round}-${counter}` };
      // the person exists before the race, so both batches take the batch write path
      await applyTogether([event(person, 'opt_in')]);
      // event 0 (push) is only in the first batch: if that batch trusted the other's write, it is lost
      const events = [
        event(person, 'opt_out', 'push'),
        event(person, 'opt_in', 'email'),
        event(person, 'opt_out', 'email'),
        event(person, 'opt_in', 'sms'),
        event(person, 'opt_out', 'sms'),
      ];
      await ctx.services.recordEvents(events);
      const ids = events.map((e) => e.eventId);
      // overlapping: the second worker got a re-delivery of two of the first's events, and more
      const [a, b] = await Promise.all([batch(ids.slice(0, 3)), batch(ids.slice(1, 5))]);
      for (const settled of [...a.values(), ...b.values()]) expect(settled.ok).toBe(true);
      const stored = await ctx.models.events.find({ _id: { $in: ids } }, { status: 1 }).lean();
      expect(stored.map((e) => e.status)).toEqual(ids.map(() => 'done'));
      const contact = (await ctx.models.contacts.findOne({ 'identities.externalId': person.externalId }).lean())!;
      expect(contact.listings.map((l) => l.eventId), `round ${round}`).toContain(ids[0]);
      for (const channel of ['push', 'email', 'sms']) expect(contact.effective.marketing[channel]?.state, `${channel}, round ${round}`).toBe('opted_out');
    }
  });
});

describe('a job that crashed between the contact write and the audit', () => {
  const deps = (models: typeof ctx.models) => ({ models, policy: ctx.policy, connectedEsps: () => ctx.esps, now: () => new Date() });
  /** The models, except that writing audit records fails: the worker died right after the contact write. */
  const crashingBeforeAudit = () =>
    ({
      ...ctx.models,
      audit: new Proxy(ctx.models.audit, {
        get: (target, key, receiver) => (key === 'insertMany' ? async () => Promise.reject(new Error('worker killed')) : Reflect.get(target, key, receiver)),
      }),
    }) as typeof ctx.models;

  it.each([
    ['the batch path', 'batch'],
    ['the single path', 'single'],
  ] as const)('is audited with what it did, however many events of the contact were journaled before its retry (%s)', async (_label, path) => {
    const person = { externalId: `crashed-${path}-${counter}` };
    // The single path: the person exists and the crashed event has a second identity, which
    // only the single path links.
    if (path === 'single') await applyTogether([event(person, 'opt_out', 'push')]);
    const crashed = event(path === 'single' ? { ...person, email: `crashed.${counter}@example.com` } : person, 'opt_out');
    await ctx.services.recordEvents([crashed]);
    // The batch path fails the whole job; the single path settles this event as failed.
    const crash = await applyStoredEvents([crashed.eventId], deps(crashingBeforeAudit())).then(
      (settled) => settled.get(crashed.eventId),
      (error: unknown) => ({ ok: false as const, error }),
    );
    expect(crash).toMatchObject({ ok: false, error: { message: 'worker killed' } });
    const contactId = (await ownerOf(`ext:${person.externalId}`))!;
    const written = (await ctx.models.contacts.findById(contactId).lean())!;
    expect(written.journal.map((j) => j.eventId)).toContain(crashed.eventId);
    const versionItLeft = written.version;

    // Other jobs journal more events of this person than the journal's window holds.
    for (let i = 0; i < JOURNAL_LENGTH + 2; i++) await applyTogether([event(person, i % 2 === 0 ? 'opt_out' : 'opt_in', 'sms')]);
    const before = (await ctx.models.contacts.findById(contactId).lean())!;
    expect(before.journal.map((j) => j.eventId)).toContain(crashed.eventId);
    expect(before.journal.length).toBeGreaterThan(JOURNAL_LENGTH);

    // The retry finds its journal entry: the audit says what the event did, at the version it left.
    const retried = await applyStoredEvents([crashed.eventId], deps(ctx.models));
    expect(retried.get(crashed.eventId)).toMatchObject({ ok: true, value: { outcome: 'applied', version: versionItLeft } });
    expect(await ctx.models.audit.findById(crashed.eventId).lean()).toMatchObject({ outcome: 'applied', version: versionItLeft });

    // Settled now, so the next write lets its entry go and the journal is back to its window.
    await applyTogether([event(person, 'opt_out', 'sms')]);
    const after = (await ctx.models.contacts.findById(contactId).lean())!;
    expect(after.journal.map((j) => j.eventId)).not.toContain(crashed.eventId);
    expect(after.journal).toHaveLength(JOURNAL_LENGTH);
  });
});
