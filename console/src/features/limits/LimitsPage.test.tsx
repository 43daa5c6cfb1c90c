import { afterEach, describe, expect, it } from "vitest";
import { cleanup, render, screen } from "@testing-library/react";
import type { Limits } from "../../api/client";
import { LimitsDetails } from "./LimitsPage";

afterEach(cleanup);

const limits: Limits = {
  object: "limits",
  tenant: "t1",
  as_of: "2026-12-07T00:00:00Z",
  rate: 1,
  burst: 5,
  tokens: 3.7,
  queued: 2,
  queued_cap: 10,
  running_cap: 4,
  over: null,
  throttled_until: null,
  gpu_seconds: { budget: 14400, window_seconds: 3600, used: 90, remaining: 14310 },
};

describe("LimitsDetails", () => {
  it("shows the GPU budget's use, the queue and the submissions", () => {
    render(<LimitsDetails limits={limits} />);
    expect(screen.getByText("1 min 30 s used, 3 h 58 min left of 4 h 00 min per 1 h 00 min")).toBeTruthy();
    expect(screen.getByText("2 of 10 jobs waiting or running, 4 at once")).toBeTruthy();
    expect(screen.getByText("3 of 5 now, refilling 1/s")).toBeTruthy();
  });

  it("says when there is no budget, and what the tenant is over", () => {
    render(<LimitsDetails limits={{ ...limits, gpu_seconds: null, over: "queued", as_of: null }} />);
    expect(screen.getByText("no budget")).toBeTruthy();
    expect(screen.getByText("queued")).toBeTruthy();
    expect(screen.getByText(/Nothing submitted yet/)).toBeTruthy();
  });
});
