/**
 * One circuit per destination host (host-circuit.ts), so one dead endpoint does not burn every
 * message's attempts: while a host's circuit is open its jobs are put back (released with a delay,
 * no attempt used) until it half-opens; then a few trial requests decide.
 */
import { resolveHostCircuitOptions } from "../../config/resolve.js";
import type { HostCircuitOptions, ResolvedHostCircuitOptions } from "../../config/schemas.js";
import { systemClock, type Clock } from "../../util/clock.js";
import type { CircuitState } from "../../worker/circuit-breaker.js";
import { HostCircuit, type CircuitOutcome } from "./host-circuit.js";

/** How long a job for a host that allows no request now waits before it is offered again. */
const MIN_WAIT_MS = 10;

export type Admission = { admitted: true; permit: number } | { admitted: false; retryInMs: number };

export class HostCircuits {
  readonly #options: ResolvedHostCircuitOptions;
  readonly #clock: Clock;
  readonly #hosts = new Map<string, HostCircuit>();
  readonly #onChange: ((host: string, state: CircuitState) => void) | undefined;

  constructor(options: HostCircuitOptions = {}, onChange?: (host: string, state: CircuitState) => void, clock: Clock = systemClock) {
    this.#options = resolveHostCircuitOptions(options);
    this.#clock = clock;
    this.#onChange = onChange;
  }

  #circuit(host: string): HostCircuit {
    let circuit = this.#hosts.get(host);
    if (!circuit) {
      circuit = new HostCircuit(this.#options, this.#clock, (state) => this.#onChange?.(host, state));
      this.#hosts.set(host, circuit);
    }
    return circuit;
  }

  /** Whether a request to `host` may go now; if not, how long until it may be tried. */
  admit(host: string): Admission {
    const circuit = this.#circuit(host);
    const permit = circuit.tryAcquire();
    if (permit !== undefined) return { admitted: true, permit };
    if (circuit.state === "open") return { admitted: false, retryInMs: Math.max(MIN_WAIT_MS, circuit.msUntilHalfOpen()) };
    // Half-open with all its trials in flight: look again soon.
    return { admitted: false, retryInMs: Math.max(MIN_WAIT_MS, Math.min(1000, Math.floor(this.#options.openMs / 4))) };
  }

  /** The outcome of a request `admit` let through. */
  record(host: string, permit: number, outcome: CircuitOutcome): void {
    this.#hosts.get(host)?.record(permit, outcome);
  }

  state(host: string): CircuitState {
    return this.#hosts.get(host)?.state ?? "closed";
  }

  /** Every host seen, with its state. */
  states(): Record<string, CircuitState> {
    const out: Record<string, CircuitState> = {};
    for (const [host, circuit] of this.#hosts) out[host] = circuit.state;
    return out;
  }
}
