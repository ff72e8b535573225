/**
 * Actito bulk profile imports (DOC cdn.actito.be … Creating_or_Updating_Profiles_in_Bulk; limits esp-contracts.md §3.2):
 *   POST /v4/entity/{e}/table/{t}/import?format=…&charset=UTF-8&mode=CREATE_ONLY|UPDATE_ONLY|CREATE_UPDATE&headerKeyColumn=…
 *        body: a ZIP holding one UTF-8 CSV → 200 {"id": N}; the import runs later (asynchronous)
 *   GET  /v4/entity/{e}/table/{t}/import/{id} → {"id","status":"WAITING"|"RUNNING"|"FINISHED"|"ERROR","rows",
 *        "imported","errors":[{"line","message"}],"creationMoment","endMoment"}
 * DOC: at most `importsPerTablePerDay` (12) imports a table a UTC day, the next one → 429; a ZIP above
 * `maxImportBytes` (100 MB) → 400. INFERENCE (the doc shows the call as a screenshot): parameters in the query
 * string, the `{"id"}` answer, the status shape, the columns `subscription:<name>` and
 * `dataCollectionInformation.source|way|date`, and an empty cell leaving that attribute as it is.
 *
 * Scripted completion: an import runs `importDelayMs` after it was accepted; `POST /__sim/imports {"hold": true}`
 * keeps every import due from landing (status RUNNING) until `{"hold": false}`, so a test can hold a bulk pending
 * while other changes happen, then let it land. `{"delayMs": N}` changes the delay of imports accepted later.
 */
import { z } from 'zod';
import { unzip } from '../../../lib/zip.js';
import { parseOr400 } from '../../../simulators/core/control.js';
import { fail, isRecord, json } from '../../../simulators/core/reply.js';
import type { Router } from '../../../simulators/core/router.js';
import type { RouteHandler, SimRequest } from '../../../simulators/core/types.js';
import type { ResolvedActitoOptions } from './actito.options.js';
import type { ProfileInput } from './actito.state.js';
import { type ActitoRouteDeps, parseProfileInput } from './actito.routes.js';

type ImportStatus = 'WAITING' | 'RUNNING' | 'FINISHED' | 'ERROR';

interface ImportJob {
  id: number;
  status: ImportStatus;
  mode: string;
  keyColumn: string;
  rows: Record<string, string>[];
  imported: number;
  errors: { line: number; message: string }[];
  creationMoment: Date;
  endMoment?: Date;
  /** Its delay has passed; it lands as soon as it is not held. */
  due: boolean;
}

const SEPARATORS: Record<string, string> = {
  COMMA_SEPARATED_VALUES: ',',
  TAB_SEPARATED_VALUES: '\t',
  SEMI_COLON_SEPARATED_VALUES: ';',
};
const MODES = ['CREATE_ONLY', 'UPDATE_ONLY', 'CREATE_UPDATE'];
const SUBSCRIPTION = 'subscription:';
const DCI = 'dataCollectionInformation.';

/** RFC 4180 records with `separator`; quotes may hold separators, quotes (doubled) and line breaks. */
export function parseCsv(text: string, separator: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === separator) {
      record.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records.filter((r) => !(r.length === 1 && r[0] === ''));
}

function rowInput(row: Record<string, string>, opts: ResolvedActitoOptions): ProfileInput {
  const attributes: { name: string; value: unknown }[] = [];
  const subscriptions: { name: string; subscribe: boolean }[] = [];
  const dci: Record<string, string> = {};
  const booleanAttribute = (name: string) => name === 'marketingConsent' || name === opts.trackingConsentAttribute;
  for (const [column, value] of Object.entries(row)) {
    if (value === '') continue;
    if (column.startsWith(SUBSCRIPTION)) subscriptions.push({ name: column.slice(SUBSCRIPTION.length), subscribe: value === 'true' });
    else if (column.startsWith(DCI)) dci[column.slice(DCI.length)] = value;
    else attributes.push({ name: column, value: booleanAttribute(column) ? value === 'true' : value });
  }
  return parseProfileInput(
    { attributes, subscriptions, ...(Object.keys(dci).length > 0 ? { dataCollectionInformation: dci } : {}) },
    opts,
  );
}

const controlSchema = z.object({ hold: z.boolean().optional(), delayMs: z.number().int().min(0).optional() });

/** What the import routes need: the same as the profile API's routes (imports land as its writes do). */
export type ActitoImportDeps = ActitoRouteDeps;

/**
 * The import request as the vendor documents it (format, mode, unique key column, UTF-8, a ZIP of
 * exactly one CSV, within the size limit), each violation a 400 that names the parameter.
 */
function parseImport(req: SimRequest, opts: ActitoImportDeps['opts']): { mode: string; keyColumn: string; rows: Record<string, string>[] } {
  if (req.rawBody.length > opts.maxImportBytes) fail(400, { status: 400, message: `zip file larger than ${opts.maxImportBytes} bytes` });
  const separator = SEPARATORS[req.query.get('format') ?? ''];
  if (!separator) fail(400, { status: 400, message: `format must be one of ${Object.keys(SEPARATORS).join(', ')}` });
  const mode = req.query.get('mode') ?? '';
  if (!MODES.includes(mode)) fail(400, { status: 400, message: `mode must be one of ${MODES.join(', ')}` });
  const keyColumn = req.query.get('headerKeyColumn') ?? '';
  if (keyColumn !== opts.uniqueKeyAttribute) fail(400, { status: 400, message: `headerKeyColumn must be a unique field (${opts.uniqueKeyAttribute})` });
  const charset = (req.query.get('charset') ?? 'UTF-8').toUpperCase();
  if (charset !== 'UTF-8') fail(400, { status: 400, message: 'charset must be UTF-8' });
  let files: { name: string; content: Buffer }[] = [];
  try {
    files = unzip(req.rawBody);
  } catch (err) {
    fail(400, { status: 400, message: `body must be a ZIP file: ${err instanceof Error ? err.message : String(err)}` });
  }
  if (files.length !== 1) fail(400, { status: 400, message: `the ZIP file must hold exactly one CSV file, not ${files.length}` });
  const [header, ...records] = parseCsv(files[0]!.content.toString('utf8'), separator!);
  if (!header?.includes(keyColumn)) fail(400, { status: 400, message: `the CSV has no ${keyColumn} column` });
  const rows = records.map((r) => Object.fromEntries(header!.map((column, i) => [column, r[i] ?? ''])));
  return { mode, keyColumn, rows };
}

/** Runs an accepted import as the vendor's would: row by row, each failed row an error with its CSV line. */
function landImport(job: ImportJob, deps: ActitoImportDeps): void {
  job.status = 'RUNNING';
  job.rows.forEach((row, i) => {
    try {
      const key = row[job.keyColumn] ?? '';
      const exists = deps.state.find(key) !== undefined;
      if (job.mode === 'CREATE_ONLY' && exists) throw new Error(`${key} already exists (CREATE_ONLY)`);
      if (job.mode === 'UPDATE_ONLY' && !exists) throw new Error(`${key} does not exist (UPDATE_ONLY)`);
      deps.onChange(deps.state.upsert(rowInput(row, deps.opts), deps.now()));
      job.imported++;
    } catch (err) {
      const body = (err as { reply?: { body?: unknown } }).reply?.body;
      job.errors.push({ line: i + 2, message: typeof body === 'string' ? body : err instanceof Error ? err.message : String(err) });
    }
  });
  job.rows = [];
  job.status = 'FINISHED';
  job.endMoment = deps.now();
  }

/** The documented status of an import (rows counts every row until it has run). */
function importStatus(job: ImportJob) {
  return {
    id: job.id,
    status: job.status,
    rows: job.status === 'FINISHED' ? job.imported + job.errors.length : job.rows.length,
    imported: job.imported,
    errors: job.errors,
    creationMoment: job.creationMoment.toISOString(),
    ...(job.endMoment ? { endMoment: job.endMoment.toISOString() } : {}),
  };
}

export function createActitoImports(deps: ActitoImportDeps) {
  const { opts } = deps;
  const jobs = new Map<number, ImportJob>();
  const timers = new Set<NodeJS.Timeout>();
  let nextId = 1;
  let held = false;
  let delayMs = opts.importDelayMs;

  const landDue = () => {
    if (held) return;
    for (const job of [...jobs.values()].sort((a, b) => a.id - b.id)) if (job.due && job.status !== 'FINISHED') landImport(job, deps);
  };

  const tablePath = '/v4/entity/:entity/table/:table/import';
  const table = (handler: RouteHandler): RouteHandler =>
    deps.authed((req) => {
      if (req.param('entity') !== deps.entity) fail(404, { status: 404, message: `entity ${req.param('entity')} not found` });
      if (req.param('table') !== deps.profileTable) fail(404, { status: 404, message: `profile table ${req.param('table')} not found` });
      return handler(req);
    });

  return {
    register(router: Router): void {
      router.post(
        tablePath,
        table((req) => {
          const now = deps.now();
          const day = now.toISOString().slice(0, 10);
          const today = [...jobs.values()].filter((j) => j.creationMoment.toISOString().slice(0, 10) === day).length;
          if (today >= opts.importsPerTablePerDay) fail(429, { status: 429, message: `bulk import quota reached: ${opts.importsPerTablePerDay} imports per table per day` });
          const { mode, keyColumn, rows } = parseImport(req, opts);
          const job: ImportJob = { id: nextId++, status: 'WAITING', mode, keyColumn, rows, imported: 0, errors: [], creationMoment: now, due: false };
          jobs.set(job.id, job);
          const timer = setTimeout(() => {
            timers.delete(timer);
            job.due = true;
            landDue();
          }, delayMs);
          timer.unref();
          timers.add(timer);
          return json(200, { id: job.id });
        }),
      );
      router.get(
        `${tablePath}/:id`,
        table((req) => {
          const job = jobs.get(Number(req.param('id')));
          if (!job) fail(404, { status: 404, message: `import ${req.param('id')} not found` });
          return json(200, importStatus(job));
        }),
      );
    },
    registerControl(router: Router): void {
      router.post('/__sim/imports', (req) => {
        const body = parseOr400(controlSchema, isRecord(req.json()) ? req.json() : {});
        if (body.delayMs !== undefined) delayMs = body.delayMs;
        if (body.hold !== undefined) held = body.hold;
        landDue();
        return json(200, { ok: true, hold: held, delayMs });
      });
    },
    state() {
      return [...jobs.values()].map((j) => ({
        id: j.id,
        status: j.status,
        imported: j.imported,
        errors: j.errors.length,
        creationMoment: j.creationMoment.toISOString(),
      }));
    },
    reset(): void {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      jobs.clear();
      nextId = 1;
      held = false;
      delayMs = opts.importDelayMs;
    },
  };
}
