import type { Job } from "../../api/client";

export const TERMINAL: ReadonlySet<Job["status"]> = new Set(["succeeded", "failed", "canceled", "rejected", "expired"]);
export const CANCELABLE: ReadonlySet<Job["status"]> = new Set(["accepted", "queued", "dispatched", "running"]);

export function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

export function eta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  return `${Math.round(seconds / 60)} min`;
}
