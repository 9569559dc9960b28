/**
 * A confirmation before anything that cannot be undone (purge, delete, replay): a native modal
 * <dialog>, so focus stays in it, Escape cancels (until the action has begun) and the page behind
 * is inert. Cancel has the focus first: Enter alone never destroys anything.
 */
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

export interface ConfirmRequest {
  title: string;
  body: ComponentChildren;
  action: string;
  run(): Promise<unknown>;
}

export function useConfirm() {
  const [request, setRequest] = useState<ConfirmRequest | undefined>();
  const dialog = request && <ConfirmDialog request={request} onDone={() => setRequest(undefined)} />;
  return { ask: setRequest, dialog };
}

function ConfirmDialog({ request, onDone }: { request: ConfirmRequest; onDone(): void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await request.run();
      ref.current?.close();
    } catch (caught) {
      setError((caught as Error).message);
      setBusy(false);
    }
  };
  return (
    <dialog
      ref={ref}
      class="confirm"
      // While the action runs, Escape would close the dialog without stopping it, and its error would then be shown to no one.
      onCancel={(event) => busy && event.preventDefault()}
      onClose={onDone}
      aria-labelledby="confirm-title"
    >
      <h2 id="confirm-title">{request.title}</h2>
      <div class="confirm-body">{request.body}</div>
      {error && (
        <p class="error-text" role="alert">
          {error}
        </p>
      )}
      <div class="actions">
        <button type="button" autofocus onClick={() => ref.current?.close()} disabled={busy}>
          Cancel
        </button>
        <button type="button" class="danger" onClick={() => void confirm()} disabled={busy}>
          {busy ? "Working…" : request.action}
        </button>
      </div>
    </dialog>
  );
}
