import type { Job, JobRequest } from "../../api/client";

/** The form's text values, one per request field; "" means "the model's default". */
export interface FormValues {
  prompt: string;
  negative_prompt: string;
  model: string;
  quality: string;
  tier: string;
  width: string;
  height: string;
  length_mode: "duration" | "frames";
  duration_seconds: string;
  num_frames: string;
  fps: string;
  num_inference_steps: string;
  guidance_scale: string;
  seed: string;
  priority: "" | "high" | "normal" | "low";
  deadline: string;
  webhook_url: string;
}

export const EMPTY: FormValues = {
  prompt: "",
  negative_prompt: "",
  model: "",
  quality: "",
  tier: "",
  width: "",
  height: "",
  length_mode: "duration",
  duration_seconds: "",
  num_frames: "",
  fps: "",
  num_inference_steps: "",
  guidance_scale: "",
  seed: "",
  priority: "",
  deadline: "",
  webhook_url: "",
};

const num = (text: string): number | undefined => (text.trim() === "" ? undefined : Number(text));

/** The request body: only what the user set, so the API fills in the model's defaults. */
export function toRequest(v: FormValues): JobRequest {
  const body: JobRequest = { prompt: v.prompt };
  const set = <K extends keyof JobRequest>(key: K, value: JobRequest[K] | undefined) => {
    if (value !== undefined && value !== "") body[key] = value;
  };
  set("negative_prompt", v.negative_prompt || undefined);
  set("model", (v.model || undefined) as JobRequest["model"]);
  set("quality", (v.quality || undefined) as JobRequest["quality"]);
  set("tier", (v.tier || undefined) as JobRequest["tier"]);
  set("width", num(v.width));
  set("height", num(v.height));
  if (v.length_mode === "duration") set("duration_seconds", num(v.duration_seconds));
  // a frame count the model cannot render is the API's to refuse, at its field (the schema lists the 6k+1 counts)
  else set("num_frames", num(v.num_frames) as JobRequest["num_frames"]);
  set("fps", num(v.fps));
  set("num_inference_steps", num(v.num_inference_steps));
  set("guidance_scale", num(v.guidance_scale));
  set("seed", num(v.seed));
  set("priority", v.priority || undefined);
  set("deadline", v.deadline ? new Date(v.deadline).toISOString() : undefined);
  set("webhook_url", v.webhook_url || undefined);
  return body;
}

/** "Run again with these settings": the job's prompt and its resolved parameters. */
export function fromJob(job: Job): FormValues {
  const p = job.parameters;
  const text = (n: number | undefined | null) => (n === undefined || n === null ? "" : String(n));
  return {
    ...EMPTY,
    prompt: job.prompt,
    negative_prompt: job.negative_prompt ?? "",
    model: p?.model ?? "",
    tier: p?.tier ?? "",
    width: text(p?.width),
    height: text(p?.height),
    length_mode: "frames",
    num_frames: text(p?.num_frames),
    fps: text(p?.fps),
    num_inference_steps: text(p?.num_inference_steps),
    guidance_scale: text(p?.guidance_scale),
    seed: text(p?.seed),
    priority: job.priority ?? "",
  };
}
