/**
 * A TCP proxy in front of the test PostgreSQL: a store connected through it loses its database
 * when the proxy stops (every connection cut, new ones refused) and finds it again when the proxy
 * starts on the same port. Not a mock: the bytes are the real server's. It also knows which of
 * the server's connections are its own (their client ports), so a test can `pg_terminate_backend`
 * exactly the connections of the stores behind it, and no other test's.
 */
import net from "node:net";

export interface TcpProxy {
  /** The port it listens on (the same across stop and start). */
  readonly port: number;
  /** `url` with its host and port replaced by the proxy's. */
  urlFor(url: string): string;
  /** Stops listening and cuts every connection: the database is unreachable. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** The local ports of the proxy's open connections to the server (`pg_stat_activity.client_port`). */
  upstreamPorts(): number[];
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const upstreams = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    upstreams.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
      upstreams.delete(upstream);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  let listening = true;
  const stop = async () => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    upstreams.clear();
    await closed;
  };
  return {
    port,
    urlFor(url) {
      const parsed = new URL(url);
      parsed.hostname = "127.0.0.1";
      parsed.port = String(port);
      return parsed.toString();
    },
    stop,
    async start() {
      if (listening) return;
      await listen(port);
      listening = true;
    },
    upstreamPorts: () => [...upstreams].map((socket) => socket.localPort).filter((p): p is number => p !== undefined),
    close: stop,
  };
}
