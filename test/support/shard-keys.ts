/**
 * The README's sharding plan ("MongoDB: replica set and sharding"), as the shard-key test checks
 * it: the shard key field of each sharded collection, and the queries that go to every shard on
 * purpose. Keep the two in step with the README's table.
 */
export const SHARD_KEYS = {
  contacts: '_id',
  consent_events: '_id',
  contact_identities: '_id',
  consent_audit: 'contactId',
} as const;

export interface ShardKeyException {
  /** `<command> <collection> <filter shape>` as shapeOf renders it. */
  shape: string;
  why: string;
}

export const SHARD_KEY_EXCEPTIONS: readonly ShardKeyException[] = [
  {
    shape: 'find consent_events {receivedAt:$lt,status}',
    why: 'the pending-event sweeper: once per sweep interval, an index range on {status, receivedAt} on every shard',
  },
  {
    shape: 'find contacts {outbox.<esp>.lane,outbox.<esp>.since:$lt}',
    why: "the outbox sweeper: once per sweep interval and ESP, an index range on the ESP's outbox entries on every shard",
  },
  {
    shape: 'find contacts {outbox.<esp>.lane:$exists,outbox.<esp>.since:$lt}',
    why: 'the outbox sweeper for entries written before lanes (no lane field): as above',
  },
  {
    shape: 'aggregate contacts {outbox.<esp>.lane:$nin,outbox.<esp>.version:$exists}',
    why: "bulk mode's check of an ESP's lane-3 backlog (a count): once per outbox sweep and ESP, an index range on every shard",
  },
  {
    shape: 'find contacts {}',
    why: "reconciliation's pass over our contacts (per-contact read-back): its first page, in _id order from the start",
  },
  {
    shape: 'find contacts {_id:$gt}',
    why: "reconciliation's pass over our contacts (per-contact read-back): pages of _id > cursor, a range that a hashed key spreads over every shard; one pass per run",
  },
];

/** True when `filter` names one value or a list of values of `key` (equality or $in), possibly inside $and. */
export function targetsOneShard(filter: Record<string, unknown>, key: string): boolean {
  if (key in filter) {
    const v = filter[key];
    if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Date) return true;
    const ops = v as Record<string, unknown>;
    if ('$eq' in ops || '$in' in ops) return true;
    // An operator document without $eq/$in ($gt, $exists…) is a range or a test: every shard.
    if (!Object.keys(ops).some((k) => k.startsWith('$'))) return true;
  }
  const and = filter['$and'];
  return Array.isArray(and) && and.some((f) => targetsOneShard(f as Record<string, unknown>, key));
}

/**
 * A filter's top-level fields, sorted, each ESP's name as `<esp>` and each operator document as
 * its operators (`receivedAt:$lt`): one shape per kind of query.
 */
export function shapeOf(filter: Record<string, unknown>, esps: readonly string[]): string {
  const fields = Object.entries(filter).map(([f, v]) => {
    let name = f;
    for (const esp of esps) if (f.startsWith(`outbox.${esp}.`) || f.startsWith(`deadLetters.${esp}`)) name = f.replace(esp, '<esp>');
    const ops = v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) ? Object.keys(v).filter((k) => k.startsWith('$')) : [];
    return ops.length > 0 ? `${name}:${ops.sort().join('|')}` : name;
  });
  return `{${[...new Set(fields)].sort().join(',')}}`;
}
