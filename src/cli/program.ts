import { readFileSync } from 'node:fs';
import { Argument, Command, CommanderError, InvalidArgumentError } from 'commander';
import { type Config, maskUrlCredentials } from '../../config/index.js';
import { consentBatchSchema, describeZodIssues, READABLE_ERRORS } from '../contracts/consent-event.js';
import type { EspName } from '../esp/types.js';
import type { AppContext } from '../app/context.js';
import { allQueueNames } from '../queues/names.js';
import { parseIdentityParam } from '../operate/contact-view.js';
import { EventIdConflictError, EventValidationError } from '../ingest/record-events.js';
import { csvRow } from './csv.js';

export const EXIT = { ok: 0, failure: 1, usage: 2, notFound: 3 } as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Opens the application context lazily: `sim` and `--help` need no database. */
  context: () => Promise<AppContext>;
  config: () => Config;
  runSimulators: (argv: string[]) => Promise<void>;
}

const EXPORT_COLUMNS = ['eventId', 'contactId', 'kind', 'channel', 'value', 'force', 'source', 'moment', 'received', 'applied', 'outcome', 'reason', 'version', 'way', 'proof'] as const;

/**
 * An option parser that takes the name of a configured ESP. The configuration is read when the
 * option is, so `--help` and `sim` still need none.
 */
function espNameOf(io: CliIo) {
  return (value: string): EspName => {
    const names = io.config().espModules.map((m) => m.name);
    if (!names.includes(value)) throw new InvalidArgumentError(`must be one of ${names.join(', ')}`);
    return value;
  };
}

/**
 * An `<esp>` argument whose choices (shown in usage lines) are the configured ESPs and `extra`. A
 * configuration that does not load leaves the check to espNameOf, whose read names the bad variable.
 */
function espArgument(io: CliIo, description: string, extra: readonly string[] = []): Argument {
  const argument = new Argument('<esp>', description);
  let names: string[];
  try {
    names = io.config().espModules.map((m) => m.name);
  } catch {
    return argument.argParser(espNameOf(io));
  }
  return argument.choices([...names, ...extra]);
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 100_000) throw new InvalidArgumentError('must be a whole number from 1 to 100000');
  return n;
}

function connected(ctx: AppContext, esp: EspName): void {
  if (!ctx.esps.includes(esp)) throw new CliError(`${esp} is not connected (set its credentials)`, EXIT.usage);
}

function isoDate(value: string): Date {
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) {
    throw new InvalidArgumentError('must be an ISO-8601 date or date-time, e.g. 2026-11-01T00:00:00Z');
  }
  return date;
}

function spinner(n: number): string {
  return ['|', '/', '-', '\\'][n % 4]!;
}

function driftTotal(counts: Record<string, number>): number {
  return Object.entries(counts)
    .filter(([type]) => type !== 'in_sync')
    .reduce((sum, [, n]) => sum + n, 0);
}

/** `record <file>`: stores consent events read from a JSON file or stdin. */
function addRecordCommand(program: Command, io: CliIo): void {
  program
    .command('record')
    .description('record consent events from a JSON file (one event, an array, or {"events": [...]}); "-" reads stdin')
    .argument('<file>', 'path to the JSON file, or - for stdin')
    .action(async (file: string) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(file === '-' ? 0 : file, 'utf8'));
      } catch (err) {
        throw new CliError(`cannot read ${file}: ${(err as Error).message}`, EXIT.usage);
      }
      const body = Array.isArray(parsed) ? { events: parsed } : parsed && typeof parsed === 'object' && 'events' in parsed ? parsed : { events: [parsed] };
      const ctx = await io.context();
      const result = consentBatchSchema(ctx.config.consent.channels, ctx.config.consent.maxEventsPerRequest).safeParse(body, READABLE_ERRORS);
      if (!result.success) {
        throw new CliError(`invalid events, nothing recorded:\n${describeZodIssues(result.error).map((p) => `  ${p.field}: ${p.rule}`).join('\n')}`, EXIT.usage);
      }
      try {
        const recorded = await ctx.services.recordEvents(result.data.events, 'events');
        for (const r of recorded) io.out(`${r.eventId}\t${r.status}\n`);
      } catch (err) {
        if (err instanceof EventValidationError) {
          throw new CliError(`invalid events, nothing recorded:\n${err.problems.map((p) => `  ${p.field}: ${p.rule}`).join('\n')}`, EXIT.usage);
        }
        if (err instanceof EventIdConflictError) throw new CliError(err.message, EXIT.usage);
        throw err;
      }
    });
}

/** `contact <identity>`: the per-contact view. */
function addContactCommand(program: Command, io: CliIo): void {
  program
    .command('contact')
    .description('show the per-contact view: identities, effective consent, why suppressed, listings, audit, ESP sync')
    .argument('<identity>', 'contactId:<id>, externalId:<id>, email:<address> or phone:<e164>')
    .option('--business-unit <bu>', 'business unit of an email identity (leads)')
    .action(async (identity: string, opts: { businessUnit?: string }) => {
      if (identity.startsWith('contactId:')) {
        const view = await (await io.context()).services.contactViewById(identity.slice('contactId:'.length));
        if (!view) throw new CliError(`no contact has the id ${identity.slice('contactId:'.length)}`, EXIT.notFound);
        return io.out(`${JSON.stringify(view, null, 2)}\n`);
      }
      let parsedIdentity: ReturnType<typeof parseIdentityParam>;
      try {
        parsedIdentity = parseIdentityParam(identity, opts.businessUnit);
      } catch (err) {
        throw new CliError(`identity: ${(err as Error).message}`, EXIT.usage);
      }
      const ctx = await io.context();
      const view = await ctx.services.contactView(parsedIdentity);
      if (!view) throw new CliError(`no contact has the identity ${identity}`, EXIT.notFound);
      io.out(`${JSON.stringify(view, null, 2)}\n`);
    });
}

/** `export --since`: consent changes as NDJSON or CSV. */
function addExportCommand(program: Command, io: CliIo): void {
  program
    .command('export')
    .description('export consent changes applied since a time, oldest first, to stdout')
    // Checked in the action, not as a commander requiredOption: commander reports a missing
    // required option before an unknown one, so `export --sinse x` would blame the wrong flag.
    .option('--since <iso>', 'start time (ISO-8601), required', isoDate)
    .option('--format <format>', 'ndjson or csv', 'ndjson')
    .action(async (opts: { since?: Date; format: string }) => {
      if (!opts.since) throw new CliError('export needs --since <iso>, e.g. --since 2026-11-01T00:00:00Z', EXIT.usage);
      if (opts.format !== 'ndjson' && opts.format !== 'csv') throw new CliError(`--format must be ndjson or csv, not '${opts.format}'`, EXIT.usage);
      const since = opts.since;
      const ctx = await io.context();
      if (opts.format === 'csv') io.out(csvRow(EXPORT_COLUMNS));
      let cursor: string | undefined;
      do {
        const page = await ctx.services.consentChanges({ since, limit: 1_000, ...(cursor ? { cursor } : {}) });
        for (const record of page.records) {
          const row = record as unknown as Record<string, unknown>;
          io.out(opts.format === 'csv' ? csvRow(EXPORT_COLUMNS.map((c) => row[c])) : `${JSON.stringify(record)}\n`);
        }
        cursor = page.nextCursor;
      } while (cursor);
    });
}

/** `history [contact]`: consent history as NDJSON. */
function addHistoryCommand(program: Command, io: CliIo): void {
  program
    .command('history')
    .description("stream consent history as NDJSON, oldest first: one contact's, or every change since --since")
    .argument('[contact]', 'contactId:<id>, externalId:<id>, email:<address> or phone:<e164>')
    .option('--business-unit <bu>', 'business unit of an email identity (leads)')
    .option('--since <iso>', 'only changes applied at or after this time (ISO-8601)', isoDate)
    .action(async (contact: string | undefined, opts: { businessUnit?: string; since?: Date }) => {
      if (contact === undefined && opts.since === undefined) throw new CliError('history: give a contact or --since', EXIT.usage);
      const ctx = await io.context();
      let contactId: string | undefined;
      if (contact?.startsWith('contactId:')) contactId = contact.slice('contactId:'.length);
      else if (contact !== undefined) {
        let identity: ReturnType<typeof parseIdentityParam>;
        try {
          identity = parseIdentityParam(contact, opts.businessUnit);
        } catch (err) {
          throw new CliError(`contact: ${(err as Error).message}`, EXIT.usage);
        }
        contactId = (await ctx.services.contactView(identity))?.contactId;
        if (!contactId) throw new CliError(`no contact has the identity ${contact}`, EXIT.notFound);
      }
      const records = ctx.services.consentHistory({ ...(contactId ? { contactId } : {}), ...(opts.since ? { since: opts.since } : {}) });
      for await (const record of records) io.out(`${JSON.stringify(record)}\n`);
    });
}

/** `replay`: dead letters pushed again. */
function addReplayCommand(program: Command, io: CliIo): void {
  program
    .command('replay')
    .description('push dead-lettered changes again (after fixing their cause at the ESP)')
    .option('--esp <name>', 'only this ESP', espNameOf(io))
    .action(async (opts: { esp?: EspName }) => {
      const ctx = await io.context();
      const replayed = await ctx.services.replayDeadLetters(opts.esp ? [opts.esp] : undefined);
      for (const [esp, ids] of Object.entries(replayed)) io.out(`${esp}\t${ids.length} replayed\n`);
    });
}

/** `deadletters list|show|requeue`: dead letters and paused ESPs. */
function addDeadLetterCommands(program: Command, io: CliIo): void {
  const deadletters = program
    .command('deadletters')
    .description('dead letters (pushes an ESP refused permanently) and paused ESPs: list, show the reason, requeue after a fix');

  deadletters
    .command('list', { isDefault: true })
    .description('paused ESPs (why, how to resume), then every dead letter: ESP, contact id, since, version, reason')
    .option('--esp <name>', 'only this ESP', espNameOf(io))
    .option('--limit <n>', 'at most this many per ESP', positiveInt, 1_000)
    .option('--json', 'one JSON object: {esps, deadLetters}')
    .action(async (opts: { esp?: EspName; limit: number; json?: boolean }) => {
      const ctx = await io.context();
      if (opts.esp) connected(ctx, opts.esp);
      const esps = (await ctx.services.espStatuses()).filter((s) => !opts.esp || s.esp === opts.esp);
      const letters = await ctx.services.deadLetters({ limit: opts.limit, ...(opts.esp ? { esp: opts.esp } : {}) });
      if (opts.json) return io.out(`${JSON.stringify({ esps, deadLetters: letters })}\n`);
      for (const s of esps) {
        if (!s.paused) continue;
        io.out(`PAUSED\t${s.esp}\tsince ${s.pausedAt ?? '?'}\t${s.reason ?? 'no reason recorded (paused outside consent-sync?)'}\n`);
        io.out(`\tto resume: ${s.resume}\n`);
      }
      for (const d of letters) io.out(`${d.esp}\t${d.contactId}\t${d.at}\tv${d.version}\t${d.reason}\n`);
      io.out(`${letters.length} dead letter(s); ${esps.filter((s) => s.paused).length} paused ESP(s)\n`);
    });

  deadletters
    .command('show')
    .description("one contact's dead letters with the ESP's reason, and its sync status per ESP")
    .argument('<contactId>', 'the contact id (as in the list, Bull Board or the contact view)')
    .action(async (contactId: string) => {
      const ctx = await io.context();
      const letters = await ctx.services.deadLettersOfContact(contactId);
      if (letters === null) throw new CliError(`no contact has the id ${contactId}`, EXIT.notFound);
      io.out(`${JSON.stringify({ contactId, deadLetters: letters }, null, 2)}\n`);
    });

  deadletters
    .command('requeue')
    .description('push dead letters again through the outbox (after fixing their cause): one contact, or --all')
    .argument('[contactId]', 'the contact whose dead letters to requeue')
    .option('--esp <name>', 'only this ESP', espNameOf(io))
    .option('--all', 'every dead letter (of --esp, or of every ESP)')
    .action(async (contactId: string | undefined, opts: { esp?: EspName; all?: boolean }) => {
      if ((contactId === undefined) === (opts.all !== true)) {
        throw new CliError('requeue: give a contact id or --all (not both)', EXIT.usage);
      }
      const ctx = await io.context();
      if (opts.esp) connected(ctx, opts.esp);
      const requeued = await ctx.services.requeueDeadLetters({
        ...(opts.esp ? { esps: [opts.esp] } : {}),
        ...(contactId ? { contactIds: [contactId] } : {}),
      });
      const total = Object.values(requeued).reduce((n, ids) => n + ids.length, 0);
      for (const [esp, ids] of Object.entries(requeued)) if (ids.length > 0) io.out(`${esp}\t${ids.length} requeued\n`);
      if (contactId && total === 0) throw new CliError(`contact ${contactId} has no dead letter${opts.esp ? ` for ${opts.esp}` : ''}`, EXIT.notFound);
      io.out(`${total} requeued\n`);
    });
}

/** `resume <esp>`: a paused ESP queue resumed. */
function addResumeCommand(program: Command, io: CliIo): void {
  program
    .command('resume')
    .description('resume an ESP queue paused after an authentication failure (fix the credentials first)')
    .addArgument(espArgument(io, 'ESP name'))
    .action(async (esp: EspName) => {
      const ctx = await io.context();
      await ctx.services.resumeEsp(esp);
      io.out(`${esp}\tresumed\n`);
    });
}

/** `reconcile <esp|all>`: reconciliation run in this process, with a progress line. */
function addReconcileCommand(program: Command, io: CliIo): void {
  program
    .command('reconcile')
    .description('reconcile now: compare one ESP (or all) with our state and repair drift, with a progress line')
    .addArgument(espArgument(io, 'an ESP name or "all"', ['all']))
    .action(async (target: string) => {
      const ctx = await io.context();
      const esps = target === 'all' ? ctx.esps : [target as EspName];
      if (esps.length === 0) throw new CliError('no ESP is connected (set its credentials)', EXIT.usage);
      for (const esp of esps) {
        if (!ctx.esps.includes(esp)) throw new CliError(`${esp} is not connected (set its credentials)`, EXIT.usage);
        const run = await ctx.services.reconcileInline(esp, (r) =>
          io.err(`\r${esp} ${spinner(r.pages)} pages ${r.pages}  compared ${r.compared}  drift ${driftTotal(r.counts)}   `),
        );
        io.err('\n');
        io.out(`${JSON.stringify({ runId: run._id, esp, status: run.status, durationMs: run.durationMs, pages: run.pages, compared: run.compared, counts: run.counts, actions: run.actions })}\n`);
      }
    });
}

/** `schedules`: the registered job schedules. */
function addSchedulesCommand(program: Command, io: CliIo): void {
  program
    .command('status')
    .description('where this CLI points and what is waiting: Redis, MongoDB, connected ESPs, jobs per queue (paused queues marked)')
    .action(async () => {
      const ctx = await io.context();
      const mask = maskUrlCredentials;
      io.out(`redis\t${mask(ctx.config.redis.url)}\nmongodb\t${mask(ctx.config.mongo.uri)}\nesps\t${ctx.esps.join(', ') || '(none connected)'}\n`);
      io.out('queue\twaiting\tactive\tdelayed\tprioritized\tfailed\tpaused\n');
      for (const name of allQueueNames(ctx.esps)) {
        const queue = ctx.runtime.queue(name);
        const [counts, paused] = await Promise.all([queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed'), queue.isPaused()]);
        io.out(`${name}\t${counts['waiting']}\t${counts['active']}\t${counts['delayed']}\t${counts['prioritized']}\t${counts['failed']}\t${paused ? 'PAUSED' : '-'}\n`);
      }
    });

  program
    .command('schedules')
    .description('list the registered job schedules')
    .action(async () => {
      const ctx = await io.context();
      for (const queue of allQueueNames(ctx.esps)) {
        for (const s of await ctx.runtime.queue(queue).getJobSchedulers()) {
          const when = s.pattern ?? (s.every ? `every ${s.every} ms` : '?');
          io.out(`${s.key}\t${queue}\t${when}\tnext ${s.next ? new Date(s.next).toISOString() : '-'}\n`);
        }
      }
    });
}

/** `sim`: the five ESP simulators. */
function addSimCommand(program: Command, io: CliIo): void {
  program
    .command('sim')
    .description('run the five ESP simulators (default ports 4101-4105)')
    .allowUnknownOption()
    .argument('[args...]', 'simulator options, e.g. --base-port 4101')
    .action(async (args: string[]) => io.runSimulators(args));
}

/** The operator CLI: every verb validates its input and maps failures to documented exit codes. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('consent-sync')
    .description('Operate consent-sync: record events, inspect contacts, export changes, replay dead letters, reconcile.')
    .exitOverride()
    // runCli prints every usage error itself, as one line that also names the valid values.
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: () => {} });

  addRecordCommand(program, io);
  addContactCommand(program, io);
  addExportCommand(program, io);
  addHistoryCommand(program, io);
  addReplayCommand(program, io);
  addDeadLetterCommands(program, io);
  addResumeCommand(program, io);
  addReconcileCommand(program, io);
  addSchedulesCommand(program, io);
  addSimCommand(program, io);
  return program;
}

/**
 * The one line a usage error prints: commander's own message (the problem) and what would have
 * been valid there (the commands, or the options of the command given).
 */
export function usageLine(program: Command, argv: readonly string[], err: CommanderError): string {
  const problem = err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
  const commandName = argv.find((a) => !a.startsWith('-'));
  const command = program.commands.find((c) => c.name() === commandName);
  if (err.code === 'commander.unknownCommand' || (!command && err.code === 'commander.unknownOption')) {
    return `${problem}; commands: ${program.commands.map((c) => c.name()).join(', ')}`;
  }
  if (command && err.code !== 'commander.invalidArgument') {
    const options = [...command.options.map((o) => o.flags), '--help'].join(', ');
    const args = command.registeredArguments
      .map((a) => {
        const name = a.argChoices ? `${a.name()}: ${a.argChoices.join('|')}` : a.name();
        return a.required ? `<${name}>` : `[${name}]`;
      })
      .join(' ');
    return `${problem}; usage: ${command.name()}${args ? ` ${args}` : ''} (options: ${options})`;
  }
  return problem;
}

/** Runs the CLI and returns its exit code; errors are printed, never thrown. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return EXIT.ok;
      io.err(`consent-sync: ${usageLine(program, argv, err)}\n`);
      return EXIT.usage;
    }
    if (err instanceof CliError) {
      io.err(`consent-sync: ${err.message}\n`);
      return err.exitCode;
    }
    io.err(`consent-sync: ${(err as Error).message}\n`);
    return (err as Error).name === 'ConfigError' ? EXIT.usage : EXIT.failure;
  }
}
