// RFC 9457 problem details as the API returns them, and what the forms need from them.
import type { components } from "./schema";

export type Problem = components["schemas"]["Problem"] & {
  errors?: { field: string; message: string }[];
};

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem | null;

  constructor(status: number, problem: Problem | null) {
    super(problem?.detail ?? problem?.title ?? `request failed (${status})`);
    this.status = status;
    this.problem = problem;
  }

  /** Each invalid field's message, by the field's name. */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of this.problem?.errors ?? []) out[e.field] = e.message;
    return out;
  }
}

function isProblem(value: unknown): value is Problem {
  return typeof value === "object" && value !== null && "status" in value && "title" in value;
}

/** The data of an openapi-fetch result, or an ApiError carrying its problem+json. */
/** For operations that answer 204 with no body (a DELETE): throws the problem, returns nothing. */
export function expectNoContent(result: { error?: unknown; response: Response }): void {
  if (!result.response.ok) throw new ApiError(result.response.status, isProblem(result.error) ? result.error : null);
}

export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data !== undefined && result.response.ok) return result.data;
  throw new ApiError(result.response.status, isProblem(result.error) ? result.error : null);
}
