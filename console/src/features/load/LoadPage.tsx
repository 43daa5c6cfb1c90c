import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { api, type RenderLoad, type RenderLoadClass } from "../../api/client";
import { ApiError, unwrap } from "../../api/problem";
import { Field } from "../../components/Field";
import { Empty, ErrorState, Loading } from "../../components/States";
import { barPercent, renderTime, widestP95 } from "./format";
import { useOperatorTenants } from "./useOperatorTenants";

/** The load visualization: render seconds (running to succeeded) of the tenant's succeeded jobs by clip
 * length and by prompt length, in the bounded classes of the Grafana panel; the newest `limit` jobs created
 * in an optional window of dates (from inclusive, to exclusive). The platform operator picks any tenant. */
export function LoadPage() {
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [limit, setLimit] = useState("1000");
  const [tenant, setTenant] = useState("");
  const tenants = useOperatorTenants();
  const load = useQuery({
    queryKey: ["render-load", from, to, limit, tenant],
    queryFn: async () =>
      unwrap(
        await api.GET("/v1/stats/render-load", {
          params: {
            query: { from: from || undefined, to: to || undefined, limit: Number(limit), tenant: tenant || undefined },
          },
        }),
      ),
  });
  const fieldErrors = load.error instanceof ApiError ? load.error.fieldErrors() : {};
  return (
    <section aria-labelledby="load-title">
      <h1 id="load-title">Load</h1>
      <form className="usage-window" onSubmit={(e) => e.preventDefault()}>
        <Field id="from" label="Created from" error={fieldErrors.from}>
          {(aria) => <input {...aria} name="from" type="date" value={from} onChange={(e) => setFrom(e.target.value)} />}
        </Field>
        <Field id="to" label="To (exclusive)" error={fieldErrors.to}>
          {(aria) => <input {...aria} name="to" type="date" value={to} onChange={(e) => setTo(e.target.value)} />}
        </Field>
        <Field id="limit" label="Newest jobs" error={fieldErrors.limit}>
          {(aria) => (
            <input
              {...aria}
              name="limit"
              type="number"
              min={1}
              max={10000}
              value={limit}
              onChange={(e) => setLimit(e.target.value)}
            />
          )}
        </Field>
        {tenants && (
          <Field id="tenant" label="Tenant" error={fieldErrors.tenant}>
            {(aria) => (
              <select {...aria} name="tenant" value={tenant} onChange={(e) => setTenant(e.target.value)}>
                <option value="">My tenant</option>
                {tenants.map((id) => (
                  <option key={id} value={id}>
                    {id}
                  </option>
                ))}
              </select>
            )}
          </Field>
        )}
      </form>
      {load.isPending && <Loading what="render load" />}
      {load.isError && Object.keys(fieldErrors).length === 0 && (
        <ErrorState error={load.error} retry={() => void load.refetch()} />
      )}
      {load.data && <LoadTables load={load.data} />}
    </section>
  );
}

export function LoadTables({ load }: { load: RenderLoad }) {
  if (load.total.count === 0) return <Empty>No succeeded jobs in this window.</Empty>;
  const widest = widestP95([...load.by_frames, ...load.by_prompt_words]);
  return (
    <>
      <p>
        {load.total.count} succeeded jobs: mean {renderTime(load.total.mean_seconds)}, p50{" "}
        {renderTime(load.total.p50_seconds)}, p95 {renderTime(load.total.p95_seconds)}
        {!load.complete && " (the newest only: older jobs were not read)"}
      </p>
      <ClassTable label="Render time by frames" first="Frames" rows={load.by_frames} widest={widest} />
      <ClassTable label="Render time by prompt words" first="Prompt words" rows={load.by_prompt_words} widest={widest} />
    </>
  );
}

function ClassTable(props: { label: string; first: string; rows: RenderLoadClass[]; widest: number }) {
  return (
    <table aria-label={props.label}>
      <thead>
        <tr>
          <th scope="col">{props.first}</th>
          <th scope="col">Jobs</th>
          <th scope="col">Mean</th>
          <th scope="col">p50</th>
          <th scope="col">p95</th>
          <th scope="col">Mean and p95</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map((row) => (
          <tr key={row.class} data-load-row={row.class}>
            <th scope="row">{row.class}</th>
            <td>{row.count}</td>
            <td>{renderTime(row.mean_seconds)}</td>
            <td>{renderTime(row.p50_seconds)}</td>
            <td>{renderTime(row.p95_seconds)}</td>
            <td aria-hidden="true">
              <span className="load-bar" style={{ width: `${barPercent(row.p95_seconds, props.widest)}%` }}>
                <span className="load-bar-mean" style={{ width: `${barPercent(row.mean_seconds, row.p95_seconds ?? 0)}%` }} />
              </span>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
