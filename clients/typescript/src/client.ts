// The typed client: openapi-fetch over the generated paths, the bearer credential on every request, and
// idempotent requests retried on 429/503 (retry.ts).
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { paths } from "./schema.js";
import { DEFAULT_RETRY, retryingFetch, type RetryOptions } from "./retry.js";

export type ReelstreamClient = Client<paths>;

export interface ClientOptions {
  /** The API's base URL, e.g. http://127.0.0.1:8000 (the console: its own origin). */
  baseUrl: string;
  /** An API key or an OIDC access token; a function is asked on every request (null: send none). */
  token?: string | (() => string | null);
  retry?: Partial<RetryOptions>;
  /** The fetch to send with (default: the global one). */
  fetch?: (request: Request) => Promise<Response>;
}

export function bearer(token: ClientOptions["token"]): Middleware {
  return {
    onRequest({ request }) {
      const value = typeof token === "function" ? token() : token;
      if (value) request.headers.set("Authorization", `Bearer ${value}`);
      return request;
    },
  };
}

export function createReelstreamClient(options: ClientOptions): ReelstreamClient {
  const send = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/$/, ""),
    fetch: retryingFetch(send, { ...DEFAULT_RETRY, ...options.retry }),
  });
  client.use(bearer(options.token));
  return client;
}
