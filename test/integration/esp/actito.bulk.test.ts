import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EspError } from '../../../src/esp/kit/http/errors.js';
import type { EspBulkPath } from '../../../src/esp/types.js';
import { type SimulatorHandle, startSimulator } from '../../../src/simulators/index.js';
import { adapterFor, contact, decided, MOMENT } from './support.js';

/** Actito's bulk path (mass profile import) against the Actito simulator: asynchronous, 12 a table a day. */
let sim: SimulatorHandle;
beforeAll(async () => {
  sim = await startSimulator('actito', { importsPerTablePerDay: 2, importDelayMs: 0 });
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const bulkPath = (env: Record<string, string> = {}): EspBulkPath => {
  const path = adapterFor('actito', sim.url, env).bulk;
  if (!path) throw new Error('actito has no bulk path');
  return path;
};
const hold = (on: boolean) => fetch(`${sim.url}/__sim/imports`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hold: on }) });

describe('actito bulk import', () => {
  it('sends one ZIP of a CSV, stays pending while Actito has not run it, lands every row once it has', async () => {
    await hold(true);
    const path = bulkPath();
    const contacts = [
      contact('c1', { email: 'ann@example.com' }, { email: decided('opted_in') }, decided('opted_in')),
      contact('c2', { email: 'bob;"x"@example.com' }, { email: decided('opted_out', { source: 'import' }) }),
      contact('c3', { externalId: 'no-email' }, { email: decided('opted_in') }),
    ];
    const { id, settled } = await path.submit(contacts);
    // Without an email Actito cannot key the profile: settled at once, not in the file.
    expect([...settled.keys()]).toEqual(['c3']);
    expect(settled.get('c3')?.kind).toBe('missing_identity');
    const request = sim.requests().find((r) => r.method === 'POST' && r.path.endsWith('/import'));
    expect(request?.headers['content-type']).toBe('application/zip');
    expect(request?.query).toMatchObject({ mode: 'CREATE_UPDATE', headerKeyColumn: 'emailAddress', format: 'SEMI_COLON_SEPARATED_VALUES' });

    expect(await path.status(id)).toEqual({ state: 'pending' });
    expect(sim.state().recipients['ann@example.com']).toBeUndefined();

    await hold(false);
    expect(await path.status(id)).toEqual({ state: 'processed' });
    expect(sim.state().recipients['ann@example.com']).toEqual({ email: 'opted_in', tracking: 'opted_in' });
    expect(sim.state().recipients['bob;"x"@example.com']).toEqual({ email: 'opted_out' });
    const profiles = sim.state()['profiles'] as Record<string, { consentInformation: Record<string, { source?: string; date?: string }> }>;
    expect(profiles['bob;"x"@example.com']?.consentInformation['marketingConsent']).toMatchObject({
      source: 'import',
      date: MOMENT.slice(0, 19).replace('T', ' '),
    });
    expect(path.landedOutcome(contacts[0]!)).toMatchObject({ kind: 'pushed', channels: { email: { kind: 'pushed' }, tracking: { kind: 'pushed' } } });
  });

  it('a column a contact leaves undecided keeps what the profile holds', async () => {
    const path = bulkPath();
    await path.submit([contact('c1', { email: 'ann@example.com' }, { email: decided('opted_in') }, decided('opted_out'))]);
    await new Promise((r) => setTimeout(r, 50));
    const { id } = await path.submit([
      contact('c1', { email: 'ann@example.com' }, { email: decided('opted_out') }),
      contact('c2', { email: 'cy@example.com' }, { email: decided('opted_in') }, decided('opted_in')),
    ]);
    await new Promise((r) => setTimeout(r, 50));
    expect(await path.status(id)).toEqual({ state: 'processed' });
    expect(sim.state().recipients['ann@example.com']).toEqual({ email: 'opted_out', tracking: 'opted_out' });
  });

  it('a row Actito refuses is reported by its place among the contacts sent, the others land', async () => {
    const path = bulkPath();
    const { id, settled } = await path.submit([
      contact('c1', { externalId: 'no-email' }, { email: decided('opted_in') }), // settled, not sent
      contact('c2', { email: 'ann@example.com' }, { email: decided('opted_in') }),
      contact('c3', { email: ' ' }, { email: decided('opted_in') }), // Actito has no key for this row
      contact('c4', { email: 'cy@example.com' }, { email: decided('opted_out') }),
    ]);
    expect([...settled.keys()]).toEqual(['c1']);
    await new Promise((r) => setTimeout(r, 50));
    const status = await path.status(id);
    expect(status.state).toBe('processed');
    // c2, c3, c4 were sent in that order: c3 is the second (index 1)
    expect(status.state === 'processed' && status.rejected?.map((r) => r.index)).toEqual([1]);
    expect(status.state === 'processed' && status.rejected?.[0]?.reason).toMatch(/refused line 3: .*emailAddress is required/);
    expect(sim.state().recipients['cy@example.com']).toEqual({ email: 'opted_out' });
  });

  it('the import beyond the daily quota is refused as rate limited (12 a table a day; 2 here)', async () => {
    const path = bulkPath();
    const one = [contact('c1', { email: 'ann@example.com' }, { email: decided('opted_in') })];
    await path.submit(one);
    await path.submit(one);
    const refused = await path.submit(one).catch((err: unknown) => err);
    expect(EspError.is(refused) && refused.kind).toBe('rate_limited');
  });

  it('is off when ACTITO_BULK_IMPORTS_PER_DAY is 0', () => {
    expect(adapterFor('actito', sim.url, { ACTITO_BULK_IMPORTS_PER_DAY: '0' }).bulk).toBeUndefined();
  });
});
