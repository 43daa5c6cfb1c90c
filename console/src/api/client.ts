// The typed API client: paths and bodies come from schema.d.ts, generated from the service's OpenAPI
// document (npm run gen:api), so an API change that breaks the console fails `tsc --noEmit`.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";
import { storedKey } from "../auth/session";

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

const auth: Middleware = {
  onRequest({ request }) {
    const key = storedKey();
    if (key) request.headers.set("Authorization", `Bearer ${key}`);
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: window.location.origin });
api.use(auth);
