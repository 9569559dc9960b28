/** Exchanges and their bindings, and a test message published through one (publish scope). */
import { useState } from "preact/hooks";
import { Empty, ErrorBox, Loading } from "../components/states.js";
import { post, get, seg } from "../lib/api.js";
import { useLoad } from "../lib/hooks.js";
import { useIdentity } from "../lib/identity.js";
import { href } from "../lib/router.js";
import type { ExchangeInfo } from "../lib/types.js";

export function Exchanges() {
  const loaded = useLoad((signal) => get<{ exchanges: ExchangeInfo[] }>("/v1/exchanges", signal), []);
  const { can } = useIdentity();
  if (loaded.error) return <ErrorBox error={loaded.error} retry={loaded.reload} />;
  if (loaded.data === undefined) return <Loading what="exchanges" />;
  const exchanges = loaded.data.exchanges;
  return (
    <>
      <h1>Exchanges</h1>
      {exchanges.length === 0 ? (
        <Empty>No exchanges. PUT /v1/exchanges/:x declares one, POST …/bindings binds a queue to it.</Empty>
      ) : (
        <div class="exchange-grid">
          {exchanges.map((exchange) => (
            <section key={exchange.name} class="card" data-exchange={exchange.name}>
              <h2>
                {exchange.name} <span class="badge">{exchange.type}</span>
              </h2>
              {exchange.bindings.length === 0 ? (
                <Empty>No bindings: messages published here go nowhere.</Empty>
              ) : (
                <table class="bindings">
                  <thead>
                    <tr>
                      <th scope="col">Queue</th>
                      <th scope="col">Binding key</th>
                    </tr>
                  </thead>
                  <tbody>
                    {exchange.bindings.map((binding) => (
                      <tr key={`${binding.queue} ${binding.bindingKey}`}>
                        <td>
                          <a href={href("queues", binding.queue)}>{binding.queue}</a>
                        </td>
                        <td>{binding.bindingKey === "" ? <span class="muted">(none)</span> : <code>{binding.bindingKey}</code>}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
          ))}
        </div>
      )}
      {can.publish && exchanges.length > 0 && <PublishTest exchanges={exchanges} />}
    </>
  );
}

interface Published {
  routed: number;
  messages: Array<{ queue: string; id: string }>;
}

function PublishTest({ exchanges }: { exchanges: ExchangeInfo[] }) {
  const [exchange, setExchange] = useState(exchanges[0].name);
  const [routingKey, setRoutingKey] = useState("");
  const [body, setBody] = useState('{"test": true}');
  const [outcome, setOutcome] = useState<{ ok: Published } | { error: string } | undefined>();
  const submit = async () => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (error) {
      return setOutcome({ error: `The body is not JSON: ${(error as Error).message}` });
    }
    try {
      setOutcome({ ok: await post<Published>(`/v1/exchanges/${seg(exchange)}/publish`, { routingKey, body: parsed }) });
    } catch (error) {
      setOutcome({ error: (error as Error).message });
    }
  };
  return (
    <section class="card">
      <h2>Publish a test message</h2>
      <form
        class="stack-form"
        onSubmit={(event) => {
          event.preventDefault();
          void submit();
        }}
      >
        <label for="px">Exchange</label>
        <select id="px" value={exchange} onChange={(event) => setExchange(event.currentTarget.value)}>
          {exchanges.map((x) => (
            <option key={x.name} value={x.name}>
              {x.name} ({x.type})
            </option>
          ))}
        </select>
        <label for="pk">Routing key</label>
        <input id="pk" value={routingKey} onInput={(event) => setRoutingKey(event.currentTarget.value)} placeholder="order.created" />
        <label for="pb">Body (JSON)</label>
        <textarea id="pb" rows={4} value={body} onInput={(event) => setBody(event.currentTarget.value)} spellcheck={false} />
        <button type="submit" class="primary">
          Publish
        </button>
      </form>
      {outcome && "error" in outcome && (
        <p class="error-text" role="alert">
          {outcome.error}
        </p>
      )}
      {outcome && "ok" in outcome && (
        <div role="status" class="notice">
          Routed to {outcome.ok.routed} queue{outcome.ok.routed === 1 ? "" : "s"}
          <ul class="plain">
            {outcome.ok.messages.map((message) => (
              <li key={message.id}>
                {message.queue}: <a href={href("messages", message.id)}>{message.id}</a>
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}
