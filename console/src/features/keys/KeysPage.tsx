import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type ApiKeyCreated, type Role } from "../../api/client";
import { ApiError, unwrap } from "../../api/problem";
import { Field } from "../../components/Field";
import { DataTable, fromQuery, ListStates } from "../../components/DataTable";
import { ErrorState } from "../../components/States";
import { when } from "../jobs/format";

const ROLES: Role[] = ["submitter", "viewer", "admin"];

/** API keys (admins): the list, a new key shown once with a copy button, revoke. */
export function KeysPage() {
  const queryClient = useQueryClient();
  const keys = useQuery({ queryKey: ["keys"], queryFn: async () => unwrap(await api.GET("/v1/admin/keys")) });
  const revoke = useMutation({
    mutationFn: async (id: string) => unwrap(await api.DELETE("/v1/admin/keys/{key_id}", { params: { path: { key_id: id } } })),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["keys"] }),
  });
  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">API keys</h1>
      <CreateKey />
      <h2>Keys</h2>
      <ListStates state={fromQuery(keys, (page) => page.data)} what="keys" empty="No keys issued yet.">
        {(rows) => (
          <DataTable
            columns={[
              { header: "Name", cell: (key) => key.name ?? "—" },
              { header: "Prefix", cell: (key) => <code>{key.prefix}</code> },
              { header: "Tenant", cell: (key) => key.tenant },
              { header: "Roles", cell: (key) => key.roles.join(", ") },
              { header: "Status", cell: (key) => key.status },
              { header: "Created", cell: (key) => when(key.created_at) },
              { header: "Last used", cell: (key) => (key.last_used_at ? when(key.last_used_at) : "—") },
              {
                header: "Actions",
                hidden: true,
                cell: (key) =>
                  key.status === "active" && (
                    <button type="button" className="danger" onClick={() => revoke.mutate(key.id)} disabled={revoke.isPending} aria-label={`Revoke ${key.name ?? key.prefix}`}>
                      Revoke
                    </button>
                  ),
              },
            ]}
            rows={rows}
            rowKey={(key) => key.id}
            rowData={(key) => ({ "data-key-id": key.id })}
          />
        )}
      </ListStates>
      {revoke.isError && <ErrorState error={revoke.error} />}
    </section>
  );
}

function CreateKey() {
  const queryClient = useQueryClient();
  const [tenant, setTenant] = useState("");
  const [name, setName] = useState("");
  const [roles, setRoles] = useState<Role[]>(["submitter"]);
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const [copied, setCopied] = useState(false);
  const create = useMutation({
    mutationFn: async () => unwrap(await api.POST("/v1/admin/keys", { body: { tenant, roles, ...(name ? { name } : {}) } })),
    onSuccess: (key) => {
      setCreated(key);
      setCopied(false);
      void queryClient.invalidateQueries({ queryKey: ["keys"] });
    },
  });
  const errors = create.error instanceof ApiError ? create.error.fieldErrors() : {};
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    setCreated(null);
    create.mutate();
  };
  const toggle = (role: Role) => setRoles((r) => (r.includes(role) ? r.filter((x) => x !== role) : [...r, role]));
  const copy = async () => {
    if (created) await navigator.clipboard.writeText(created.key);
    setCopied(true);
  };
  return (
    <form onSubmit={onSubmit} className="create-key" noValidate>
      <h2>New key</h2>
      <div className="grid">
        <Field id="key-tenant" label="Tenant" error={errors.tenant}>
          {(aria) => <input {...aria} value={tenant} onChange={(e) => setTenant(e.target.value)} required />}
        </Field>
        <Field id="key-name" label="Name (optional)" error={errors.name}>
          {(aria) => <input {...aria} value={name} onChange={(e) => setName(e.target.value)} />}
        </Field>
      </div>
      <fieldset>
        <legend>Roles</legend>
        {ROLES.map((role) => (
          <label key={role} className="inline">
            <input type="checkbox" checked={roles.includes(role)} onChange={() => toggle(role)} /> {role}
          </label>
        ))}
        {errors.roles && <p className="field-error">{errors.roles}</p>}
      </fieldset>
      {create.isError && Object.keys(errors).length === 0 && <ErrorState error={create.error} />}
      <button type="submit" disabled={create.isPending}>
        Create key
      </button>
      {created && (
        <div className="secret" role="status">
          <p>This key is shown once. Copy it now: only a hash of it is stored.</p>
          <code data-testid="new-key">{created.key}</code>
          <button type="button" className="secondary" onClick={() => void copy()}>
            {copied ? "Copied" : "Copy"}
          </button>
          <button type="button" className="secondary" onClick={() => setCreated(null)}>
            Done
          </button>
        </div>
      )}
    </form>
  );
}
