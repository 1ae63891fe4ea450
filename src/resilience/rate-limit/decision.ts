/**
 * What every rate limiter in distkit answers, and the contracts they are built on.
 *
 * Each algorithm is a {@link RateLimitAlgorithm}: validated configuration plus a
 * transition `acquire(state, nowMs, cost)` over a small state record. Nothing in an
 * algorithm reads a clock or arms a timer; the caller passes the time, and everything
 * else (how many tokens have come back, which window is current) is recomputed from it.
 * The in-memory limiters hold the states; a store such as Redis can hold them instead and
 * run the same arithmetic (see {@link AsyncKeyedRateLimiter}).
 *
 * @module
 */

import { DistkitError, type DistkitErrorOptions, errorGuard } from '../../core/index.js';

/**
 * The answer to one request, the same for every algorithm.
 *
 * - `allowed`: whether the request may go ahead (for a shaper: whether it got a slot,
 *   possibly after a delay; see {@link ShapeDecision}).
 * - `remaining`: the largest cost that one more request at the same instant would be
 *   allowed, 0 when none would. For unit-cost traffic this is how many more requests fit
 *   right now. (A shaper reports how many unit-cost requests its queue can still take.)
 * - `retryAfterMs`: 0 when allowed. When denied, the time until the same request would be
 *   allowed if nothing else happened in between, rounded up so that a clock advanced by
 *   exactly `retryAfterMs` reaches that instant; `Infinity` when the cost exceeds what the
 *   limiter can ever allow.
 *
 * Limiters return a new small object per call; it is never reused or mutated afterwards,
 * so it is safe to keep.
 */
export interface RateLimitDecision {
  /** Whether the request may go ahead. */
  readonly allowed: boolean;
  /** The largest cost one more request at the same instant would be allowed. */
  readonly remaining: number;
  /** 0 when allowed; otherwise how long until the same request would be allowed. */
  readonly retryAfterMs: number;
}

/**
 * The decision of a shaper (`LeakyBucketShaper`): an allowed request has a slot, and
 * must wait `delayMs` before it proceeds. `delayMs` is 0 when denied.
 */
export interface ShapeDecision extends RateLimitDecision {
  /** How long the caller must wait before proceeding; 0 when it may go at once or was denied. */
  readonly delayMs: number;
}

/**
 * A rate-limiting algorithm as a pure transition over a state record: the contract that
 * the in-memory limiters wrap and that a remote store's script reimplements.
 *
 * - {@link RateLimitAlgorithm.acquire} decides a request of `cost` at `nowMs`. When it
 *   allows a request of cost > 0 it updates `state` in place; otherwise it leaves what
 *   the state means unchanged (it may still drop history that has expired). Copy the
 *   state with {@link RateLimitAlgorithm.copyState} first to keep the old one.
 * - A state from {@link RateLimitAlgorithm.createState} is what a key with no history
 *   has. From {@link RateLimitAlgorithm.idleAtMs} on, a state behaves exactly like a
 *   fresh one for every later request, so it can be dropped (or given that instant as
 *   its expiry in a store) without changing any decision.
 * - Costs are integers from 0 to `Number.MAX_SAFE_INTEGER`; cost 0 is a probe that is
 *   always allowed, changes nothing and reports `remaining`.
 */
export interface RateLimitAlgorithm<State, Decision extends RateLimitDecision = RateLimitDecision> {
  /** A stable name for messages and adapters, for example `'token-bucket'`. */
  readonly kind: string;
  /**
   * The largest cost one request can ever be allowed; a larger one is denied with
   * `retryAfterMs: Infinity`.
   */
  readonly costMax: number;
  /** The state of a key with no history. */
  createState(): State;
  /** Decides a request of `cost` at `nowMs`, updating `state` when the request is allowed. */
  acquire(state: State, nowMs: number, cost: number): Decision;
  /**
   * The instant from which `state` behaves exactly like {@link RateLimitAlgorithm.createState}'s
   * (if no request comes before); `-Infinity` for a fresh state.
   */
  idleAtMs(state: State): number;
  /** A deep copy of `state`. */
  copyState(state: State): State;
}

/** A single-key limiter that decides at once, without I/O. */
export interface SyncRateLimiter<Decision extends RateLimitDecision = RateLimitDecision> {
  /** Decides a request of `cost` (default 1) now. */
  tryAcquire(cost?: number): Decision;
}

/** A limiter with one limit per key that decides at once, without I/O. */
export interface SyncKeyedRateLimiter<Decision extends RateLimitDecision = RateLimitDecision> {
  /** Decides a request of `cost` (default 1) for `key` now. */
  tryAcquire(key: string, cost?: number): Decision;
}

/**
 * The port for limiters whose state lives elsewhere (Redis, say): one keyed decision per
 * call, asynchronously. `acquire` never waits for capacity; it decides and answers.
 *
 * The in-memory `KeyedRateLimiter` implements it, so code written against this port runs
 * in one process today and against a shared store later. An implementation over a store
 * should run an algorithm's arithmetic atomically in the store (a script), read the time
 * from one clock that every caller shares (the store's own), and may expire a key at its
 * state's {@link RateLimitAlgorithm.idleAtMs}, which changes no decision.
 */
export interface AsyncKeyedRateLimiter<Decision extends RateLimitDecision = RateLimitDecision> {
  /** Decides a request of `cost` (default 1) for `key`. */
  acquire(key: string, cost?: number): Promise<Decision>;
}

/**
 * A request was denied by a rate limit and the caller chose not to wait (or could not
 * wait that long). `retryAfterMs` says when the same request would be allowed.
 */
export class RateLimitedError extends DistkitError {
  /** How long until the same request would be allowed; `Infinity` if never. */
  readonly retryAfterMs: number;

  constructor(retryAfterMs: number, message?: string, options?: DistkitErrorOptions) {
    super(
      'RATE_LIMITED',
      message ??
        (retryAfterMs === Number.POSITIVE_INFINITY
          ? 'The request costs more than the rate limit ever allows; split it or raise the limit.'
          : `The rate limit allows this request in ${retryAfterMs} ms; retry then, or wait longer.`),
      options,
    );
    this.retryAfterMs = retryAfterMs;
  }
}

/** Brand guard for {@link RateLimitedError}. */
export const isRateLimitedError = errorGuard<RateLimitedError>('RATE_LIMITED');
