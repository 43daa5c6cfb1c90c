import { afterEach, describe, expect, it } from "vitest";
import { cleanup, render, screen, within } from "@testing-library/react";
import type { PoolState } from "../../api/client";
import { PoolStates, gangOf } from "./PoolPage";

afterEach(cleanup);

const state: PoolState = {
  object: "pool_state",
  data: [
    {
      pool: "default",
      taken_at: "2026-12-07T00:00:00Z",
      busy: 1,
      idle: 1,
      queued: 3,
      slots: [
        {
          slot: 0,
          worker_id: "w-0",
          gpu_name: "NVIDIA H100",
          last_seen: "2026-12-07T00:00:00Z",
          state: "busy",
          job: { id: "job-1", tenant: "acme", model: "tiny-mochi", attempt: 1, since: "2026-12-07T00:00:00Z", gang: [] },
        },
        { slot: 1, worker_id: "w-1", gpu_name: null, last_seen: "2026-12-07T00:00:00Z", state: "idle", job: null },
      ],
      queues: [
        { tenant: "acme", queued: 2 },
        { tenant: "beta", queued: 1 },
      ],
    },
  ],
};

describe("PoolStates", () => {
  it("shows each slot busy with its job and tenant, or idle, and the queue per tenant", () => {
    render(<PoolStates pending={false} error={null} data={state} />);
    expect(screen.getByText("1 busy, 1 idle, 3 queued", { exact: false })).toBeTruthy();
    const slots = screen.getByRole("table", { name: "Slots of default" });
    const busy = slots.querySelector<HTMLElement>('[data-slot="0"]');
    const idle = slots.querySelector<HTMLElement>('[data-slot="1"]');
    if (busy === null || idle === null) throw new Error("missing slot rows");
    expect(within(busy).getAllByRole("cell").map((c) => c.textContent).slice(0, 6)).toEqual(["0", "busy", "NVIDIA H100", "job-1", "acme", "tiny-mochi"]);
    expect(within(busy).getByRole("link", { name: "job-1" }).getAttribute("href")).toBe("#/jobs/job-1");
    expect(within(idle).getAllByRole("cell").map((c) => c.textContent)).toEqual(["1", "idle", "—", "—", "—", "—", "—", "—"]);
    const queue = screen.getByRole("table", { name: "Queue of default" });
    expect(within(queue).getAllByRole("row").slice(1).map((r) => r.textContent)).toEqual(["acme2", "beta1"]);
  });

  it("has loading, error and empty states", () => {
    render(<PoolStates pending={true} error={null} data={undefined} />);
    expect(screen.getByRole("status").textContent).toContain("Loading the pool");
    cleanup();
    render(<PoolStates pending={false} error={new Error("the pool view is not available on this replica yet")} data={undefined} />);
    expect(screen.getByRole("alert").textContent).toContain("not available");
    cleanup();
    render(<PoolStates pending={false} error={null} data={{ object: "pool_state", data: [] }} />);
    expect(screen.getByText("No pool has published its state yet.")).toBeTruthy();
    cleanup();
    const quiet = { ...state.data[0]!, busy: 0, idle: 0, queued: 0, slots: [], queues: [] };
    render(<PoolStates pending={false} error={null} data={{ object: "pool_state", data: [quiet] }} />);
    expect(screen.getByText("No worker has reported to this pool yet.")).toBeTruthy();
    expect(screen.getByText("Nothing queued.")).toBeTruthy();
  });

  it("names a gang's slots on each of them, the leader first", () => {
    expect(gangOf(2, [2, 3])).toBe("leader of 2: slots 2, 3");
    expect(gangOf(3, [2, 3])).toBe("member of 2: slots 2, 3");
    expect(gangOf(0, [])).toBe("—");
  });
});
