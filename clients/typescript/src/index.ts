// @reelstream/client: the reelstream API's generated types and a thin typed client around openapi-fetch.
export type { components, operations, paths } from "./schema.js";
export { bearer, createReelstreamClient, type ClientOptions, type ReelstreamClient } from "./client.js";
export { ApiError, expectNoContent, isProblem, unwrap, type Problem } from "./problem.js";
export {
  DEFAULT_RETRY,
  isIdempotent,
  retryAfterMs,
  retryDelayMs,
  retryingFetch,
  type RetryOptions,
} from "./retry.js";
export { parseEvents, readEventStream, type StreamEvent, type StreamOptions } from "./sse.js";

import type { components } from "./schema.js";
export type Job = components["schemas"]["Job"];
export type JobRequest = components["schemas"]["JobRequest"];
