// RFC 9457 problem details as the API returns them (application/problem+json), as one typed error.
import type { components } from "./schema.js";

export type Problem = components["schemas"]["Problem"] & {
  errors?: { field: string; message: string }[];
};

/** A request the API refused: the HTTP status and, when the body was problem+json, the problem. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem | null;

  constructor(status: number, problem: Problem | null) {
    super(problem?.detail ?? problem?.title ?? `request failed (${status})`);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
  }

  /** The problem's type URI ("about:blank" when it has none). */
  get type(): string {
    return this.problem?.type ?? "about:blank";
  }

  /** Each invalid field's message, by the field's name (a 422's `errors`). */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of this.problem?.errors ?? []) out[e.field] = e.message;
    return out;
  }
}

export function isProblem(value: unknown): value is Problem {
  return typeof value === "object" && value !== null && "status" in value && "title" in value;
}

type Result<T> = { data?: T; error?: unknown; response: Response };

/** The data of an openapi-fetch result, or an ApiError carrying its problem+json. */
export function unwrap<T>(result: Result<T>): T {
  if (result.data !== undefined && result.response.ok) return result.data;
  throw new ApiError(result.response.status, isProblem(result.error) ? result.error : null);
}

/** For operations that answer 204 with no body (a DELETE): throws the problem, returns nothing. */
export function expectNoContent(result: Result<unknown>): void {
  if (!result.response.ok) throw new ApiError(result.response.status, isProblem(result.error) ? result.error : null);
}
