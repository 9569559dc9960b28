/** What a page shows while loading, when it has nothing, and when the server said no. */
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import type { ApiError } from "../lib/api.js";

export function Loading({ what }: { what: string }) {
  return (
    <p class="state loading" role="status">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="state empty">{children}</p>;
}

export function ErrorBox({ error, retry }: { error: ApiError | Error; retry?: () => void }) {
  const api = error as Partial<ApiError>;
  const title =
    api.kind === "unreachable"
      ? "The server does not answer"
      : api.kind === "forbidden"
        ? "This key may not see this"
        : api.kind === "unauthorized"
          ? "The key was refused"
          : api.code === "not_found"
            ? "Not found"
            : "The server answered with an error";
  return (
    <div class="state error" role="alert">
      <strong>{title}</strong>
      <p>{error.message}</p>
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

/**
 * The outcome of an action ("Purged 50."), focused when it appears: the button that did it is
 * often gone by then (a replayed dead letter leaves the list, Pause turns into Resume), and focus
 * left on a removed element drops to the top of the document. Each outcome is a new object, so
 * the same words twice are announced and focused twice.
 */
export function Notice({ notice }: { notice: { text: string; failed?: boolean } | undefined }) {
  const ref = useRef<HTMLParagraphElement>(null);
  useEffect(() => ref.current?.focus(), [notice]);
  if (notice === undefined) return null;
  // A failure reads as one: in the error box's colours, announced at once.
  return (
    <p ref={ref} class={notice.failed ? "state error" : "notice"} role={notice.failed ? "alert" : "status"} tabIndex={-1}>
      {notice.text}
    </p>
  );
}
