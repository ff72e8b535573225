/** `npx tsx bench/chart.ts bench/results/<date>-<profile>.json`: re-renders the SVG chart next to a results file. */
import { readFileSync, writeFileSync } from 'node:fs';
import { type ChartableResults, chartInput, renderChart } from './lib/chart.js';

const file = process.argv[2];
if (!file?.endsWith('.json')) {
  process.stderr.write('usage: tsx bench/chart.ts <results.json>\n');
  process.exit(2);
}
const results = JSON.parse(readFileSync(file, 'utf8')) as ChartableResults;
const out = file.replace(/\.json$/, '.svg');
writeFileSync(out, renderChart(chartInput(results)));
process.stdout.write(`${out}\n`);
