import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import type { Tenant } from "../../api/client";
import { TenantTable } from "./TenantsPage";

afterEach(cleanup);

const limits = { rate: 1, burst: 5, queued: 100, running: null, gang: null };
const tenant = (id: string, status: Tenant["status"], gang: number | null = null): Tenant => ({
  object: "tenant",
  id,
  name: id.toUpperCase(),
  status,
  limits: { ...limits, gang },
  retention_days: 30,
  video_retention_days: null,
  created_at: "2026-12-07T00:00:00Z",
  updated_at: "2026-12-07T00:00:00Z",
});

function show(tenants: Tenant[]) {
  render(
    <QueryClientProvider client={new QueryClient()}>
      <TenantTable tenants={tenants} />
    </QueryClientProvider>,
  );
}

describe("TenantTable", () => {
  it("offers suspend to an active tenant, resume to a suspended one, nothing to a deleted one", () => {
    show([tenant("acme", "active"), tenant("beta", "suspended"), tenant("gone", "deleted")]);
    const row = (id: string) => {
      const found = screen.getByRole("table", { name: "Tenants" }).querySelector<HTMLElement>(`[data-tenant-id="${id}"]`);
      if (found === null) throw new Error(`no row ${id}`);
      return within(found).queryAllByRole("button").map((b) => b.textContent);
    };
    expect(row("acme")).toEqual(["Retention", "Suspend", "Delete"]);
    expect(row("beta")).toEqual(["Retention", "Resume", "Delete"]);
    expect(row("gone")).toEqual([]);
  });

  it("shows how many slots a low-latency tenant's job may take at once", () => {
    show([tenant("fast", "active", 4), tenant("plain", "active")]);
    const table = screen.getByRole("table", { name: "Tenants" });
    expect(within(table).getByText("up to 4 slots")).toBeTruthy();
    expect(within(table).getByText("spare slots only")).toBeTruthy();
  });

  it("deletes only once the id is typed again", () => {
    show([tenant("acme", "active")]);
    fireEvent.click(screen.getByRole("button", { name: "Delete acme" }));
    const dialog = screen.getByRole("alertdialog", { name: "Delete tenant acme" });
    const confirm = within(dialog).getByRole("button", { name: "Delete for good" }) as HTMLButtonElement;
    expect(confirm.disabled).toBe(true);
    fireEvent.change(within(dialog).getByLabelText("Type acme to confirm"), { target: { value: "acm" } });
    expect(confirm.disabled).toBe(true);
    fireEvent.change(within(dialog).getByLabelText("Type acme to confirm"), { target: { value: "acme" } });
    expect(confirm.disabled).toBe(false);
    fireEvent.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("alertdialog")).toBeNull();
  });

  it("shows each tenant's retention overrides and edits them, an empty field meaning the platform's", () => {
    show([tenant("acme", "active")]);
    const table = screen.getByRole("table", { name: "Tenants" });
    expect(within(table).getByText("30 d / default")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Edit retention of acme" }));
    const form = screen.getByRole("form", { name: "Retention of acme" });
    expect((within(form).getByLabelText("Job records") as HTMLInputElement).value).toBe("30");
    expect((within(form).getByLabelText("Videos") as HTMLInputElement).value).toBe("");
    fireEvent.click(within(form).getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("form")).toBeNull();
  });
});
