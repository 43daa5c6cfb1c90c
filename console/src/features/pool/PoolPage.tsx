import { useQuery } from "@tanstack/react-query";
import { api, type Pool, type PoolState } from "../../api/client";
import { unwrap } from "../../api/problem";
import { Empty, ErrorState, Loading } from "../../components/States";
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
  if (pending) return <Loading what="the pool" />;
  if (error !== null) return <ErrorState error={error} retry={retry} />;
  if (data === undefined || data.data.length === 0) return <Empty>No pool has published its state yet.</Empty>;
  return (
    <>
      {data.data.map((pool) => (
        <PoolDetails key={pool.pool} pool={pool} />
      ))}
    </>
  );
}

export function PoolDetails({ pool }: { pool: Pool }) {
  return (
    <article aria-labelledby={`pool-${pool.pool}`}>
      <h2 id={`pool-${pool.pool}`}>{pool.pool}</h2>
      <p>
        {pool.busy} busy, {pool.idle} idle, {pool.queued} queued (as of {when(pool.taken_at)})
      </p>
      {pool.slots.length === 0 ? (
        <Empty>No worker has reported to this pool yet.</Empty>
      ) : (
        <table aria-label={`Slots of ${pool.pool}`}>
          <thead>
            <tr>
              <th scope="col">Slot</th>
              <th scope="col">State</th>
              <th scope="col">GPU</th>
              <th scope="col">Job</th>
              <th scope="col">Tenant</th>
              <th scope="col">Model</th>
              <th scope="col">Since</th>
              <th scope="col">Gang</th>
            </tr>
          </thead>
          <tbody>
            {pool.slots.map((slot) => (
              <tr key={slot.slot} data-slot={slot.slot}>
                <td>{slot.slot}</td>
                <td>{slot.state}</td>
                <td>{slot.gpu_name ?? "—"}</td>
                <td>{slot.job ? <a href={`#/jobs/${encodeURIComponent(slot.job.id)}`}>{slot.job.id}</a> : "—"}</td>
                <td>{slot.job?.tenant ?? "—"}</td>
                <td>{slot.job?.model ?? "—"}</td>
                <td>{slot.job ? when(slot.job.since) : "—"}</td>
                <td>{gangOf(slot.slot, slot.job?.gang ?? [])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Queued per tenant</h3>
      {pool.queues.length === 0 ? (
        <Empty>Nothing queued.</Empty>
      ) : (
        <table aria-label={`Queue of ${pool.pool}`}>
          <thead>
            <tr>
              <th scope="col">Tenant</th>
              <th scope="col">Queued</th>
            </tr>
          </thead>
          <tbody>
            {pool.queues.map((queue) => (
              <tr key={queue.tenant}>
                <td>{queue.tenant}</td>
                <td>{queue.queued}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </article>
  );
}

/** One job on several slots (a gang) shows on each of them: which slots, and whether this one leads. */
export function gangOf(slot: number, gang: number[]): string {
  if (gang.length < 2) return "—";
  return `${gang[0] === slot ? "leader" : "member"} of ${gang.length}: slots ${gang.join(", ")}`;
}
