// Server-sent events over fetch. EventSource cannot send an Authorization header, and a token in the URL
// would end up in logs and history; fetch can, and a ReadableStream gives the same event-stream parsing.
// After a drop the reader reconnects with Last-Event-ID (the job's snapshot version), so the server
// resumes after the last snapshot seen. Works in browsers and in Node (no `window` needed).

export interface StreamEvent {
  event: string;
  id: string | null;
  data: string;
}

/** Parses event-stream text; returns the complete events and the unparsed rest. */
export function parseEvents(buffer: string): { events: StreamEvent[]; rest: string } {
  const events: StreamEvent[] = [];
  const blocks = buffer.replace(/\r\n?/g, "\n").split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    let event = "message";
    let id: string | null = null;
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "id") id = value;
      else if (field === "data") data.push(value);
    }
    if (data.length > 0) events.push({ event, id, data: data.join("\n") });
  }
  return { events, rest };
}

export interface StreamOptions {
  url: string;
  token: string;
  onEvent: (event: StreamEvent) => void;
  onState?: (state: "open" | "reconnecting" | "closed") => void;
  signal: AbortSignal;
  retryMs?: number;
  stallMs?: number;
  /** The fetch to connect with (default: the global one). */
  fetch?: typeof globalThis.fetch;
}

const STALL_MS = 45_000; // the server sends a keep-alive comment every 15 s: silence this long is a drop

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });
}

// A browser's window (online/offline events); undefined in Node, where a drop is noticed by the socket.
const browser: Pick<Window, "addEventListener" | "removeEventListener"> | undefined =
  typeof window === "undefined" ? undefined : window;

function online(signal: AbortSignal): Promise<void> {
  if (browser === undefined || typeof navigator === "undefined" || navigator.onLine !== false) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    browser.addEventListener("online", () => resolve(), { once: true, signal });
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** One connection: events until the server ends the stream (true) or the connection drops (throws). An
 * `offline` event or a silent connection aborts it at once rather than waiting for TCP to notice. */
async function connectOnce(options: StreamOptions, lastId: { value: string | null }): Promise<void> {
  const attempt = new AbortController();
  let reader: ReadableStreamDefaultReader<string> | undefined;
  // Aborting the fetch alone does not always wake a pending read (Node's fetch, once the server has ended
  // the body: the piped reader waits forever), so the reader is cancelled too.
  const stop = () => {
    attempt.abort();
    reader?.cancel().catch(() => undefined);
  };
  options.signal.addEventListener("abort", stop, { once: true });
  browser?.addEventListener("offline", stop, { once: true });
  let stall = setTimeout(stop, options.stallMs ?? STALL_MS);
  try {
    const headers: Record<string, string> = { Authorization: `Bearer ${options.token}`, Accept: "text/event-stream" };
    if (lastId.value !== null) headers["Last-Event-ID"] = lastId.value;
    const send = options.fetch ?? globalThis.fetch;
    const response = await send(options.url, { headers, signal: attempt.signal, cache: "no-store" });
    if (!response.ok || response.body === null) throw new Error(`stream answered ${response.status}`);
    options.onState?.("open");
    reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (attempt.signal.aborted) throw new Error("stream stopped"); // by the caller, a stall or offline
      if (done) return; // the server ended the stream
      clearTimeout(stall);
      stall = setTimeout(stop, options.stallMs ?? STALL_MS);
      const parsed = parseEvents(buffer + value);
      buffer = parsed.rest;
      for (const event of parsed.events) {
        if (event.id !== null) lastId.value = event.id;
        options.onEvent(event);
      }
      if (attempt.signal.aborted) throw new Error("stream stopped"); // by the caller, a stall or offline
    }
  } finally {
    clearTimeout(stall);
    browser?.removeEventListener("offline", stop);
    options.signal.removeEventListener("abort", stop);
  }
}

/** Reads the stream until it ends by itself (the server closes it after a terminal state) or `signal`
 * aborts it; after a drop it waits to be online and reconnects, sending the last id it saw. */
export async function readEventStream(options: StreamOptions): Promise<void> {
  const lastId = { value: null as string | null };
  while (!options.signal.aborted) {
    try {
      await connectOnce(options, lastId);
      options.onState?.("closed");
      return;
    } catch {
      if (options.signal.aborted) return;
      options.onState?.("reconnecting");
      await online(options.signal);
      await pause(options.retryMs ?? 1000, options.signal);
    }
  }
}
