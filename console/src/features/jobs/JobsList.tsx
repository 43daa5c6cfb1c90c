import { useMemo, useState } from "react";
import { useInfiniteQuery } from "@tanstack/react-query";
import { api, type Job } from "../../api/client";
import type { operations } from "@reelstream/client";
import { unwrap } from "../../api/problem";
import { href } from "../../router";
import { Empty, ErrorState, Loading } from "../../components/States";
import { StatusBadge } from "./StatusBadge";
import { when } from "./format";
import { useRequestSchema } from "./schemaBounds";

const PAGE = 20;
const LIVE_MS = 3000;
const STATUSES: Job["status"][] = ["accepted", "queued", "dispatched", "running", "succeeded", "failed", "canceled", "rejected", "expired"];
const SINCE = { any: 0, hour: 3600e3, day: 86400e3, week: 7 * 86400e3 } as const;

type ListQuery = NonNullable<operations["listJobs"]["parameters"]["query"]>;

/** The filters as the API's query: the server filters (a filtered page may be short, even empty, and still
 * lead on); "created within" counts back from the moment a page is fetched. */
function filterQuery(status: "" | Job["status"], model: string, since: keyof typeof SINCE): ListQuery {
  return {
    ...(status ? { status: [status] } : {}),
    ...(model ? { model: model as ListQuery["model"] } : {}),
    ...(since !== "any" ? { created_after: new Date(Date.now() - SINCE[since]).toISOString() } : {}),
  };
}

/** The tenant's jobs, newest first, a page at a time (the API's cursor), refreshed while the tab is open;
 * status, model and creation time are filtered by the API. */
export function JobsList() {
  const [status, setStatus] = useState<"" | Job["status"]>("");
  const [model, setModel] = useState("");
  const [since, setSince] = useState<keyof typeof SINCE>("any");
  const schema = useRequestSchema();
  const query = useInfiniteQuery({
    queryKey: ["jobs", status, model, since],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) =>
      unwrap(
        await api.GET("/v1/jobs", {
          params: { query: { limit: PAGE, ...filterQuery(status, model, since), ...(pageParam ? { after: pageParam } : {}) } },
        }),
      ),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    refetchInterval: LIVE_MS,
  });
  const shown = useMemo(() => query.data?.pages.flatMap((p) => p.data) ?? [], [query.data]);
  const models = schema.data?.model?.enum ?? [];
  const filtered = status !== "" || model !== "" || since !== "any";

  return (
    <section aria-labelledby="jobs-title">
      <div className="title-row">
        <h1 id="jobs-title">Jobs</h1>
        <a className="button" href={href({ page: "new", from: null })}>
          New job
        </a>
      </div>
      <div className="filters" role="group" aria-label="Filters">
        <label>
          Status
          <select value={status} onChange={(e) => setStatus(e.target.value as Job["status"] | "")}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Model
          <select value={model} onChange={(e) => setModel(e.target.value)}>
            <option value="">any</option>
            {models.map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </label>
        <label>
          Created
          <select value={since} onChange={(e) => setSince(e.target.value as keyof typeof SINCE)}>
            <option value="any">any time</option>
            <option value="hour">last hour</option>
            <option value="day">last day</option>
            <option value="week">last week</option>
          </select>
        </label>
      </div>
      {query.isPending && <Loading what="jobs" />}
      {query.isError && <ErrorState error={query.error} retry={() => void query.refetch()} />}
      {query.isSuccess && shown.length === 0 && !filtered && (
        <Empty>
          <p>No jobs yet.</p>
          <a href={href({ page: "new", from: null })}>Submit your first prompt</a>
        </Empty>
      )}
      {query.isSuccess && shown.length === 0 && filtered && !query.hasNextPage && <Empty>No job matches these filters.</Empty>}
      {shown.length > 0 && (
        <table className="jobs">
          <thead>
            <tr>
              <th scope="col">Prompt</th>
              <th scope="col">Status</th>
              <th scope="col">Model</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((job) => (
              <tr key={job.id} data-job-id={job.id}>
                <td>
                  <a href={href({ page: "job", id: job.id })}>{job.prompt}</a>
                </td>
                <td>
                  <StatusBadge status={job.status} />
                </td>
                <td>{job.parameters?.model ?? "—"}</td>
                <td>{when(job.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {query.hasNextPage && (
        <button type="button" className="secondary" onClick={() => void query.fetchNextPage()} disabled={query.isFetchingNextPage}>
          {query.isFetchingNextPage ? "Loading…" : "Load more"}
        </button>
      )}
    </section>
  );
}
