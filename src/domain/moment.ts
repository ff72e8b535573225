/**
 * Moments are ISO-8601 strings with a zone designator. They are parsed here by hand instead of
 * with Date.parse because Date.parse reads a zone-less string in the process's local time zone,
 * which would make resolution depend on the machine it runs on.
 */

export interface ParsedMoment {
  /** Milliseconds since the epoch, UTC. */
  epochMs: number;
  /** Sub-millisecond part in nanoseconds (0–999 999), so precise timestamps still order exactly. */
  subMsNanos: number;
}

const MOMENT_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)$/;

/**
 * Parsed moments by text. Resolution compares the same few moments over and over (every sort,
 * `latest` and blocked opt-in check of every event applied), and parsing allocated a regex match,
 * a Date and strings each time: a good share of the apply step's CPU and garbage. Cleared when
 * full, so it stays bounded whatever the input; the results are frozen because they are shared.
 */
const parsed = new Map<string, ParsedMoment | null>();
const PARSED_MAX = 10_000;

/** Returns undefined for anything that is not a complete, valid ISO-8601 instant with a zone. */
export function parseMoment(moment: string): ParsedMoment | undefined {
  if (typeof moment !== 'string') return undefined;
  const known = parsed.get(moment);
  if (known !== undefined) return known ?? undefined;
  const result = parseUncached(moment);
  if (parsed.size >= PARSED_MAX) parsed.clear();
  parsed.set(moment, result ? Object.freeze(result) : null);
  return result;
}

function parseUncached(moment: string): ParsedMoment | undefined {
  const match = MOMENT_PATTERN.exec(moment);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s ?? '0');
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;

  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0–99 to 1900–1999.
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCDate() !== day) return undefined; // 2026-02-30 and the like
  date.setUTCHours(hour, minute, second, 0);

  let offsetMinutes = 0;
  if (zone !== undefined && zone !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2) || '0');
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om);
  }

  const fraction = (frac ?? '').padEnd(9, '0');
  const epochMs = date.getTime() - offsetMinutes * 60_000 + Number(fraction.slice(0, 3));
  if (!Number.isFinite(epochMs)) return undefined;
  return { epochMs, subMsNanos: Number(fraction.slice(3)) };
}

export function isValidMoment(moment: string): boolean {
  return parseMoment(moment) !== undefined;
}

/**
 * Orders by instant, so `…T10:00:00Z` equals `…T12:00:00+02:00`. Unparseable moments sort before
 * every valid one (and among themselves by text) so that ordering stays total and never throws.
 */
export function compareMoments(a: string, b: string): number {
  // The same text is the same instant, or the same unparseable text: equal either way.
  if (a === b) return 0;
  const pa = parseMoment(a);
  const pb = parseMoment(b);
  if (pa && pb) return Math.sign(pa.epochMs - pb.epochMs) || Math.sign(pa.subMsNanos - pb.subMsNanos);
  if (pa) return 1;
  if (pb) return -1;
  return compareText(a, b);
}

/** Code-unit comparison: unlike localeCompare it does not depend on the runtime's locale data. */
export function compareText(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}
