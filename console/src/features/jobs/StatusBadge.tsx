import type { Job } from "../../api/client";

export function StatusBadge({ status }: { status: Job["status"] }) {
  return <span className={`badge badge-${status}`}>{status}</span>;
}
