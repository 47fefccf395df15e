// The time ranges of the resources charts and the query each one asks of
// `GET /api/services/{name}/metrics`: a few hundred points per chart whatever the range, each step a
// multiple of the 10 s default sampling interval, and within what the metrics tiers keep (raw for
// 24 h, one-minute averages for 7 days).

export type RangeKey = "1h" | "24h" | "7d";

export interface Range {
  key: RangeKey;
  /** Button text. */
  label: string;
  /** `since` parameter: a duration back from now. */
  since: string;
  /** `step` parameter, seconds. */
  step: number;
  /** Seconds covered (the x axis span). */
  span: number;
}

export const RANGES: readonly Range[] = [
  { key: "1h", label: "1 h", since: "1h", step: 30, span: 3600 },
  { key: "24h", label: "24 h", since: "24h", step: 300, span: 86_400 },
  { key: "7d", label: "7 d", since: "7d", step: 1800, span: 604_800 },
];

export function range(key: RangeKey): Range {
  return RANGES.find((r) => r.key === key) ?? RANGES[0]!;
}

/** The query string for one range. */
export function metricsQuery(key: RangeKey): string {
  const r = range(key);
  return `?since=${r.since}&step=${r.step}`;
}

/** Points per chart a range produces at most (the span over the step, plus the partial step). */
export function maxPoints(key: RangeKey): number {
  const r = range(key);
  return Math.ceil(r.span / r.step) + 1;
}
