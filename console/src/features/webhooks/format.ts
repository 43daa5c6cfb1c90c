// Pure helpers of the webhooks page: the event types an endpoint may name, labels, the resend window.
import type { components } from "@reelstream/client";

export type WebhookEndpoint = components["schemas"]["WebhookEndpoint"];
export type WebhookDelivery = components["schemas"]["WebhookDelivery"];
export type EventType = NonNullable<components["schemas"]["WebhookEndpointUpdate"]["event_types"]>[number];

/** Every type a filter may name (the API's enum: a type added there fails `satisfies` here). */
export const EVENT_TYPES = [
  "job.queued",
  "job.started",
  "job.progress",
  "job.succeeded",
  "job.failed",
  "job.canceled",
  "job.rejected",
  "job.expired",
  "job.deleted",
  "endpoint.disabled",
] as const satisfies readonly EventType[];

/** An empty filter means the default types (terminal events, job.deleted, endpoint.disabled). */
export function eventsLabel(types: readonly string[]): string {
  return types.length === 0 ? "default (terminal events)" : types.join(", ");
}

export function toggled(types: readonly EventType[], type: EventType): EventType[] {
  return types.includes(type) ? types.filter((t) => t !== type) : [...types, type];
}

/** What an attempt got back: the HTTP status, or why none came. */
export function outcome(delivery: WebhookDelivery): string {
  if (delivery.status_code !== null) return String(delivery.status_code);
  return delivery.error_class ?? "no answer";
}

/** A `datetime-local` value (the browser's zone) as an ISO instant, or null when it is not one. */
export function sinceInstant(local: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(local)) return null;
  const when = new Date(local);
  return Number.isNaN(when.getTime()) ? null : when.toISOString();
}
