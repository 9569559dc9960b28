/** The key, asked once per tab; a refused key is said so plainly. */
import { useState } from "preact/hooks";

export function KeyPrompt({ refused, onKey }: { refused?: string; onKey(key: string): void }) {
  const [key, setKey] = useState("");
  return (
    <main class="page narrow">
      <h1>Spool</h1>
      <form
        class="card key-form"
        onSubmit={(event) => {
          event.preventDefault();
          if (key.trim() !== "") onKey(key.trim());
        }}
      >
        <h2>API key</h2>
        {refused && (
          <div class="state error" role="alert">
            <strong>The server refused this key.</strong>
            <p>
              It answered “{refused}”. Check the key and type it again.
            </p>
          </div>
        )}
        <p>This server needs an API key. It is kept in this tab only (sessionStorage) and sent to this server alone.</p>
        <label for="api-key">Key</label>
        <input id="api-key" type="password" autoComplete="off" spellcheck={false} value={key} onInput={(event) => setKey(event.currentTarget.value)} placeholder="spool_…" required />
        <button type="submit" class="primary">
          Open the dashboard
        </button>
      </form>
    </main>
  );
}
