import { describe, expect, it } from "vitest";
import { eventsLabel, outcome, sinceInstant, toggled, type WebhookDelivery } from "./format";

const attempt: WebhookDelivery = {
  object: "webhook_delivery",
  id: "d1",
  endpoint_id: "ep_1",
  webhook_id: "msg_1",
  event_type: "job.failed",
  job_id: "j1",
  attempt: 1,
  status: "failed",
  status_code: 500,
  error_class: null,
  latency_ms: 12.5,
  attempted_at: "2026-12-07T00:00:00Z",
};

describe("webhook formats", () => {
  it("labels an empty filter as the default types", () => {
    expect(eventsLabel([])).toBe("default (terminal events)");
    expect(eventsLabel(["job.started", "job.failed"])).toBe("job.started, job.failed");
  });
  it("toggles a type in and out of a filter", () => {
    expect(toggled(["job.failed"], "job.started")).toEqual(["job.failed", "job.started"]);
    expect(toggled(["job.failed", "job.started"], "job.failed")).toEqual(["job.started"]);
  });
  it("shows the status code, else the error class", () => {
    expect(outcome(attempt)).toBe("500");
    expect(outcome({ ...attempt, status_code: null, error_class: "ConnectError" })).toBe("ConnectError");
    expect(outcome({ ...attempt, status_code: null })).toBe("no answer");
  });
  it("turns a local date-time into an instant and refuses anything else", () => {
    expect(sinceInstant("2026-12-07T01:02")).toBe(new Date("2026-12-07T01:02").toISOString());
    expect(sinceInstant("yesterday")).toBeNull();
    expect(sinceInstant("")).toBeNull();
  });
});
