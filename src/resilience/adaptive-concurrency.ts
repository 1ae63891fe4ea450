/**
 * The adaptive concurrency policy: a bulkhead whose limit is not configured but found, by
 * a {@link Limit} algorithm fed with the latency and the outcome of every call.
 *
 * @module
 */

import {
  Emitter,
  type Event,
  InvalidArgumentError,
  isDistkitError,
  requireFunction,
  requireOptions,
  type Scheduler,
  systemScheduler,
} from '../core/index.js';
import type { Limit } from './adaptive-limit.js';
import { BulkheadPolicy, type BulkheadRejectEvent } from './bulkhead.js';
import type { Policy, PolicyContext, PolicyWork } from './policy.js';

/**
 * What a failed call tells the limit: `dropped` (a sign of overload: the limit shrinks),
 * `completed` (counts as a normal call with its latency) or `ignored` (no sample at all).
 */
export type ErrorSampleKind = 'dropped' | 'completed' | 'ignored';

const overloadCodes: ReadonlySet<string> = new Set([
  'DEADLINE_EXCEEDED',
  'BULKHEAD_REJECTED',
  'LOAD_SHED',
  'LIMIT_EXCEEDED',
  'QUEUE_FULL',
  'RATE_LIMITED',
]);

/**
 * The default error classification: distkit's timeout and overload errors (codes
 * `DEADLINE_EXCEEDED`, `BULKHEAD_REJECTED`, `LOAD_SHED`, `LIMIT_EXCEEDED`, `QUEUE_FULL`,
 * `RATE_LIMITED`) are drops; every other error is ignored, because a failure such as "not
 * found" says nothing about how loaded the dependency is.
 */
export function classifyOverloadErrors(error: unknown): ErrorSampleKind {
  return isDistkitError(error) && overloadCodes.has(error.code) ? 'dropped' : 'ignored';
}

/** Options for {@link AdaptiveConcurrencyPolicy}. */
export interface AdaptiveConcurrencyOptions {
  /**
   * The algorithm that sets the limit, such as `AimdLimit` or `GradientLimit`; give it the
   * same clock as `scheduler`. One limit per policy.
   */
  readonly limit: Limit;
  /**
   * Most calls waiting for a slot (integer >= 0). Default 0: a call over the limit is
   * rejected at once, which is what an adaptive limit is for: failing fast instead of
   * queueing in front of a dependency that is already saturated.
   */
  readonly queueCountMax?: number;
  /** Measures each call's latency and ends waits at their deadline; default `systemScheduler`. */
  readonly scheduler?: Scheduler;
  /** How a failed call counts; default {@link classifyOverloadErrors}. */
  readonly classifyError?: (error: unknown) => ErrorSampleKind;
}

/** Payload of {@link AdaptiveConcurrencyPolicy.onLimitChange}. */
export interface LimitChangeEvent {
  /** The new limit. */
  readonly limit: number;
  /** The limit before. */
  readonly previousLimit: number;
}

/**
 * A bulkhead whose concurrency limit follows a {@link Limit} algorithm.
 *
 * Each call that gets a slot is timed on the scheduler's clock, from admission to
 * settlement; the latency, the number of calls in flight at its admission and whether it
 * was dropped (see {@link AdaptiveConcurrencyOptions.classifyError}) go to the limit, and
 * the bulkhead's limit follows at once. A call over the limit is rejected with
 * `BulkheadRejectedError` (or waits, with `queueCountMax`), exactly as in
 * `BulkheadPolicy`, whose rules for aborts and deadlines apply too.
 *
 * @example
 * ```ts
 * const adaptive = new AdaptiveConcurrencyPolicy({
 *   limit: new GradientLimit({ limitInitial: 20, limitMax: 200 }),
 * });
 * const rows = await adaptive.execute(({ signal }) => database.query(sql, { signal }));
 * ```
 */
export class AdaptiveConcurrencyPolicy implements Policy {
  readonly #limit: Limit;
  readonly #bulkhead: BulkheadPolicy;
  readonly #scheduler: Scheduler;
  readonly #classifyError: (error: unknown) => ErrorSampleKind;
  readonly #limitChanged = new Emitter<LimitChangeEvent>();

  /** Emitted when the limit changes. */
  readonly onLimitChange: Event<LimitChangeEvent> = this.#limitChanged.event;
  /** Emitted when a call is rejected because the limit and the queue are full. */
  readonly onReject: Event<BulkheadRejectEvent>;

  constructor(options: AdaptiveConcurrencyOptions) {
    const checked = requireOptions('AdaptiveConcurrencyPolicy options', options);
    const limit = checked.limit;
    if (
      typeof limit !== 'object' ||
      limit === null ||
      typeof limit.addSample !== 'function' ||
      !Number.isSafeInteger(limit.limit) ||
      limit.limit < 1
    ) {
      throw new InvalidArgumentError(
        'AdaptiveConcurrencyPolicy options.limit',
        'AdaptiveConcurrencyPolicy options.limit must be a Limit (such as AimdLimit or ' +
          'GradientLimit) whose limit is an integer >= 1.',
      );
    }
    this.#limit = limit;
    this.#scheduler = checked.scheduler ?? systemScheduler;
    this.#classifyError = requireFunction(
      'AdaptiveConcurrencyPolicy options.classifyError',
      checked.classifyError ?? classifyOverloadErrors,
    );
    this.#bulkhead = new BulkheadPolicy({
      concurrencyMax: limit.limit,
      queueCountMax: checked.queueCountMax ?? 0,
      scheduler: this.#scheduler,
    });
    this.onReject = this.#bulkhead.onReject;
  }

  /** The concurrency limit in force now. */
  get limit(): number {
    return this.#bulkhead.concurrencyMax;
  }

  /** Calls running now. */
  get inflightCount(): number {
    return this.#bulkhead.inflightCount;
  }

  /** Calls waiting for a slot now. */
  get queuedCount(): number {
    return this.#bulkhead.queuedCount;
  }

  execute<T>(work: PolicyWork<T>, parent?: AbortSignal | PolicyContext): Promise<T> {
    return this.#bulkhead.execute((context) => this.#measure(work, context), parent);
  }

  #measure<T>(work: PolicyWork<T>, context: PolicyContext): Promise<T> {
    const clock = this.#scheduler.clock;
    const startedAtMs = clock.nowMs();
    const inflightCount = this.#bulkhead.inflightCount;
    let result: T | PromiseLike<T>;
    try {
      result = work(context);
    } catch (error) {
      this.#sampleError(clock.nowMs() - startedAtMs, inflightCount, error);
      return Promise.reject(error);
    }
    return Promise.resolve(result).then(
      (value) => {
        this.#sample(clock.nowMs() - startedAtMs, inflightCount, false);
        return value;
      },
      (error: unknown) => {
        this.#sampleError(clock.nowMs() - startedAtMs, inflightCount, error);
        throw error;
      },
    );
  }

  #sampleError(rttMs: number, inflightCount: number, error: unknown): void {
    const kind = this.#classifyError(error);
    if (kind !== 'ignored') {
      this.#sample(rttMs, inflightCount, kind === 'dropped');
    }
  }

  #sample(rttMs: number, inflightCount: number, dropped: boolean): void {
    const limit = this.#limit.addSample({ rttMs, inflightCount, dropped });
    const previousLimit = this.#bulkhead.concurrencyMax;
    if (limit !== previousLimit) {
      this.#bulkhead.setConcurrencyMax(limit);
      if (this.#limitChanged.listenerCount > 0) {
        this.#limitChanged.emit({ limit, previousLimit });
      }
    }
  }
}
