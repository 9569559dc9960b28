/**
 * The real-time hub: who is online, what they have been sent, and what to send again.
 *
 * The message log is the outbox. A recipient's websocket messages wait there (`queued`, or
 * `sent` but never acknowledged) until a connection of theirs can take them, so nothing the
 * hub keeps in memory is needed after a crash, a restart or a dropped connection:
 *
 *   log: queued ──push──▶ sent ──ack (any connection, or HTTP)──▶ delivered ──read──▶ read
 *                          │  ▲
 *                          └──┘ no ack within ackTimeoutMs, or the recipient reconnects: push again
 *
 * Per online recipient the hub keeps its open connections, the messages pushed and not yet
 * acknowledged ("in flight", each with one ack deadline), and the messages waiting for room in
 * flight (at most `maxUnackedPerRecipient` are in flight at once; they are pushed in log order
 * as acks make room). A push goes to every open connection of the recipient; a new connection
 * gets what is in flight, then everything else undelivered, in publish order.
 *
 * When the last connection of a recipient closes the hub forgets the recipient: what was in
 * flight is `sent` in the log and is pushed again on the next connect.
 */
import { EventEmitter } from "node:events";
import { NotFoundError, SpoolError } from "../../core/errors.js";
import { Deque } from "../../util/deque.js";
import { systemClock, type Clock, type TimerHandle } from "../../util/clock.js";
import type { MessageLog, MessageLogEntry, RecipientStatus, RenderedContent } from "../types.js";
import { AckDeadlines, type Deadline } from "./ack-deadlines.js";
import { CLOSE_CODES, PONG_FRAME, errorFrame, messageFrame, parseClientFrame, readyFrame } from "./protocol.js";
import { defaults } from "../../config/defaults.js";

/** What the hub needs of a WebSocket; the route adapts `ws` to it (and unit tests fake it). */
export interface HubSocket {
  send(frame: string): void;
  /** A protocol-level ping; the answer comes back through `HubConnection.pong()`. */
  ping(): void;
  close(code: number, reason: string): void;
  /** Drops the connection at once, without a closing handshake. */
  terminate(): void;
}

/** The hub's side of one connection: the route feeds it what the socket reports. */
export interface HubConnection {
  readonly recipientId: string;
  /** A text frame from the client. */
  receive(data: string): void;
  /** The client answered a ping. */
  pong(): void;
  /** The socket closed, from either side; idempotent. */
  closed(): void;
}

export interface ConnectionHubOptions {
  log: MessageLog;
  clock?: Clock;
  /** A pushed message not acknowledged within this long is pushed again (default 30 s). */
  ackTimeoutMs?: number;
  /** Ping every open connection this often; one unanswered ping drops it (default 30 s; 0 = off). */
  heartbeatMs?: number;
  /** Most messages in flight (pushed, not acknowledged) per recipient (default 1000). */
  maxUnackedPerRecipient?: number;
  /** On close, how long connections get to finish their closing handshake before being dropped (default 2 s). */
  closeGraceMs?: number;
}


/** What became of a message handed to `deliver`. */
export type DeliverOutcome = "pushed" | "held" | "settled";

export interface ConnectionHubEvents {
  "recipient:connected": [{ recipientId: string; connections: number }];
  "recipient:disconnected": [{ recipientId: string; connections: number }];
  /** A message went out to every open connection of its recipient (`attempt` > 1: pushed again). */
  "message:pushed": [{ logId: string; recipientId: string; attempt: number; connections: number }];
  /** A background problem: a log write failed, or a logged entry has no content to push. */
  "hub:fault": [{ error: unknown; logId?: string; during: string }];
}

type Settled = "delivered" | "read" | "failed";
const SETTLED = new Set<RecipientStatus>(["delivered", "read", "failed"]);
const isSettled = (status: RecipientStatus): status is Settled => SETTLED.has(status);

interface Flight {
  readonly logId: string;
  readonly batchId: string;
  readonly content: RenderedContent;
  attempt: number;
  frame: string;
  deadline: Deadline;
}

interface Waiting {
  logId: string;
  /** The job's copy of the content, for a log entry that has none. */
  content?: RenderedContent;
}

interface Recipient {
  readonly id: string;
  readonly connections: Set<Connection>;
  /** Pushed, not acknowledged: in push order (Map keeps insertion order). */
  readonly inFlight: Map<string, Flight>;
  /** Waiting for room in flight, in publish order; `waitingIds` mirrors it for O(1) lookups. */
  readonly waiting: Deque<Waiting>;
  readonly waitingIds: Set<string>;
}

class Connection implements HubConnection {
  alive = true;
  #closed = false;

  constructor(
    readonly recipient: Recipient,
    readonly socket: HubSocket,
    readonly hub: ConnectionHub,
  ) {}

  get recipientId(): string {
    return this.recipient.id;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  receive(data: string): void {
    if (this.#closed) return;
    this.alive = true;
    this.hub._receive(this, data);
  }

  pong(): void {
    this.alive = true;
  }

  closed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.hub._disconnect(this);
  }

  send(frame: string): void {
    if (this.#closed) return;
    try {
      this.socket.send(frame);
    } catch {
      // A socket that cannot send is gone: its close event follows, and the log keeps the message.
    }
  }
}

export class ConnectionHub extends EventEmitter<ConnectionHubEvents> {
  readonly ackTimeoutMs: number;
  readonly heartbeatMs: number;
  readonly maxUnackedPerRecipient: number;
  readonly #log: MessageLog;
  readonly #clock: Clock;
  readonly #closeGraceMs: number;
  readonly #recipients = new Map<string, Recipient>();
  readonly #connections = new Set<Connection>();
  readonly #deadlines: AckDeadlines<Flight>;
  /** Acknowledged by a client, not yet durable: not to be pushed again meanwhile. */
  readonly #settling = new Set<string>();
  readonly #writes = new Set<Promise<unknown>>();
  readonly #unsubscribe: () => void;
  #heartbeat: TimerHandle | undefined;
  #closing: Promise<void> | undefined;
  #closed = false;
  #allClosed: (() => void) | undefined;

  constructor(options: ConnectionHubOptions) {
    super();
    this.#log = options.log;
    this.#clock = options.clock ?? systemClock;
    this.ackTimeoutMs = positiveInt(options.ackTimeoutMs ?? defaults.delivery.ackTimeoutMs, "ackTimeoutMs", false);
    this.heartbeatMs = positiveInt(options.heartbeatMs ?? defaults.delivery.heartbeatMs, "heartbeatMs", true);
    this.maxUnackedPerRecipient = positiveInt(options.maxUnackedPerRecipient ?? defaults.delivery.maxUnackedPerRecipient, "maxUnackedPerRecipient", false);
    this.#closeGraceMs = positiveInt(options.closeGraceMs ?? defaults.delivery.closeGraceMs, "closeGraceMs", true);
    this.#deadlines = new AckDeadlines<Flight>(this.#clock, this.ackTimeoutMs, (flight) => this.#ackOverdue(flight));
    // Acknowledgements that do not come through the hub (HTTP, another process) end flights too.
    // Deferred: the hub may write to the log again (the next push), and not from inside its listener.
    this.#unsubscribe = this.#log.onChange((entry) => {
      if (isSettled(entry.status) && this.#recipients.get(entry.recipientId)?.inFlight.has(entry.logId)) {
        queueMicrotask(() => this.#endFlight(entry.recipientId, entry.logId));
      }
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Open connections, all recipients together. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  isOnline(recipientId: string): boolean {
    return (this.#recipients.get(recipientId)?.connections.size ?? 0) > 0;
  }

  /** Message ids pushed to `recipientId` and not acknowledged yet, in push order. */
  inFlight(recipientId: string): string[] {
    return [...(this.#recipients.get(recipientId)?.inFlight.keys() ?? [])];
  }

  /**
   * Registers an open socket of `recipientId` (authenticated by the caller). Sends `ready`,
   * then what is in flight to this recipient, then everything else undelivered, in order.
   */
  connect(recipientId: string, socket: HubSocket): HubConnection {
    if (this.closed) {
      socket.close(CLOSE_CODES.goingAway, "server shutting down");
      const refused = new Connection(newRecipient(recipientId), socket, this);
      refused.closed();
      return refused;
    }
    let recipient = this.#recipients.get(recipientId);
    if (recipient === undefined) {
      recipient = newRecipient(recipientId);
      this.#recipients.set(recipientId, recipient);
    }
    const connection = new Connection(recipient, socket, this);
    recipient.connections.add(connection);
    this.#connections.add(connection);
    if (this.#heartbeat === undefined && this.heartbeatMs > 0) this.#armHeartbeat();
    connection.send(readyFrame(recipientId, this.ackTimeoutMs));
    for (const flight of recipient.inFlight.values()) connection.send(flight.frame);
    for (const entry of this.#log.undeliveredFor(recipientId, "websocket")) this.#enqueue(recipient, entry.logId);
    this.emit("recipient:connected", { recipientId, connections: recipient.connections.size });
    this.#drain(recipient);
    return connection;
  }

  /**
   * A message is ready for its recipient (the websocket channel's job). Online: pushed to every
   * connection (or queued behind the recipient's in-flight window), resolving once `sent` is
   * durable. Offline: `held` — it waits in the log for the next connect.
   */
  async deliver(logId: string, content?: RenderedContent): Promise<DeliverOutcome> {
    const entry = this.#log.get(logId);
    if (entry === undefined) throw new NotFoundError(`message-log entry "${logId}" does not exist`);
    if (isSettled(entry.status) || this.#settling.has(logId)) return "settled";
    const recipient = this.#recipients.get(entry.recipientId);
    if (recipient === undefined || recipient.connections.size === 0 || this.closed) return "held";
    if (recipient.inFlight.has(logId)) return "pushed";
    this.#enqueue(recipient, logId, content);
    const written = this.#drain(recipient, logId);
    if (written === undefined) return recipient.inFlight.has(logId) ? "pushed" : "held";
    await written;
    return "pushed";
  }

  /**
   * Moves a message to `delivered` or `read` (a client's ack), and ends its flight at once.
   * With `recipientId`, a message of another recipient is refused (`forbidden`). Resolves
   * whether the status moved (a step backwards changes nothing) once the change is durable.
   */
  async acknowledge(logId: string, to: "delivered" | "read", recipientId?: string): Promise<{ entry: MessageLogEntry; changed: boolean }> {
    const entry = this.#ackable(logId, recipientId);
    this.#settling.add(logId);
    this.#endFlight(entry.recipientId, logId);
    try {
      const changed = await this.#track(this.#log.advance(logId, to));
      return { entry: this.#log.get(logId) ?? entry, changed };
    } finally {
      this.#settling.delete(logId);
    }
  }

  /** The entry an ack may settle; throws `not_found`, or `forbidden` for another recipient's message. */
  #ackable(logId: string, recipientId: string | undefined): MessageLogEntry {
    const entry = this.#log.get(logId);
    if (entry === undefined) throw new NotFoundError(`message "${logId}" does not exist`);
    if (recipientId !== undefined && entry.recipientId !== recipientId) {
      throw new SpoolError("forbidden", `message "${logId}" is not addressed to this recipient`);
    }
    return entry;
  }

  /**
   * Closes every connection (1001, "server shutting down"), stops the timers and waits for
   * log writes in progress. Idempotent. Connections that do not finish the closing handshake
   * within `closeGraceMs` are dropped.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#unsubscribe();
    this.#deadlines.close();
    this.#heartbeat?.cancel();
    this.#heartbeat = undefined;
    if (this.#connections.size > 0) {
      const allClosed = new Promise<void>((resolve) => (this.#allClosed = resolve));
      for (const connection of this.#connections) connection.socket.close(CLOSE_CODES.goingAway, "server shutting down");
      let timer: TimerHandle | undefined;
      await Promise.race([allClosed, new Promise<void>((resolve) => (timer = this.#clock.setTimer(resolve, this.#closeGraceMs)))]);
      timer?.cancel();
      for (const connection of [...this.#connections]) {
        connection.socket.terminate();
        connection.closed();
      }
    }
    await Promise.allSettled([...this.#writes]);
  }

  // ── called by Connection ─────────────────────────────────────────────────────────────

  /** @internal */
  _receive(connection: Connection, data: string): void {
    const parsed = parseClientFrame(data);
    if (!parsed.ok) {
      connection.send(errorFrame("validation_failed", parsed.message, parsed.id));
      return;
    }
    const frame = parsed.frame;
    if (frame.type === "ping") {
      connection.send(PONG_FRAME);
      return;
    }
    try {
      // Refused at once, so errors come back in the order of the frames that caused them.
      this.#ackable(frame.id, connection.recipientId);
    } catch (error) {
      const code = error instanceof SpoolError ? error.code : "validation_failed";
      connection.send(errorFrame(code, `${frame.type} ${frame.id}: ${(error as Error).message}`, frame.id));
      return;
    }
    this.acknowledge(frame.id, frame.type === "ack" ? "delivered" : "read", connection.recipientId).catch((error: unknown) => {
      const code = error instanceof SpoolError ? error.code : "unavailable";
      connection.send(errorFrame(code, `${frame.type} ${frame.id}: not recorded, send it again`, frame.id));
      this.emit("hub:fault", { error, logId: frame.id, during: frame.type });
    });
  }

  /** @internal */
  _disconnect(connection: Connection): void {
    const recipient = connection.recipient;
    this.#connections.delete(connection);
    if (!recipient.connections.delete(connection)) return;
    if (recipient.connections.size === 0) {
      for (const flight of recipient.inFlight.values()) flight.deadline.cancel();
      this.#recipients.delete(recipient.id);
    }
    this.emit("recipient:disconnected", { recipientId: recipient.id, connections: recipient.connections.size });
    if (this.#connections.size === 0) {
      this.#allClosed?.();
      this.#heartbeat?.cancel();
      this.#heartbeat = undefined;
    }
  }

  // ── pushing ──────────────────────────────────────────────────────────────────────────

  #enqueue(recipient: Recipient, logId: string, content?: RenderedContent): void {
    if (recipient.inFlight.has(logId) || recipient.waitingIds.has(logId) || this.#settling.has(logId)) return;
    recipient.waiting.push(content === undefined ? { logId } : { logId, content });
    recipient.waitingIds.add(logId);
  }

  /**
   * Pushes waiting messages while there is room in flight. Returns the durable `sent` write of
   * `watch` if this call pushed it.
   */
  #drain(recipient: Recipient, watch?: string): Promise<unknown> | undefined {
    let watched: Promise<unknown> | undefined;
    while (recipient.inFlight.size < this.maxUnackedPerRecipient && recipient.connections.size > 0) {
      const next = recipient.waiting.shift();
      if (next === undefined) break;
      recipient.waitingIds.delete(next.logId);
      if (recipient.inFlight.has(next.logId) || this.#settling.has(next.logId)) continue;
      const entry = this.#log.get(next.logId);
      if (entry === undefined || isSettled(entry.status) || entry.status === "pending") continue;
      const written = this.#startFlight(recipient, entry, next.content);
      if (next.logId === watch) watched = written;
    }
    return watched;
  }

  #startFlight(recipient: Recipient, entry: MessageLogEntry, fallback: RenderedContent | undefined): Promise<unknown> | undefined {
    const content = entry.content ?? fallback;
    if (content === undefined) {
      this.emit("hub:fault", { error: new Error(`message-log entry "${entry.logId}" has no content to push`), logId: entry.logId, during: "push" });
      return undefined;
    }
    const attempt = entry.attempts + 1;
    const flight: Flight = {
      logId: entry.logId,
      batchId: entry.batchId,
      content,
      attempt,
      frame: messageFrame(entry.logId, entry.batchId, content, attempt),
      deadline: undefined as unknown as Deadline,
    };
    flight.deadline = this.#deadlines.start(flight);
    recipient.inFlight.set(entry.logId, flight);
    this.#push(recipient, flight);
    // The first push moves the entry to `sent`; a push after a reconnect counts one more attempt.
    const write = this.#track<unknown>(
      entry.status === "queued" ? this.#log.advance(entry.logId, "sent", { attempts: attempt }) : this.#log.recordAttempt(entry.logId, { attempts: attempt }),
    );
    write.catch((error: unknown) => this.emit("hub:fault", { error, logId: entry.logId, during: "push" }));
    return write;
  }

  #push(recipient: Recipient, flight: Flight): void {
    for (const connection of recipient.connections) connection.send(flight.frame);
    this.emit("message:pushed", { logId: flight.logId, recipientId: recipient.id, attempt: flight.attempt, connections: recipient.connections.size });
  }

  /** No ack in time: push again to every connection, and count the attempt. */
  #ackOverdue(flight: Flight): void {
    const entry = this.#log.get(flight.logId);
    const recipient = entry === undefined ? undefined : this.#recipients.get(entry.recipientId);
    if (entry === undefined || recipient === undefined || recipient.inFlight.get(flight.logId) !== flight) return;
    if (isSettled(entry.status)) {
      this.#endFlight(recipient.id, flight.logId);
      return;
    }
    flight.attempt++;
    flight.frame = messageFrame(flight.logId, flight.batchId, flight.content, flight.attempt);
    flight.deadline = this.#deadlines.start(flight);
    this.#push(recipient, flight);
    const write = this.#log.recordAttempt(flight.logId, { attempts: flight.attempt, error: `no ack within ${this.ackTimeoutMs} ms` });
    this.#track(write).catch((error: unknown) => this.emit("hub:fault", { error, logId: flight.logId, during: "redeliver" }));
  }

  #endFlight(recipientId: string, logId: string): void {
    const recipient = this.#recipients.get(recipientId);
    const flight = recipient?.inFlight.get(logId);
    if (recipient === undefined || flight === undefined) return;
    flight.deadline.cancel();
    recipient.inFlight.delete(logId);
    this.#drain(recipient);
  }

  // ── heartbeat ────────────────────────────────────────────────────────────────────────

  #armHeartbeat(): void {
    this.#heartbeat = this.#clock.setTimer(() => {
      this.#heartbeat = undefined;
      for (const connection of [...this.#connections]) {
        if (!connection.alive) {
          connection.socket.terminate();
          connection.closed();
          continue;
        }
        connection.alive = false;
        try {
          connection.socket.ping();
        } catch {
          // The close event follows.
        }
      }
      if (this.#connections.size > 0 && !this.closed) this.#armHeartbeat();
    }, this.heartbeatMs);
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#writes.add(promise);
    const forget = () => this.#writes.delete(promise);
    promise.then(forget, forget);
    return promise;
  }
}

function newRecipient(id: string): Recipient {
  return { id, connections: new Set(), inFlight: new Map(), waiting: new Deque(), waitingIds: new Set() };
}

function positiveInt(value: number, name: string, zeroAllowed: boolean): number {
  if (!Number.isInteger(value) || value < (zeroAllowed ? 0 : 1)) {
    throw new SpoolError("validation_failed", `connection hub: ${name} must be an integer >= ${zeroAllowed ? 0 : 1}, got ${JSON.stringify(value)}`, {
      details: [{ path: `/${name}`, message: `expected integer >= ${zeroAllowed ? 0 : 1}` }],
    });
  }
  return value;
}
