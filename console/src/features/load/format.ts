// Figures of the load page.
import { seconds } from "../usage/format";

/** A render time, or a dash for a class without jobs. */
export function renderTime(value: number | null): string {
  return value === null ? "—" : seconds(value);
}

/** A bar's width in percent of the widest figure shown (0 when there is none). */
export function barPercent(value: number | null, widest: number): number {
  if (value === null || widest <= 0) return 0;
  return Math.min(100, Math.round((value / widest) * 1000) / 10);
}

/** The widest p95 among the rows (the bars' scale). */
export function widestP95(rows: { p95_seconds: number | null }[]): number {
  return rows.reduce((widest, row) => Math.max(widest, row.p95_seconds ?? 0), 0);
}
