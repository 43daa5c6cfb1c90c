import { lastLimits } from "../../api/client";
import { Empty } from "../../components/States";

/** The tenant's limits, read-only: the RateLimit-Policy and RateLimit headers (IETF draft) the API sent
 * with this session's last submission. Admins change limits with PUT /v1/admin/tenants/{tenant}/limits. */
export function LimitsPage() {
  const { policy, state } = lastLimits;
  return (
    <section aria-labelledby="limits-title">
      <h1 id="limits-title">Limits</h1>
      <p>
        <code>burst</code> is how many jobs you can submit at once (q) and how many seconds an empty allowance
        takes to refill (w); <code>queued</code> is how many of your jobs may wait or run at the same time.
      </p>
      {policy === null ? (
        <Empty>Your limits appear here after your first submission in this session.</Empty>
      ) : (
        <dl className="details">
          <div className="row">
            <dt>Policy</dt>
            <dd>
              <code>{policy}</code>
            </dd>
          </div>
          <div className="row">
            <dt>Now</dt>
            <dd>
              <code>{state ?? "—"}</code>
            </dd>
          </div>
        </dl>
      )}
    </section>
  );
}
