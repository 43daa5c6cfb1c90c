import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type Job } from "../../api/client";
import { expectNoContent, unwrap } from "../../api/problem";
import { ErrorState, Loading } from "../../components/States";
import { href } from "../../router";
import { StatusBadge } from "./StatusBadge";
import { CANCELABLE, TERMINAL, eta, when } from "./format";
import { useJobStream } from "./useJobStream";

function useContentUrl(job: Job | undefined, variant: "video" | "poster", disposition: "inline" | "attachment" = "inline") {
  const ready = job?.status === "succeeded" && (variant === "video" || !!job.artifact?.poster_key);
  return useQuery({
    queryKey: ["content", job?.id, variant, disposition],
    enabled: ready,
    staleTime: 5 * 60_000, // presigned URLs live longer than this (REELSTREAM_PRESIGN_TTL_SECONDS)
    queryFn: async () =>
      unwrap(
        await api.GET("/v1/jobs/{job_id}/content", {
          params: { path: { job_id: job?.id ?? "" }, query: { variant, disposition } },
          headers: { Accept: "application/json" },
        }),
      ),
  });
}

export function JobPage({ id }: { id: string }) {
  const queryClient = useQueryClient();
  const query = useQuery({
    queryKey: ["job", id],
    queryFn: async () => unwrap(await api.GET("/v1/jobs/{job_id}", { params: { path: { job_id: id } } })),
  });
  const job = query.data;
  const stream = useJobStream(id, job !== undefined && !TERMINAL.has(job.status));
  const video = useContentUrl(job, "video");
  const poster = useContentUrl(job, "poster");
  const download = useContentUrl(job, "video", "attachment");
  const cancel = useMutation({
    mutationFn: async () => unwrap(await api.POST("/v1/jobs/{job_id}/cancel", { params: { path: { job_id: id } } })),
    onSuccess: (updated) => queryClient.setQueryData(["job", id], updated),
  });
  const remove = useMutation({
    mutationFn: async () => expectNoContent(await api.DELETE("/v1/jobs/{job_id}", { params: { path: { job_id: id } } })),
    onSuccess: () => {
      queryClient.removeQueries({ queryKey: ["job", id] });
      void queryClient.invalidateQueries({ queryKey: ["jobs"] });
      window.location.hash = href({ page: "jobs" });
    },
  });
  const confirmDelete = () => {
    const running = job !== undefined && !TERMINAL.has(job.status) ? " It is still running and will be canceled." : "";
    if (window.confirm(`Delete this job and its video?${running} This cannot be undone.`)) remove.mutate();
  };

  if (query.isPending) return <Loading what="the job" />;
  if (query.isError || !job) return <ErrorState error={query.error} retry={() => void query.refetch()} />;
  const progress = Math.round((job.progress ?? 0) * 100);
  return (
    <section aria-labelledby="job-title" className="job">
      <p>
        <a href={href({ page: "jobs" })}>← All jobs</a>
      </p>
      <h1 id="job-title">{job.prompt}</h1>
      <div className="status-row" aria-live="polite">
        <StatusBadge status={job.status} />
        {job.stage && <span>stage: {job.stage}</span>}
        {job.parameters?.tier && <span data-testid="tier">tier: {job.parameters.tier}</span>}
        {job.queue_position !== null && job.queue_position !== undefined && <span data-testid="queue-position">queue position {job.queue_position}</span>}
        {!TERMINAL.has(job.status) && <span>ETA {eta(job.eta_seconds)}</span>}
        <span className={`stream stream-${stream}`} data-testid="stream-state">
          {stream === "reconnecting" ? "reconnecting…" : stream === "open" ? "live" : ""}
        </span>
      </div>
      <progress max={100} value={progress} aria-label="Progress">
        {progress}%
      </progress>
      {job.error && (
        <p className="state error" role="alert">
          {job.error.code}: {job.error.message}
        </p>
      )}
      {job.status === "succeeded" && (
        <div className="player">
          {video.data ? (
            <video controls preload="metadata" src={video.data.url} poster={poster.data?.url} aria-label="The rendered video" />
          ) : video.isError ? (
            <ErrorState error={video.error} />
          ) : (
            <Loading what="the video" />
          )}
          {download.data && (
            <a className="button" href={download.data.url} download={`${job.id}.mp4`}>
              Download MP4
            </a>
          )}
        </div>
      )}
      <div className="actions">
        {CANCELABLE.has(job.status) && (
          <button type="button" className="danger" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
            Cancel job
          </button>
        )}
        <a className="button secondary" href={href({ page: "new", from: job.id })}>
          Run again with these settings
        </a>
        <button type="button" className="danger" onClick={confirmDelete} disabled={remove.isPending}>
          Delete job
        </button>
      </div>
      {cancel.isError && <ErrorState error={cancel.error} />}
      {remove.isError && <ErrorState error={remove.error} />}
      <div className="details">
        <Record title="Parameters" rows={Object.entries(job.parameters ?? {}).map(([k, v]) => [k, String(v)])} />
        <Record
          title="Timings"
          rows={[["created", when(job.created_at)], ...Object.entries(job.timestamps ?? {}).map(([k, v]): [string, string] => [k, when(v)])]}
        />
        <Record
          title="Job"
          rows={[
            ["id", job.id],
            ["priority", job.priority ?? "normal"],
            ["deadline", when(job.deadline)],
            ["attempt", String(job.attempt ?? 0)],
            ["webhook", job.has_webhook ? "yes" : "no"],
            ["expires", when(job.expires_at)],
          ]}
        />
      </div>
    </section>
  );
}

function Record({ title, rows }: { title: string; rows: [string, string][] }) {
  return (
    <div>
      <h2>{title}</h2>
      <dl>
        {rows.map(([k, v]) => (
          <div key={k} className="row">
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
    </div>
  );
}
