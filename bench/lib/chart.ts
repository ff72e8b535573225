/**
 * The benchmark chart as a hand-written SVG (no dependency): throughput against the two
 * baselines, the end-to-end run over time, and latency distributions.
 */

export interface ChartInput {
  title: string;
  subtitle: string;
  bars: { label: string; value: number; unit: string }[];
  timeline: { second: number; accepted: number; applied: number; delivered: number }[];
  cdfs: { label: string; points: [number, number][] }[];
}

const W = 960;
const PANEL_H = 300;
const M = { left: 70, right: 30, top: 40, bottom: 45 };
const COLORS = ['#2b6cb0', '#dd6b20', '#2f855a', '#9b2c2c', '#6b46c1'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function text(x: number, y: number, s: string, opts: { anchor?: string; size?: number; weight?: string; fill?: string } = {}) {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-size="${opts.size ?? 12}" text-anchor="${opts.anchor ?? 'start'}"${opts.weight ? ` font-weight="${opts.weight}"` : ''} fill="${opts.fill ?? '#222'}">${esc(s)}</text>`;
}

function fmt(n: number): string {
  if (n >= 1000) return `${Math.round(n / 100) / 10}k`;
  if (n >= 10) return String(Math.round(n));
  return String(Math.round(n * 10) / 10);
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function frame(y0: number, title: string): string[] {
  return [
    `<rect x="0" y="${y0}" width="${W}" height="${PANEL_H}" fill="#fff"/>`,
    text(M.left, y0 + 22, title, { size: 14, weight: 'bold' }),
  ];
}

/** Horizontal bars on a log scale (the figures differ by orders of magnitude). */
function barsPanel(y0: number, bars: ChartInput['bars']): string[] {
  const out = frame(y0, 'Throughput: end to end against the baselines (log scale)');
  const x0 = 260;
  const x1 = W - M.right - 90;
  const max = Math.max(...bars.map((b) => b.value), 10);
  const lo = 1;
  const hi = 10 ** Math.ceil(Math.log10(max));
  const sx = (v: number) => x0 + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (x1 - x0);
  const rowH = (PANEL_H - M.top - M.bottom) / Math.max(1, bars.length);
  for (let d = lo; d <= hi; d *= 10) {
    const x = sx(d);
    out.push(`<line x1="${x}" y1="${y0 + M.top}" x2="${x}" y2="${y0 + PANEL_H - M.bottom}" stroke="#ddd"/>`);
    out.push(text(x, y0 + PANEL_H - M.bottom + 16, fmt(d), { anchor: 'middle', size: 11, fill: '#666' }));
  }
  bars.forEach((b, i) => {
    const y = y0 + M.top + i * rowH + rowH * 0.15;
    const h = rowH * 0.7;
    out.push(text(x0 - 10, y + h / 2 + 4, b.label, { anchor: 'end' }));
    out.push(`<rect x="${x0}" y="${y}" width="${Math.max(1, sx(b.value) - x0)}" height="${h}" fill="${COLORS[i % COLORS.length]}"/>`);
    out.push(text(sx(b.value) + 6, y + h / 2 + 4, `${fmt(b.value)} ${b.unit}`, { size: 12 }));
  });
  return out;
}

function axes(y0: number, xMax: number, yMax: number, xLabel: string, yLabel: string, xTicks: number[], xPos: (v: number) => number): string[] {
  const out: string[] = [];
  const bottom = y0 + PANEL_H - M.bottom;
  const top = y0 + M.top;
  for (let k = 0; k <= 4; k++) {
    const v = (yMax * k) / 4;
    const y = bottom - ((bottom - top) * k) / 4;
    out.push(`<line x1="${M.left}" y1="${y}" x2="${W - M.right}" y2="${y}" stroke="#eee"/>`);
    out.push(text(M.left - 6, y + 4, yMax <= 1 ? `${Math.round(v * 100)}%` : fmt(v), { anchor: 'end', size: 11, fill: '#666' }));
  }
  for (const t of xTicks) {
    if (t > xMax) continue;
    out.push(text(xPos(t), bottom + 16, fmt(t), { anchor: 'middle', size: 11, fill: '#666' }));
  }
  out.push(`<line x1="${M.left}" y1="${bottom}" x2="${W - M.right}" y2="${bottom}" stroke="#999"/>`);
  out.push(text((M.left + W - M.right) / 2, bottom + 34, xLabel, { anchor: 'middle', size: 12 }));
  out.push(
    `<text x="16" y="${(top + bottom) / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 16 ${(top + bottom) / 2})">${esc(yLabel)}</text>`,
  );
  return out;
}

function legend(x: number, y: number, items: string[]): string[] {
  return items.flatMap((label, i) => [
    `<rect x="${x}" y="${y + i * 16 - 9}" width="12" height="3" fill="${COLORS[i % COLORS.length]}"/>`,
    text(x + 18, y + i * 16 - 4, label, { size: 11 }),
  ]);
}

function timelinePanel(y0: number, timeline: ChartInput['timeline']): string[] {
  const out = frame(y0, 'End to end at maximum load: events so far (cumulative) over time');
  if (timeline.length === 0) return out;
  const xMax = Math.max(...timeline.map((t) => t.second)) + 1;
  const keys = ['accepted', 'applied', 'delivered'] as const;
  const sums = { accepted: 0, applied: 0, delivered: 0 };
  const series: Record<(typeof keys)[number], [number, number][]> = { accepted: [[0, 0]], applied: [[0, 0]], delivered: [[0, 0]] };
  for (const t of timeline) {
    for (const key of keys) {
      sums[key] += t[key];
      series[key].push([t.second + 1, sums[key]]);
    }
  }
  const yMax = niceMax(Math.max(sums.accepted, sums.applied, sums.delivered));
  const sx = (s: number) => M.left + (s / xMax) * (W - M.left - M.right);
  const sy = (v: number) => y0 + PANEL_H - M.bottom - (v / yMax) * (PANEL_H - M.top - M.bottom);
  const step = niceMax(xMax / 8);
  const ticks = Array.from({ length: Math.floor(xMax / step) + 1 }, (_, i) => i * step);
  out.push(...axes(y0, xMax, yMax, 'seconds since the first event was sent', 'events', ticks, sx));
  keys.forEach((key, i) => {
    const pts = series[key].map(([x, v]) => `${sx(x).toFixed(1)},${sy(v).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${pts}" fill="none" stroke="${COLORS[i]}" stroke-width="2"/>`);
  });
  out.push(
    ...legend(W - M.right - 300, y0 + PANEL_H - M.bottom - 50, [
      'accepted by the API (202)',
      'applied to the contact',
      'state change acknowledged by all five ESPs',
    ]),
  );
  return out;
}

function cdfPanel(y0: number, cdfs: ChartInput['cdfs']): string[] {
  const out = frame(y0, 'Latency from accepted to acknowledged by all five ESPs (cumulative, log scale)');
  const all = cdfs.flatMap((c) => c.points.map((p) => p[0]));
  if (all.length === 0) return out;
  const lo = 10 ** Math.floor(Math.log10(Math.max(1, Math.min(...all))));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(lo * 10, ...all)));
  const sx = (v: number) =>
    M.left + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (W - M.left - M.right);
  const sy = (p: number) => y0 + PANEL_H - M.bottom - p * (PANEL_H - M.top - M.bottom);
  const ticks: number[] = [];
  for (let d = lo; d <= hi; d *= 10) ticks.push(d);
  out.push(...axes(y0, hi, 1, 'milliseconds (log)', 'share of events', ticks, sx));
  for (const p of [0.5, 0.99]) {
    out.push(`<line x1="${M.left}" y1="${sy(p)}" x2="${W - M.right}" y2="${sy(p)}" stroke="#bbb" stroke-dasharray="4 3"/>`);
    out.push(text(W - M.right - 4, sy(p) - 4, p === 0.5 ? 'p50' : 'p99', { anchor: 'end', size: 10, fill: '#888' }));
  }
  cdfs.forEach((c, i) => {
    const pts = c.points.map(([v, p]) => `${sx(v).toFixed(1)},${sy(p).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${pts}" fill="none" stroke="${COLORS[i]}" stroke-width="2"/>`);
  });
  out.push(...legend(M.left + 20, y0 + 52, cdfs.map((c) => c.label)));
  return out;
}

export function renderChart(input: ChartInput): string {
  const height = 60 + PANEL_H * 3;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="${W}" height="${height}" fill="#fafafa"/>`,
    text(M.left, 24, input.title, { size: 16, weight: 'bold' }),
    text(M.left, 44, input.subtitle, { size: 11, fill: '#555' }),
    ...barsPanel(60, input.bars),
    ...timelinePanel(60 + PANEL_H, input.timeline),
    ...cdfPanel(60 + PANEL_H * 2, input.cdfs),
    '</svg>',
  ];
  return `${parts.join('\n')}\n`;
}

/** The subset of a results JSON the chart reads (bench/results/<date>-<profile>.json). */
export interface ChartableResults {
  profile: string;
  started_at: string;
  ratio: number | null;
  machine: { cpu_model: string; cores: number; node: string; redis: string; mongo_server: string; load_at_start: string };
  reconcile_contacts?: number | null;
  details: {
    bullmq?: { jobs_per_s: number } | undefined;
    mongo?: { updates_per_s: number } | undefined;
    e2e?: { events_per_s: number; latency_ms: { p99?: number | undefined }; timeline: ChartInput['timeline']; latency_cdf: [number, number][] } | undefined;
    half?:
      | { events_per_s: number; offered_events_per_s?: number | undefined; latency_ms: { p99?: number | undefined }; latency_cdf: [number, number][] }
      | undefined;
    reconcile: { contacts: number; contacts_per_s: number }[];
  };
}

export function chartInput(r: ChartableResults): ChartInput {
  const { bullmq, mongo, e2e, half } = r.details;
  const rec = r.details.reconcile.find((x) => x.contacts === r.reconcile_contacts) ?? r.details.reconcile[0];
  const m = r.machine;
  return {
    title: `consent-sync benchmark (${r.profile}): ${e2e?.events_per_s ?? '–'} events/s end to end = ${r.ratio ?? '–'} × min(A, B)`,
    subtitle: `${m.cpu_model}, ${m.cores} cores, Node ${m.node}, Redis ${m.redis}, ${m.mongo_server.replace(/ \(.*$/, '')}; ${r.started_at.slice(0, 16)}Z, ${m.load_at_start.replace(/^.*(load average)/, '$1')}`,
    bars: [
      ...(bullmq ? [{ label: '(A) BullMQ no-op jobs', value: bullmq.jobs_per_s, unit: 'jobs/s' }] : []),
      ...(mongo ? [{ label: '(B) Mongo updates by _id', value: mongo.updates_per_s, unit: 'updates/s' }] : []),
      ...(e2e ? [{ label: 'end to end (max load)', value: e2e.events_per_s, unit: 'events/s' }] : []),
      ...(half ? [{ label: 'end to end (50% load)', value: half.events_per_s, unit: 'events/s' }] : []),
      ...(rec
        ? [{ label: `reconciliation (${rec.contacts.toLocaleString('en')})`, value: rec.contacts_per_s, unit: 'contacts/s' }]
        : []),
    ],
    timeline: e2e?.timeline ?? [],
    cdfs: [
      ...(e2e ? [{ label: `max load (${e2e.events_per_s} events/s): p99 ${e2e.latency_ms.p99} ms`, points: e2e.latency_cdf }] : []),
      ...(half
        ? [{ label: `50% load (${half.offered_events_per_s} events/s offered): p99 ${half.latency_ms.p99} ms`, points: half.latency_cdf }]
        : []),
    ],
  };
}
