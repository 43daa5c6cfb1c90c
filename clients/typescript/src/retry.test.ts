import { describe, expect, it } from "vitest";
import { isIdempotent, retryAfterMs, retryDelayMs, retryingFetch, DEFAULT_RETRY } from "./retry.js";

const answer = (status: number, retryAfter?: string) =>
  new Response(status === 200 ? "{}" : null, { status, headers: retryAfter ? { "Retry-After": retryAfter } : {} });

function recorder(statuses: Response[]) {
  const sent: Request[] = [];
  const waits: number[] = [];
  const fetch = async (request: Request) => {
    sent.push(request);
    const next = statuses.shift();
    if (!next) throw new Error("no more answers");
    return next;
  };
  const wait = async (ms: number) => {
    waits.push(ms);
  };
  return { sent, waits, fetch, wait };
}

describe("retries", () => {
  it("reads Retry-After as seconds or as an HTTP date", () => {
    expect(retryAfterMs("3")).toBe(3000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(retryAfterMs("soon")).toBeNull();
    expect(retryAfterMs(null)).toBeNull();
  });

  it("waits what Retry-After asks, capped, else a jittered exponential backoff", () => {
    const options = { retries: 3, baseDelayMs: 100, maxDelayMs: 5_000 };
    expect(retryDelayMs(answer(429, "2"), 0, options)).toBe(2000);
    expect(retryDelayMs(answer(429, "60"), 0, options)).toBe(5000);
    expect(retryDelayMs(answer(503), 2, options, () => 0.5)).toBe(200);
  });

  it("knows which requests may be sent twice", () => {
    expect(isIdempotent(new Request("http://x/v1/jobs"))).toBe(true);
    expect(isIdempotent(new Request("http://x/v1/jobs", { method: "POST" }))).toBe(false);
    const keyed = new Request("http://x/v1/jobs", { method: "POST", headers: { "Idempotency-Key": "k" } });
    expect(isIdempotent(keyed)).toBe(true);
  });

  it("retries an idempotent request on 429 and 503 honouring Retry-After, then returns the answer", async () => {
    const r = recorder([answer(429, "1"), answer(503, "2"), answer(200)]);
    const response = await retryingFetch(r.fetch, DEFAULT_RETRY, r.wait)(new Request("http://x/v1/jobs"));
    expect(response.status).toBe(200);
    expect(r.sent).toHaveLength(3);
    expect(r.waits).toEqual([1000, 2000]);
  });

  it("sends a POST with a body again whole when it carries an Idempotency-Key", async () => {
    const r = recorder([answer(429, "0"), answer(200)]);
    const request = new Request("http://x/v1/jobs", {
      method: "POST",
      headers: { "Idempotency-Key": "k" },
      body: JSON.stringify({ prompt: "p" }),
    });
    await retryingFetch(r.fetch, DEFAULT_RETRY, r.wait)(request);
    expect(await Promise.all(r.sent.map((s) => s.text()))).toEqual(['{"prompt":"p"}', '{"prompt":"p"}']);
  });

  it("never repeats a POST without an Idempotency-Key, nor other statuses, and gives up after the limit", async () => {
    const post = recorder([answer(429, "1")]);
    const once = await retryingFetch(post.fetch, DEFAULT_RETRY, post.wait)(new Request("http://x", { method: "POST" }));
    expect([once.status, post.sent.length]).toEqual([429, 1]);
    const failing = recorder([answer(500)]);
    expect((await retryingFetch(failing.fetch, DEFAULT_RETRY, failing.wait)(new Request("http://x"))).status).toBe(500);
    const busy = recorder([answer(503), answer(503), answer(503)]);
    const options = { ...DEFAULT_RETRY, retries: 2 };
    expect((await retryingFetch(busy.fetch, options, busy.wait)(new Request("http://x"))).status).toBe(503);
    expect(busy.sent).toHaveLength(3);
  });
});
