import mongoose, { type Connection } from 'mongoose';

/** A dedicated mongoose connection (never the global one), so tests and processes can hold several. */
export async function connectMongo(uri: string, opts: { serverSelectionTimeoutMS?: number } = {}): Promise<Connection> {
  const connection = mongoose.createConnection(uri, {
    serverSelectionTimeoutMS: opts.serverSelectionTimeoutMS ?? 5_000,
    autoIndex: false,
    autoCreate: true,
    maxPoolSize: 20,
    // Explicit, though they are the driver's defaults: every read of this process (the apply
    // batch's contacts, the outbox claims, the API's contact view) needs the latest state, which
    // only the primary has. Retryable writes stay the driver's default (on: an insert or update survives one failover).
    // Write concern is set where an acknowledgement depends on it (the event insert before 202).
    readPreference: 'primary',
  });
  try {
    await connection.asPromise();
    await connection.db!.admin().command({ ping: 1 });
  } catch (err) {
    await connection.close().catch(() => {});
    throw new Error(`MongoDB is unreachable at ${uri.replace(/\/\/([^@/]*)@/, '//***@')}: ${(err as Error).message}`);
  }
  return connection;
}

export async function pingMongo(connection: Connection): Promise<boolean> {
  try {
    await connection.db!.admin().command({ ping: 1 });
    return true;
  } catch {
    return false;
  }
}
