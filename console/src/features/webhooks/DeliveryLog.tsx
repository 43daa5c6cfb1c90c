import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/client";
import { unwrap } from "../../api/problem";
import { DataTable, fromQuery, ListStates } from "../../components/DataTable";
import { ErrorState } from "../../components/States";
import { when } from "../jobs/format";
import { outcome, sinceInstant, type WebhookDelivery } from "./format";

type Status = "" | "failed" | "delivered";
const REFRESH_MS = 3_000;

/** The attempts of one page, newest first; `onResend` for a failed one. */
export function DeliveryTable({ data, onResend }: { data: WebhookDelivery[]; onResend?: (id: string) => void }) {
  return (
    <DataTable
      label="Delivery attempts"
      columns={[
        { header: "Time", cell: (d) => when(d.attempted_at) },
        { header: "Event", cell: (d) => d.event_type ?? "—" },
        { header: "Attempt", cell: (d) => d.attempt },
        { header: "Result", cell: (d) => `${d.status} (${outcome(d)})` },
        { header: "Latency", cell: (d) => `${Math.round(d.latency_ms)} ms` },
        { header: "Webhook id", cell: (d) => <code>{d.webhook_id}</code> },
        {
          header: "Actions",
          hidden: true,
          cell: (d) =>
            d.status === "failed" &&
            onResend && (
              <button type="button" className="secondary" onClick={() => onResend(d.id)}>
                Resend
              </button>
            ),
        },
      ]}
      rows={data}
      rowKey={(d) => d.id}
      rowData={(d) => ({ "data-delivery-id": d.id, "data-status": d.status })}
    />
  );
}

/** One endpoint's delivery log: a status filter, older pages, resend one, resend every failed since. */
export function DeliveryLog({ tenant, endpointId }: { tenant: string; endpointId: string }) {
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<Status>("");
  const [cursors, setCursors] = useState<string[]>([]);
  const [since, setSince] = useState("");
  const path = { tenant, endpoint_id: endpointId };
  const cursor = cursors.at(-1);
  const log = useQuery({
    queryKey: ["webhook-deliveries", tenant, endpointId, status, cursor],
    refetchInterval: cursor ? false : REFRESH_MS, // the newest page follows the notifier's attempts
    queryFn: async () =>
      unwrap(
        await api.GET("/v1/admin/tenants/{tenant}/webhook-endpoints/{endpoint_id}/deliveries", {
          params: { path, query: { ...(status ? { status } : {}), ...(cursor ? { cursor } : {}) } },
        }),
      ),
  });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["webhook-deliveries", tenant, endpointId] });
  const resend = useMutation({
    mutationFn: async (deliveryId: string) =>
      unwrap(
        await api.POST("/v1/admin/tenants/{tenant}/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/resend", {
          params: { path: { ...path, delivery_id: deliveryId } },
        }),
      ),
    onSuccess: refresh,
  });
  const instant = sinceInstant(since);
  const resendFailed = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/v1/admin/tenants/{tenant}/webhook-endpoints/{endpoint_id}/resend-failed", {
          params: { path, query: { since: instant ?? "" } },
        }),
      ),
    onSuccess: refresh,
  });
  return (
    <section aria-labelledby="log-title">
      <h2 id="log-title">Delivery log</h2>
      <label>
        Status{" "}
        <select
          value={status}
          onChange={(e) => {
            setStatus(e.target.value as Status);
            setCursors([]);
          }}
        >
          <option value="">all</option>
          <option value="failed">failed</option>
          <option value="delivered">delivered</option>
        </select>
      </label>
      <ListStates state={fromQuery(log, (page) => page.data)} what="deliveries" empty="No attempts logged.">
        {(rows) => <DeliveryTable data={rows} onResend={(id) => resend.mutate(id)} />}
      </ListStates>
      {cursors.length > 0 && (
        <button type="button" className="secondary" onClick={() => setCursors(cursors.slice(0, -1))}>
          Newer
        </button>
      )}
      {log.data?.next_cursor && (
        <button type="button" className="secondary" onClick={() => setCursors([...cursors, log.data.next_cursor ?? ""])}>
          Older
        </button>
      )}
      {resend.isSuccess && <p role="status">Resend of {resend.data.webhook_id} queued.</p>}
      {resend.isError && <ErrorState error={resend.error} />}
      <form
        aria-label="Resend failed"
        onSubmit={(e) => {
          e.preventDefault();
          resendFailed.mutate();
        }}
      >
        <label>
          Resend every failed delivery since <input type="datetime-local" value={since} onChange={(e) => setSince(e.target.value)} />
        </label>
        <button type="submit" disabled={instant === null || resendFailed.isPending}>
          Resend failed
        </button>
      </form>
      {resendFailed.isSuccess && <p role="status">{resendFailed.data.count} resends queued.</p>}
      {resendFailed.isError && <ErrorState error={resendFailed.error} />}
    </section>
  );
}
