/**
 * The shell: finds out who the tab is (`GET /v1/whoami`), asks for a key when the server wants
 * one, then shows the navigation and the page the hash names.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { ApiError} from "./lib/api.js";
import { get, onKeyRefused } from "./lib/api.js";
import { abilitiesOf, IdentityContext } from "./lib/identity.js";
import { forgetKey, storedKey, storeKey } from "./lib/key-store.js";
import { startLiveStats, stopLiveStats, useLiveStats } from "./lib/live-stats.js";
import { href, useRoute, type Route } from "./lib/router.js";
import type { WhoAmI } from "./lib/types.js";
import { ErrorBox, Loading } from "./components/states.js";
import { KeyPrompt } from "./pages/key-prompt.js";
import { Overview } from "./pages/overview.js";
import { QueuePage } from "./pages/queue.js";
import { MessagePage } from "./pages/message.js";
import { DeadLetters } from "./pages/dead-letters.js";
import { Batches } from "./pages/batches.js";
import { BatchPage } from "./pages/batch.js";
import { Exchanges } from "./pages/exchanges.js";

type Session = { phase: "checking" } | { phase: "key"; refused?: string } | { phase: "down"; error: ApiError } | { phase: "in"; who: WhoAmI };

export function App() {
  const [session, setSession] = useState<Session>({ phase: "checking" });
  const [attempt, setAttempt] = useState(0);

  const phase = useRef(session.phase);
  phase.current = session.phase;

  useEffect(() => {
    let cancelled = false;
    setSession({ phase: "checking" });
    const hadKey = storedKey() !== undefined;
    get<WhoAmI>("/v1/whoami").then(
      (who) => !cancelled && setSession({ phase: "in", who }),
      (error: ApiError) => {
        if (cancelled) return;
        if (error.kind === "unauthorized") {
          forgetKey();
          setSession({ phase: "key", refused: hadKey ? error.message : undefined });
        } else setSession({ phase: "down", error });
      },
    );
    return () => void (cancelled = true);
  }, [attempt]);

  // A key refused later (revoked, server restarted with other keys): ask again.
  useEffect(
    () =>
      onKeyRefused((error) => {
        // While the key is being checked, the check itself says what happened.
        if (phase.current !== "in") return;
        forgetKey();
        stopLiveStats();
        setSession({ phase: "key", refused: error.message });
      }),
    [],
  );

  useEffect(() => {
    if (session.phase !== "in") return;
    startLiveStats();
    return stopLiveStats;
  }, [session.phase === "in" ? session.who : undefined]);

  if (session.phase === "checking") return <Loading what="the dashboard" />;
  if (session.phase === "down")
    return (
      <main class="page narrow">
        <h1>Spool</h1>
        <ErrorBox error={session.error} retry={() => setAttempt((n) => n + 1)} />
      </main>
    );
  if (session.phase === "key")
    return (
      <KeyPrompt
        refused={session.refused}
        onKey={(key) => {
          storeKey(key);
          setAttempt((n) => n + 1);
        }}
      />
    );
  const who = session.who;
  const leave = () => {
    forgetKey();
    stopLiveStats();
    setSession({ phase: "key" });
  };
  return (
    <IdentityContext.Provider value={{ who, can: abilitiesOf(who) }}>
      <Shell who={who} onForget={leave} />
    </IdentityContext.Provider>
  );
}

const NAV = [
  { to: "", label: "Overview" },
  { to: "dead", label: "Dead letters" },
  { to: "batches", label: "Batches" },
  { to: "exchanges", label: "Exchanges" },
];

function Shell({ who, onForget }: { who: WhoAmI; onForget(): void }) {
  const route = useRoute();
  const live = useLiveStats();
  const section = route.parts[0] ?? "";
  const active = section === "queues" || section === "messages" ? "" : section;
  return (
    <>
      <a class="skip" href="#main" onClick={(event) => (event.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href()}>
          Spool
        </a>
        <nav aria-label="Pages">
          {NAV.map((item) => (
            <a key={item.to} href={href(item.to)} aria-current={active === item.to ? "page" : undefined}>
              {item.label}
            </a>
          ))}
        </nav>
        <div class="who">
          <span class={`live-dot ${live.state}`} title={`Live stats: ${live.state}`} aria-label={`Live stats: ${live.state}`} />
          {who.auth ? (
            <>
              <span class="key-name" title={`scopes: ${who.scopes.join(", ")}${who.queues ? `; queues: ${who.queues.join(", ")}` : ""}`}>
                key <strong>{who.name}</strong> <span class="muted">({who.scopes.join(", ")})</span>
              </span>
              <button type="button" class="link" onClick={onForget}>
                Forget key
              </button>
            </>
          ) : (
            <span class="muted">no keys (loopback)</span>
          )}
        </div>
      </header>
      <main id="main" class="page" tabIndex={-1}>
        <Page route={route} />
      </main>
    </>
  );
}

function Page({ route }: { route: Route }) {
  const [section, id] = route.parts;
  switch (section) {
    case undefined:
      return <Overview />;
    case "queues":
      return id === undefined ? <Overview /> : <QueuePage name={id} />;
    case "messages":
      return <MessagePage id={id ?? ""} />;
    case "dead":
      return <DeadLetters queue={route.query.get("queue") ?? undefined} reason={route.query.get("reason") ?? undefined} />;
    case "batches":
      return id === undefined ? <Batches /> : <BatchPage id={id} status={route.query.get("status") ?? undefined} />;
    case "exchanges":
      return <Exchanges />;
    default:
      return (
        <>
          <h1>No such page</h1>
          <p>
            <a href={href()}>Back to the overview</a>
          </p>
        </>
      );
  }
}
