/**
 * The recommended composition made the easy one: `callPolicy({ ... })` builds
 * `pipeline(retry, breaker, timeout, bulkhead)` from options, in that order, on one
 * scheduler, so a call to a dependency gets the right order without thinking about it.
 *
 * @module
 */

import { type Random, requireNumber, requireOptions, type Scheduler } from '../core/index.js';
import { type BulkheadOptions, BulkheadPolicy } from './bulkhead.js';
import { type CircuitBreakerOptions, CircuitBreakerPolicy } from './circuit-breaker.js';
import { type PipelinePolicy, pipeline } from './pipeline.js';
import type { Policy } from './policy.js';
import { type RetryOptions, RetryPolicy } from './retry.js';
import { TimeoutPolicy } from './timeout.js';

/** Options for {@link callPolicy}. Every part is optional; each is options or a ready policy. */
export interface CallPolicyOptions {
  /** The outermost part: options for a {@link RetryPolicy}, or any policy. */
  readonly retry?: RetryOptions | Policy;
  /** Options for a {@link CircuitBreakerPolicy}, or any policy (a shared breaker, say). */
  readonly breaker?: CircuitBreakerOptions | Policy;
  /** The per-attempt timeout in milliseconds (> 0), or any policy. */
  readonly timeout?: number | Policy;
  /** The innermost part: options for a {@link BulkheadPolicy}, or any policy. */
  readonly bulkhead?: BulkheadOptions | Policy;
  /** The scheduler of every part built from options. Default core's `systemScheduler`. */
  readonly scheduler?: Scheduler;
  /** The random of a retry built from options (its jitter). Default core's `systemRandom()`. */
  readonly random?: Random;
}

function isPolicy(value: unknown): value is Policy {
  return (
    typeof value === 'object' && value !== null && typeof (value as Policy).execute === 'function'
  );
}

/**
 * Builds `pipeline(retry, breaker, timeout, bulkhead)` from options, leaving out the
 * parts not given. The order and its reasons are in the docs of {@link pipeline}: each
 * retry passes the breaker afresh, timeouts count as breaker failures, queueing for a
 * bulkhead slot counts against the attempt's timeout, and the bulkhead bounds the
 * attempts that reach the dependency at once.
 *
 * @example
 * ```ts
 * const policy = callPolicy({
 *   retry: { attemptCountMax: 3 },
 *   breaker: { strategy: { kind: 'consecutive-failures', failureCountThreshold: 5 }, breakDurationMs: 10_000 },
 *   timeout: 500,
 *   bulkhead: { concurrencyMax: 20, queueCountMax: 100 },
 * });
 * const user = await policy.execute(({ signal }) => loadUser(id, signal));
 * ```
 */
export function callPolicy(options: CallPolicyOptions): PipelinePolicy {
  const checked = requireOptions('callPolicy options', options);
  const shared = {
    ...(checked.scheduler === undefined ? {} : { scheduler: checked.scheduler }),
  };
  const parts: Policy[] = [];
  const { retry, breaker, timeout, bulkhead } = checked;
  if (retry !== undefined) {
    parts.push(
      isPolicy(retry)
        ? retry
        : new RetryPolicy({
            ...shared,
            ...(checked.random === undefined ? {} : { random: checked.random }),
            ...requireOptions('callPolicy options.retry', retry),
          }),
    );
  }
  if (breaker !== undefined) {
    parts.push(
      isPolicy(breaker)
        ? breaker
        : new CircuitBreakerPolicy({
            ...shared,
            ...requireOptions('callPolicy options.breaker', breaker),
          }),
    );
  }
  if (timeout !== undefined) {
    parts.push(
      isPolicy(timeout)
        ? timeout
        : new TimeoutPolicy({
            ...shared,
            timeoutMs: requireNumber('callPolicy options.timeout', timeout, {
              min: Number.MIN_VALUE,
            }),
          }),
    );
  }
  if (bulkhead !== undefined) {
    parts.push(
      isPolicy(bulkhead)
        ? bulkhead
        : new BulkheadPolicy({
            ...shared,
            ...requireOptions('callPolicy options.bulkhead', bulkhead),
          }),
    );
  }
  return pipeline(...parts);
}
