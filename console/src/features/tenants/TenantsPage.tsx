import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type Tenant } from "../../api/client";
import { ApiError, expectNoContent, unwrap } from "../../api/problem";
import { Field } from "../../components/Field";
import { DataTable, fromQuery, ListStates } from "../../components/DataTable";
import { ErrorState } from "../../components/States";
import { when } from "../jobs/format";
import { RetentionForm, days } from "./RetentionForm";

const TENANTS = ["tenants"];

/** Tenants (platform operator): the list, a new tenant, its retention overrides, suspend / resume, and delete
 * after typing its id. */
export function TenantsPage() {
  const tenants = useQuery({ queryKey: TENANTS, queryFn: async () => unwrap(await api.GET("/v1/admin/tenants")) });
  return (
    <section aria-labelledby="tenants-title">
      <h1 id="tenants-title">Tenants</h1>
      <CreateTenant />
      <h2>All tenants</h2>
      <ListStates state={fromQuery(tenants, (page) => page.data)} what="tenants" empty="No tenants yet.">
        {(rows) => <TenantTable tenants={rows} />}
      </ListStates>
    </section>
  );
}

/** The table and its actions; a deleted tenant stays listed (its id is not given again) with no action. */
export function TenantTable({ tenants }: { tenants: Tenant[] }) {
  const queryClient = useQueryClient();
  const [deleting, setDeleting] = useState<string | null>(null);
  const [editing, setEditing] = useState<Tenant | null>(null);
  const refresh = () => void queryClient.invalidateQueries({ queryKey: TENANTS });
  const status = useMutation({
    mutationFn: async ({ id, action }: { id: string; action: "suspend" | "resume" }) => {
      const path = action === "suspend" ? "/v1/admin/tenants/{tenant}/suspend" : "/v1/admin/tenants/{tenant}/resume";
      return unwrap(await api.POST(path, { params: { path: { tenant: id } } }));
    },
    onSuccess: refresh,
  });
  const actions = (tenant: Tenant) => (
    <>
      {tenant.status !== "deleted" && (
        <button type="button" className="secondary" onClick={() => setEditing(tenant)} aria-label={`Edit retention of ${tenant.id}`}>
          Retention
        </button>
      )}
      {tenant.status === "active" && (
        <button type="button" className="secondary" disabled={status.isPending} onClick={() => status.mutate({ id: tenant.id, action: "suspend" })} aria-label={`Suspend ${tenant.id}`}>
          Suspend
        </button>
      )}
      {tenant.status === "suspended" && (
        <button type="button" className="secondary" disabled={status.isPending} onClick={() => status.mutate({ id: tenant.id, action: "resume" })} aria-label={`Resume ${tenant.id}`}>
          Resume
        </button>
      )}
      {tenant.status !== "deleted" && (
        <button type="button" className="danger" onClick={() => setDeleting(tenant.id)} aria-label={`Delete ${tenant.id}`}>
          Delete
        </button>
      )}
    </>
  );
  return (
    <>
      <DataTable
        label="Tenants"
        columns={[
          { header: "Id", cell: (tenant) => <code>{tenant.id}</code> },
          { header: "Name", cell: (tenant) => tenant.name },
          { header: "Status", cell: (tenant) => tenant.status },
          { header: "Retention (records / videos)", cell: (tenant) => `${days(tenant.retention_days)} / ${days(tenant.video_retention_days)}` },
          { header: "Low-latency gang", cell: (tenant) => (tenant.limits.gang == null ? "spare slots only" : `up to ${tenant.limits.gang} slots`) },
          { header: "Created", cell: (tenant) => when(tenant.created_at) },
          { header: "Actions", hidden: true, cell: actions },
        ]}
        rows={tenants}
        rowKey={(tenant) => tenant.id}
        rowData={(tenant) => ({ "data-tenant-id": tenant.id })}
      />
      {status.isError && <ErrorState error={status.error} />}
      {editing !== null && <RetentionForm key={editing.id} tenant={editing} onDone={() => setEditing(null)} />}
      {deleting !== null && <DeleteTenant id={deleting} onDone={() => setDeleting(null)} />}
    </>
  );
}

/** Deletion cannot be undone: the operator types the id again (the API asks for it as `confirm`). */
function DeleteTenant({ id, onDone }: { id: string; onDone: () => void }) {
  const queryClient = useQueryClient();
  const [typed, setTyped] = useState("");
  const remove = useMutation({
    mutationFn: async () => expectNoContent(await api.DELETE("/v1/admin/tenants/{tenant}", { params: { path: { tenant: id }, query: { confirm: typed } } })),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: TENANTS });
      onDone();
    },
  });
  const errors = remove.error instanceof ApiError ? remove.error.fieldErrors() : {};
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    remove.mutate();
  };
  return (
    <form onSubmit={onSubmit} className="delete-tenant" role="alertdialog" aria-labelledby="delete-tenant-title" noValidate>
      <h2 id="delete-tenant-title">Delete tenant {id}</h2>
      <p>Its keys are revoked, its webhooks removed and its data keys shredded. This cannot be undone.</p>
      <Field id="delete-confirm" label={`Type ${id} to confirm`} error={errors.confirm}>
        {(aria) => <input {...aria} value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" />}
      </Field>
      {remove.isError && Object.keys(errors).length === 0 && <ErrorState error={remove.error} />}
      <button type="submit" className="danger" disabled={typed !== id || remove.isPending}>
        Delete for good
      </button>
      <button type="button" className="secondary" onClick={onDone}>
        Cancel
      </button>
    </form>
  );
}

function CreateTenant() {
  const queryClient = useQueryClient();
  const [id, setId] = useState("");
  const [name, setName] = useState("");
  const create = useMutation({
    mutationFn: async () => unwrap(await api.POST("/v1/admin/tenants", { body: { id, ...(name ? { name } : {}) } })),
    onSuccess: () => {
      setId("");
      setName("");
      void queryClient.invalidateQueries({ queryKey: TENANTS });
    },
  });
  const errors = create.error instanceof ApiError ? create.error.fieldErrors() : {};
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <form onSubmit={onSubmit} className="create-tenant" noValidate>
      <h2>New tenant</h2>
      <div className="grid">
        <Field id="tenant-id" label="Id" error={errors.id}>
          {(aria) => <input {...aria} value={id} onChange={(e) => setId(e.target.value)} required />}
        </Field>
        <Field id="tenant-name" label="Name (optional)" error={errors.name}>
          {(aria) => <input {...aria} value={name} onChange={(e) => setName(e.target.value)} />}
        </Field>
      </div>
      {create.isError && Object.keys(errors).length === 0 && <ErrorState error={create.error} />}
      <button type="submit" disabled={create.isPending}>
        Create tenant
      </button>
    </form>
  );
}
