/** Percentiles (nearest rank) of an unsorted sample; undefined for an empty one. */
export function percentiles(values: ArrayLike<number>, ps: readonly number[]): (number | undefined)[] {
  const sorted = Float64Array.from(values).sort();
  return ps.map((p) => {
    if (sorted.length === 0) return undefined;
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[rank];
  });
}

/** Points of the empirical CDF, thinned to about `points` for a chart. */
export function cdf(values: ArrayLike<number>, points = 200): [number, number][] {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return [];
  const step = Math.max(1, Math.floor(sorted.length / points));
  const out: [number, number][] = [];
  for (let i = 0; i < sorted.length; i += step) out.push([sorted[i]!, (i + 1) / sorted.length]);
  out.push([sorted[sorted.length - 1]!, 1]);
  return out;
}

/** The most timestamps (sorted, ms) in any window of `ms`. */
export function maxInWindow(sorted: readonly number[], ms: number): number {
  let best = 0;
  let from = 0;
  for (let to = 0; to < sorted.length; to++) {
    while (sorted[to]! - sorted[from]! >= ms) from++;
    best = Math.max(best, to - from + 1);
  }
  return best;
}
