/**
 * Leased messages leave the server as JSON text built around the stored body, which is already
 * JSON: parsing it only to serialize it again would double the cost of every lease response.
 */
import type { LeasedStoredMessage, StoredMessage } from "../core/message.js";

const str = JSON.stringify;

function messageFields(m: StoredMessage): string {
  let text = `"id":${str(m.id)},"queue":${str(m.queue)},"body":${m.body},"headers":${m.headers === undefined ? "{}" : str(m.headers)}`;
  text += `,"priority":${m.priority},"attempt":${m.attempt},"maxAttempts":${m.maxAttempts},"publishedAt":${m.publishedAt},"availableAt":${m.availableAt}`;
  if (m.groupKey !== undefined) text += `,"groupKey":${str(m.groupKey)}`;
  if (m.expiresAt !== undefined) text += `,"expiresAt":${m.expiresAt}`;
  if (m.correlationId !== undefined) text += `,"correlationId":${str(m.correlationId)}`;
  if (m.causationId !== undefined) text += `,"causationId":${str(m.causationId)}`;
  return text;
}

export function leasedMessagesJson(messages: LeasedStoredMessage[]): string {
  let text = '{"messages":[';
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (i > 0) text += ",";
    text += `{${messageFields(m)},"leaseToken":${str(m.leaseToken)},"leaseUntil":${m.leaseUntil}}`;
  }
  return text + "]}";
}
