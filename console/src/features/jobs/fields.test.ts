import { describe, expect, it } from "vitest";
import { EMPTY, fromJob, toRequest } from "./fields";

describe("toRequest", () => {
  it("sends only what the user set, so the API fills in the model's defaults", () => {
    expect(toRequest({ ...EMPTY, prompt: "a fox", duration_seconds: "2", num_frames: "13" })).toEqual({
      prompt: "a fox",
      duration_seconds: 2,
    });
  });

  it("sends frames instead of duration when the user counts frames", () => {
    const body = toRequest({ ...EMPTY, prompt: "p", length_mode: "frames", num_frames: "13", seed: "7", priority: "high" });
    expect(body).toEqual({ prompt: "p", num_frames: 13, seed: 7, priority: "high" });
  });

  it("sends the tier only when the user picked one", () => {
    expect(toRequest({ ...EMPTY, prompt: "p", tier: "fast" })).toEqual({ prompt: "p", tier: "fast" });
    expect(toRequest({ ...EMPTY, prompt: "p" })).not.toHaveProperty("tier");
  });
});

describe("fromJob", () => {
  it("runs a job again at its tier", () => {
    const job = { id: "j", prompt: "p", status: "succeeded", parameters: { model: "tiny-mochi", tier: "fast" } };
    expect(fromJob(job as unknown as Parameters<typeof fromJob>[0]).tier).toBe("fast");
  });
});
