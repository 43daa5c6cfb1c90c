import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { api, type Usage, type UsageTotals } from "../../api/client";
import { ApiError, unwrap } from "../../api/problem";
import { Field } from "../../components/Field";
import { Empty, ErrorState, Loading } from "../../components/States";
import { dayBefore, seconds } from "./format";

type GroupBy = Usage["group_by"];

/** The tenant's GPU usage: every render attempt that held a GPU (canceled and failed ones too), per UTC
 * day or per model, in a window of dates (from inclusive, to exclusive). */
export function UsagePage() {
  const [from, setFrom] = useState(() => dayBefore(30));
  const [to, setTo] = useState(() => dayBefore(-1));
  const [groupBy, setGroupBy] = useState<GroupBy>("day");
  const usage = useQuery({
    queryKey: ["usage", from, to, groupBy],
    queryFn: async () =>
      unwrap(await api.GET("/v1/usage", { params: { query: { from, to, group_by: groupBy } } })),
  });
  const fieldErrors = usage.error instanceof ApiError ? usage.error.fieldErrors() : {};
  return (
    <section aria-labelledby="usage-title">
      <h1 id="usage-title">Usage</h1>
      <form className="usage-window" onSubmit={(e) => e.preventDefault()}>
        <Field id="from" label="From" error={fieldErrors.from}>
          {(aria) => <input {...aria} name="from" type="date" value={from} onChange={(e) => setFrom(e.target.value)} />}
        </Field>
        <Field id="to" label="To (exclusive)" error={fieldErrors.to}>
          {(aria) => <input {...aria} name="to" type="date" value={to} onChange={(e) => setTo(e.target.value)} />}
        </Field>
        <Field id="group_by" label="Group by" error={fieldErrors.group_by}>
          {(aria) => (
            <select {...aria} name="group_by" value={groupBy} onChange={(e) => setGroupBy(e.target.value as GroupBy)}>
              <option value="day">Day</option>
              <option value="model">Model</option>
            </select>
          )}
        </Field>
      </form>
      {usage.isPending && <Loading what="usage" />}
      {usage.isError && Object.keys(fieldErrors).length === 0 && (
        <ErrorState error={usage.error} retry={() => void usage.refetch()} />
      )}
      {usage.data && <UsageTable usage={usage.data} />}
      <AllTenants from={from} to={to} />
    </section>
  );
}

/** The operator's view: every tenant's totals in the same window (GET /v1/admin/usage). Shown only when
 * the API lets the caller read it: anyone else is answered 403 and sees nothing of it. */
function AllTenants({ from, to }: { from: string; to: string }) {
  const totals = useQuery({
    queryKey: ["admin-usage", from, to],
    retry: false,
    queryFn: async () => {
      const result = await api.GET("/v1/admin/usage", { params: { query: { from, to } } });
      return result.response.status === 403 ? null : unwrap(result);
    },
  });
  if (!totals.data) return null; // not an operator, or the window is invalid (said above)
  const rows = totals.data.data;
  return (
    <section aria-labelledby="all-tenants-title">
      <h2 id="all-tenants-title">Every tenant</h2>
      {rows.length === 0 ? (
        <Empty>No tenant used GPU time in this window.</Empty>
      ) : (
        <table aria-label="GPU usage of every tenant">
          <thead>
            <tr>
              <th scope="col">Tenant</th>
              <th scope="col">Attempts</th>
              <th scope="col">GPU time</th>
              <th scope="col">Frames</th>
              <th scope="col">Canceled or failed</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <Row key={row.tenant} label={row.tenant} totals={row} />
            ))}
          </tbody>
          <tfoot>
            <Row label="Total" totals={totals.data.total} />
          </tfoot>
        </table>
      )}
    </section>
  );
}

function UsageTable({ usage }: { usage: Usage }) {
  if (usage.data.length === 0) return <Empty>No GPU time used in this window.</Empty>;
  const keyOf = (row: Usage["data"][number]) => ("day" in row ? row.day : row.model);
  return (
    <table aria-label="GPU usage">
      <thead>
        <tr>
          <th scope="col">{usage.group_by === "day" ? "Day (UTC)" : "Model"}</th>
          <th scope="col">Attempts</th>
          <th scope="col">GPU time</th>
          <th scope="col">Frames</th>
          <th scope="col">Canceled or failed</th>
        </tr>
      </thead>
      <tbody>
        {usage.data.map((row) => (
          <Row key={keyOf(row)} label={keyOf(row)} totals={row} />
        ))}
      </tbody>
      <tfoot>
        <Row label="Total" totals={usage.total} />
      </tfoot>
    </table>
  );
}

function Row({ label, totals }: { label: string; totals: UsageTotals }) {
  const byOutcome = totals.gpu_seconds_by_outcome;
  const unsuccessful = byOutcome.failed + byOutcome.canceled + byOutcome.timed_out;
  return (
    <tr data-usage-row={label}>
      <th scope="row">{label}</th>
      <td>{totals.attempts}</td>
      <td data-gpu-seconds={totals.gpu_seconds}>{seconds(totals.gpu_seconds)}</td>
      <td>{totals.frames}</td>
      <td>{seconds(unsuccessful)}</td>
    </tr>
  );
}
