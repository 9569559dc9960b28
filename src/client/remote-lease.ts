import type { LeasedMessage } from "../message-types.js";
import type { HttpTransport } from "./http-transport.js";

export interface RemoteLeaseRequest {
  max?: number;
  leaseMs?: number;
  /** Long-poll: the server holds the request up to this long when nothing is leasable. */
  waitMs?: number;
  signal?: AbortSignal;
}

/**
 * `POST /v1/queues/:q/lease`. Like the library's `queue.lease`, a lease whose `signal` aborts
 * answers [] rather than throwing: the caller has stopped waiting for what it would take.
 */
export async function leaseRemote<T>(transport: HttpTransport, queue: string, request: RemoteLeaseRequest): Promise<LeasedMessage<T>[]> {
  const { signal, max, leaseMs, waitMs } = request;
  if (signal?.aborted) return [];
  try {
    const answer = await transport.request<{ messages: LeasedMessage<T>[] }>("POST", `/v1/queues/${encodeURIComponent(queue)}/lease`, {
      body: { max, leaseMs, waitMs },
      signal,
      extraTimeoutMs: waitMs,
    });
    return answer.messages;
  } catch (error) {
    if (signal?.aborted) return [];
    throw error;
  }
}
