// Dates and durations of the usage page.

/** The UTC date `days` days before today (negative: after), as YYYY-MM-DD. */
export function dayBefore(days: number, now: Date = new Date()): string {
  const at = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - days));
  return at.toISOString().slice(0, 10);
}

/** GPU time for people: `42.5 s`, `12 min 30 s`, `3 h 05 min`. */
export function seconds(total: number): string {
  if (total < 60) return `${total.toFixed(1)} s`;
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return `${minutes} min ${String(Math.round(total % 60)).padStart(2, "0")} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}
