import { describe, expect, it } from "vitest";
import { dayBefore, seconds } from "./format";

describe("usage formatting", () => {
  it("counts days in UTC", () => {
    const now = new Date("2026-12-06T23:30:00-05:00"); // already the 7th in UTC
    expect(dayBefore(0, now)).toBe("2026-12-07");
    expect(dayBefore(30, now)).toBe("2026-11-07");
    expect(dayBefore(-1, now)).toBe("2026-12-08");
  });
  it("shows seconds, minutes and hours", () => {
    expect(seconds(42.46)).toBe("42.5 s");
    expect(seconds(750)).toBe("12 min 30 s");
    expect(seconds(3 * 3600 + 5 * 60 + 9)).toBe("3 h 05 min");
  });
});
