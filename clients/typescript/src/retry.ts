// Retries of idempotent requests on 429 and 503, honouring Retry-After (delta-seconds or an HTTP date),
// otherwise exponential backoff with full jitter; as a fetch wrapper, so it sits under openapi-fetch.

export interface RetryOptions {
  /** Further attempts after the first (0: no retry). */
  retries: number;
  /** First backoff, doubled per attempt, when the answer names no Retry-After. */
  baseDelayMs: number;
  /** No single wait is longer than this (a Retry-After beyond it is cut to it). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { retries: 3, baseDelayMs: 250, maxDelayMs: 30_000 };
export const RETRY_STATUSES: ReadonlySet<number> = new Set([429, 503]);
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);

/** Whether sending the request twice does what sending it once does: an idempotent method, or a POST that
 * carries an Idempotency-Key (the API answers a repeat with the first answer). */
export function isIdempotent(request: Request): boolean {
  return IDEMPOTENT_METHODS.has(request.method.toUpperCase()) || request.headers.has("Idempotency-Key");
}

/** Milliseconds a Retry-After header asks for (null: absent or unreadable). */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | null {
  if (header === null || header.trim() === "") return null;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** How long to wait before attempt `attempt + 1` (attempt counts from 0) after `response`. */
export function retryDelayMs(
  response: Response,
  attempt: number,
  options: RetryOptions,
  random: () => number = Math.random,
): number {
  const asked = retryAfterMs(response.headers.get("Retry-After"));
  const backoff = random() * options.baseDelayMs * 2 ** attempt;
  return Math.min(options.maxDelayMs, asked ?? backoff);
}

export type Fetch = (request: Request) => Promise<Response>;
export type Sleep = (ms: number, signal?: AbortSignal | null) => Promise<void>;

export const sleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });

/** `fetch` that retries idempotent requests answered 429 or 503 (the last answer is returned as is). */
export function retryingFetch(fetch: Fetch, options: RetryOptions = DEFAULT_RETRY, wait: Sleep = sleep): Fetch {
  return async (request) => {
    const idempotent = isIdempotent(request);
    for (let attempt = 0; ; attempt++) {
      const response = await fetch(idempotent ? request.clone() : request);
      if (!idempotent || attempt >= options.retries || !RETRY_STATUSES.has(response.status)) return response;
      await response.body?.cancel();
      await wait(retryDelayMs(response, attempt, options), request.signal);
    }
  };
}
