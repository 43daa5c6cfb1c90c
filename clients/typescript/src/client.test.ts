import { describe, expect, it } from "vitest";
import { ApiError, createReelstreamClient, unwrap } from "./index.js";

const problem = {
  type: "https://reelstream.dev/problems/validation",
  title: "Invalid request",
  status: 422,
  detail: "width must be a multiple of 16",
  errors: [{ field: "width", message: "must be a multiple of 16" }],
};

describe("the client", () => {
  it("sends the bearer credential, asked on every request", async () => {
    const seen: (string | null)[] = [];
    let token: string | null = "first";
    const client = createReelstreamClient({
      baseUrl: "http://api.test/",
      token: () => token,
      fetch: async (request) => {
        seen.push(request.headers.get("Authorization"));
        expect(request.url).toBe("http://api.test/v1/jobs?limit=1");
        return Response.json({ data: [], next_cursor: null });
      },
    });
    await client.GET("/v1/jobs", { params: { query: { limit: 1 } } });
    token = null;
    await client.GET("/v1/jobs", { params: { query: { limit: 1 } } });
    expect(seen).toEqual(["Bearer first", null]);
  });

  it("turns a problem+json answer into a typed ApiError naming the field", async () => {
    const client = createReelstreamClient({
      baseUrl: "http://api.test",
      token: "k",
      fetch: async () =>
        new Response(JSON.stringify(problem), { status: 422, headers: { "Content-Type": "application/problem+json" } }),
    });
    const result = await client.POST("/v1/jobs", { body: { prompt: "a fox", width: 17 } });
    let error: unknown;
    try {
      unwrap(result);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ApiError);
    const apiError = error as ApiError;
    expect(apiError.status).toBe(422);
    expect(apiError.type).toBe(problem.type);
    expect(apiError.fieldErrors()).toEqual({ width: "must be a multiple of 16" });
  });

  it("retries a GET answered 503 with Retry-After", async () => {
    const statuses = [503, 200];
    const client = createReelstreamClient({
      baseUrl: "http://api.test",
      retry: { maxDelayMs: 1 },
      fetch: async () => {
        const status = statuses.shift() ?? 500;
        return status === 200
          ? Response.json({ data: [], next_cursor: null })
          : new Response(null, { status, headers: { "Retry-After": "1" } });
      },
    });
    const { data, response } = await client.GET("/v1/jobs");
    expect(response.status).toBe(200);
    expect(data?.data).toEqual([]);
    expect(statuses).toEqual([]);
  });
});
