// The TypeScript client against a running reelstream (tests/e2e/test_ts_client.py runs it with Node):
// submit, get, list, a field's problem, and the event stream to the job's end. Prints one JSON line.
//   REELSTREAM_API_URL=… REELSTREAM_API_KEY=… node e2e/smoke.mjs   (after `npm run build`)
import { ApiError, createReelstreamClient, readEventStream, unwrap } from "../dist/index.js";

const baseUrl = process.env.REELSTREAM_API_URL;
const token = process.env.REELSTREAM_API_KEY;
const api = createReelstreamClient({ baseUrl, token });
const request = { prompt: "a typed client's first job", model: "tiny-mochi", width: 64, height: 48, num_inference_steps: 2, seed: 3 };

const step = (what) => process.stderr.write(`${new Date().toISOString()} ${what}\n`);
process.on("exit", (code) => step(`exit ${code}`));

const key = `ts-smoke-${Date.now()}`;
step("submit");
const submitted = unwrap(await api.POST("/v1/jobs", { body: request, headers: { "Idempotency-Key": key } }));
const again = unwrap(await api.POST("/v1/jobs", { body: request, headers: { "Idempotency-Key": key } }));
step(`submitted ${submitted.id}`);
const got = unwrap(await api.GET("/v1/jobs/{job_id}", { params: { path: { job_id: submitted.id } } }));
const listed = unwrap(await api.GET("/v1/jobs", { params: { query: { limit: 50 } } }));

step("listed");
let problem = null;
try {
  unwrap(await api.POST("/v1/jobs", { body: { ...request, width: 17 } }));
} catch (error) {
  if (!(error instanceof ApiError)) throw error;
  problem = { status: error.status, fields: error.fieldErrors() };
}

step("stream");
const statuses = [];
const done = new AbortController();
const deadline = setTimeout(() => done.abort(), 150_000);
await readEventStream({
  url: `${baseUrl}/v1/jobs/${submitted.id}/events`,
  token,
  signal: done.signal,
  onEvent: (event) => {
    if (event.event !== "status") return;
    const job = JSON.parse(event.data);
    if (statuses.at(-1) !== job.status) statuses.push(job.status);
    step(`status ${job.status}`);
    if (["succeeded", "failed", "canceled", "rejected", "expired"].includes(job.status)) done.abort();
  },
});
clearTimeout(deadline);

console.log(
  JSON.stringify({
    id: submitted.id,
    same_on_replay: again.id === submitted.id,
    got: got.id,
    seed: got.parameters?.seed ?? null,
    listed: listed.data.some((job) => job.id === submitted.id),
    problem,
    statuses,
  }),
);
