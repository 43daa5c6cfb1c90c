// Hash routes: the console is static files, so every view is reachable without server-side fallbacks.
import { useSyncExternalStore } from "react";

export type Route =
  | { page: "jobs" }
  | { page: "new"; from: string | null }
  | { page: "job"; id: string }
  | { page: "keys" }
  | { page: "limits" }
  | { page: "usage" }
  | { page: "load" }
  | { page: "webhooks" }
  | { page: "tenants" }
  | { page: "pool" };

export function parseRoute(hash: string): Route {
  const [path = "", query = ""] = hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean);
  if (parts[0] === "jobs" && parts[1] === "new") return { page: "new", from: new URLSearchParams(query).get("from") };
  if (parts[0] === "jobs" && parts[1]) return { page: "job", id: decodeURIComponent(parts[1]) };
  if (parts[0] === "keys") return { page: "keys" };
  if (parts[0] === "limits") return { page: "limits" };
  if (parts[0] === "usage") return { page: "usage" };
  if (parts[0] === "load") return { page: "load" };
  if (parts[0] === "webhooks") return { page: "webhooks" };
  if (parts[0] === "tenants") return { page: "tenants" };
  if (parts[0] === "pool") return { page: "pool" };
  return { page: "jobs" };
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener("hashchange", onChange);
  return () => window.removeEventListener("hashchange", onChange);
}

export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, () => window.location.hash);
  return parseRoute(hash);
}

export function href(route: Route): string {
  switch (route.page) {
    case "jobs":
      return "#/jobs";
    case "new":
      return route.from ? `#/jobs/new?from=${encodeURIComponent(route.from)}` : "#/jobs/new";
    case "job":
      return `#/jobs/${encodeURIComponent(route.id)}`;
    case "keys":
      return "#/keys";
    case "limits":
      return "#/limits";
    case "usage":
      return "#/usage";
    case "load":
      return "#/load";
    case "webhooks":
      return "#/webhooks";
    case "tenants":
      return "#/tenants";
    case "pool":
      return "#/pool";
  }
}
