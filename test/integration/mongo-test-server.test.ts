/**
 * The MongoDB-protocol test server answers the filters the application relies on as MongoDB does.
 * On mongo-java-server these go through src/dev/java-mongo/Launch.java's wider unique indexes:
 * a filter naming an index's keys plus other fields is answered from the index, and the other
 * fields must still decide the match (a guard that misses matches nothing). Semantics only; no
 * timings are asserted.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Collection, MongoClient, MongoServerError } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/dev/child.js';
import { startJavaMongo } from '../../src/dev/java-mongo.js';
import { withDatabase } from '../../src/dev/mongo-server.js';

interface Doc {
  _id: string;
  version: number;
  email: string;
  touched?: number;
}

const COUNT = 3_000;
const versionOf = (i: number) => i % 5;

describe('the MongoDB-protocol test server', () => {
  let client: MongoClient;
  let docs: Collection<Doc>;

  beforeAll(async () => {
    client = await MongoClient.connect(withDatabase(inject('mongoUri'), `t_server_${randomBytes(4).toString('hex')}`));
    docs = client.db().collection<Doc>('docs');
    await docs.createIndex({ email: 1 }, { unique: true });
    await docs.insertMany(Array.from({ length: COUNT }, (_, i) => ({ _id: `c${i}`, version: versionOf(i), email: `e${i}@example.test` })));
  });

  afterAll(async () => {
    await client?.db().dropDatabase().catch(() => {});
    await client?.close();
  });

  it('a guarded update {_id, version} matches only with the right version', async () => {
    const wrong = await docs.updateOne({ _id: 'c42', version: versionOf(42) + 1 }, { $set: { touched: 1 } });
    expect(wrong.matchedCount).toBe(0);
    const right = await docs.updateOne({ _id: 'c42', version: versionOf(42) }, { $inc: { version: 1 }, $set: { touched: 1 } });
    expect(right).toMatchObject({ matchedCount: 1, modifiedCount: 1 });
    const again = await docs.updateOne({ _id: 'c42', version: versionOf(42) }, { $inc: { version: 1 } });
    expect(again.matchedCount).toBe(0);
    expect(await docs.findOne({ _id: 'c42' })).toMatchObject({ version: versionOf(42) + 1, touched: 1 });
  });

  it('a guard on another unique index ({email, version}) is exact too', async () => {
    expect((await docs.updateOne({ email: 'e7@example.test', version: versionOf(7) + 2 }, { $set: { touched: 2 } })).matchedCount).toBe(0);
    expect((await docs.updateOne({ email: 'e7@example.test', version: versionOf(7) }, { $set: { touched: 2 } })).matchedCount).toBe(1);
    expect(await docs.findOne({ _id: 'c7' })).toMatchObject({ touched: 2 });
  });

  it('a filter without the index keys still scans and finds every match', async () => {
    const expected = Array.from({ length: COUNT }, (_, i) => i).filter((i) => i !== 42 && versionOf(i) === 3).length;
    expect(await docs.countDocuments({ version: 3, _id: { $ne: 'c42' } })).toBe(expected);
    expect(await docs.findOne({ version: 3, email: 'e8@example.test' })).toMatchObject({ _id: 'c8' });
  });

  it('{_id: {$in}, version} returns only the listed documents with that version', async () => {
    const ids = ['c100', 'c101', 'c102', 'c103', 'c105', 'missing'];
    const found = await docs.find({ _id: { $in: ids }, version: versionOf(101) }).toArray();
    expect(found.map((d) => d._id).sort()).toEqual(['c101']);
    const all = await docs.find({ _id: { $in: ids } }).toArray();
    expect(all).toHaveLength(5);
    const updated = await docs.updateMany({ _id: { $in: ids }, version: { $in: [versionOf(100), versionOf(105)] } }, { $set: { touched: 3 } });
    expect(updated.matchedCount).toBe(2); // c100 and c105 (version 0)
  });

  it('extra top-level operators still decide the match on the index candidates', async () => {
    expect(await docs.countDocuments({ _id: 'c10', $or: [{ version: 3 }, { version: 4 }] })).toBe(0);
    expect(await docs.countDocuments({ _id: 'c10', $or: [{ version: versionOf(10) }, { version: 4 }] })).toBe(1);
  });

  it('a unique-index violation on insert is error 11000', async () => {
    const onId = await docs.insertOne({ _id: 'c1', version: 0, email: 'new@example.test' }).catch((e: unknown) => e);
    expect(onId).toBeInstanceOf(MongoServerError);
    expect((onId as MongoServerError).code).toBe(11000);
    const onEmail = await docs.insertOne({ _id: 'fresh', version: 0, email: 'e1@example.test' }).catch((e: unknown) => e);
    expect((onEmail as MongoServerError).code).toBe(11000);
    expect(await docs.countDocuments({ _id: 'fresh' })).toBe(0);
  });

  it('a bulkWrite of guarded updates applies exactly the ones whose guard holds', async () => {
    const targets = Array.from({ length: 100 }, (_, k) => 1_000 + k);
    const result = await docs.bulkWrite(
      targets.map((i) => ({
        updateOne: {
          filter: { _id: `c${i}`, version: i % 2 === 0 ? versionOf(i) : versionOf(i) + 1 },
          update: { $inc: { version: 1 }, $set: { touched: 4 } },
        },
      })),
      { ordered: false },
    );
    expect(result.matchedCount).toBe(50);
    expect(result.modifiedCount).toBe(50);
    const after = await docs.find({ _id: { $in: targets.map((i) => `c${i}`) } }).toArray();
    for (const d of after) {
      const i = Number(d._id.slice(1));
      expect(d.version).toBe(i % 2 === 0 ? versionOf(i) + 1 : versionOf(i));
    }
  });
});

describe.skipIf(inject('mongoKind') !== 'mongo-java-server')('mongo-java-server on an H2 file', () => {
  it('keeps acknowledged writes and its indexes across a SIGKILL and a restart on the same port and file', async () => {
    const port = await freePort();
    const file = join(tmpdir(), `consent-sync-h2-${randomBytes(4).toString('hex')}.mv.db`);
    const uri = `mongodb://127.0.0.1:${port}/h2test`;
    let server = await startJavaMongo({ port, file });
    try {
      let client = await MongoClient.connect(uri);
      const coll = () => client.db().collection<Doc>('docs');
      await coll().createIndex({ email: 1 }, { unique: true });
      await coll().insertMany(Array.from({ length: 200 }, (_, i) => ({ _id: `c${i}`, version: 1, email: `e${i}@example.test` })));
      expect((await coll().updateOne({ _id: 'c3', version: 1 }, { $inc: { version: 1 } })).matchedCount).toBe(1);
      const exited = new Promise((r) => server.server.child.once('exit', r));
      server.server.child.kill('SIGKILL');
      await exited;
      await client.close(true).catch(() => {});

      server = await startJavaMongo({ port, file });
      client = await MongoClient.connect(uri);
      expect(await coll().countDocuments({})).toBe(200);
      expect((await coll().updateOne({ _id: 'c3', version: 1 }, { $inc: { version: 1 } })).matchedCount).toBe(0);
      expect((await coll().updateOne({ _id: 'c3', version: 2 }, { $inc: { version: 1 } })).matchedCount).toBe(1);
      const duplicate = await coll().insertOne({ _id: 'x', version: 1, email: 'e5@example.test' }).catch((e: unknown) => e);
      expect((duplicate as MongoServerError).code).toBe(11000);
      await client.close();
    } finally {
      await server.stop();
      await rm(file, { force: true });
    }
  });
});
