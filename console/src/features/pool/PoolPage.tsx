import { useQuery } from "@tanstack/react-query";
import { api, type Pool, type PoolState } from "../../api/client";
import { unwrap } from "../../api/problem";
import { DataTable, ListStates } from "../../components/DataTable";
import { when } from "../jobs/format";

/** The GPU pools (platform operator; GET /v1/admin/pool): each slot busy with its job and tenant, or idle,
 * and the jobs queued per tenant, as each pool's scheduler last published them. Refreshed every 2 s. */
export function PoolPage() {
  const pool = useQuery({
    queryKey: ["pool"],
    queryFn: async () => unwrap(await api.GET("/v1/admin/pool")),
    refetchInterval: 2_000,
  });
  return (
    <section aria-labelledby="pool-title">
      <h1 id="pool-title">Pool</h1>
      <PoolStates pending={pool.isPending} error={pool.isError ? pool.error : null} data={pool.data} retry={() => void pool.refetch()} />
    </section>
  );
}

/** The page's loading, error, empty and filled states. */
export function PoolStates({ pending, error, data, retry }: { pending: boolean; error: unknown; data: PoolState | undefined; retry?: () => void }) {
  return (
    <ListStates state={{ pending, error, rows: data?.data, retry }} what="the pool" empty="No pool has published its state yet.">
      {(pools) => pools.map((pool) => <PoolDetails key={pool.pool} pool={pool} />)}
    </ListStates>
  );
}

export function PoolDetails({ pool }: { pool: Pool }) {
  return (
    <article aria-labelledby={`pool-${pool.pool}`}>
      <h2 id={`pool-${pool.pool}`}>{pool.pool}</h2>
      <p>
        {pool.busy} busy, {pool.idle} idle, {pool.queued} queued (as of {when(pool.taken_at)})
      </p>
      <ListStates state={{ pending: false, error: null, rows: pool.slots }} what="slots" empty="No worker has reported to this pool yet.">
        {(slots) => (
          <DataTable
            label={`Slots of ${pool.pool}`}
            columns={[
              { header: "Slot", cell: (slot) => slot.slot },
              { header: "State", cell: (slot) => slot.state },
              { header: "GPU", cell: (slot) => slot.gpu_name ?? "—" },
              { header: "Job", cell: (slot) => (slot.job ? <a href={`#/jobs/${encodeURIComponent(slot.job.id)}`}>{slot.job.id}</a> : "—") },
              { header: "Tenant", cell: (slot) => slot.job?.tenant ?? "—" },
              { header: "Model", cell: (slot) => slot.job?.model ?? "—" },
              { header: "Since", cell: (slot) => (slot.job ? when(slot.job.since) : "—") },
              { header: "Gang", cell: (slot) => gangOf(slot.slot, slot.job?.gang ?? []) },
            ]}
            rows={slots}
            rowKey={(slot) => slot.slot}
            rowData={(slot) => ({ "data-slot": slot.slot })}
          />
        )}
      </ListStates>
      <h3>Queued per tenant</h3>
      <ListStates state={{ pending: false, error: null, rows: pool.queues }} what="queues" empty="Nothing queued.">
        {(queues) => (
          <DataTable
            label={`Queue of ${pool.pool}`}
            columns={[
              { header: "Tenant", cell: (queue) => queue.tenant },
              { header: "Queued", cell: (queue) => queue.queued },
            ]}
            rows={queues}
            rowKey={(queue) => queue.tenant}
          />
        )}
      </ListStates>
    </article>
  );
}

/** One job on several slots (a gang) shows on each of them: which slots, and whether this one leads. */
export function gangOf(slot: number, gang: number[]): string {
  if (gang.length < 2) return "—";
  return `${gang[0] === slot ? "leader" : "member"} of ${gang.length}: slots ${gang.join(", ")}`;
}
