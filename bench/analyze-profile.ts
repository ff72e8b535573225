/** `npx tsx bench/analyze-profile.ts <file.cpuprofile> [--json=out.json]`: the summary bench/run.ts prints for --cpu-prof. */
import { writeFileSync } from 'node:fs';
import { summariseProfile } from './lib/profile.js';

const file = process.argv[2];
const jsonOut = process.argv.find((a) => a.startsWith('--json='))?.slice('--json='.length);
if (!file) {
  process.stderr.write('usage: tsx bench/analyze-profile.ts <file.cpuprofile> [--json=summary.json]\n');
  process.exit(2);
}
const s = summariseProfile(file, 40);
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(s, null, 2)}\n`);
const pct = (share: number) => `${(share * 100).toFixed(1).padStart(5)}%`;
process.stdout.write(`${s.file}\n${s.busy_s} s busy of ${s.wall_s} s\n\nself time by package:\n`);
for (const p of s.by_package) process.stdout.write(`  ${pct(p.share)}  ${p.name}\n`);
process.stdout.write('\nby owner (native and node: internals charged to the nearest package or app file up the stack):\n');
for (const p of s.by_owner) process.stdout.write(`  ${pct(p.share)}  ${p.name}\n`);
process.stdout.write('\nhottest functions (self):\n');
for (const f of s.top_functions) process.stdout.write(`  ${pct(f.share)}  ${f.name}\n`);
