/** The queues batch delivery runs on: one per channel, `delivery.<channel>`, internal to the server. */
import type { ChannelName } from "./types.js";

export const CHANNELS: readonly ChannelName[] = ["webhook", "mock", "websocket"];

export function deliveryQueueName(channel: ChannelName): string {
  return `delivery.${channel}`;
}

const DELIVERY_QUEUES: ReadonlySet<string> = new Set(CHANNELS.map(deliveryQueueName));

/** True for a channel queue of batch delivery (not for any queue that merely starts with `delivery.`). */
export function isDeliveryQueue(name: string): boolean {
  return DELIVERY_QUEUES.has(name);
}
