/** What a page shows while loading, when it has nothing, and when the server said no. */
import type { ComponentChildren } from "preact";
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
