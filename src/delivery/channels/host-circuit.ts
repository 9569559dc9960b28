/**
 * One destination host's circuit breaker, after resilience4j's CircuitBreaker with a time-based
 * sliding window (failureRateThreshold, slidingWindowSize in time, minimumNumberOfCalls,
 * waitDurationInOpenState, permittedNumberOfCallsInHalfOpenState):
 *
 *   closed ──the last windowMs hold ≥ minimumCalls outcomes, failures/calls ≥ failureThreshold──▶ open
 *   open ──openMs passed (seen at the next admission or state read)──▶ half-open
 *   half-open ──of halfOpenTrials trial outcomes, the failure share is below the threshold──▶ closed
 *             ──… at or above it──▶ open
 *
 * A burst of failures among many successes does not open it, and a window that has seen few calls
 * is not judged at all. The half-open verdict is given as soon as the remaining trials cannot
 * change it (the same verdict resilience4j gives once all of them are in). Closing empties the window.
 *
 * An outcome is a success, a failure (a host fault), or ignored: says nothing about the host (its
 * own pacing, a request aborted at shutdown); an ignored trial frees its place for another.
 * A permit carries the generation (count of state changes) it was given in; the outcome of a
 * request that started before the circuit changed state is a straggler and is not counted.
 */
import type { ResolvedHostCircuitOptions } from "../../config/schemas.js";
import type { Clock } from "../../util/clock.js";
import type { CircuitState } from "../../worker/circuit-breaker.js";
import { FailureWindow } from "./failure-window.js";

export type CircuitOutcome = "success" | "failure" | "ignored";

export class HostCircuit {
  readonly #options: ResolvedHostCircuitOptions;
  readonly #clock: Clock;
  readonly #onChange: (state: CircuitState) => void;
  readonly #window: FailureWindow;
  #state: CircuitState = "closed";
  #generation = 0;
  #openedAt = 0;
  #trialsInFlight = 0;
  #trialSuccesses = 0;
  #trialFailures = 0;

  constructor(options: ResolvedHostCircuitOptions, clock: Clock, onChange: (state: CircuitState) => void = () => {}) {
    this.#options = options;
    this.#clock = clock;
    this.#onChange = onChange;
    this.#window = new FailureWindow(options.windowMs);
  }

  get state(): CircuitState {
    this.#halfOpenWhenDue();
    return this.#state;
  }

  /** A permit to send now (pass it to `record`), or undefined when the circuit refuses. */
  tryAcquire(): number | undefined {
    this.#halfOpenWhenDue();
    if (this.#state === "closed") return this.#generation;
    if (this.#state === "half-open" && this.#trialsInFlight + this.#trialSuccesses + this.#trialFailures < this.#options.halfOpenTrials) {
      this.#trialsInFlight++;
      return this.#generation;
    }
    return undefined;
  }

  /** While open, how long until it half-opens, ms; 0 otherwise. */
  msUntilHalfOpen(): number {
    if (this.state !== "open") return 0;
    return this.#openedAt + this.#options.openMs - this.#clock.now();
  }

  /** The outcome of a request sent under `permit`. */
  record(permit: number, outcome: CircuitOutcome): void {
    if (permit !== this.#generation) return; // a straggler
    if (this.#state === "half-open") return this.#recordTrial(outcome);
    if (this.#state !== "closed" || outcome === "ignored") return;
    const now = this.#clock.now();
    this.#window.record(outcome === "failure", now);
    const { calls, failures } = this.#window.totals(now);
    if (calls >= this.#options.minimumCalls && failures / calls >= this.#options.failureThreshold) this.#open();
  }

  #recordTrial(outcome: CircuitOutcome): void {
    this.#trialsInFlight--;
    if (outcome === "ignored") return;
    if (outcome === "success") this.#trialSuccesses++;
    else this.#trialFailures++;
    const { halfOpenTrials, failureThreshold } = this.#options;
    const undecided = halfOpenTrials - this.#trialSuccesses - this.#trialFailures;
    if (this.#trialFailures / halfOpenTrials >= failureThreshold) this.#open();
    else if ((this.#trialFailures + undecided) / halfOpenTrials < failureThreshold) this.#close();
  }

  #halfOpenWhenDue(): void {
    if (this.#state === "open" && this.#clock.now() >= this.#openedAt + this.#options.openMs) {
      this.#trialsInFlight = 0;
      this.#trialSuccesses = 0;
      this.#trialFailures = 0;
      this.#set("half-open");
    }
  }

  #open(): void {
    this.#openedAt = this.#clock.now();
    this.#set("open");
  }

  #close(): void {
    this.#window.clear();
    this.#set("closed");
  }

  #set(state: CircuitState): void {
    this.#generation++;
    this.#state = state;
    this.#onChange(state);
  }
}
