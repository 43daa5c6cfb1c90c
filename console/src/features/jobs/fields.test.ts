import { describe, expect, it } from "vitest";
import { EMPTY, toRequest } from "./fields";

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
});
