import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type ApiKeyCreated, type Role } from "../../api/client";
import { ApiError, unwrap } from "../../api/problem";
import { Field } from "../../components/Field";
import { Empty, ErrorState, Loading } from "../../components/States";
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
      {keys.isPending && <Loading what="keys" />}
      {keys.isError && <ErrorState error={keys.error} retry={() => void keys.refetch()} />}
      {keys.data && keys.data.data.length === 0 && <Empty>No keys issued yet.</Empty>}
      {keys.data && keys.data.data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Prefix</th>
              <th scope="col">Tenant</th>
              <th scope="col">Roles</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.data.data.map((key) => (
              <tr key={key.id} data-key-id={key.id}>
                <td>{key.name ?? "—"}</td>
                <td>
                  <code>{key.prefix}</code>
                </td>
                <td>{key.tenant}</td>
                <td>{key.roles.join(", ")}</td>
                <td>{key.status}</td>
                <td>{when(key.created_at)}</td>
                <td>{key.last_used_at ? when(key.last_used_at) : "—"}</td>
                <td>
                  {key.status === "active" && (
                    <button type="button" className="danger" onClick={() => revoke.mutate(key.id)} disabled={revoke.isPending} aria-label={`Revoke ${key.name ?? key.prefix}`}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
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
