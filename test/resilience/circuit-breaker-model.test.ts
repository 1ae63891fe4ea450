/**
 * The circuit breaker against an independent reference model of its specification,
 * driven by seeded random call sequences in virtual time: after every step both must be
 * in the same state, agree on which calls are admitted, give the same retry hints and
 * have made the same state changes.
 *
 * The model keeps every outcome in plain arrays and recomputes each verdict from scratch;
 * it shares no code with the implementation.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SeededRandom, VirtualScheduler } from '../../src/core/index.js';
import type { BreakerStrategyOptions } from '../../src/resilience/breaker-strategies.js';
import {
  CircuitBreakerPolicy,
  type CircuitBreakerState,
  isBreakerOpenError,
} from '../../src/resilience/circuit-breaker.js';

interface ModelConfig {
  readonly strategy: BreakerStrategyOptions;
  readonly breakDurationMs: number;
  readonly breakDurationMultiplier: number;
  readonly breakDurationMsMax: number;
  readonly halfOpenProbeCountMax: number;
  readonly halfOpenWaitMsMax: number;
  /** Without it the breaker never measures durations and nothing is slow. */
  readonly slowCallDurationMs?: number;
}

interface Recorded {
  readonly failed: boolean;
  readonly slow: boolean;
  readonly atMs: number;
}

interface Ticket {
  readonly period: number;
  readonly startMs: number;
}

type Admission =
  | { readonly admitted: true; readonly ticket: Ticket }
  | { readonly admitted: false; readonly state: string; readonly retryAfterMs: number | undefined };

/** The specification, written as directly as possible. */
class ModelBreaker {
  state: CircuitBreakerState = 'closed';
  readonly transitions: string[] = [];
  #period = 0;
  #history: Recorded[] = [];
  #probeAtMs = 0;
  #halfOpenEndsMs = 0;
  #opensInARow = 0;
  #probesRunning = 0;
  #probesSucceeded = 0;

  constructor(readonly config: ModelConfig) {}

  #moveTo(state: CircuitBreakerState): void {
    this.transitions.push(`${this.state}->${state}`);
    this.state = state;
    this.#period += 1;
    this.#probesRunning = 0;
    this.#probesSucceeded = 0;
  }

  #open(nowMs: number): void {
    const { breakDurationMs, breakDurationMultiplier, breakDurationMsMax } = this.config;
    let durationMs = breakDurationMs;
    for (let opened = 0; opened < this.#opensInARow; opened += 1) {
      durationMs *= breakDurationMultiplier;
    }
    this.#opensInARow += 1;
    this.#moveTo('open');
    this.#probeAtMs = nowMs + Math.min(durationMs, breakDurationMsMax);
    this.#history = [];
  }

  #close(): void {
    this.#moveTo('closed');
    this.#history = [];
    this.#opensInARow = 0;
  }

  /** Time passes from `fromMs` to `toMs`: a half-open period may run out on the way. */
  advance(toMs: number): void {
    if (this.state === 'half-open' && this.#halfOpenEndsMs <= toMs) {
      this.#open(this.#halfOpenEndsMs);
    }
  }

  call(nowMs: number): Admission {
    if (this.state === 'isolated') {
      return { admitted: false, state: 'isolated', retryAfterMs: undefined };
    }
    if (this.state === 'open') {
      if (nowMs < this.#probeAtMs) {
        return { admitted: false, state: 'open', retryAfterMs: this.#probeAtMs - nowMs };
      }
      this.#moveTo('half-open');
      this.#halfOpenEndsMs = nowMs + this.config.halfOpenWaitMsMax;
    }
    if (this.state === 'half-open') {
      if (this.#probesRunning + this.#probesSucceeded >= this.config.halfOpenProbeCountMax) {
        return {
          admitted: false,
          state: 'half-open',
          retryAfterMs: this.#halfOpenEndsMs - nowMs,
        };
      }
      this.#probesRunning += 1;
    }
    return { admitted: true, ticket: { period: this.#period, startMs: nowMs } };
  }

  settle(ticket: Ticket, outcome: 'success' | 'failure' | 'cancelled', nowMs: number): void {
    if (ticket.period !== this.#period) {
      return;
    }
    if (this.state === 'half-open') {
      this.#probesRunning -= 1;
    }
    if (outcome === 'cancelled') {
      return;
    }
    const failed = outcome === 'failure';
    const slowCallDurationMs = this.config.slowCallDurationMs;
    const slow = slowCallDurationMs !== undefined && nowMs - ticket.startMs >= slowCallDurationMs;
    if (this.state === 'half-open') {
      if (failed || (slow && this.#watchesSlowCalls())) {
        this.#open(nowMs);
      } else {
        this.#probesSucceeded += 1;
        if (this.#probesSucceeded === this.config.halfOpenProbeCountMax) {
          this.#close();
        }
      }
      return;
    }
    this.#history.push({ failed, slow, atMs: nowMs });
    if (this.#shouldOpen(nowMs)) {
      this.#open(nowMs);
    }
  }

  isolate(): void {
    if (this.state !== 'isolated') {
      this.#moveTo('isolated');
    }
  }

  reset(): void {
    if (this.state === 'closed') {
      this.#period += 1;
      this.#history = [];
      return;
    }
    this.#close();
  }

  #watchesSlowCalls(): boolean {
    const strategy = this.config.strategy;
    return strategy.kind !== 'consecutive-failures' && strategy.slowCallRateThreshold !== undefined;
  }

  #shouldOpen(nowMs: number): boolean {
    const strategy = this.config.strategy;
    if (strategy.kind === 'consecutive-failures') {
      let run = 0;
      for (let index = this.#history.length - 1; index >= 0; index -= 1) {
        if (!this.#history[index]?.failed) {
          break;
        }
        run += 1;
      }
      return run >= strategy.failureCountThreshold;
    }
    let window: Recorded[];
    let minimumCallCount: number;
    if (strategy.kind === 'count-window') {
      window = this.#history.slice(-strategy.windowCallCount);
      minimumCallCount = strategy.minimumCallCount ?? strategy.windowCallCount;
    } else {
      const bucketCount = strategy.bucketCount ?? 10;
      const bucketMs = strategy.windowMs / bucketCount;
      const current = Math.floor(nowMs / bucketMs);
      window = this.#history.filter(
        (entry) => Math.floor(entry.atMs / bucketMs) > current - bucketCount,
      );
      minimumCallCount = strategy.minimumCallCount ?? 10;
    }
    if (window.length < minimumCallCount) {
      return false;
    }
    const failures = window.filter((entry) => entry.failed).length;
    const slowCalls = window.filter((entry) => entry.slow).length;
    return (
      failures / window.length >= (strategy.failureRateThreshold ?? 0.5) ||
      (strategy.slowCallRateThreshold !== undefined &&
        slowCalls / window.length >= strategy.slowCallRateThreshold)
    );
  }
}

interface Pending {
  readonly ticket: Ticket;
  readonly resolve: (value: string) => void;
  readonly reject: (error: unknown) => void;
  readonly controller: AbortController | undefined;
  readonly settled: Promise<unknown>;
}

function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface RunSummary {
  readonly transitions: readonly string[];
  readonly rejections: number;
  readonly calls: number;
}

/**
 * Drives the breaker and the model with the same seeded sequence of steps and compares
 * them after each one. The failure probability switches between calm and stormy phases,
 * so the breaker opens, probes and closes many times in one run.
 */
async function run(seed: number, config: ModelConfig, stepCount: number): Promise<RunSummary> {
  const random = new SeededRandom({ seed });
  const scheduler = new VirtualScheduler();
  const clock = scheduler.clock;
  const breaker = new CircuitBreakerPolicy({ ...config, scheduler });
  const model = new ModelBreaker(config);
  const transitions: string[] = [];
  breaker.onStateChange(({ from, to }) => transitions.push(`${from}->${to}`));
  const pending: Pending[] = [];
  let failureProbability = 0.1;
  let rejections = 0;
  let calls = 0;
  const context = (step: number): string => `seed ${seed}, step ${step}`;

  for (let step = 0; step < stepCount; step += 1) {
    if (step % 40 === 0) {
      failureProbability = random.boolean(0.5) ? 0.9 : 0.05;
    }
    const action = random.float();
    if (action < 0.3) {
      const deltaMs = random.integer(0, config.breakDurationMs);
      scheduler.advanceMs(deltaMs);
      model.advance(clock.nowMs());
    } else if (action < 0.65) {
      calls += 1;
      const cancellable = random.boolean(0.1);
      const controller = cancellable ? new AbortController() : undefined;
      let resolve!: (value: string) => void;
      let reject!: (error: unknown) => void;
      let ran = false;
      const call = breaker.execute(() => {
        ran = true;
        return new Promise<string>((resolvePromise, rejectPromise) => {
          resolve = resolvePromise;
          reject = rejectPromise;
        });
      }, controller?.signal);
      const expected = model.call(clock.nowMs());
      assert.equal(ran, expected.admitted, `admission, ${context(step)}`);
      if (expected.admitted) {
        pending.push({
          ticket: expected.ticket,
          resolve,
          reject,
          controller,
          settled: call.catch(() => undefined),
        });
      } else {
        rejections += 1;
        const error = await call.then(
          () => assert.fail(`resolved while the model rejects, ${context(step)}`),
          (reason: unknown) => reason,
        );
        assert.ok(isBreakerOpenError(error), context(step));
        assert.equal(error.state, expected.state, `rejecting state, ${context(step)}`);
        assert.equal(error.retryAfterMs, expected.retryAfterMs, `retry hint, ${context(step)}`);
      }
    } else if (action < 0.98) {
      if (pending.length > 0) {
        const index = random.integer(0, pending.length - 1);
        const [entry] = pending.splice(index, 1) as [Pending];
        const roll = random.float();
        let outcome: 'success' | 'failure' | 'cancelled';
        if (entry.controller !== undefined && roll < 0.5) {
          outcome = 'cancelled';
          entry.controller.abort(new Error('caller gave up'));
          entry.reject(new Error('cancelled'));
        } else if (roll < failureProbability) {
          outcome = 'failure';
          entry.reject(new Error('dependency failed'));
        } else {
          outcome = 'success';
          entry.resolve('fine');
        }
        await entry.settled;
        model.settle(entry.ticket, outcome, clock.nowMs());
      }
    } else if (action < 0.99) {
      breaker.isolate();
      model.isolate();
    } else {
      breaker.reset();
      model.reset();
    }
    await flush();
    assert.equal(breaker.state, model.state, `state, ${context(step)}`);
    assert.deepEqual(transitions, model.transitions, `transitions, ${context(step)}`);
  }
  return { transitions, rejections, calls };
}

const strategies: readonly BreakerStrategyOptions[] = [
  { kind: 'consecutive-failures', failureCountThreshold: 3 },
  { kind: 'count-window', windowCallCount: 8, minimumCallCount: 4, failureRateThreshold: 0.5 },
  {
    kind: 'count-window',
    windowCallCount: 5,
    failureRateThreshold: 0.6,
    slowCallRateThreshold: 0.6,
  },
  {
    kind: 'time-window',
    windowMs: 400,
    bucketCount: 4,
    minimumCallCount: 3,
    failureRateThreshold: 0.5,
    slowCallRateThreshold: 0.8,
  },
];

function baseConfig(strategy: BreakerStrategyOptions): ModelConfig {
  const config: ModelConfig = {
    strategy,
    breakDurationMs: 100,
    breakDurationMultiplier: 2,
    breakDurationMsMax: 350,
    halfOpenProbeCountMax: 2,
    halfOpenWaitMsMax: 150,
  };
  // The consecutive strategy runs without durations: the breaker's untimed path.
  return strategy.kind === 'consecutive-failures' ? config : { ...config, slowCallDurationMs: 60 };
}

describe('CircuitBreakerPolicy against a reference model', () => {
  for (const strategy of strategies) {
    it(`opens, probes and closes exactly as specified: ${JSON.stringify(strategy)}`, async () => {
      const seen = new Set<string>();
      for (let seed = 1; seed <= 12; seed += 1) {
        const summary = await run(seed, baseConfig(strategy), 400);
        for (const transition of summary.transitions) {
          seen.add(transition);
        }
      }
      // The sequences exercise every kind of transition, not just agree on a few.
      for (const transition of [
        'closed->open',
        'open->half-open',
        'half-open->closed',
        'half-open->open',
      ]) {
        assert.ok(seen.has(transition), `no ${transition} in any run`);
      }
    });
  }

  it('agrees on random configurations (fast-check picks the options and the seed)', async () => {
    const strategyArbitrary: fc.Arbitrary<BreakerStrategyOptions> = fc.oneof(
      fc.record({
        kind: fc.constant('consecutive-failures' as const),
        failureCountThreshold: fc.integer({ min: 1, max: 5 }),
      }),
      fc.integer({ min: 1, max: 10 }).chain((windowCallCount) =>
        fc.record({
          kind: fc.constant('count-window' as const),
          windowCallCount: fc.constant(windowCallCount),
          minimumCallCount: fc.integer({ min: 1, max: windowCallCount }),
          failureRateThreshold: fc.integer({ min: 1, max: 10 }).map((tenths) => tenths / 10),
          slowCallRateThreshold: fc.integer({ min: 1, max: 10 }).map((tenths) => tenths / 10),
        }),
      ),
      fc.integer({ min: 1, max: 10 }).chain((windowCallCount) =>
        fc.record({
          kind: fc.constant('count-window' as const),
          windowCallCount: fc.constant(windowCallCount),
          failureRateThreshold: fc.integer({ min: 1, max: 10 }).map((tenths) => tenths / 10),
        }),
      ),
      fc.record({
        kind: fc.constant('time-window' as const),
        windowMs: fc.constantFrom(100, 300, 1_000),
        bucketCount: fc.constantFrom(1, 4, 10),
        minimumCallCount: fc.integer({ min: 1, max: 6 }),
        failureRateThreshold: fc.integer({ min: 1, max: 10 }).map((tenths) => tenths / 10),
      }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          strategy: strategyArbitrary,
          breakDurationMs: fc.integer({ min: 1, max: 300 }),
          breakDurationMultiplier: fc.constantFrom(1, 1.5, 2),
          extraBreakMs: fc.integer({ min: 0, max: 500 }),
          halfOpenProbeCountMax: fc.integer({ min: 1, max: 3 }),
          halfOpenWaitMsMax: fc.integer({ min: 1, max: 400 }),
          slowCallDurationMs: fc.integer({ min: 1, max: 200 }),
        }),
        fc.integer({ min: 0, max: 2 ** 32 }),
        async ({ extraBreakMs, slowCallDurationMs, ...options }, seed) => {
          const watchesSlowCalls =
            options.strategy.kind !== 'consecutive-failures' &&
            options.strategy.slowCallRateThreshold !== undefined;
          const base: ModelConfig = {
            ...options,
            breakDurationMsMax: options.breakDurationMs + extraBreakMs,
          };
          // Slow-call thresholds need the duration; otherwise run half the cases untimed.
          const config =
            watchesSlowCalls || seed % 2 === 0 ? { ...base, slowCallDurationMs } : base;
          const summary = await run(seed, config, 150);
          assert.ok(summary.calls > 0);
        },
      ),
      { numRuns: 60 },
    );
  });
});
