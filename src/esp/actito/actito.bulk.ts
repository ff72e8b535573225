import type { ActitoSettings } from './actito.settings.js';
import { zipOneFile } from '../../lib/zip.js';
import type { AdapterKit } from '../kit/adapter-kit.js';
import { EspError } from '../kit/http/errors.js';
import { combineChannels, onChannels, PUSHED } from '../kit/outcome.js';
import type { BulkStatus, ContactSnapshot, EspBulkPath, PushOutcome } from '../types.js';
import { type ActitoProfileBody, buildProfileUpsert, profilePath } from './actito.mapping.js';
import type { ActitoSession } from './actito.session.js';

/**
 * Actito's bulk path: a mass profile import. DOC (cdn.actito.be … Creating_or_Updating_Profiles_in_Bulk):
 * `POST /entity/{e}/table/{t}/import` posts a ZIP holding a single UTF-8 CSV, with its `format`
 * (COMMA_/TAB_/SEMI_COLON_SEPARATED_VALUES), `charset`, `mode` (CREATE_ONLY, UPDATE_ONLY,
 * CREATE_UPDATE) and `headerKeyColumn` (a unique field of the table); the import runs later and
 * its status and error causes can be read back. DOC §3.2: at most 12 bulk calls a table a day
 * (then 429), a ZIP above 100 MB gets 400.
 *
 * INFERENCE (not in any text we found, the doc shows its call as a screenshot), each a setting or
 * flagged here: the V4 prefix and the parameters as query string (ACTITO_IMPORT_PATH); the answer
 * `{"id": N}` (also read as `importId`); the status at `GET <import path>/{id}` as
 * `{"status": "WAITING"|"RUNNING"|"FINISHED"|"ERROR", "errors": [{"line", "message"}]}`; the CSV columns `subscription:<name>` and
 * `dataCollectionInformation.source|way|date`; an empty cell leaves that attribute as it is (a
 * contact whose state leaves a column undecided must not blank it).
 *
 * Mode CREATE_UPDATE: an imported contact may or may not have a profile yet, as with the upsert.
 */

const FORMAT = 'SEMI_COLON_SEPARATED_VALUES';
const SEPARATOR = ';';
const SUBSCRIPTION_COLUMN = 'subscription:';
const DCI_COLUMNS = ['source', 'way', 'date'] as const;

type Row = Map<string, string>;

function rowOf(body: ActitoProfileBody): Row {
  const row: Row = new Map();
  for (const a of body.attributes) row.set(a.name, String(a.value));
  for (const s of body.subscriptions ?? []) row.set(`${SUBSCRIPTION_COLUMN}${s.name}`, String(s.subscribe));
  const dci = body.dataCollectionInformation;
  if (dci) for (const c of DCI_COLUMNS) row.set(`dataCollectionInformation.${c}`, dci[c]);
  return row;
}

/** A cell quoted when it holds the separator, a quote or a line break (RFC 4180, with `;`). */
function cell(value: string): string {
  return /[";\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** The CSV of the rows: the key column first, then every column any row has, in a stable order. */
export function importCsv(rows: readonly Row[], keyColumn: string): string {
  const columns = new Set<string>([keyColumn]);
  for (const row of rows) for (const column of row.keys()) columns.add(column);
  const ordered = [keyColumn, ...[...columns].filter((c) => c !== keyColumn).sort()];
  const lines = [ordered.map(cell).join(SEPARATOR)];
  for (const row of rows) lines.push(ordered.map((c) => cell(row.get(c) ?? '')).join(SEPARATOR));
  return `${lines.join('\r\n')}\r\n`;
}

export function createActitoBulk(
  kit: AdapterKit,
  session: ActitoSession,
  settings: ActitoSettings,
  now: () => number,
): EspBulkPath | undefined {
  if (settings.bulk.importsPerDay === 0) return undefined;
  const importPath = profilePath({ ...settings, profilePath: settings.importPath });

  const plan = (contact: ContactSnapshot) => buildProfileUpsert(contact, settings, new Date(now()).toISOString());

  return {
    maxContacts: settings.bulk.maxContacts,
    perDay: settings.bulk.importsPerDay,

    async submit(contacts, signal) {
      const settled = new Map<string, PushOutcome>();
      const rows: Row[] = [];
      for (const contact of contacts) {
        const built = plan(contact);
        if ('outcome' in built) settled.set(contact.contactId, combineChannels([...built.skipped, ...onChannels(built.covered, built.outcome)]));
        else rows.push(rowOf(built.body));
      }
      if (rows.length === 0) return { id: '', settled };
      const zip = zipOneFile('profiles.csv', Buffer.from(importCsv(rows, settings.uniqueKeyAttribute), 'utf8'));
      const params = { format: FORMAT, charset: 'UTF-8', mode: 'CREATE_UPDATE', headerKeyColumn: settings.uniqueKeyAttribute };
      const res = await session.call('bulk-import', signal, (bearer) =>
        kit.http.post(importPath, zip, {
          params,
          headers: { Authorization: `Bearer ${bearer}`, 'Content-Type': 'application/zip' },
          signal,
        }),
      );
      const data = (res.data ?? {}) as Record<string, unknown>;
      const id = data['id'] ?? data['importId'];
      if (typeof id !== 'number' && typeof id !== 'string') {
        throw new EspError('actito', 'retryable', 'actito: the bulk import was answered without an import id');
      }
      return { id: String(id), settled };
    },

    async status(id, signal): Promise<BulkStatus> {
      const res = await session.call('bulk-import-status', signal, (bearer) =>
        kit.http.get(`${importPath}/${encodeURIComponent(id)}`, { headers: { Authorization: `Bearer ${bearer}` }, signal }),
      );
      const data = (res.data ?? {}) as Record<string, unknown>;
      const status = String(data['status'] ?? '').toUpperCase();
      if (status === 'FINISHED') {
        // INFERENCE: errors name the CSV line (1 = the header), so line n is the (n-2)th contact sent.
        const errors = Array.isArray(data['errors']) ? (data['errors'] as Record<string, unknown>[]) : [];
        const rejected = errors
          .filter((e) => typeof e['line'] === 'number' && e['line'] >= 2)
          .map((e) => ({ index: (e['line'] as number) - 2, reason: `actito import ${id} refused line ${String(e['line'])}: ${String(e['message'] ?? 'no reason given')}` }));
        return rejected.length > 0 ? { state: 'processed', rejected } : { state: 'processed' };
      }
      if (status === 'ERROR' || status === 'FAILED' || status === 'CANCELED')
        return { state: 'failed', reason: `actito import ${id} ended ${status}` };
      return { state: 'pending' };
    },

    landedOutcome(contact) {
      const built = plan(contact);
      if ('outcome' in built) return combineChannels([...built.skipped, ...onChannels(built.covered, built.outcome)]);
      return combineChannels([...built.skipped, ...onChannels(built.covered, PUSHED)]);
    },
  };
}
