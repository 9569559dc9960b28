import type { ResolvedCircuitBreakerOptions } from "../config/schemas.js";
import type { Clock, TimerHandle } from "../util/clock.js";

export type CircuitState = "closed" | "open" | "half-open";

/**
 * Per-worker circuit breaker over the last `sampleSize` outcomes:
 *   closed ──failure ratio ≥ threshold (window full)──▶ open ──openMs──▶ half-open
 *   half-open ──trial succeeds──▶ closed (window cleared);  ──trial fails──▶ open
 * While open the worker leases nothing, so waiting messages burn no attempts.
 */
export class CircuitBreaker {
  #state: CircuitState = "closed";
  readonly #outcomes: boolean[] = [];
  #next = 0;
  #failures = 0;
  #trialInFlight = false;
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
    if (this.#state === "half-open" && !this.#trialInFlight) return 1;
    return 0;
  }

  /** Marks the start of a delivery taken under `allowance()`. */
  started(): void {
    if (this.#state === "half-open") this.#trialInFlight = true;
  }

  record(success: boolean): void {
    if (this.#state === "half-open") {
      this.#trialInFlight = false;
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
