import { createRequire } from 'node:module';

/**
 * Calls `count(commandName, target)` for every command this process's MongoDB driver sends
 * (`target` is the collection for collection commands), from the driver's Connection.command.
 *
 * The driver's own command monitoring (`monitorCommands=true`) would count the same commands, but
 * it builds a CommandSucceededEvent per reply by decoding the whole reply once more (a find's
 * documents twice): about 8% of the worker's CPU in the e2e profile, a cost production does not
 * have. This wrapper only reads the command's first key. Server monitoring's handshakes
 * (`hello`/`isMaster`) are left out, as command monitoring left them out.
 */
export function countMongoCommands(count: (name: string, target: unknown) => void): void {
  // The driver as mongoose loads it (one copy in node_modules; resolved from mongoose to be sure).
  const fromMongoose = createRequire(createRequire(import.meta.url).resolve('mongoose'));
  const { Connection } = fromMongoose('mongodb/lib/cmap/connection.js') as {
    Connection: { prototype: { command: (...args: unknown[]) => Promise<unknown> } };
  };
  const original = Connection.prototype.command;
  Connection.prototype.command = function (this: unknown, ...args: unknown[]) {
    const command = args[1] as Record<string, unknown> | undefined;
    const name = command ? Object.keys(command)[0] : undefined;
    if (name && !SERVER_MONITORING.has(name)) count(name, command![name]);
    return original.apply(this, args);
  };
}

const SERVER_MONITORING = new Set(['hello', 'isMaster', 'ismaster']);
