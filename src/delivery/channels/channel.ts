/** What a channel's send answers: sent, or why not and whether trying again may help. */
export type SendOutcome =
  | { ok: true }
  | {
      ok: false;
      /** false: a permanent failure (a 4xx other than 408/429): the recipient fails at once. */
      retryable: boolean;
      error: string;
      /** The destination asked for this pause before the next try (`Retry-After`). */
      retryAfterMs?: number;
      /**
       * What the failure says about the destination host, for its circuit: `fault` (5xx, 408,
       * timeout, connection error, 429 without `Retry-After`) counts against it; `pacing` (429 with
       * `Retry-After`: the host metering its own load) counts neither way; absent, the host answered
       * and the problem is the recipient's (a success for the host).
       */
      host?: "fault" | "pacing";
    };
