/**
 * One circuit breaker per destination host (src/worker/circuit-breaker.ts), so one dead endpoint
 * does not burn every message's attempts: while a host's circuit is open its jobs are put back
 * (released with a delay, no attempt used) until it half-opens; then one trial request decides.
 * Only host faults count as failures (5xx, 408, 429, timeouts, refused connections); a 4xx says
 * the host is up.
 */
import { defaults } from "../../config/defaults.js";
import type { ResolvedCircuitBreakerOptions } from "../../config/schemas.js";
import { CircuitBreaker, type CircuitState } from "../../worker/circuit-breaker.js";
import { systemClock, type Clock } from "../../util/clock.js";

/** How long a job for a host that allows no request now waits before it is offered again. */
const MIN_WAIT_MS = 10;

interface HostCircuit {
  breaker: CircuitBreaker;
  openedAt: number;
}

export type Admission = { admitted: true; trial: number } | { admitted: false; retryInMs: number };

export class HostCircuits {
  readonly #options: ResolvedCircuitBreakerOptions;
  readonly #clock: Clock;
  readonly #hosts = new Map<string, HostCircuit>();
  readonly #onChange: ((host: string, state: CircuitState) => void) | undefined;

  constructor(options: Partial<ResolvedCircuitBreakerOptions> = {}, onChange?: (host: string, state: CircuitState) => void, clock: Clock = systemClock) {
    this.#options = { ...defaults.circuitBreaker, ...options };
    this.#clock = clock;
    this.#onChange = onChange;
  }

  #circuit(host: string): HostCircuit {
    let circuit = this.#hosts.get(host);
    if (!circuit) {
      const created: HostCircuit = {
        openedAt: 0,
        breaker: new CircuitBreaker(this.#options, this.#clock, (state) => {
          if (state === "open") created.openedAt = this.#clock.now();
          this.#onChange?.(host, state);
        }),
      };
      circuit = created;
      this.#hosts.set(host, circuit);
    }
    return circuit;
  }

  /** Whether a request to `host` may go now; if not, how long until it may be tried. */
  admit(host: string): Admission {
    const circuit = this.#circuit(host);
    if (circuit.breaker.allowance() > 0) return { admitted: true, trial: circuit.breaker.started() };
    if (circuit.breaker.state === "open") {
      return { admitted: false, retryInMs: Math.max(MIN_WAIT_MS, circuit.openedAt + this.#options.openMs - this.#clock.now()) };
    }
    // Half-open with its trial in flight: look again soon.
    return { admitted: false, retryInMs: Math.max(MIN_WAIT_MS, Math.min(1000, Math.floor(this.#options.openMs / 4))) };
  }

  /** The outcome of a request `admit` let through. */
  record(host: string, success: boolean, trial: number): void {
    const circuit = this.#circuit(host);
    circuit.breaker.record(success, trial);
    circuit.breaker.finished(trial);
  }

  state(host: string): CircuitState {
    return this.#hosts.get(host)?.breaker.state ?? "closed";
  }

  /** Every host seen, with its state. */
  states(): Record<string, CircuitState> {
    const out: Record<string, CircuitState> = {};
    for (const [host, circuit] of this.#hosts) out[host] = circuit.breaker.state;
    return out;
  }

  close(): void {
    for (const circuit of this.#hosts.values()) circuit.breaker.dispose();
  }
}
