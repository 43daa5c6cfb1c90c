import { useEffect, useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import type { Job } from "../../api/client";
import { storedKey } from "../../auth/session";
import { readEventStream } from "../../sse/eventStream";

export type StreamState = "connecting" | "open" | "reconnecting" | "closed";

/** Keeps the job's cached snapshot current from its event stream while `live`; resumes after drops. */
export function useJobStream(id: string, live: boolean): StreamState {
  const queryClient = useQueryClient();
  const [state, setState] = useState<StreamState>("connecting");
  useEffect(() => {
    const token = storedKey();
    if (!live || token === null) return;
    const abort = new AbortController();
    void readEventStream({
      url: `/v1/jobs/${encodeURIComponent(id)}/events`,
      token,
      signal: abort.signal,
      onState: setState,
      onEvent: (event) => {
        if (event.event === "job.deleted") {
          // deleted while followed: the stream ends; the job's page reads it again (a 404 now)
          abort.abort();
          void queryClient.invalidateQueries({ queryKey: ["job", id] });
          return;
        }
        if (event.event !== "status") return;
        const job = JSON.parse(event.data) as Job;
        queryClient.setQueryData<Job>(["job", id], (old) => (old && old.version > job.version ? old : job));
      },
    });
    return () => abort.abort();
  }, [id, live, queryClient]);
  return live ? state : "closed";
}
