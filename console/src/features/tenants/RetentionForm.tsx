import { useState, type FormEvent } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, type Tenant } from "../../api/client";
import { ApiError, unwrap } from "../../api/problem";
import { Field } from "../../components/Field";
import { ErrorState } from "../../components/States";

/** An override in days as the table shows it: none means the platform's setting. */
export function days(value: number | null | undefined): string {
  return value == null ? "default" : `${value} d`;
}

const asText = (value: number | null | undefined) => (value == null ? "" : String(value));

/** What a field holds as the API takes it: empty is no override (the platform's setting). */
function asDays(text: string): number | undefined {
  return text.trim() === "" ? undefined : Number(text);
}

/** The operator's retention overrides of one tenant (`PUT …/retention` replaces both; an empty field goes
 * back to the platform's setting). Its jobs, finished ones included, follow at the next sweep. */
export function RetentionForm({ tenant, onDone }: { tenant: Tenant; onDone: () => void }) {
  const queryClient = useQueryClient();
  const [records, setRecords] = useState(asText(tenant.retention_days));
  const [videos, setVideos] = useState(asText(tenant.video_retention_days));
  const save = useMutation({
    mutationFn: async () => {
      const body = { retention_days: asDays(records), video_retention_days: asDays(videos) };
      return unwrap(await api.PUT("/v1/admin/tenants/{tenant}/retention", { params: { path: { tenant: tenant.id } }, body }));
    },
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["tenants"] });
      onDone();
    },
  });
  const errors = save.error instanceof ApiError ? save.error.fieldErrors() : {};
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  const hint = "days; empty: the platform's setting";
  return (
    <form onSubmit={onSubmit} className="tenant-retention" aria-labelledby="retention-title" noValidate>
      <h2 id="retention-title">Retention of {tenant.id}</h2>
      <div className="grid">
        <Field id="retention-records" label="Job records" hint={hint} error={errors.retention_days}>
          {(aria) => <input {...aria} type="number" min={1} value={records} onChange={(e) => setRecords(e.target.value)} />}
        </Field>
        <Field id="retention-videos" label="Videos" hint={hint} error={errors.video_retention_days}>
          {(aria) => <input {...aria} type="number" min={1} value={videos} onChange={(e) => setVideos(e.target.value)} />}
        </Field>
      </div>
      {save.isError && Object.keys(errors).length === 0 && <ErrorState error={save.error} />}
      <button type="submit" disabled={save.isPending}>
        Save retention
      </button>
      <button type="button" className="secondary" onClick={onDone}>
        Cancel
      </button>
    </form>
  );
}
