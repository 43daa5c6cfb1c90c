import { useQuery } from "@tanstack/react-query";
import { api } from "./api/client";
import { useSession } from "./auth/useSession";
import { href, useRoute } from "./router";
import { SignIn } from "./features/signin/SignIn";
import { JobsList } from "./features/jobs/JobsList";
import { CreateJob } from "./features/jobs/CreateJob";
import { JobPage } from "./features/jobs/JobPage";
import { KeysPage } from "./features/keys/KeysPage";
import { LimitsPage } from "./features/limits/LimitsPage";
import { UsagePage } from "./features/usage/UsagePage";
import { LoadPage } from "./features/load/LoadPage";
import { WebhooksPage } from "./features/webhooks/WebhooksPage";
import { TenantsPage } from "./features/tenants/TenantsPage";
import { PoolPage } from "./features/pool/PoolPage";

/** Whether the key may manage keys: the admin API answers it, there is no separate "who am I". */
function useIsAdmin(signedIn: boolean): boolean {
  const query = useQuery({
    queryKey: ["is-admin"],
    enabled: signedIn,
    retry: false,
    staleTime: 60_000,
    queryFn: async () => (await api.GET("/v1/admin/keys")).response.ok,
  });
  return query.data === true;
}

/** Whether the key is the platform operator's: only it may list tenants. */
function useIsOperator(signedIn: boolean): boolean {
  const query = useQuery({
    queryKey: ["is-operator"],
    enabled: signedIn,
    retry: false,
    staleTime: 60_000,
    queryFn: async () => (await api.GET("/v1/admin/tenants")).response.ok,
  });
  return query.data === true;
}

export function App() {
  const session = useSession();
  const route = useRoute();
  const isAdmin = useIsAdmin(session.signedIn);
  const isOperator = useIsOperator(session.signedIn);

  if (session.completing) {
    return (
      <main className="signin" aria-busy="true">
        <p role="status">Signing in…</p>
      </main>
    );
  }
  if (!session.signedIn) return <SignIn onSignedIn={session.signedInNow} notice={session.notice} />;
  const signOut = session.signOut;
  const current = route.page;
  const link = (to: Parameters<typeof href>[0], label: string) => (
    <a href={href(to)} aria-current={current === to.page ? "page" : undefined}>
      {label}
    </a>
  );
  return (
    <div className="shell">
      <header className="top">
        <span className="brand">reelstream</span>
        <nav aria-label="Main">
          {link({ page: "jobs" }, "Jobs")}
          {link({ page: "new", from: null }, "New job")}
          {isAdmin && link({ page: "keys" }, "API keys")}
          {isAdmin && link({ page: "webhooks" }, "Webhooks")}
          {isOperator && link({ page: "tenants" }, "Tenants")}
          {isOperator && link({ page: "pool" }, "Pool")}
          {link({ page: "limits" }, "Limits")}
          {link({ page: "usage" }, "Usage")}
          {link({ page: "load" }, "Load")}
          <a href="/docs">API docs</a>
        </nav>
        <button type="button" className="secondary" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main>
        {route.page === "jobs" && <JobsList />}
        {route.page === "new" && <CreateJob from={route.from} />}
        {route.page === "job" && <JobPage id={route.id} />}
        {route.page === "keys" && <KeysPage />}
        {route.page === "limits" && <LimitsPage />}
        {route.page === "usage" && <UsagePage />}
        {route.page === "load" && <LoadPage />}
        {route.page === "webhooks" && <WebhooksPage />}
        {route.page === "tenants" && <TenantsPage />}
        {route.page === "pool" && <PoolPage />}
      </main>
    </div>
  );
}
