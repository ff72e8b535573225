/**
 * An in-memory stand-in for the contacts model, with just the query operators the backlog
 * queries use (equality, $exists, $in, $nin, $lt, $gte on dotted paths; find().sort().limit().lean()).
 * Missing fields follow MongoDB: `$nin` matches them, `$in`/`$lt`/equality do not.
 */

type Doc = Record<string, unknown>;

function get(doc: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, key) => (v && typeof v === 'object' ? (v as Doc)[key] : undefined), doc);
}

function cmp(v: unknown): number | string {
  return v instanceof Date ? v.getTime() : (v as number | string);
}

function matches(doc: Doc, filter: Doc): boolean {
  return Object.entries(filter).every(([path, cond]) => {
    const value = get(doc, path);
    if (cond && typeof cond === 'object' && !(cond instanceof Date)) {
      return Object.entries(cond as Doc).every(([op, arg]) => {
        switch (op) {
          case '$exists':
            return (value !== undefined) === arg;
          case '$in':
            return value !== undefined && (arg as unknown[]).includes(value);
          case '$nin':
            return !(arg as unknown[]).includes(value);
          case '$lt':
            return value !== undefined && cmp(value) < cmp(arg);
          case '$gte':
            return value !== undefined && cmp(value) >= cmp(arg);
          default:
            throw new Error(`fake contacts: unsupported operator ${op}`);
        }
      });
    }
    return value === cond;
  });
}

export function fakeContacts(docs: Doc[], calls = { countDocuments: 0, find: 0 }) {
  return {
    calls,
    docs,
    countDocuments: async (filter: Doc) => {
      calls.countDocuments++;
      return docs.filter((d) => matches(d, filter)).length;
    },
    find: (filter: Doc) => {
      calls.find++;
      let sortPath: string | undefined;
      let limit = Number.POSITIVE_INFINITY;
      const chain = {
        sort: (spec: Record<string, 1 | -1>) => {
          sortPath = Object.keys(spec)[0];
          return chain;
        },
        limit: (n: number) => {
          limit = n;
          return chain;
        },
        lean: async () => {
          const found = docs.filter((d) => matches(d, filter));
          if (sortPath) {
            const path = sortPath;
            found.sort((a, b) => (cmp(get(a, path)) < cmp(get(b, path)) ? -1 : 1));
          }
          return found.slice(0, limit);
        },
      };
      return chain;
    },
  };
}
