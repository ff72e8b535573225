import { identityKeys } from '../../src/domain/identity.js';
import type { ContactDoc, Models, OutboxEntry } from '../../src/persistence/models.js';

/**
 * Contacts written straight into MongoDB with given outbox entries (and their identity keys), for
 * tests of the backlog as the contact view and the metrics read it. An entry without `lane` is
 * one written before lanes existed. No opt-in, no listings: only the outbox matters here.
 */
export type PendingFixture = Record<string, Record<string, OutboxEntry>>;

export async function insertPendingContacts(models: Models, contacts: PendingFixture): Promise<void> {
  const now = new Date();
  const docs = Object.entries(contacts).map(([externalId, outbox]) => ({
    _id: `c-${externalId}`,
    identities: { externalId },
    listings: [],
    effective: { marketing: {}, tracking: { state: 'unknown', authoritative: false } },
    version: Math.max(1, ...Object.values(outbox).map((e) => e.version)),
    rev: 1,
    outbox,
    sync: Object.fromEntries(
      Object.entries(outbox).map(([esp, e]) => [esp, { status: 'pending', version: e.version, at: e.since }]),
    ),
    journal: [],
    createdAt: now,
    updatedAt: now,
  })) as unknown as ContactDoc[];
  await models.contacts.insertMany(docs);
  await models.identities.insertMany(
    docs.flatMap((d) => identityKeys(d.identities).map((key) => ({ _id: key, contactId: d._id }))),
  );
}

export const secondsAgo = (seconds: number) => new Date(Date.now() - seconds * 1000);

/**
 * A contact `me` pending at crossengage in lane 1 and at ometria in bulk (an entry without a
 * lane), behind 1 entry at crossengage (o1) and 3 at ometria (o4, o5, o6); the others wait behind it.
 */
export function queueFixture(me: string): PendingFixture {
  const e = (version: number, seconds: number, lane?: 1 | 2 | 3): OutboxEntry => ({
    version,
    since: secondsAgo(seconds),
    optOut: lane !== undefined && lane < 3,
    claimUntil: 0,
    ...(lane ? { lane } : {}),
  });
  return {
    [me]: { crossengage: e(5, 300, 1), ometria: e(5, 100) },
    [`${me}-o1`]: { crossengage: e(1, 600, 1) }, // same lane, older: ahead
    [`${me}-o2`]: { crossengage: e(1, 60, 1) }, // same lane, newer: behind
    [`${me}-o3`]: { crossengage: e(1, 3_600, 2) }, // less urgent lane, however old: behind
    [`${me}-o4`]: { ometria: e(1, 10, 1) }, // more urgent lanes: ahead
    [`${me}-o5`]: { ometria: e(1, 10, 2) },
    [`${me}-o6`]: { ometria: e(1, 1_000, 3) }, // same (bulk) lane, older: ahead
    [`${me}-o7`]: { ometria: e(1, 50) }, // bulk without a lane, newer: behind
  };
}
