import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { DataTable, fromQuery, ListStates, type ListState } from "./DataTable";

afterEach(cleanup);

interface Row {
  id: string;
  size: number;
}

const columns = [
  { header: "Id", cell: (row: Row) => <code>{row.id}</code> },
  { header: "Size", cell: (row: Row) => `${row.size} B` },
  { header: "Actions", hidden: true, cell: (row: Row) => <button type="button">Drop {row.id}</button> },
];

function show(state: ListState<Row>) {
  render(
    <ListStates state={state} what="rows" empty="Nothing here.">
      {(rows) => <DataTable label="Rows" columns={columns} rows={rows} rowKey={(r) => r.id} rowData={(r) => ({ "data-row-id": r.id })} />}
    </ListStates>,
  );
}

describe("DataTable", () => {
  it("renders a header per column (a hidden one for screen readers only) and a row per item with its data attributes", () => {
    show({ pending: false, error: null, rows: [{ id: "a", size: 1 }, { id: "b", size: 2 }] });
    const table = screen.getByRole("table", { name: "Rows" });
    const headers = within(table).getAllByRole("columnheader");
    expect(headers.map((h) => h.textContent)).toEqual(["Id", "Size", "Actions"]);
    expect(headers[2]?.querySelector(".visually-hidden")).not.toBeNull();
    const row = table.querySelector<HTMLElement>('[data-row-id="b"]');
    if (row === null) throw new Error("no row b");
    expect(within(row).getAllByRole("cell").map((c) => c.textContent)).toEqual(["b", "2 B", "Drop b"]);
  });
});

describe("ListStates", () => {
  it("shows loading, then the error with a retry, then the empty state", () => {
    show({ pending: true, error: null, rows: undefined });
    expect(screen.getByRole("status").textContent).toContain("Loading rows");
    cleanup();
    const retry = vi.fn();
    show({ pending: false, error: new Error("the view is not ready"), rows: undefined, retry });
    expect(screen.getByRole("alert").textContent).toContain("the view is not ready");
    fireEvent.click(screen.getByRole("button", { name: "Try again" }));
    expect(retry).toHaveBeenCalledOnce();
    expect(screen.queryByText("Nothing here.")).toBeNull();
    cleanup();
    show({ pending: false, error: null, rows: [] });
    expect(screen.getByText("Nothing here.")).toBeTruthy();
    expect(screen.queryByRole("table")).toBeNull();
  });

  it("keeps the rows it had under a failed refresh's error", () => {
    show({ pending: false, error: new Error("refresh failed"), rows: [{ id: "a", size: 1 }] });
    expect(screen.getByRole("alert").textContent).toContain("refresh failed");
    expect(screen.getByRole("table", { name: "Rows" })).toBeTruthy();
  });

  it("takes its state from a query result", () => {
    const refetch = vi.fn();
    const state = fromQuery({ isPending: false, isError: true, error: "boom", data: { data: [{ id: "a", size: 1 }] }, refetch }, (page) => page.data);
    expect(state.pending).toBe(false);
    expect(state.error).toBe("boom");
    expect(state.rows).toEqual([{ id: "a", size: 1 }]);
    state.retry?.();
    expect(refetch).toHaveBeenCalledOnce();
    expect(fromQuery({ isPending: true, isError: false, error: null, data: undefined, refetch }, (page: { data: Row[] }) => page.data).rows).toBeUndefined();
  });
});
