// Server-sent events over fetch, resumed with Last-Event-ID: the TypeScript client package's reader
// (EventSource cannot send an Authorization header, and a token in the URL would end up in logs).
export { parseEvents, readEventStream, type StreamEvent, type StreamOptions } from "@reelstream/client";
