/** The client a remote command uses, and what "cannot connect" looks like to the person typing. */
import { SpoolClient } from "../client/spool-client.js";
import { SpoolError, UnavailableError, ValidationError } from "../core/errors.js";
import type { RemoteOptions } from "./options.js";

/** Checked here too (the client checks as well) so the message names the option, not SpoolClient. */
export function connect(options: RemoteOptions): SpoolClient {
  if (!/^https?:\/\/./.test(options.url) || !URL.canParse(options.url)) {
    throw new ValidationError(`--url: expected an http(s) URL, got ${JSON.stringify(options.url)}`, [{ path: "--url", message: "expected an http(s) URL" }]);
  }
  return new SpoolClient({ url: options.url, ...(options.key ? { apiKey: options.key } : {}) });
}

/**
 * Runs `work` with a client, closed afterwards. A failure to reach the server (refused, unknown
 * host, reset) becomes one `unavailable` error naming the URL the command used: a default
 * `--url` or a stale SPOOL_URL is the usual cause, so that is what the person needs to see.
 */
export async function withClient<T>(options: RemoteOptions, work: (client: SpoolClient) => Promise<T>): Promise<T> {
  const client = connect(options);
  try {
    return await work(client);
  } catch (error) {
    if (error instanceof SpoolError && error.code !== "unavailable") throw error;
    const reason = networkReason(error);
    if (reason !== undefined) throw new UnavailableError(`cannot reach the Spool server at ${options.url}: ${reason}`, error);
    throw error;
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** "connect ECONNREFUSED 127.0.0.1:7400" from fetch's error or its causes; undefined if it is not a network failure. */
function networkReason(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^(E[A-Z]+|UND_ERR_\w+)$/.test(code)) return current.message.includes(code) ? current.message : `${code} ${current.message}`;
    if (current instanceof AggregateError && current.errors[0] instanceof Error) return networkReason(current.errors[0]);
  }
  return undefined;
}
