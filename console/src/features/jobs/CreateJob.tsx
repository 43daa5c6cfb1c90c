import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/client";
import { ApiError, unwrap } from "../../api/problem";
import { Field } from "../../components/Field";
import { ErrorState, Loading } from "../../components/States";
import { href } from "../../router";
import { EMPTY, fromJob, toRequest, type FormValues } from "./fields";
import { useRequestSchema, type Bounds } from "./schemaBounds";

const NUMBERS: [keyof FormValues, string][] = [
  ["width", "Width (px)"],
  ["height", "Height (px)"],
  ["fps", "Frames per second"],
  ["num_inference_steps", "Steps"],
  ["guidance_scale", "Guidance scale"],
  ["seed", "Seed"],
];

function range(b: Bounds | undefined): string {
  if (!b) return "";
  const parts = [b.minimum !== undefined ? `min ${b.minimum}` : "", b.maximum !== undefined ? `max ${b.maximum}` : "", b.multipleOf ? `step ${b.multipleOf}` : ""];
  return parts.filter(Boolean).join(", ");
}

/** The create form, or the "run again" form filled from an earlier job. */
export function CreateJob({ from }: { from: string | null }) {
  const source = useQuery({
    queryKey: ["job", from],
    enabled: from !== null,
    queryFn: async () => unwrap(await api.GET("/v1/jobs/{job_id}", { params: { path: { job_id: from ?? "" } } })),
  });
  if (from !== null && source.isPending) return <Loading what="the job's settings" />;
  if (from !== null && source.isError) return <ErrorState error={source.error} />;
  return <CreateForm key={from ?? "new"} initial={source.data ? fromJob(source.data) : EMPTY} />;
}

function CreateForm({ initial }: { initial: FormValues }) {
  const schema = useRequestSchema();
  const queryClient = useQueryClient();
  const [values, setValues] = useState(initial);
  // One key per body: a double click (or a retry after a network error) sends the same key and makes one
  // job; any edit makes the next submission a new request.
  const [idempotencyKey, setIdempotencyKey] = useState(() => crypto.randomUUID());
  const submit = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST("/v1/jobs", { body: toRequest(values), params: { header: { "Idempotency-Key": idempotencyKey } } })),
    onSuccess: (job) => {
      void queryClient.invalidateQueries({ queryKey: ["jobs"] });
      queryClient.setQueryData(["job", job.id], job);
      window.location.hash = href({ page: "job", id: job.id });
    },
  });
  const errors = submit.error instanceof ApiError ? submit.error.fieldErrors() : {};
  const generalError = submit.error && Object.keys(errors).length === 0 ? submit.error : null;
  const set = (key: keyof FormValues) => (e: { target: { value: string } }) => {
    setValues((v) => ({ ...v, [key]: e.target.value }));
    setIdempotencyKey(crypto.randomUUID());
  };
  const props = schema.data ?? {};
  const maxPrompt = props.prompt?.maxLength ?? 2000;
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (!submit.isPending) submit.mutate();
  };

  return (
    <section aria-labelledby="new-title">
      <h1 id="new-title">New job</h1>
      <form onSubmit={onSubmit} noValidate className="create">
        <Field id="prompt" label="Prompt" error={errors.prompt} hint={<span aria-live="polite">{values.prompt.length} / {maxPrompt} characters</span>}>
          {(aria) => <textarea {...aria} rows={4} value={values.prompt} onChange={set("prompt")} maxLength={maxPrompt} required />}
        </Field>
        <Field id="negative_prompt" label="Negative prompt (optional)" error={errors.negative_prompt}>
          {(aria) => <textarea {...aria} rows={2} value={values.negative_prompt} onChange={set("negative_prompt")} />}
        </Field>
        <ParameterFields values={values} set={set} errors={errors} schema={props} />
        <Field id="webhook_url" label="Webhook URL (optional)" error={errors.webhook_url}>
          {(aria) => <input {...aria} type="url" value={values.webhook_url} onChange={set("webhook_url")} placeholder="https://example.com/hooks/reelstream" />}
        </Field>
        {schema.isError && <ErrorState error={schema.error} />}
        {generalError && <ErrorState error={generalError} />}
        <button type="submit" disabled={submit.isPending}>
          {submit.isPending ? "Submitting…" : "Submit"}
        </button>
      </form>
    </section>
  );
}

type Setter = (key: keyof FormValues) => (e: { target: { value: string } }) => void;

/** The model and its render parameters, each with the bounds the API document gives. */
function ParameterFields({ values, set, errors, schema: props }: { values: FormValues; set: Setter; errors: Record<string, string>; schema: Record<string, Bounds> }) {
  return (
    <div className="grid">
      <Field id="model" label="Model" error={errors.model}>
        {(aria) => (
          <select {...aria} value={values.model} onChange={set("model")}>
            <option value="">service default</option>
            {(props.model?.enum ?? []).map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        )}
      </Field>
      <Field id="quality" label="Quality" error={errors.quality}>
        {(aria) => (
          <select {...aria} value={values.quality} onChange={set("quality")}>
            <option value="">standard</option>
            {(props.quality?.enum ?? []).filter((q) => q !== "standard").map((q) => (
              <option key={q}>{q}</option>
            ))}
          </select>
        )}
      </Field>
      <Field id="tier" label="Tier" error={errors.tier} hint={props.tier?.description}>
        {(aria) => (
          <select {...aria} value={values.tier} onChange={set("tier")}>
            <option value="">full</option>
            {(props.tier?.enum ?? []).filter((t) => t !== "full").map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        )}
      </Field>
      <Field id="length_mode" label="Length given as">
        {(aria) => (
          <select {...aria} value={values.length_mode} onChange={set("length_mode")}>
            <option value="duration">duration (seconds)</option>
            <option value="frames">number of frames</option>
          </select>
        )}
      </Field>
      {values.length_mode === "duration" ? (
        <Field id="duration_seconds" label="Duration (s)" error={errors.duration_seconds} hint={range(props.duration_seconds)}>
          {(aria) => <input {...aria} type="number" step="any" inputMode="decimal" value={values.duration_seconds} onChange={set("duration_seconds")} placeholder="model default" />}
        </Field>
      ) : (
        <Field id="num_frames" label="Frames" error={errors.num_frames} hint={props.num_frames?.description}>
          {(aria) => <input {...aria} type="number" inputMode="numeric" value={values.num_frames} onChange={set("num_frames")} placeholder="model default" />}
        </Field>
      )}
      {NUMBERS.map(([key, label]) => (
        <Field key={key} id={key} label={label} error={errors[key]} hint={range(props[key])}>
          {(aria) => <input {...aria} type="number" step="any" inputMode="decimal" value={values[key]} onChange={set(key)} placeholder="model default" />}
        </Field>
      ))}
      <Field id="priority" label="Priority" error={errors.priority}>
        {(aria) => (
          <select {...aria} value={values.priority} onChange={set("priority")}>
            <option value="">normal (default)</option>
            <option value="high">high</option>
            <option value="low">low</option>
          </select>
        )}
      </Field>
      <Field id="deadline" label="Start deadline (optional)" error={errors.deadline}>
        {(aria) => <input {...aria} type="datetime-local" value={values.deadline} onChange={set("deadline")} />}
      </Field>
    </div>
  );
}
