import { describe, expect, it } from "vitest";
import { barPercent, renderTime, widestP95 } from "./format";

describe("load formatting", () => {
  it("shows a dash for a class without jobs", () => {
    expect(renderTime(null)).toBe("—");
    expect(renderTime(90)).toBe("1 min 30 s");
  });
  it("scales bars to the widest p95", () => {
    const rows = [{ p95_seconds: 40 }, { p95_seconds: null }, { p95_seconds: 160 }];
    expect(widestP95(rows)).toBe(160);
    expect(barPercent(40, 160)).toBe(25);
    expect(barPercent(160, 160)).toBe(100);
    expect(barPercent(null, 160)).toBe(0);
    expect(barPercent(5, 0)).toBe(0);
  });
});
