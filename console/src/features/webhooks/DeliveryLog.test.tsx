import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { DeliveryTable } from "./DeliveryLog";
import type { WebhookDelivery } from "./format";

afterEach(cleanup);

const base: WebhookDelivery = {
  object: "webhook_delivery",
  id: "d2",
  endpoint_id: "ep_1",
  webhook_id: "msg_1",
  event_type: "job.failed",
  job_id: "j1",
  attempt: 2,
  status: "delivered",
  status_code: 204,
  error_class: null,
  latency_ms: 8.4,
  attempted_at: "2026-12-07T00:00:01Z",
};

describe("DeliveryTable", () => {
  it("shows each attempt and offers a resend for the failed ones only", () => {
    const onResend = vi.fn();
    const failed = { ...base, id: "d1", attempt: 1, status: "failed" as const, status_code: 500 };
    render(<DeliveryTable data={[base, failed]} onResend={onResend} />);
    const rows = within(screen.getByRole("table", { name: "Delivery attempts" })).getAllByRole("row").slice(1);
    expect(rows.map((row) => row.getAttribute("data-status"))).toEqual(["delivered", "failed"]);
    expect(rows[1]?.textContent).toContain("failed (500)");
    expect(within(rows[0] as HTMLElement).queryByRole("button", { name: "Resend" })).toBeNull();
    fireEvent.click(within(rows[1] as HTMLElement).getByRole("button", { name: "Resend" }));
    expect(onResend).toHaveBeenCalledWith("d1");
  });
});
