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
      /** The failure says something about the destination host (5xx, 429, timeout, refused): counts against its circuit. */
      hostFault?: boolean;
    };
