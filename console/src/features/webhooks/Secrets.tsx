import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/client";
import { unwrap } from "../../api/problem";
import { Empty, ErrorState, Loading } from "../../components/States";
import { when } from "../jobs/format";

/** A secret's value, shown this once, with a copy button. */
export function SecretShown({ secret, onDone }: { secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    await navigator.clipboard.writeText(secret);
    setCopied(true);
  };
  return (
    <div className="secret" role="status">
      <p>This signing secret is shown once. Copy it now: verify webhooks with it (Standard Webhooks).</p>
      <code data-testid="new-secret">{secret}</code>
      <button type="button" className="secondary" onClick={() => void copy()}>
        {copied ? "Copied" : "Copy"}
      </button>
      <button type="button" className="secondary" onClick={onDone}>
        Done
      </button>
    </div>
  );
}

/** The tenant's signing secrets; rotating one creates its successor, the old one signing for a day more. */
export function Secrets({ tenant }: { tenant: string }) {
  const queryClient = useQueryClient();
  const [shown, setShown] = useState<string | null>(null);
  const secrets = useQuery({
    queryKey: ["webhook-secrets", tenant],
    queryFn: async () =>
      unwrap(await api.GET("/v1/admin/tenants/{tenant}/webhook-secrets", { params: { path: { tenant } } })),
  });
  const rotate = useMutation({
    mutationFn: async (secretId: string) =>
      unwrap(
        await api.POST("/v1/admin/tenants/{tenant}/webhook-secrets/{secret_id}/rotate", {
          params: { path: { tenant, secret_id: secretId } },
          body: {},
        }),
      ),
    onSuccess: (made) => {
      setShown(made.secret ?? null);
      void queryClient.invalidateQueries({ queryKey: ["webhook-secrets", tenant] });
    },
  });
  return (
    <>
      <h2>Signing secrets</h2>
      {secrets.isPending && <Loading what="secrets" />}
      {secrets.isError && <ErrorState error={secrets.error} retry={() => void secrets.refetch()} />}
      {secrets.data && secrets.data.data.length === 0 && <Empty>No secret yet: adding an endpoint creates one.</Empty>}
      {secrets.data && secrets.data.data.length > 0 && (
        <table aria-label="Signing secrets">
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {secrets.data.data.map((secret) => (
              <tr key={secret.id} data-secret-id={secret.id}>
                <td>
                  <code>{secret.id}</code>
                </td>
                <td>{when(secret.created_at)}</td>
                <td>{secret.expires_at ? when(secret.expires_at) : "—"}</td>
                <td>
                  <button type="button" className="secondary" onClick={() => rotate.mutate(secret.id)} disabled={rotate.isPending}>
                    Rotate
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {rotate.isError && <ErrorState error={rotate.error} />}
      {shown && <SecretShown secret={shown} onDone={() => setShown(null)} />}
    </>
  );
}
