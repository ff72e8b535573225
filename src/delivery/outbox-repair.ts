import { BULK_LANE, type Lane, laneOfRepair, mergeLane } from '../domain/index.js';
import type { EspName } from '../esp/types.js';
import { deadLetterFilter } from '../persistence/dead-letters.js';
import type { ContactDoc, Models } from '../persistence/models.js';
import { laneOfEntry, pendingFields } from '../persistence/outbox.js';
import type { EnqueuePush } from './delivery.js';

/** Putting contacts back into an ESP's outbox: reconciliation's repair and the dead-letter replay. */
export function createOutboxRepair(models: Models, clock: () => Date, enqueuePush: EnqueuePush) {
  /**
   * Marks (contact, ESP) pending at the contact's current version and queues its push:
   * reconciliation's repair and the dead-letter replay. A repair that carries an opt-out goes in
   * lane 2, not with imports: it is a person's opt-out the ESP lost.
   */
  const markPending = async (esp: EspName, contactIds: readonly string[], extraFilter: Record<string, unknown> = {}, extraUnset: Record<string, ''> = {}) => {
    if (contactIds.length === 0) return [];
    const docs = await models.contacts
      .find({ _id: { $in: [...contactIds] } }, { _id: 1, version: 1, effective: 1, [`outbox.${esp}`]: 1 })
      .lean<Pick<ContactDoc, '_id' | 'version' | 'effective' | 'outbox'>[]>();
    const now = clock();
    const marked: { contactId: string; lane: Lane }[] = [];
    const ops = docs.map((doc) => {
      const repairLane = laneOfRepair(doc.effective);
      const lane = mergeLane(laneOfEntry(doc.outbox?.[esp]), repairLane);
      const optOut = repairLane !== BULK_LANE;
      const fields = pendingFields(esp, { version: doc.version ?? 0, since: doc.outbox?.[esp]?.since ?? now, optOut, lane });
      marked.push({ contactId: doc._id, lane });
      return {
        updateOne: {
          // The version read stays the guard: a change in between marks the contact itself.
          filter: { _id: doc._id, version: doc.version ?? 0, ...extraFilter },
          update: { ...fields, ...(Object.keys(extraUnset).length > 0 ? { $unset: extraUnset } : {}) },
        },
      };
    });
    if (ops.length > 0) await models.contacts.bulkWrite(ops as never, { ordered: false });
    for (const lane of [1, 2, 3] as Lane[]) {
      const ids = marked.filter((m) => m.lane === lane).map((m) => m.contactId);
      await enqueuePush(esp, lane, ids);
    }
    return marked.map((m) => m.contactId);
  };

  const repush = async (esp: EspName, contactId: string) => {
    await markPending(esp, [contactId]);
  };

  /**
   * Moves dead letters back into the outbox (after a fix at the ESP), through markPending like
   * any other change, so the claim rules keep one contact's pushes in order. All of an ESP's,
   * in batches, or only `contactIds`. A contact whose version moved between the read and the
   * write is left to its newer change, already pending, whose push clears the dead letter.
   * `connected` names the ESPs this process has an adapter for; `opts.esps` defaults to all of them.
   */
  const requeueDeadLetters = async (
    connected: readonly EspName[],
    opts: { esps?: readonly EspName[]; contactIds?: readonly string[] } = {},
  ) => {
    const requeued: Record<string, string[]> = {};
    const batch = 1_000;
    for (const esp of opts.esps ?? connected) {
      if (!connected.includes(esp)) throw new Error(`${esp} is not connected in this process`);
      const filter = { ...deadLetterFilter(esp), ...(opts.contactIds ? { _id: { $in: [...opts.contactIds] } } : {}) };
      const seen = new Set<string>();
      requeued[esp] = [];
      for (;;) {
        const docs = await models.contacts.find(filter as never, { _id: 1 }).sort({ [`deadLetters.${esp}.at`]: 1 }).limit(batch).lean();
        const fresh = docs.map((d) => d._id).filter((id) => !seen.has(id));
        if (fresh.length === 0) break;
        for (const id of fresh) seen.add(id);
        const marked = await markPending(esp, fresh, deadLetterFilter(esp), { [`deadLetters.${esp}`]: '' });
        requeued[esp].push(...marked);
        if (docs.length < batch) break;
      }
    }
    return requeued;
  };

  return { repush, requeueDeadLetters };
}
