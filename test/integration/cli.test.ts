import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/dev/project-root.js';
import { startTestApp } from '../support/app.js';
import { freshClone, removeClones, runIn } from '../support/fresh-clone.js';
import { isolatedEnv } from '../support/integration.js';
import { insertPendingContacts, queueFixture } from '../support/pending-contacts.js';
import { buildProject, spawnBuilt } from '../support/processes.js';
import { waitFor } from '../support/wait-for.js';

async function cli(env: Record<string, string>, args: string[]) {
  // The built binary, as `consent-sync` (package.json bin) runs it for a user.
  const proc = spawnBuilt('cli', env, args);
  let stdout = '';
  proc.child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  const { code } = await proc.exited;
  return { code, stdout, output: proc.output() };
}

/** `npx consent-sync …` in `cwd`, with an npm cache of its own (npx caches a project's bin link). */
const npx = (cwd: string, args: string[]) =>
  runIn(cwd, 'npx', ['--no-install', '--offline', 'consent-sync', ...args], { npm_config_cache: join(cwd, '.npm-cache') });

describe('`npx consent-sync` in a fresh clone, without a build', () => {
  afterAll(removeClones);
  it('runs the command from source after `npm ci`', async () => {
    const clone = freshClone(join(projectRoot(), 'node_modules'));
    const help = await npx(clone, ['--help']);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain('Usage: consent-sync');
    expect(help.stdout).toContain('reconcile');
    const usage = await npx(clone, ['reconcile', 'mailchimp']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("'mailchimp'");
  });

  it('without tsx and without a build, says what to run', async () => {
    const run = await npx(freshClone(null), ['--help']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('npm run build');
  });
});

describe('operator CLI', () => {
  const env = isolatedEnv();
  const dir = mkdtempSync(join(tmpdir(), 'consent-cli-'));
  let app: Awaited<ReturnType<typeof startTestApp>>;
  beforeAll(async () => {
    await buildProject();
    app = await startTestApp({ env, workers: 1 });
  }, 300_000);
  afterAll(async () => app?.close());

  it('records events from a file and shows the contact', async () => {
    const file = join(dir, 'events.json');
    writeFileSync(
      file,
      JSON.stringify([
        {
          eventId: 'cli-1',
          contact: { externalId: 'cli-user', email: 'Cli@Example.com' },
          kind: 'marketing',
          channel: 'all',
          value: 'opt_out',
          source: 'preference_center',
          moment: '2026-11-20T10:00:00Z',
          way: { form: 'prefs, "v2"' },
        },
        {
          eventId: 'cli-2',
          contact: { externalId: 'cli-user' },
          kind: 'tracking',
          value: 'opt_out',
          source: 'app_settings',
          moment: '2026-11-20T10:01:00Z',
        },
      ]),
    );
    const recorded = await cli(env, ['record', file]);
    expect(recorded.code, recorded.output).toBe(0);
    expect(recorded.stdout).toBe('cli-1\taccepted\ncli-2\taccepted\n');
    await waitFor(async () => (await app.ctx.models.events.countDocuments({ status: 'pending' })) === 0);
    const shown = await cli(env, ['contact', 'externalId:cli-user']);
    expect(shown.code, shown.output).toBe(0);
    const view = JSON.parse(shown.stdout);
    expect(view.effective).toEqual({
      marketing: { email: 'opted_out', sms: 'opted_out', push: 'opted_out' },
      tracking: 'opted_out',
    });
  });

  it('shows a pending push with its lane and its place in line', async () => {
    await insertPendingContacts(app.ctx.models, queueFixture('cli-queued'));
    const shown = await cli(env, ['contact', 'externalId:cli-queued']);
    expect(shown.code, shown.output).toBe(0);
    const view = JSON.parse(shown.stdout);
    expect(view.sync.crossengage.pending).toMatchObject({
      version: 5,
      lane: 1,
      laneName: 'person',
      placeInLine: { ahead: 1, estimate: true, text: 'about 1 ahead' },
    });
    expect(view.sync.ometria.pending).toMatchObject({ lane: 3, laneName: 'bulk', placeInLine: { ahead: 3 } });
    expect(Date.now() - Date.parse(view.sync.crossengage.pending.since)).toBeGreaterThanOrEqual(300_000);
  });

  it('exports consent changes as NDJSON and CSV', async () => {
    const ndjson = await cli(env, ['export', '--since', '2000-01-01T00:00:00Z']);
    expect(ndjson.code, ndjson.output).toBe(0);
    const rows = ndjson.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((r) => r.eventId).sort()).toEqual(['cli-1', 'cli-2']);
    const csv = await cli(env, ['export', '--since', '2000-01-01', '--format', 'csv']);
    expect(csv.code).toBe(0);
    const lines = csv.stdout.trim().split('\r\n');
    expect(lines[0]).toBe(
      'eventId,contactId,kind,channel,value,force,source,moment,received,applied,outcome,reason,version,way,proof',
    );
    expect(lines).toHaveLength(3);
    expect(csv.stdout).toContain('"{""form"":""prefs, \\""v2\\""""}"');
  });

  it('a usage error is one line naming the problem and the valid values, exit code 2', async () => {
    const esps = 'optimizely-campaign, crossengage, actito, dynamic-yield, ometria';
    const cases: [string[], string[]][] = [
      [
        ['reconcile', 'mailchimp'],
        ["'mailchimp'", `${esps}, all`],
      ],
      [
        ['resume', 'mailchimp'],
        ["'mailchimp'", esps],
      ],
      [
        ['replay', '--esp', 'mailchimp'],
        ["'mailchimp'", esps],
      ],
      [
        ['frobnicate'],
        [
          "unknown command 'frobnicate'",
          ...[
            'record',
            'contact',
            'export',
            'history',
            'deadletters',
            'replay',
            'resume',
            'reconcile',
            'schedules',
            'sim',
          ].map((verb) => ` ${verb}`),
        ],
      ],
      [
        ['export', '--since', '2026-01-01', '--sinse', 'x'],
        ["unknown option '--sinse'", '--since <iso>, --format <format>'],
      ],
      [
        ['export', '--bogus'],
        ["unknown option '--bogus'", '--since <iso>'],
      ],
      [['--verbose'], ["unknown option '--verbose'", 'record, contact, export']],
      [['resume'], ["missing required argument 'esp'", 'crossengage|actito']],
      [
        ['export', '--since', '2026-01-01', '--format', 'xml'],
        ["'xml'", 'ndjson or csv'],
      ],
    ];
    for (const [args, needles] of cases) {
      const run = await cli(env, args);
      const what = `consent-sync ${args.join(' ')}`;
      expect(run.code, what).toBe(2);
      expect(run.stdout, what).toBe('');
      const lines = run.output.trim().split('\n');
      expect(lines, `${what}: ${run.output}`).toHaveLength(1);
      expect(lines[0], what).toMatch(/^consent-sync: /);
      for (const needle of needles) expect(lines[0], what).toContain(needle);
    }
  });

  it('fails with clear messages and exit codes', async () => {
    const unknown = await cli(env, ['contact', 'externalId:nobody']);
    expect(unknown.code).toBe(3);
    expect(unknown.output).toContain('no contact has the identity externalId:nobody');
    const badIdentity = await cli(env, ['contact', 'nick:jo']);
    expect(badIdentity.code).toBe(2);
    const badFile = join(dir, 'bad.json');
    writeFileSync(
      badFile,
      JSON.stringify({ eventId: 'x', contact: {}, kind: 'marketing', value: 'maybe', source: 'api' }),
    );
    const bad = await cli(env, ['record', badFile]);
    expect(bad.code).toBe(2);
    expect(bad.output).toContain('events.0.value');
    expect(bad.output).toContain('events.0.contact');
    expect(await app.ctx.models.events.countDocuments({ _id: 'x' })).toBe(0);
    const badDate = await cli(env, ['export', '--since', 'yesterday']);
    expect(badDate.code).toBe(2);
    const badEsp = await cli(env, ['replay', '--esp', 'mailchimp']);
    expect(badEsp.code).toBe(2);
    expect(badEsp.output).toContain('must be one of');
    const badConfig = await cli({ ...env, REDIS_URL: 'nope' }, ['schedules']);
    expect(badConfig.code).toBe(2);
    expect(badConfig.output).toContain('REDIS_URL');
  });
});
