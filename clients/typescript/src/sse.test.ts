import { describe, expect, it } from "vitest";
import { parseEvents, readEventStream } from "./sse.js";

describe("parseEvents", () => {
  it("parses complete events, skips comments and keeps the partial rest", () => {
    const text = ': keep-alive\n\nevent: status\nid: 3\ndata: {"a":1}\n\nevent: status\nid: 4\nda';
    const { events, rest } = parseEvents(text);
    expect(events).toEqual([{ event: "status", id: "3", data: '{"a":1}' }]);
    expect(rest).toBe("event: status\nid: 4\nda");
  });

  it("joins multi-line data and accepts CRLF", () => {
    const { events } = parseEvents("data: one\r\ndata: two\r\n\r\n");
    expect(events).toEqual([{ event: "message", id: null, data: "one\ntwo" }]);
  });
});

function streamOf(chunks: string[], fail: boolean): Response {
  const encoder = new TextEncoder();
  const pending = [...chunks];
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = pending.shift();
      if (chunk !== undefined) controller.enqueue(encoder.encode(chunk));
      else if (fail) controller.error(new TypeError("network error")); // after the chunks were read
      else controller.close();
    },
  });
  return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

describe("readEventStream", () => {
  it("reconnects after a drop with Last-Event-ID and ends when the server closes the stream", async () => {
    const seen: (string | null)[] = [];
    const answers = [
      streamOf(['event: status\nid: 3\ndata: {"v":3}\n\n'], true),
      streamOf(['event: status\nid: 4\ndata: {"v":4}\n\n'], false),
    ];
    const fakeFetch = async (_url: RequestInfo | URL, init?: RequestInit) => {
      const headers = init?.headers as Record<string, string>;
      seen.push(headers["Last-Event-ID"] ?? null);
      expect(headers.Authorization).toBe("Bearer k");
      const next = answers.shift();
      if (!next) throw new Error("no more answers");
      return next;
    };
    const original = globalThis.fetch;
    globalThis.fetch = fakeFetch as typeof fetch;
    try {
      const events: string[] = [];
      const states: string[] = [];
      await readEventStream({
        url: "/v1/jobs/j/events",
        token: "k",
        signal: new AbortController().signal,
        retryMs: 1,
        onEvent: (e) => events.push(e.data),
        onState: (s) => states.push(s),
      });
      expect(seen).toEqual([null, "3"]);
      expect(events).toEqual(['{"v":3}', '{"v":4}']);
      expect(states).toEqual(["open", "reconnecting", "open", "closed"]);
    } finally {
      globalThis.fetch = original;
    }
  });
});

function hanging(chunk: string): Response {
  const encoder = new TextEncoder();
  let sent = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(encoder.encode(chunk));
      }
      return new Promise(() => undefined); // then nothing, ever, and no notice of an abort
    },
  });
  return new Response(body, { status: 200 });
}

describe("stopping", () => {
  it("reconnects with Last-Event-ID after a silent connection (a stall), not ending the stream", async () => {
    const answers = [hanging('event: status\nid: 7\ndata: {"v":7}\n\n'), streamOf(['event: status\nid: 8\ndata: {"v":8}\n\n'], false)];
    const lastIds: (string | null)[] = [];
    const states: string[] = [];
    await readEventStream({
      url: "http://api.test/v1/jobs/j/events",
      token: "k",
      signal: new AbortController().signal,
      stallMs: 50,
      retryMs: 1,
      fetch: async (_url, init) => {
        lastIds.push((init?.headers as Record<string, string>)["Last-Event-ID"] ?? null);
        const next = answers.shift();
        if (!next) throw new Error("no more answers");
        return next;
      },
      onEvent: () => undefined,
      onState: (s) => states.push(s),
    });
    expect(lastIds).toEqual([null, "7"]);
    expect(states).toEqual(["open", "reconnecting", "open", "closed"]);
  });

  it("settles when the caller aborts, even if the body ignores the fetch's abort (a pending read)", async () => {
    const encoder = new TextEncoder();
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(encoder.encode('event: status\nid: 1\ndata: {"status":"running"}\n\n'));
        }
        return new Promise(() => undefined); // then nothing, ever, and no notice of the abort
      },
    });
    const done = new AbortController();
    const events: string[] = [];
    const stream = readEventStream({
      url: "http://api.test/v1/jobs/j/events",
      token: "k",
      signal: done.signal,
      fetch: async () => new Response(body, { status: 200 }),
      onEvent: (e) => {
        events.push(e.data);
        setTimeout(() => done.abort(), 10); // while the reader waits for more
      },
    });
    await expect(stream).resolves.toBeUndefined();
    expect(events).toEqual(['{"status":"running"}']);
  });
});
