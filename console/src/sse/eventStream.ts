// Server-sent events over fetch. EventSource cannot send an Authorization header, and a token in the URL
// would end up in logs and history; fetch can, and a ReadableStream gives the same event-stream parsing.
// After a drop the reader reconnects with Last-Event-ID (the job's snapshot version), so the server
// resumes after the last snapshot seen.

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
}

/** Reads the stream until it ends by itself (the server closes it) or `signal` aborts it. */
export async function readEventStream(options: StreamOptions): Promise<void> {
  const { url, token, onEvent, onState, signal } = options;
  let lastId: string | null = null;
  for (;;) {
    try {
      const headers: Record<string, string> = {
        Authorization: `Bearer ${token}`,
        Accept: "text/event-stream",
      };
      if (lastId !== null) headers["Last-Event-ID"] = lastId;
      const response = await fetch(url, { headers, signal, cache: "no-store" });
      if (!response.ok || response.body === null) throw new Error(`stream answered ${response.status}`);
      onState?.("open");
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          onState?.("closed");
          return;
        }
        const parsed = parseEvents(buffer + value);
        buffer = parsed.rest;
        for (const event of parsed.events) {
          if (event.id !== null) lastId = event.id;
          onEvent(event);
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      onState?.("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, options.retryMs ?? 1000));
      if (signal.aborted) return;
      void error;
    }
  }
}
