import type { ReactNode } from "react";
import { Empty, ErrorState, Loading } from "./States";

/** One column: its header (`hidden` keeps it for screen readers only, as an actions column's) and its cell. */
export interface Column<T> {
  header: string;
  hidden?: boolean;
  cell: (row: T) => ReactNode;
}

/** A list's table: a header row, then one row per item, keyed by `rowKey`; `rowData` adds `data-*`
 * attributes to a row (what the browser tests find rows by). */
export function DataTable<T>({
  label,
  columns,
  rows,
  rowKey,
  rowData,
}: {
  label?: string;
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string | number;
  rowData?: (row: T) => Record<`data-${string}`, string | number>;
}) {
  return (
    <table aria-label={label}>
      <thead>
        <tr>
          {columns.map((column) => (
            <th key={column.header} scope="col">
              {column.hidden ? <span className="visually-hidden">{column.header}</span> : column.header}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={rowKey(row)} {...rowData?.(row)}>
            {columns.map((column) => (
              <td key={column.header}>{column.cell(row)}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** What a list view needs of its query: `pending` before the first answer, `error` (null when none), the
 * `rows` once answered, and `retry`. `fromQuery` takes them from a react-query result. */
export interface ListState<T> {
  pending: boolean;
  error: unknown;
  rows: T[] | undefined;
  retry?: () => void;
}

export function fromQuery<D, T>(
  query: { isPending: boolean; isError: boolean; error: unknown; data: D | undefined; refetch: () => unknown },
  rows: (data: D) => T[],
): ListState<T> {
  return {
    pending: query.isPending,
    error: query.isError ? query.error : null,
    rows: query.data === undefined ? undefined : rows(query.data),
    retry: () => void query.refetch(),
  };
}

/** The loading, error and empty states of a list, then `children` with its rows once there are some (a failed
 * refresh shows its error above the rows it had). */
export function ListStates<T>({
  state,
  what,
  empty,
  children,
}: {
  state: ListState<T>;
  what: string;
  empty: ReactNode;
  children: (rows: T[]) => ReactNode;
}) {
  if (state.pending) return <Loading what={what} />;
  const rows = state.rows ?? [];
  const failed = state.error !== null;
  return (
    <>
      {failed && <ErrorState error={state.error} retry={state.retry} />}
      {!failed && rows.length === 0 && <Empty>{empty}</Empty>}
      {rows.length > 0 && children(rows)}
    </>
  );
}
