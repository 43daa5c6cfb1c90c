import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/client";
import { ApiError, expectNoContent, unwrap } from "../../api/problem";
import { Field } from "../../components/Field";
import { Empty, ErrorState, Loading } from "../../components/States";
import { when } from "../jobs/format";
import { DeliveryLog } from "./DeliveryLog";
import { EVENT_TYPES, eventsLabel, toggled, type EventType, type WebhookEndpoint } from "./format";
import { SecretShown, Secrets } from "./Secrets";

/** The signed-in tenant (the usage route names the caller's tenant; there is no separate "who am I"). */
function useTenant() {
  return useQuery({ queryKey: ["tenant"], queryFn: async () => unwrap(await api.GET("/v1/usage")).tenant });
}

/** A tenant admin's webhooks: endpoints (add with the first secret shown once, edit, ping, delete, the
 * delivery log with resends) and the signing secrets (rotate). */
export function WebhooksPage() {
  const tenant = useTenant();
  return (
    <section aria-labelledby="webhooks-title">
      <h1 id="webhooks-title">Webhooks</h1>
      {tenant.isPending && <Loading what="your tenant" />}
      {tenant.isError && <ErrorState error={tenant.error} retry={() => void tenant.refetch()} />}
      {tenant.data && <Endpoints tenant={tenant.data} />}
      {tenant.data && <Secrets tenant={tenant.data} />}
    </section>
  );
}

function Endpoints({ tenant }: { tenant: string }) {
  const endpoints = useQuery({
    queryKey: ["webhook-endpoints", tenant],
    queryFn: async () =>
      unwrap(await api.GET("/v1/admin/tenants/{tenant}/webhook-endpoints", { params: { path: { tenant } } })),
  });
  const [logOf, setLogOf] = useState<string | null>(null);
  return (
    <>
      <AddEndpoint tenant={tenant} />
      <h2>Endpoints</h2>
      {endpoints.isPending && <Loading what="endpoints" />}
      {endpoints.isError && <ErrorState error={endpoints.error} retry={() => void endpoints.refetch()} />}
      {endpoints.data && endpoints.data.data.length === 0 && <Empty>No endpoints registered yet.</Empty>}
      {endpoints.data?.data.map((endpoint) => (
        <EndpointCard key={endpoint.id} tenant={tenant} endpoint={endpoint} onLog={() => setLogOf(endpoint.id)} />
      ))}
      {logOf && <DeliveryLog tenant={tenant} endpointId={logOf} />}
    </>
  );
}

function EventChoices({ value, onChange }: { value: EventType[]; onChange: (types: EventType[]) => void }) {
  return (
    <fieldset>
      <legend>Event types (none: the default ones)</legend>
      {EVENT_TYPES.map((type) => (
        <label key={type} className="inline">
          <input type="checkbox" checked={value.includes(type)} onChange={() => onChange(toggled(value, type))} /> {type}
        </label>
      ))}
    </fieldset>
  );
}

function AddEndpoint({ tenant }: { tenant: string }) {
  const queryClient = useQueryClient();
  const [url, setUrl] = useState("");
  const [types, setTypes] = useState<EventType[]>([]);
  const [secret, setSecret] = useState<string | null>(null);
  const add = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/v1/admin/tenants/{tenant}/webhook-endpoints", {
          params: { path: { tenant } },
          body: { url, ...(types.length ? { event_types: types } : {}) },
        }),
      ),
    onSuccess: (made) => {
      setSecret(made.secret ?? null);
      setUrl("");
      void queryClient.invalidateQueries({ queryKey: ["webhook-endpoints", tenant] });
      void queryClient.invalidateQueries({ queryKey: ["webhook-secrets", tenant] });
    },
  });
  const errors = add.error instanceof ApiError ? add.error.fieldErrors() : {};
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    setSecret(null);
    add.mutate();
  };
  return (
    <form onSubmit={onSubmit} noValidate aria-label="New endpoint">
      <h2>New endpoint</h2>
      <Field id="endpoint-url" label="URL" error={errors.url}>
        {(aria) => <input {...aria} type="url" value={url} onChange={(e) => setUrl(e.target.value)} required />}
      </Field>
      <EventChoices value={types} onChange={setTypes} />
      {errors.event_types && <p className="field-error">{errors.event_types}</p>}
      {add.isError && Object.keys(errors).length === 0 && <ErrorState error={add.error} />}
      <button type="submit" disabled={add.isPending}>
        Add endpoint
      </button>
      {secret && <SecretShown secret={secret} onDone={() => setSecret(null)} />}
    </form>
  );
}

function EndpointCard({ tenant, endpoint, onLog }: { tenant: string; endpoint: WebhookEndpoint; onLog: () => void }) {
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [url, setUrl] = useState(endpoint.url);
  const [types, setTypes] = useState<EventType[]>(endpoint.event_types as EventType[]);
  const [enabled, setEnabled] = useState(endpoint.enabled);
  const path = { tenant, endpoint_id: endpoint.id };
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["webhook-endpoints", tenant] });
  const save = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.PATCH("/v1/admin/tenants/{tenant}/webhook-endpoints/{endpoint_id}", {
          params: { path },
          body: { url, event_types: types, enabled },
        }),
      ),
    onSuccess: () => {
      setEditing(false);
      refresh();
    },
  });
  const ping = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST("/v1/admin/tenants/{tenant}/webhook-endpoints/{endpoint_id}/ping", { params: { path } })),
  });
  const remove = useMutation({
    mutationFn: async () =>
      expectNoContent(await api.DELETE("/v1/admin/tenants/{tenant}/webhook-endpoints/{endpoint_id}", { params: { path } })),
    onSuccess: refresh,
  });
  const errors = save.error instanceof ApiError ? save.error.fieldErrors() : {};
  return (
    <article className="card" data-endpoint-id={endpoint.id} aria-label={`Endpoint ${endpoint.url}`}>
      <p>
        <code>{endpoint.url}</code> — {endpoint.enabled ? "enabled" : "disabled"} — {eventsLabel(endpoint.event_types)} — since{" "}
        {when(endpoint.created_at)}
      </p>
      <div className="actions">
        <button type="button" className="secondary" onClick={() => setEditing(!editing)}>
          {editing ? "Cancel" : "Edit"}
        </button>
        <button type="button" className="secondary" onClick={() => ping.mutate()} disabled={ping.isPending}>
          Ping
        </button>
        <button type="button" className="secondary" onClick={onLog}>
          Delivery log
        </button>
        <button type="button" className="danger" onClick={() => remove.mutate()} disabled={remove.isPending}>
          Delete
        </button>
      </div>
      {ping.isSuccess && <p role="status">Ping {ping.data.id} queued.</p>}
      {(ping.isError || remove.isError) && <ErrorState error={ping.error ?? remove.error} />}
      {editing && (
        <form
          aria-label="Edit endpoint"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate();
          }}
        >
          <Field id={`url-${endpoint.id}`} label="URL" error={errors.url}>
            {(aria) => <input {...aria} type="url" value={url} onChange={(e) => setUrl(e.target.value)} />}
          </Field>
          <EventChoices value={types} onChange={setTypes} />
          <label className="inline">
            <input type="checkbox" checked={enabled} onChange={() => setEnabled(!enabled)} /> Enabled
          </label>
          {save.isError && Object.keys(errors).length === 0 && <ErrorState error={save.error} />}
          <button type="submit" disabled={save.isPending}>
            Save
          </button>
        </form>
      )}
    </article>
  );
}
