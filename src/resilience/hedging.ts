/**
 * The hedging policy: when an attempt is slow, start another one alongside it, take the
 * first success and cancel the rest. It trades a little extra load for a shorter latency
 * tail: with the hedge delay at the 95th percentile, about one call in twenty sends a
 * second request, and the slowest few percent of calls finish as fast as a typical one.
 *
 * Hedge only idempotent work: two attempts may both reach the dependency.
 *
 * @module
 */

import {
  abortError,
  DistkitError,
  Emitter,
  type Event,
  errorGuard,
  InvalidArgumentError,
  isAssertionError,
  requireFunction,
  requireInteger,
  requireNumber,
  requireOptions,
  type ScheduledTask,
  type Scheduler,
  systemScheduler,
} from '../core/index.js';
import { LatencyHistogram } from './latency-histogram.js';
import {
  contextFrom,
  type ExecutionContext,
  type Policy,
  type PolicyContext,
  type PolicyWork,
} from './policy.js';
import { isThenable } from './timeout.js';

/** The most extra attempts one call may start, whatever the options say. */
const hedgeCountLimit = 16;

/** Options for {@link HedgingPolicy}. */
export interface HedgingOptions {
  /**
   * Most extra attempts per call, from 0 to 16; a call starts at most `hedgeCountMax + 1`
   * attempts. Each multiplies the load a slow dependency sees, so 1 or 2 is typical.
   */
  readonly hedgeCountMax: number;
  /**
   * Milliseconds (>= 0) to wait for an attempt before starting the next; 0 starts them
   * all on the scheduler's next turn. With `percentile`, the delay used until the
   * histogram holds `sampleCountMin` samples.
   */
  readonly delayMs: number;
  /**
   * Hedge after this percentile (0 to 100, 95 for p95) of recent primary-attempt
   * latencies instead of a fixed delay.
   */
  readonly percentile?: number;
  /**
   * Samples needed before `percentile` replaces `delayMs`, from 1 to the histogram's
   * `windowSampleCount`; default 50 (or `windowSampleCount` if smaller).
   */
  readonly sampleCountMin?: number;
  /**
   * Where latencies are recorded; default a new {@link LatencyHistogram} when
   * `percentile` is set. Pass one to share it, for example with a dashboard or an
   * adaptive timeout; one given without `percentile` is recorded into all the same.
   */
  readonly histogram?: LatencyHistogram;
  /**
   * Whether a failed attempt leaves the call worth another attempt. `false` rejects the
   * call with that error at once and aborts the other attempts (a 404 will not become a
   * 200 by asking again). Default: every error but an `AssertionError`, which always
   * rejects at once.
   */
  readonly shouldHedge?: (error: unknown) => boolean;
  /** Runs the hedge timers; default the shared `systemScheduler` of `distkit/core`. */
  readonly scheduler?: Scheduler;
}

/** Payload of {@link HedgingPolicy.onHedge}. */
export interface HedgeEvent {
  /** The attempt being started: 2 for the first hedge. */
  readonly attempt: number;
  /** Milliseconds since the previous attempt started. */
  readonly delayMs: number;
  /** `'delay'`: the previous attempt was too slow; `'failure'`: an attempt failed. */
  readonly trigger: 'delay' | 'failure';
}

/** Payload of {@link HedgingPolicy.onSuccess}. */
export interface HedgeSuccessEvent {
  /** The attempt that won: 1 for the primary. */
  readonly attempt: number;
  /** How long the winning attempt took, from its own start, in milliseconds. */
  readonly durationMs: number;
}

/** Payload of {@link HedgingPolicy.onAttemptFailure}. */
export interface HedgeAttemptFailureEvent {
  /** The attempt that failed. */
  readonly attempt: number;
  /** What it failed with. */
  readonly error: unknown;
}

/**
 * The reason a hedged attempt's signal aborts when another attempt settled the call
 * first: by succeeding, or by failing in a way `shouldHedge` rejects. The attempt's
 * result is no longer needed; work that honours its signal stops.
 */
export class HedgeSupersededError extends DistkitError {
  /** The attempt that settled the call. */
  readonly settledByAttempt: number;

  constructor(settledByAttempt: number) {
    super(
      'HEDGE_SUPERSEDED',
      `Attempt ${settledByAttempt} settled this hedged call first; this attempt's result is ` +
        'no longer needed, so its work should stop.',
    );
    this.settledByAttempt = settledByAttempt;
  }
}

/** Brand guard for {@link HedgeSupersededError}. */
export const isHedgeSupersededError = errorGuard<HedgeSupersededError>('HEDGE_SUPERSEDED');

function alwaysHedge(): boolean {
  return true;
}

/** What every call of one policy shares; one object, so a call holds one reference. */
interface HedgeSettings {
  readonly scheduler: Scheduler;
  readonly attemptCountMax: number;
  readonly shouldHedge: (error: unknown) => boolean;
  readonly histogram: LatencyHistogram | undefined;
  readonly hedged: Emitter<HedgeEvent>;
  readonly succeeded: Emitter<HedgeSuccessEvent>;
  readonly attemptFailed: Emitter<HedgeAttemptFailureEvent>;
}

/**
 * Starts an attempt after `delayMs` if the ones before it have not succeeded, up to
 * `hedgeCountMax` extra attempts, and settles with the first success.
 *
 * - Each attempt runs under its own abortable child context whose `attempt` is the
 *   hedge's own count from 1 (the primary), whatever the caller's was; when one succeeds, the signals of the others still running abort with
 *   {@link HedgeSupersededError}, and their eventual results are dropped.
 * - A failed attempt starts the next one at once (if any are left) rather than waiting
 *   out the delay, and the delay before the one after restarts from then.
 * - When every attempt has failed, the call rejects with the error of the one that
 *   failed last, unchanged, so that policies outside (a retry, a breaker) and brand guards
 *   see the dependency's own error; {@link HedgingPolicy.onAttemptFailure} reports each.
 * - When the caller aborts, every attempt's signal aborts with the caller's reason and
 *   the call rejects with the caller's abort error at once.
 *
 * With `percentile`, the delay is that percentile of recent latencies of the primary
 * attempt, read from a {@link LatencyHistogram} when each call starts. A primary that
 * lost is recorded with the time it had run when it was cancelled, a lower bound of its
 * latency: recording only winners would feed the fast hedges back as "typical" latency,
 * lower the delay, hedge more calls, and spiral down to hedging nearly every call.
 *
 * A call holds one scheduler task at a time, cancelled when the call settles.
 *
 * @example
 * ```ts
 * const hedging = new HedgingPolicy({ hedgeCountMax: 1, delayMs: 50, percentile: 95 });
 * const page = await hedging.execute(({ signal }) => fetch(url, { signal }).then((r) => r.text()));
 * ```
 */
export class HedgingPolicy implements Policy {
  /** Most extra attempts per call. */
  readonly hedgeCountMax: number;
  /** The fixed delay, or the delay until the percentile has enough samples. */
  readonly delayMs: number;
  /** The percentile of latencies the delay follows, if any. */
  readonly percentile: number | undefined;
  /** Samples needed before the percentile is used. */
  readonly sampleCountMin: number;
  /** Where latencies are recorded, if anywhere. */
  readonly histogram: LatencyHistogram | undefined;
  readonly #settings: HedgeSettings;
  readonly #quantile: number;

  /** Emitted when a hedge (attempt 2 and later) starts. */
  readonly onHedge: Event<HedgeEvent>;
  /** Emitted when an attempt wins the call. */
  readonly onSuccess: Event<HedgeSuccessEvent>;
  /** Emitted for every failed attempt, before the call decides what to do next. */
  readonly onAttemptFailure: Event<HedgeAttemptFailureEvent>;

  constructor(options: HedgingOptions) {
    const checked = requireOptions('HedgingPolicy options', options);
    this.hedgeCountMax = requireInteger(
      'HedgingPolicy options.hedgeCountMax',
      checked.hedgeCountMax,
      { min: 0, max: hedgeCountLimit },
    );
    this.delayMs = requireNumber('HedgingPolicy options.delayMs', checked.delayMs, { min: 0 });
    this.percentile =
      checked.percentile === undefined
        ? undefined
        : requireNumber('HedgingPolicy options.percentile', checked.percentile, {
            min: 0,
            max: 100,
          });
    this.#quantile = (this.percentile ?? 0) / 100;
    let histogram = checked.histogram;
    if (histogram !== undefined && !(histogram instanceof LatencyHistogram)) {
      throw new InvalidArgumentError(
        'options.histogram',
        'HedgingPolicy options.histogram must be a LatencyHistogram or undefined.',
      );
    }
    if (histogram === undefined && this.percentile !== undefined) {
      histogram = new LatencyHistogram();
    }
    this.histogram = histogram;
    const windowSampleCount = histogram?.windowSampleCount ?? 2 ** 31;
    this.sampleCountMin = requireInteger(
      'HedgingPolicy options.sampleCountMin',
      checked.sampleCountMin ?? Math.min(50, windowSampleCount),
      { min: 1, max: windowSampleCount },
    );
    const shouldHedge =
      checked.shouldHedge === undefined
        ? alwaysHedge
        : requireFunction<(error: unknown) => boolean>(
            'HedgingPolicy options.shouldHedge',
            checked.shouldHedge,
          );
    const hedged = new Emitter<HedgeEvent>();
    const succeeded = new Emitter<HedgeSuccessEvent>();
    const attemptFailed = new Emitter<HedgeAttemptFailureEvent>();
    this.onHedge = hedged.event;
    this.onSuccess = succeeded.event;
    this.onAttemptFailure = attemptFailed.event;
    this.#settings = {
      scheduler: checked.scheduler ?? systemScheduler,
      attemptCountMax: this.hedgeCountMax + 1,
      shouldHedge,
      histogram,
      hedged,
      succeeded,
      attemptFailed,
    };
  }

  /**
   * The hedge delay a call starting now would use, in milliseconds: the percentile of
   * recorded latencies once there are `sampleCountMin` of them, `delayMs` before that.
   */
  currentDelayMs(): number {
    const histogram = this.histogram;
    if (
      this.percentile === undefined ||
      histogram === undefined ||
      histogram.count < this.sampleCountMin
    ) {
      return this.delayMs;
    }
    return histogram.quantile(this.#quantile) ?? this.delayMs;
  }

  execute<T>(work: PolicyWork<T>, parent?: AbortSignal | PolicyContext): Promise<T> {
    const parentContext = contextFrom(parent);
    const abortedError = parentContext.abortError();
    if (abortedError !== undefined) {
      return Promise.reject(abortedError);
    }
    const settings = this.#settings;
    const delayMs = this.currentDelayMs();
    return new Promise<T>((resolve, reject) => {
      const call = new HedgedCall<T>(settings, work, parentContext, delayMs, resolve, reject);
      // A call without a parent has nobody who could abort it: skip the listener, and
      // with it the AbortController that reading the root's signal would create.
      if (parent !== undefined) {
        call.listen();
      }
      call.launch('delay');
    });
  }
}

/** One attempt of a hedged call. */
class HedgeAttempt<T> {
  readonly call: HedgedCall<T>;
  readonly context: ExecutionContext;
  readonly startedMs: number;
  settled = false;

  constructor(call: HedgedCall<T>, context: ExecutionContext, startedMs: number) {
    this.call = call;
    this.context = context;
    this.startedMs = startedMs;
  }

  readonly onValue = (value: T): void => {
    this.call.succeed(this, value);
  };

  readonly onError = (error: unknown): void => {
    if (this.call.fail(this, error)) {
      this.call.launch('failure');
    }
  };
}

/** The state of one call to {@link HedgingPolicy.execute}. */
class HedgedCall<T> {
  readonly #settings: HedgeSettings;
  readonly #work: PolicyWork<T>;
  readonly #parentContext: ExecutionContext;
  readonly #delayMs: number;
  readonly #resolve: (value: T) => void;
  readonly #reject: (error: unknown) => void;
  /** Whether to read the clock: for the histogram, or for listeners present at the start. */
  readonly #timed: boolean;
  #settled = false;
  #startedCount = 0;
  #inflightCount = 0;
  #timer: ScheduledTask | undefined;
  #lastStartedMs = 0;
  /** The primary attempt, kept apart so a call that never hedges allocates no array. */
  #primary: HedgeAttempt<T> | undefined;
  #hedges: HedgeAttempt<T>[] | undefined;
  #listenedSignal: AbortSignal | undefined;

  constructor(
    settings: HedgeSettings,
    work: PolicyWork<T>,
    parentContext: ExecutionContext,
    delayMs: number,
    resolve: (value: T) => void,
    reject: (error: unknown) => void,
  ) {
    this.#settings = settings;
    this.#work = work;
    this.#parentContext = parentContext;
    this.#delayMs = delayMs;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#timed =
      settings.histogram !== undefined ||
      settings.hedged.listenerCount > 0 ||
      settings.succeeded.listenerCount > 0;
  }

  listen(): void {
    const signal = this.#parentContext.signal;
    signal.addEventListener('abort', this.#onParentAbort, { once: true });
    this.#listenedSignal = signal;
  }

  /**
   * Starts the next attempt and arms the timer for the one after. A loop, not recursion,
   * carries on past attempts whose work throws synchronously.
   */
  launch(trigger: 'delay' | 'failure'): void {
    const settings = this.#settings;
    let currentTrigger = trigger;
    while (!this.#settled && this.#startedCount < settings.attemptCountMax) {
      this.#timer?.cancel();
      this.#timer = undefined;
      this.#startedCount += 1;
      const number = this.#startedCount;
      const startedMs = this.#timed ? settings.scheduler.clock.nowMs() : 0;
      if (number > 1 && this.#timed) {
        settings.hedged.emit({
          attempt: number,
          delayMs: currentTrigger === 'delay' ? this.#delayMs : startedMs - this.#lastStartedMs,
          trigger: currentTrigger,
        });
      }
      this.#lastStartedMs = startedMs;
      const attempt = new HedgeAttempt<T>(
        this,
        this.#parentContext.derive({ attempt: number, abortable: true }),
        startedMs,
      );
      if (number === 1) {
        this.#primary = attempt;
      } else if (this.#hedges === undefined) {
        this.#hedges = [attempt];
      } else {
        this.#hedges.push(attempt);
      }
      this.#inflightCount += 1;
      let result: T | PromiseLike<T>;
      try {
        result = this.#work(attempt.context);
      } catch (error) {
        if (this.fail(attempt, error)) {
          currentTrigger = 'failure';
          continue;
        }
        return;
      }
      if (isThenable(result)) {
        result.then(attempt.onValue, attempt.onError);
      } else {
        this.succeed(attempt, result);
        return;
      }
      break;
    }
    if (!this.#settled && this.#startedCount < settings.attemptCountMax) {
      this.#timer = settings.scheduler.schedule(this.#delayMs, this.#onTimer);
    }
  }

  succeed(attempt: HedgeAttempt<T>, value: T): void {
    if (this.#settled || attempt.settled) {
      return;
    }
    attempt.settled = true;
    this.#inflightCount -= 1;
    attempt.context.release();
    const settings = this.#settings;
    if (this.#timed) {
      const nowMs = settings.scheduler.clock.nowMs();
      settings.succeeded.emit({
        attempt: attempt.context.attempt,
        durationMs: nowMs - attempt.startedMs,
      });
      const primary = this.#primary as HedgeAttempt<T>;
      // The primary's latency, or a lower bound of it when a hedge beat it (see the class
      // comment); a primary that failed says nothing about latency.
      if (settings.histogram !== undefined && (primary === attempt || !primary.settled)) {
        settings.histogram.record(nowMs - primary.startedMs);
      }
    }
    this.#finish(attempt.context.attempt);
    this.#resolve(value);
  }

  /** Handles a failed attempt; returns true when the next attempt should start now. */
  fail(attempt: HedgeAttempt<T>, error: unknown): boolean {
    if (this.#settled || attempt.settled) {
      return false;
    }
    attempt.settled = true;
    this.#inflightCount -= 1;
    attempt.context.release();
    const settings = this.#settings;
    settings.attemptFailed.emit({ attempt: attempt.context.attempt, error });
    let worthHedging: boolean;
    try {
      worthHedging = !isAssertionError(error) && settings.shouldHedge(error) === true;
    } catch (predicateError) {
      this.#finish(attempt.context.attempt);
      this.#reject(predicateError);
      return false;
    }
    if (worthHedging && this.#startedCount < settings.attemptCountMax) {
      return true;
    }
    if (!worthHedging || this.#inflightCount === 0) {
      this.#finish(attempt.context.attempt);
      this.#reject(error);
    }
    return false;
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.launch('delay');
  };

  readonly #onParentAbort = (): void => {
    if (this.#settled) {
      return;
    }
    const signal = this.#listenedSignal as AbortSignal;
    this.#listenedSignal = undefined;
    this.#settled = true;
    this.#abortInflight(signal.reason);
    this.#cleanUp();
    this.#reject(this.#parentContext.abortError() ?? abortError(signal));
  };

  /** Settles the bookkeeping: the other attempts are superseded by `attempt`. */
  #finish(attempt: number): void {
    this.#settled = true;
    if (this.#inflightCount > 0) {
      this.#abortInflight(new HedgeSupersededError(attempt));
    }
    this.#cleanUp();
  }

  #abortInflight(reason: unknown): void {
    const primary = this.#primary;
    if (primary !== undefined && !primary.settled) {
      primary.settled = true;
      primary.context.abort(reason);
    }
    const hedges = this.#hedges;
    if (hedges !== undefined) {
      for (const hedge of hedges) {
        if (!hedge.settled) {
          hedge.settled = true;
          hedge.context.abort(reason);
        }
      }
    }
    this.#inflightCount = 0;
  }

  #cleanUp(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    const signal = this.#listenedSignal;
    if (signal !== undefined) {
      this.#listenedSignal = undefined;
      signal.removeEventListener('abort', this.#onParentAbort);
    }
  }
}
