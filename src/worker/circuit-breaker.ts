import type { ResolvedCircuitBreakerOptions } from "../config/schemas.js";
import type { Clock, TimerHandle } from "../util/clock.js";

export type CircuitState = "closed" | "open" | "half-open";

/**
 * Per-worker circuit breaker over the last `sampleSize` outcomes:
 *   closed ──failure ratio ≥ threshold (window full)──▶ open ──openMs──▶ half-open
 *   half-open ──trial succeeds──▶ closed (window cleared);  ──trial fails──▶ open
 * While open the worker leases nothing, so waiting messages burn no attempts. In half-open only
 * the trial's outcome counts (deliveries that started before the circuit opened are stragglers),
 * and a trial that ends with no outcome (its lease lost, the worker closing) frees the slot for
 * another trial instead of leaving the circuit half-open for good.
 */
export class CircuitBreaker {
  #state: CircuitState = "closed";
  readonly #outcomes: boolean[] = [];
  #next = 0;
  #failures = 0;
  /** The half-open trial in flight (its id), or 0. */
  #trial = 0;
  #trialSeq = 0;
  #timer: TimerHandle | undefined;

  constructor(
    readonly options: ResolvedCircuitBreakerOptions,
    private readonly clock: Clock,
    private readonly onChange: (state: CircuitState) => void,
  ) {}

  get state(): CircuitState {
    return this.#state;
  }

  /** How many new deliveries may start now. */
  allowance(): number {
    if (this.#state === "closed") return Infinity;
    if (this.#state === "half-open" && this.#trial === 0) return 1;
    return 0;
  }

  /** Marks the start of a delivery taken under `allowance()`; returns its trial id (0: not a trial). */
  started(): number {
    if (this.#state !== "half-open") return 0;
    this.#trial = ++this.#trialSeq;
    return this.#trial;
  }

  /** A delivery's outcome; `trial` is what `started()` returned for it. */
  record(success: boolean, trial = 0): void {
    if (this.#state === "half-open") {
      if (trial === 0 || trial !== this.#trial) return; // a straggler: not the trial
      this.#trial = 0;
      if (success) {
        this.#reset();
        this.#set("closed");
      } else {
        this.#open();
      }
      return;
    }
    if (this.#state === "open") return; // stragglers that started before it opened
    const { sampleSize, failureThreshold } = this.options;
    if (this.#outcomes.length < sampleSize) {
      this.#outcomes.push(success);
    } else {
      if (!this.#outcomes[this.#next]) this.#failures--;
      this.#outcomes[this.#next] = success;
      this.#next = (this.#next + 1) % sampleSize;
    }
    if (!success) this.#failures++;
    if (this.#outcomes.length >= sampleSize && this.#failures / this.#outcomes.length >= failureThreshold) this.#open();
  }

  /** A delivery ended; if it was the trial and recorded no outcome, another trial may start. */
  finished(trial: number): void {
    if (trial !== 0 && trial === this.#trial) this.#trial = 0;
  }

  dispose(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #open(): void {
    this.#reset();
    this.#set("open");
    this.#timer?.cancel();
    this.#timer = this.clock.setTimer(() => {
      this.#timer = undefined;
      this.#set("half-open");
    }, this.options.openMs);
  }

  #reset(): void {
    this.#outcomes.length = 0;
    this.#next = 0;
    this.#failures = 0;
  }

  #set(state: CircuitState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.onChange(state);
  }
}
