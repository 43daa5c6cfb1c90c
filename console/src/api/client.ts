// The typed API client: the TypeScript client package (clients/typescript), whose paths and bodies are
// generated from the service's OpenAPI document, so an API change that breaks the console fails `tsc`.
// Idempotent requests are retried on 429/503 as Retry-After says (the package's retrying fetch).
import { createReelstreamClient, type components } from "@reelstream/client";
import type { Middleware } from "openapi-fetch";
import { signedOutByServer, storedKey } from "../auth/session";

export type Job = components["schemas"]["Job"];
export type JobRequest = components["schemas"]["JobRequest"];
export type ApiKey = components["schemas"]["ApiKey"];
export type ApiKeyCreated = components["schemas"]["ApiKeyCreated"];
export type Role = ApiKey["roles"][number];
export type Usage = components["schemas"]["Usage"];
export type UsageTotals = components["schemas"]["UsageTotals"];
export type RenderLoad = components["schemas"]["RenderLoad"];
export type Tenant = components["schemas"]["Tenant"];
export type RenderLoadClass = components["schemas"]["RenderLoadClass"];
export type Limits = components["schemas"]["Limits"];
export type PoolState = components["schemas"]["PoolState"];
export type Pool = components["schemas"]["Pool"];

const watch: Middleware = {
  onResponse({ request, response }) {
    // the credential of a signed-in tab stopped working (an expired token, a revoked key): sign-in again
    if (response.status === 401 && request.headers.has("Authorization")) signedOutByServer();
    return response;
  },
};

export const api = createReelstreamClient({ baseUrl: window.location.origin, token: () => storedKey() });
api.use(watch);
