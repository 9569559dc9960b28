/**
 * Dead letters of one queue: filter by reason, read a body and its last error, replay one, the
 * selected or all, delete, purge (each after a confirmation), and follow each replayed message
 * until it completes or dies again. Needs the admin scope, as the API's dead-letter routes do.
 */
import { useEffect, useState } from "preact/hooks";
import { useConfirm } from "../components/confirm.js";
import { Empty, ErrorBox, Loading, Notice } from "../components/states.js";
import { Time } from "../components/time.js";
import { del, get, post, seg, type ApiError } from "../lib/api.js";
import { count, json, prettyBody } from "../lib/format.js";
import { useLoad } from "../lib/hooks.js";
import { useIdentity } from "../lib/identity.js";
import { useLiveStats } from "../lib/live-stats.js";
import { href } from "../lib/router.js";
import type { DeadLetter, MessageStatus } from "../lib/types.js";
import { LastError, SETTLED, StateBadge } from "./message.js";

const PAGE = 100;
/** The most ids one replay request may name (the API's batch limit). */
const REPLAY_BATCH = 10_000;
const REASONS = ["max_attempts", "permanent_error", "expired", "rejected", "overflow"];

export function DeadLetters({ queue, reason }: { queue?: string; reason?: string }) {
  const { can } = useIdentity();
  const live = useLiveStats();
  const queues = live.snapshot?.queues ?? [];
  // Without a queue named, open the first one that has dead letters.
  const chosen = queue ?? queues.find((q) => q.dead > 0)?.name;
  // ...and keep it, in the URL: chosen again each second, it would move on to the next queue as soon as this one's dead letters were replayed.
  useEffect(() => {
    if (queue === undefined && chosen !== undefined) location.replace(href("dead", { queue: chosen, reason }));
  }, [queue, chosen, reason]);
  if (!can.admin)
    return (
      <>
        <h1>Dead letters</h1>
        <div class="state error" role="alert">
          <strong>This key may not see dead letters.</strong>
          <p>Reading and replaying dead letters needs a key with the admin scope.</p>
        </div>
      </>
    );
  return (
    <>
      <h1>Dead letters</h1>
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <label>
          Queue{" "}
          <select value={chosen ?? ""} onChange={(event) => (location.hash = href("dead", { queue: event.currentTarget.value, reason }))}>
            {chosen === undefined && <option value="">– choose –</option>}
            {queues.map((q) => (
              <option key={q.name} value={q.name}>
                {q.name} ({count(q.dead)} dead)
              </option>
            ))}
            {chosen !== undefined && !queues.some((q) => q.name === chosen) && <option value={chosen}>{chosen}</option>}
          </select>
        </label>
        <label>
          Reason{" "}
          <select value={reason ?? ""} onChange={(event) => (location.hash = href("dead", { queue: chosen, reason: event.currentTarget.value }))}>
            <option value="">any</option>
            {REASONS.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
      </form>
      {chosen === undefined ? (
        live.snapshot ? <Empty>No queue has dead letters.</Empty> : <Loading what="the queues" />
      ) : (
        <DeadList key={chosen} queue={chosen} reason={reason} dead={queues.find((q) => q.name === chosen)?.dead} />
      )}
    </>
  );
}

function DeadList({ queue, reason, dead }: { queue: string; reason?: string; dead: number | undefined }) {
  const [pages, setPages] = useState<{ items: DeadLetter[]; next?: string }>({ items: [] });
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [open, setOpen] = useState<string | undefined>();
  const [replayed, setReplayed] = useState<string[]>([]);
  const [notice, setNotice] = useState<{ text: string } | undefined>();
  const { ask, dialog } = useConfirm();
  const q = seg(queue);
  // The server filters by reason, so every page holds only what is asked for.
  const only = reason === undefined ? "" : `&reason=${encodeURIComponent(reason)}`;
  const first = useLoad((signal) => get<{ items: DeadLetter[]; nextCursor?: string }>(`/v1/queues/${q}/dead?limit=${PAGE}${only}`, signal), [queue, reason]);
  useEffect(() => {
    if (first.data) {
      setPages({ items: first.data.items, next: first.data.nextCursor });
      setSelected(new Set());
    }
  }, [first.data]);
  // One page on its way at a time: a second click with the same cursor would add the same page twice.
  const [more, setMore] = useState<{ loading: boolean; error?: ApiError }>({ loading: false });
  const loadMore = async () => {
    setMore({ loading: true });
    try {
      const page = await get<{ items: DeadLetter[]; nextCursor?: string }>(`/v1/queues/${q}/dead?limit=${PAGE}${only}&cursor=${encodeURIComponent(pages.next!)}`);
      setPages((previous) => ({ items: [...previous.items, ...page.items], next: page.nextCursor }));
      setMore({ loading: false });
    } catch (error) {
      setMore({ loading: false, error: error as ApiError });
    }
  };
  if (first.error) return <ErrorBox error={first.error} retry={first.reload} />;
  if (first.data === undefined) return <Loading what="dead letters" />;
  const shown = pages.items;
  // From the live stats: what "every" means now, before the one click that cannot be undone.
  const howMany = dead === undefined ? "" : ` (${count(dead)} now)`;
  const replayIds = async (ids: string[]) => {
    let n = 0;
    for (let at = 0; at < ids.length; at += REPLAY_BATCH) n += (await post<{ replayed: number }>(`/v1/queues/${q}/dead/replay`, { ids: ids.slice(at, at + REPLAY_BATCH) })).replayed;
    return n;
  };
  /** Every dead letter of the queue, or with a reason chosen only those (the API's `all` knows no reason: their ids are gathered first). */
  const replayAll = async () => {
    if (reason === undefined) return (await post<{ replayed: number }>(`/v1/queues/${q}/dead/replay`, { all: true })).replayed;
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await get<{ items: DeadLetter[]; nextCursor?: string }>(`/v1/queues/${q}/dead?limit=${PAGE}${only}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      ids.push(...page.items.map((item) => item.id));
      cursor = page.nextCursor;
    } while (cursor);
    return replayIds(ids);
  };
  const replay = (ids: string[] | "all") =>
    ask({
      title:
        ids !== "all"
          ? `Replay ${count(ids.length)} dead letter${ids.length === 1 ? "" : "s"}?`
          : reason === undefined
            ? `Replay every dead letter of ${queue}${howMany}?`
            : `Replay every dead letter of ${queue} that died of ${reason}?`,
      body: (
        <p>
          {ids !== "all" ? "They go" : reason === undefined ? "Every dead letter of the queue goes" : `Those that died of ${reason} go (those of other reasons stay)`} back to ready with their
          attempts reset, and workers get them again.
        </p>
      ),
      action: "Replay",
      run: async () => {
        const n = ids === "all" ? await replayAll() : await replayIds(ids);
        setReplayed((previous) => [...(ids === "all" ? pages.items.map((item) => item.id) : ids), ...previous].slice(0, 20));
        setNotice({ text: `Replayed ${count(n)}.` });
        first.reload();
      },
    });
  const remove = (id: string) =>
    ask({
      title: "Delete this dead letter?",
      body: (
        <p>
          <code>{id}</code> is removed for good.
        </p>
      ),
      action: "Delete",
      run: async () => {
        await del(`/v1/queues/${q}/dead/${seg(id)}`);
        setNotice({ text: "Deleted." });
        first.reload();
      },
    });
  const purge = () =>
    ask({
      title: `Purge every dead letter of ${queue}${howMany}?`,
      body: <p>All of them{reason === undefined ? "" : `, whatever they died of (not only ${reason}),`} are removed for good. It cannot be undone.</p>,
      action: "Purge",
      run: async () => {
        const { purged } = await del<{ purged: number }>(`/v1/queues/${q}/dead`);
        setNotice({ text: `Purged ${count(purged)}.` });
        first.reload();
      },
    });
  const toggle = (id: string) =>
    setSelected((previous) => {
      const next = new Set(previous);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  return (
    <>
      <Notice notice={notice} />
      {replayed.length > 0 && <Replayed ids={replayed} />}
      <div class="actions toolbar">
        <button type="button" disabled={selected.size === 0} onClick={() => replay([...selected])}>
          Replay selected ({count(selected.size)})
        </button>
        <button type="button" disabled={pages.items.length === 0} onClick={() => replay("all")}>
          Replay all
        </button>
        <button type="button" class="danger" disabled={pages.items.length === 0} onClick={purge}>
          Purge…
        </button>
      </div>
      {shown.length === 0 ? (
        <Empty>{reason === undefined ? `No dead letters in ${queue}.` : `No dead letters of ${queue} died of ${reason}.`}</Empty>
      ) : (
        <ul class="dead-list">
          {shown.map((item) => (
            <li key={item.id} class="card" data-dead-id={item.id}>
              <div class="dead-head">
                <input type="checkbox" checked={selected.has(item.id)} onChange={() => toggle(item.id)} aria-label={`Select ${item.id}`} />
                <a href={href("messages", item.id)}>
                  <code>{item.id}</code>
                </a>
                <span class="badge bad">{item.reason}</span>
                <span class="muted">
                  attempt {item.attempt} of {item.maxAttempts}
                </span>
                <span>
                  <span class="muted">died </span>
                  <Time at={item.deadAt} />
                </span>
              </div>
              {item.lastError && <LastError error={item.lastError} />}
              <div class="actions">
                <button type="button" aria-expanded={open === item.id} onClick={() => setOpen(open === item.id ? undefined : item.id)}>
                  {open === item.id ? "Hide body" : "Show body"}
                </button>
                <button type="button" onClick={() => replay([item.id])}>
                  Replay
                </button>
                <button type="button" class="danger" onClick={() => remove(item.id)}>
                  Delete…
                </button>
              </div>
              {open === item.id && (
                <div class="dead-body">
                  <h3>Body</h3>
                  <pre class="body">{prettyBody(item.body)}</pre>
                  {item.headers && Object.keys(item.headers).length > 0 && (
                    <>
                      <h3>Headers</h3>
                      <pre>{json(item.headers)}</pre>
                    </>
                  )}
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
      {more.error && <ErrorBox error={more.error} retry={() => void loadMore()} />}
      {pages.next && !more.error && (
        <button type="button" disabled={more.loading} onClick={() => void loadMore()}>
          {more.loading ? "Loading…" : "Load more"}
        </button>
      )}
      {dialog}
    </>
  );
}

/** Each replayed message's state, asked every second until it has settled. */
function Replayed({ ids }: { ids: string[] }) {
  const [settled, setSettled] = useState(false);
  const states = useLoad(
    (signal) => Promise.all(ids.map((id) => get<MessageStatus>(`/v1/messages/${seg(id)}`, signal).catch(() => undefined))),
    [ids.join()],
    settled ? undefined : 1000,
  );
  useEffect(() => setSettled(states.data?.length === ids.length && states.data.every((status) => status !== undefined && SETTLED.has(status.state))), [states.data, ids]);
  return (
    <section class="card replayed" aria-live="polite">
      <h2>Replayed</h2>
      <ul class="plain">
        {ids.map((id, i) => {
          const status = states.data?.[i];
          return (
            <li key={id} data-replayed={id}>
              <a href={href("messages", id)}>
                <code>{id}</code>
              </a>{" "}
              {status ? <StateBadge state={status.state} /> : <span class="muted">…</span>}
              {status?.state === "dead" && status.lastError && <span class="error-text"> {status.lastError.message}</span>}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
