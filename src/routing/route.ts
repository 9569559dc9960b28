import { matchesTopic } from "./topic-matcher.js";

export type ExchangeType = "direct" | "fanout" | "topic";

export interface Binding {
  queue: string;
  /** Ignored by fanout exchanges; a word pattern for topic exchanges; an exact key for direct ones. */
  bindingKey: string;
}

export interface ExchangeInfo {
  name: string;
  type: ExchangeType;
  bindings: Binding[];
}

/** The queues a message published with `routingKey` goes to, each once, in binding order. */
export function routeMessage(exchange: ExchangeInfo, routingKey: string): string[] {
  const queues = new Set<string>();
  for (const binding of exchange.bindings) {
    const matches =
      exchange.type === "fanout" ||
      (exchange.type === "direct" && binding.bindingKey === routingKey) ||
      (exchange.type === "topic" && matchesTopic(binding.bindingKey, routingKey));
    if (matches) queues.add(binding.queue);
  }
  return [...queues];
}
