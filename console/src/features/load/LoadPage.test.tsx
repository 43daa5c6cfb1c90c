import { afterEach, describe, expect, it } from "vitest";
import { cleanup, render, screen, within } from "@testing-library/react";
import type { RenderLoad } from "../../api/client";
import { LoadTables } from "./LoadPage";

afterEach(cleanup);

const none = { count: 0, mean_seconds: null, p50_seconds: null, p95_seconds: null };
const load: RenderLoad = {
  object: "render_load",
  tenant: "t1",
  from: null,
  to: null,
  limit: 2,
  complete: false,
  total: { count: 2, mean_seconds: 45, p50_seconds: 10, p95_seconds: 80 },
  by_frames: [
    { class: "0-31", count: 1, mean_seconds: 10, p50_seconds: 10, p95_seconds: 10 },
    { class: "32-85", count: 1, mean_seconds: 80, p50_seconds: 80, p95_seconds: 80 },
    { class: "86-169", ...none },
    { class: "170+", ...none },
  ],
  by_prompt_words: [{ class: "0-15", count: 2, mean_seconds: 45, p50_seconds: 10, p95_seconds: 80 }],
};

describe("LoadTables", () => {
  it("shows every class, a dash for empty ones, and that older jobs were not read", () => {
    render(<LoadTables load={load} />);
    const frames = screen.getByRole("table", { name: "Render time by frames" });
    const rows = within(frames).getAllByRole("row").slice(1);
    expect(rows.map((row) => row.getAttribute("data-load-row"))).toEqual(["0-31", "32-85", "86-169", "170+"]);
    const cells = (name: string) => {
      const row = frames.querySelector<HTMLElement>(`[data-load-row="${name}"]`);
      if (row === null) throw new Error(`no row ${name}`);
      return within(row).getAllByRole("cell").map((cell) => cell.textContent);
    };
    expect(cells("32-85").slice(0, 4)).toEqual([
      "1",
      "1 min 20 s",
      "1 min 20 s",
      "1 min 20 s",
    ]);
    expect(cells("86-169").slice(0, 2)).toEqual(["0", "—"]);
    expect(screen.getByText(/older jobs were not read/)).toBeTruthy();
  });

  it("says so when no job succeeded", () => {
    render(<LoadTables load={{ ...load, total: none }} />);
    expect(screen.getByText("No succeeded jobs in this window.")).toBeTruthy();
  });
});
