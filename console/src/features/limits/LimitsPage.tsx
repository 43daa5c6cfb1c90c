import { useQuery } from "@tanstack/react-query";
import { api, type Limits } from "../../api/client";
import { unwrap } from "../../api/problem";
import { ErrorState, Loading } from "../../components/States";
import { seconds } from "../usage/format";

/** The tenant's limits and its use of them (GET /v1/limits), read-only: submissions, the queue and the
 * GPU-seconds budget. Admins change limits with PUT /v1/admin/tenants/{tenant}/limits. */
export function LimitsPage() {
  const limits = useQuery({
    queryKey: ["limits"],
    queryFn: async () => unwrap(await api.GET("/v1/limits")),
    refetchInterval: 10_000,
  });
  return (
    <section aria-labelledby="limits-title">
      <h1 id="limits-title">Limits</h1>
      {limits.isPending && <Loading what="limits" />}
      {limits.isError && <ErrorState error={limits.error} retry={() => void limits.refetch()} />}
      {limits.data && <LimitsDetails limits={limits.data} />}
    </section>
  );
}

export function LimitsDetails({ limits }: { limits: Limits }) {
  const gpu = limits.gpu_seconds;
  const rows: [string, string][] = [
    ["Submissions", `${Math.floor(limits.tokens)} of ${limits.burst} now, refilling ${limits.rate}/s`],
    [
      "Queue",
      `${limits.queued} of ${limits.queued_cap} jobs waiting or running` +
        (limits.running_cap === null ? "" : `, ${limits.running_cap} at once`),
    ],
    [
      "GPU budget",
      gpu === null
        ? "no budget"
        : `${seconds(gpu.used)} used, ${seconds(gpu.remaining)} left of ${seconds(gpu.budget)} per ${seconds(gpu.window_seconds)}`,
    ],
  ];
  if (limits.over !== null) rows.push(["Over", limits.over + (limits.throttled_until ? ` until ${limits.throttled_until}` : "")]);
  return (
    <>
      <p>
        {limits.as_of === null
          ? "Nothing submitted yet: your configured limits."
          : `As admission last saw them (${limits.as_of}).`}{" "}
        A job's expected GPU time is taken from the budget when it is admitted and given back if it ends before
        it starts or fails.
      </p>
      <dl className="details" aria-label="Limits">
        {rows.map(([name, value]) => (
          <div className="row" key={name}>
            <dt>{name}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </>
  );
}
