/**
 * distkit/resilience against its peers: cockatiel's retry, circuit breaker, timeout,
 * bulkhead and their composition, opossum's circuit breaker, and rate-limiter-flexible's
 * in-memory limiter.
 *
 * Every contender protects the same dependency call (`work`, an async function that
 * resolves at once) and is configured like distkit's policy next to it, with limits
 * generous enough that nothing is retried, broken, timed out or rejected in the
 * success-path comparisons; that is checked before measuring, and counted (through each
 * library's failure events, which the success path never emits) while measuring.
 *
 * Run with `npm run bench resilience`; see bench/README.md for what the figures mean.
 */

import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import {
  BrokenCircuitError,
  bulkhead,
  CircuitState,
  ExponentialBackoff as CockatielExponentialBackoff,
  ConsecutiveBreaker,
  circuitBreaker,
  handleAll,
  retry,
  TimeoutStrategy,
  timeout,
  wrap,
} from 'cockatiel';
import { systemScheduler } from 'distkit/core';
import {
  BulkheadPolicy,
  CircuitBreakerPolicy,
  ExponentialBackoff,
  isBreakerOpenError,
  KeyedRateLimiter,
  pipeline,
  RetryPolicy,
  TimeoutPolicy,
  TokenBucket,
} from 'distkit/resilience';
import CircuitBreaker from 'opossum';
import { RateLimiterMemory, type RateLimiterRes } from 'rate-limiter-flexible';
import {
  type BenchReport,
  type CaseResult,
  type ComparisonResult,
  runBenchmarks,
} from './harness.js';

// One configuration, mirrored in every library's terms.
/** Attempts in all, the first included. cockatiel's `maxAttempts` counts retries only. */
const attemptCountMax = 3;
/** cockatiel's ExponentialBackoff defaults, for both retry policies (never used: no retry). */
const delayMsBase = 128;
const delayMsMax = 30_000;
const failureCountThreshold = 5;
const breakDurationMs = 10_000;
const timeoutMs = 1_000;
const concurrencyMax = 100;
const queueCountMax = 100;
/** For the open-breaker comparison: long enough that no breaker probes during the run. */
const openBreakDurationMs = 3_600_000;

let workCallCount = 0;
/** The dependency call every contender protects: resolves at once, with a fresh number. */
async function work(): Promise<number> {
  workCallCount += 1;
  return workCallCount;
}

const dependencyDown = new Error('the dependency is down (benchmark)');
/** The failing call that trips the breakers before the open-breaker comparison. */
async function failingWork(): Promise<number> {
  throw dependencyDown;
}

/** Settles an open breaker's rejection into a value; an open breaker never resolves. */
function notRejected(value: unknown): never {
  throw new Error(`an open breaker let a call through (it returned ${String(value)})`);
}
function rejectionOf(error: unknown): unknown {
  return error;
}

// Lower bounds. A policy that must see how the work ended (a retry, a breaker, a bulkhead)
// attaches at least one reaction to the work's promise, and `execute` returns a promise, so
// it costs at least a bare call plus one `.then`. A timeout must also read the clock, hold a
// promise it can reject before the work settles, and keep a timer entry. The floors below do
// exactly that with shared callbacks and nothing else: no policy can be cheaper, so a peer's
// time over a floor's is the best throughput ratio any implementation could reach.
function passValue(value: number): number {
  return value;
}
function rethrow(error: unknown): never {
  throw error;
}
/** One `.then` on the work's promise: the least a policy that watches outcomes can do. */
function thenFloor(): Promise<number> {
  return work().then(passValue, rethrow);
}
function ignoreTimer(): void {}
let capturedResolve: (value: number) => void = ignoreTimer;
let capturedReject: (error: unknown) => void = ignoreTimer;
function captureResolvers(resolve: (value: number) => void, reject: (error: unknown) => void) {
  capturedResolve = resolve;
  capturedReject = reject;
}
/**
 * The least a timeout can do: read the clock, put a task on the shared scheduler, make a
 * promise it could reject, settle it from one reaction to the work's promise and cancel
 * the task. The task's callback is shared and the reaction forwards straight to the
 * promise's own resolving functions, so it cannot reject anything: a floor, not a timeout.
 */
function timeoutFloor(): Promise<number> {
  const task = systemScheduler.scheduleAt(systemScheduler.clock.nowMs() + timeoutMs, ignoreTimer);
  const promise = new Promise<number>(captureResolvers);
  work().then(capturedResolve, capturedReject);
  task.cancel();
  return promise;
}

/**
 * Failure events seen while measuring the success path: retries, breaks, timeouts and
 * rejections. Each library emits them only off the success path, so listening to them
 * changes nothing that is measured; the run fails unless this stays 0.
 */
let unexpectedEventCount = 0;
const countUnexpected = (): void => {
  unexpectedEventCount += 1;
};

function distkitRetry(): RetryPolicy {
  const policy = new RetryPolicy({
    attemptCountMax,
    backoff: new ExponentialBackoff({ delayMsBase, delayMsMax, jitter: 'decorrelated' }),
  });
  policy.onRetry(countUnexpected);
  policy.onGiveUp(countUnexpected);
  return policy;
}
function cockatielRetry() {
  const policy = retry(handleAll, {
    maxAttempts: attemptCountMax - 1,
    backoff: new CockatielExponentialBackoff(),
  });
  policy.onRetry(countUnexpected);
  policy.onGiveUp(countUnexpected);
  return policy;
}

function distkitBreaker(durationMs = breakDurationMs): CircuitBreakerPolicy {
  return new CircuitBreakerPolicy({
    strategy: { kind: 'consecutive-failures', failureCountThreshold },
    breakDurationMs: durationMs,
  });
}
function cockatielBreaker(durationMs = breakDurationMs) {
  return circuitBreaker(handleAll, {
    halfOpenAfter: durationMs,
    breaker: new ConsecutiveBreaker(failureCountThreshold),
  });
}
/**
 * opossum opens on an error percentage over a rolling window, not on consecutive
 * failures; `volumeThreshold` keeps it closed for the first `failureCountThreshold` calls,
 * so five failures in a row open it just like the others. Its own timeout is off (the
 * timeout is a policy of its own here). `lean` switches off the latency percentiles and
 * the snapshot timer, which distkit and cockatiel do not have.
 */
function opossumBreaker(
  action: () => Promise<number>,
  lean: boolean,
  durationMs = breakDurationMs,
): CircuitBreaker<[], number> {
  return new CircuitBreaker(action, {
    timeout: false,
    resetTimeout: durationMs,
    errorThresholdPercentage: 50,
    volumeThreshold: failureCountThreshold,
    ...(lean ? { rollingPercentilesEnabled: false, enableSnapshots: false } : {}),
  });
}

function watchBreakers(
  distkit: CircuitBreakerPolicy,
  cockatiel: ReturnType<typeof cockatielBreaker>,
): void {
  distkit.onBreak(countUnexpected);
  distkit.onReject(countUnexpected);
  cockatiel.onBreak(countUnexpected);
}

function distkitTimeout(): TimeoutPolicy {
  const policy = new TimeoutPolicy({ timeoutMs });
  policy.onTimeout(countUnexpected);
  return policy;
}
function cockatielTimeout(strategy: TimeoutStrategy) {
  const policy = timeout(timeoutMs, strategy);
  policy.onTimeout(countUnexpected);
  return policy;
}

function distkitBulkhead(): BulkheadPolicy {
  const policy = new BulkheadPolicy({ concurrencyMax, queueCountMax });
  policy.onReject(countUnexpected);
  policy.onQueued(countUnexpected);
  return policy;
}
function cockatielBulkhead() {
  const policy = bulkhead(concurrencyMax, queueCountMax);
  policy.onReject(countUnexpected);
  return policy;
}

// Retry, breaker, timeout and bulkhead, each on its own.
const retryDistkit = distkitRetry();
const retryCockatiel = cockatielRetry();

const breakerDistkit = distkitBreaker();
const breakerCockatiel = cockatielBreaker();
watchBreakers(breakerDistkit, breakerCockatiel);
const breakerOpossum = opossumBreaker(work, false);
const breakerOpossumLean = opossumBreaker(work, true);
for (const breaker of [breakerOpossum, breakerOpossumLean]) {
  breaker.on('open', countUnexpected);
  breaker.on('reject', countUnexpected);
}

const timeoutDistkit = distkitTimeout();
const timeoutCockatielAggressive = cockatielTimeout(TimeoutStrategy.Aggressive);
const timeoutCockatielCooperative = cockatielTimeout(TimeoutStrategy.Cooperative);

const bulkheadDistkit = distkitBulkhead();
const bulkheadCockatiel = cockatielBulkhead();

// The four policies composed, in the order both libraries recommend.
const pipelineBreakerDistkit = distkitBreaker();
const pipelineBreakerCockatiel = cockatielBreaker();
watchBreakers(pipelineBreakerDistkit, pipelineBreakerCockatiel);
const pipelineDistkit = pipeline(
  distkitRetry(),
  pipelineBreakerDistkit,
  distkitTimeout(),
  distkitBulkhead(),
);
const pipelineCockatiel = wrap(
  cockatielRetry(),
  pipelineBreakerCockatiel,
  cockatielTimeout(TimeoutStrategy.Aggressive),
  cockatielBulkhead(),
);

// Each contender's success path: one work call per iteration, and its value passed back.
const successCases: readonly (readonly [string, () => Promise<unknown>])[] = [
  ['bare', () => work()],
  ['floor: one .then', thenFloor],
  ['floor: timeout', timeoutFloor],
  ['distkit retry', () => retryDistkit.execute(work)],
  ['cockatiel retry', () => retryCockatiel.execute(work)],
  ['distkit breaker', () => breakerDistkit.execute(work)],
  ['cockatiel breaker', () => breakerCockatiel.execute(work)],
  ['opossum breaker', () => breakerOpossum.fire()],
  ['opossum breaker (lean)', () => breakerOpossumLean.fire()],
  ['distkit timeout', () => timeoutDistkit.execute(work)],
  ['cockatiel timeout (aggressive)', () => timeoutCockatielAggressive.execute(work)],
  ['cockatiel timeout (cooperative)', () => timeoutCockatielCooperative.execute(work)],
  ['distkit bulkhead', () => bulkheadDistkit.execute(work)],
  ['cockatiel bulkhead', () => bulkheadCockatiel.execute(work)],
  ['distkit pipeline', () => pipelineDistkit.execute(work)],
  ['cockatiel wrap', () => pipelineCockatiel.execute(work)],
];
for (const [name, run] of successCases) {
  const before = workCallCount;
  for (let index = 1; index <= 10; index += 1) {
    assert.equal(await run(), before + index, `${name}: returns the work's value`);
  }
  assert.equal(workCallCount, before + 10, `${name}: one work call per iteration`);
}

// An open breaker: each contender tripped by five failures in a row, and kept open.
const openDistkit = distkitBreaker(openBreakDurationMs);
const openCockatiel = cockatielBreaker(openBreakDurationMs);
const openOpossum = opossumBreaker(failingWork, false, openBreakDurationMs);
const openOpossumLean = opossumBreaker(failingWork, true, openBreakDurationMs);
for (let index = 0; index < failureCountThreshold; index += 1) {
  await assert.rejects(openDistkit.execute(failingWork), dependencyDown);
  await assert.rejects(openCockatiel.execute(failingWork), dependencyDown);
  await assert.rejects(openOpossum.fire(), dependencyDown);
  await assert.rejects(openOpossumLean.fire(), dependencyDown);
}
assert.equal(openDistkit.state, 'open');
assert.equal(openCockatiel.state, CircuitState.Open);
assert.ok(openOpossum.opened && openOpossumLean.opened, 'the opossum breakers are open');
{
  const before = workCallCount;
  assert.ok(isBreakerOpenError(await openDistkit.execute(work).then(notRejected, rejectionOf)));
  assert.ok(
    (await openCockatiel.execute(work).then(notRejected, rejectionOf)) instanceof
      BrokenCircuitError,
  );
  for (const breaker of [openOpossum, openOpossumLean]) {
    const rejection = await breaker.fire().then(notRejected, rejectionOf);
    assert.equal((rejection as { code?: unknown }).code, 'EOPENBREAKER');
  }
  assert.equal(workCallCount, before, 'an open breaker runs no work');
}

// Rate limiters. rate-limiter-flexible's memory limiter allows `points` per `duration`
// seconds per key (a fixed window); distkit's keyed token bucket gets the same rate and
// burst. At a billion per second neither can run dry in this run (a few tens of millions
// of decisions per second at most), so every decision is an allowed one.
const ratePointCount = 1_000_000_000;
const rateDurationSeconds = 1;
const hotKey = 'user-1';
const keyCount = 10_000;
const keys: readonly string[] = Array.from({ length: keyCount }, (_, index) => `user-${index}`);

function distkitKeyedLimiter() {
  return new KeyedRateLimiter({
    algorithm: new TokenBucket({
      capacity: ratePointCount,
      refillCount: ratePointCount,
      refillIntervalMs: rateDurationSeconds * 1_000,
    }),
    keyCountMax: keyCount,
  });
}
/** `keyPrefix: ''` stores the key as given, as distkit does, instead of concatenating a prefix. */
function flexibleLimiter(): RateLimiterMemory {
  return new RateLimiterMemory({
    points: ratePointCount,
    duration: rateDurationSeconds,
    keyPrefix: '',
  });
}

const hotSyncDistkit = distkitKeyedLimiter();
const hotAsyncDistkit = distkitKeyedLimiter();
const hotFlexible = flexibleLimiter();
const manySyncDistkit = distkitKeyedLimiter();
const manyAsyncDistkit = distkitKeyedLimiter();
const manyFlexible = flexibleLimiter();
// Each many-key case walks the keys round robin with its own cursor.
let manySyncCursor = 0;
let manyAsyncCursor = 0;
let manyFlexibleCursor = 0;
function manySyncDecision() {
  const key = keys[manySyncCursor] as string;
  manySyncCursor = manySyncCursor + 1 === keyCount ? 0 : manySyncCursor + 1;
  return manySyncDistkit.tryAcquire(key);
}
function manyAsyncDecision() {
  const key = keys[manyAsyncCursor] as string;
  manyAsyncCursor = manyAsyncCursor + 1 === keyCount ? 0 : manyAsyncCursor + 1;
  return manyAsyncDistkit.acquire(key);
}
function manyFlexibleDecision(): Promise<RateLimiterRes> {
  const key = keys[manyFlexibleCursor] as string;
  manyFlexibleCursor = manyFlexibleCursor + 1 === keyCount ? 0 : manyFlexibleCursor + 1;
  return manyFlexible.consume(key);
}

// Every limiter allows, and the many-key ones end up holding every key.
for (let index = 0; index < keyCount; index += 1) {
  assert.equal(hotSyncDistkit.tryAcquire(hotKey).allowed, true);
  assert.equal((await hotAsyncDistkit.acquire(hotKey)).allowed, true);
  assert.ok((await hotFlexible.consume(hotKey)).remainingPoints > 0);
  assert.equal(manySyncDecision().allowed, true);
  assert.equal((await manyAsyncDecision()).allowed, true);
  assert.ok((await manyFlexibleDecision()).remainingPoints > 0);
}
assert.equal(manySyncDistkit.keyCount, keyCount);
assert.equal(manyAsyncDistkit.keyCount, keyCount);

const bare = { name: 'bare await work() (no policy)', run: () => work() };
const thenFloorCase = {
  name: 'floor: bare call + one .then (no policy can be cheaper)',
  run: thenFloor,
};
const timeoutFloorCase = {
  name: 'floor: bare call + clock read + timer task + rejectable promise',
  run: timeoutFloor,
};
/**
 * The success-path comparisons measure differences of a few tens of nanoseconds between
 * cases that each take a few hundred, on machines that other work shares: more and
 * shorter rounds spread that load over every case.
 */
const successPath = { roundCount: 15, timeBudgetMs: 4_500 } as const;
const workCallsBefore = workCallCount;

const report = await runBenchmarks({
  module: 'resilience',
  comparisons: [
    {
      title: `Retry, success path: up to ${attemptCountMax} attempts, exponential backoff, work resolves at once`,
      distkit: { name: 'distkit RetryPolicy', run: () => retryDistkit.execute(work) },
      peers: [
        { name: 'cockatiel retry(handleAll)', run: () => retryCockatiel.execute(work) },
        bare,
        thenFloorCase,
      ],
      ...successPath,
    },
    {
      title: `Circuit breaker, closed, success path: opens after ${failureCountThreshold} failures in a row`,
      distkit: { name: 'distkit CircuitBreakerPolicy', run: () => breakerDistkit.execute(work) },
      peers: [
        {
          name: 'cockatiel circuitBreaker(ConsecutiveBreaker)',
          run: () => breakerCockatiel.execute(work),
        },
        { name: 'opossum fire() (defaults, timeout: false)', run: () => breakerOpossum.fire() },
        {
          name: 'opossum fire() (no percentiles, no snapshots)',
          run: () => breakerOpossumLean.fire(),
        },
        bare,
        thenFloorCase,
      ],
      ...successPath,
    },
    {
      title: `Timeout, success path: ${timeoutMs} ms limit, work resolves at once`,
      distkit: { name: 'distkit TimeoutPolicy', run: () => timeoutDistkit.execute(work) },
      peers: [
        {
          name: 'cockatiel timeout(Aggressive)',
          run: () => timeoutCockatielAggressive.execute(work),
        },
        {
          name: 'cockatiel timeout(Cooperative)',
          run: () => timeoutCockatielCooperative.execute(work),
        },
        bare,
        timeoutFloorCase,
      ],
      ...successPath,
    },
    {
      title: `Bulkhead, success path: ${concurrencyMax} slots, queue of ${queueCountMax}, one call at a time`,
      distkit: { name: 'distkit BulkheadPolicy', run: () => bulkheadDistkit.execute(work) },
      peers: [
        { name: 'cockatiel bulkhead', run: () => bulkheadCockatiel.execute(work) },
        bare,
        thenFloorCase,
      ],
      ...successPath,
    },
    {
      title: 'Pipeline retry + breaker + timeout + bulkhead, success path',
      distkit: {
        name: 'distkit pipeline(retry, breaker, timeout, bulkhead)',
        run: () => pipelineDistkit.execute(work),
      },
      peers: [
        {
          name: 'cockatiel wrap(retry, breaker, timeout, bulkhead)',
          run: () => pipelineCockatiel.execute(work),
        },
        bare,
        timeoutFloorCase,
      ],
      ...successPath,
    },
    {
      title: 'Open circuit breaker: reject a call without running it',
      distkit: {
        name: 'distkit CircuitBreakerPolicy (BreakerOpenError)',
        run: () => openDistkit.execute(work).then(notRejected, rejectionOf),
      },
      peers: [
        {
          name: 'cockatiel circuitBreaker (BrokenCircuitError)',
          run: () => openCockatiel.execute(work).then(notRejected, rejectionOf),
        },
        {
          name: 'opossum fire(), no fallback (defaults)',
          run: () => openOpossum.fire().then(notRejected, rejectionOf),
        },
        {
          name: 'opossum fire(), no fallback (no percentiles, no snapshots)',
          run: () => openOpossumLean.fire().then(notRejected, rejectionOf),
        },
      ],
    },
    {
      title: 'Keyed rate limiter, one hot key: distkit decides synchronously',
      distkit: {
        name: 'distkit KeyedRateLimiter(TokenBucket).tryAcquire (sync)',
        run: () => hotSyncDistkit.tryAcquire(hotKey),
      },
      peers: [
        {
          name: 'rate-limiter-flexible RateLimiterMemory.consume (async)',
          run: () => hotFlexible.consume(hotKey),
        },
      ],
    },
    {
      title: 'Keyed rate limiter, one hot key: both through a promise',
      distkit: {
        name: 'distkit KeyedRateLimiter(TokenBucket).acquire (async port)',
        run: () => hotAsyncDistkit.acquire(hotKey),
      },
      peers: [
        {
          name: 'rate-limiter-flexible RateLimiterMemory.consume (async)',
          run: () => hotFlexible.consume(hotKey),
        },
      ],
    },
    {
      title: `Keyed rate limiter, ${keyCount.toLocaleString('en')} keys round robin: distkit decides synchronously`,
      distkit: {
        name: 'distkit KeyedRateLimiter(TokenBucket).tryAcquire (sync)',
        run: manySyncDecision,
      },
      peers: [
        {
          name: 'rate-limiter-flexible RateLimiterMemory.consume (async)',
          run: manyFlexibleDecision,
        },
      ],
    },
    {
      title: `Keyed rate limiter, ${keyCount.toLocaleString('en')} keys round robin: both through a promise`,
      distkit: {
        name: 'distkit KeyedRateLimiter(TokenBucket).acquire (async port)',
        run: manyAsyncDecision,
      },
      peers: [
        {
          name: 'rate-limiter-flexible RateLimiterMemory.consume (async)',
          run: manyFlexibleDecision,
        },
      ],
    },
  ],
});

assert.equal(unexpectedEventCount, 0, 'a success-path case retried, broke, timed out or rejected');
assert.ok(workCallCount > workCallsBefore);
for (const breaker of [breakerOpossum, breakerOpossumLean, openOpossum, openOpossumLean]) {
  breaker.shutdown();
}

// Derived figures for the success-path comparisons, from the same run. Each ratio comes
// three times: from the means (as the harness's ratios), from the medians, and from each
// case's fastest round (load from other processes only ever adds time, so the fastest of
// fifteen rounds is the one it disturbed least).
//
// - total: a peer's time per call over distkit's (the harness's distkit/peer ratio);
// - overhead: (peer - bare) / (distkit - bare), what each library adds to a bare call;
//   null when distkit's time is not above the bare call's;
// - best possible: a peer's time over the floor's, the total ratio that a policy costing
//   nothing beyond the floor would reach;
// - distkit against the bare call: distkit / bare and (distkit - bare) / bare.

/** A ratio from the means, the medians and the fastest rounds; null where it is undefined. */
interface RatioPair {
  readonly mean: number | null;
  readonly median: number | null;
  readonly fastestRound: number | null;
}

/** What a ratio is computed from: one case's time per call, by one estimator. */
type Pick = (entry: CaseResult) => number;

const fastestRoundNs: Pick = (entry) => Math.min(...entry.roundMeansNsPerOp);

interface PeerRatios {
  readonly peer: string;
  readonly total: RatioPair;
  readonly overhead: RatioPair;
  readonly bestPossibleTotal: RatioPair | null;
}

interface DerivedComparison {
  readonly title: string;
  readonly bareNs: RatioPair;
  readonly floor: { readonly name: string; readonly overBare: RatioPair } | null;
  readonly distkitOverBare: RatioPair;
  readonly distkitOverheadOverBare: RatioPair;
  readonly peers: readonly PeerRatios[];
}

function rounded(value: number): number | null {
  return Number.isFinite(value) ? Number(value.toPrecision(4)) : null;
}

function derive(comparison: ComparisonResult): DerivedComparison | undefined {
  const [distkit, ...others] = comparison.cases;
  const bareCase = others.find((entry) => entry.name === bare.name);
  if (distkit === undefined || bareCase === undefined) {
    return undefined;
  }
  const floorCase = others.find((entry) => entry.name.startsWith('floor:'));
  const pair = (compute: (pick: Pick) => number): RatioPair => ({
    mean: rounded(compute((entry) => entry.meanNsPerOp)),
    median: rounded(compute((entry) => entry.medianNsPerOp)),
    fastestRound: rounded(compute(fastestRoundNs)),
  });
  const overhead = (pick: Pick, peer: CaseResult): number => {
    const distkitOverheadNs = pick(distkit) - pick(bareCase);
    return distkitOverheadNs > 0 ? (pick(peer) - pick(bareCase)) / distkitOverheadNs : Number.NaN;
  };
  return {
    title: comparison.title,
    bareNs: pair((pick) => pick(bareCase)),
    floor:
      floorCase === undefined
        ? null
        : { name: floorCase.name, overBare: pair((pick) => pick(floorCase) / pick(bareCase)) },
    distkitOverBare: pair((pick) => pick(distkit) / pick(bareCase)),
    distkitOverheadOverBare: pair((pick) => (pick(distkit) - pick(bareCase)) / pick(bareCase)),
    peers: others
      .filter((entry) => entry !== bareCase && entry !== floorCase)
      .map((peer) => ({
        peer: peer.name,
        total: pair((pick) => pick(peer) / pick(distkit)),
        overhead: pair((pick) => overhead(pick, peer)),
        bestPossibleTotal:
          floorCase === undefined ? null : pair((pick) => pick(peer) / pick(floorCase)),
      })),
  };
}

function formatPair(value: RatioPair | null): string {
  if (value === null) {
    return '';
  }
  const one = (ratio: number | null): string => (ratio === null ? 'n/a' : ratio.toFixed(2));
  return `${one(value.mean)} / ${one(value.median)} / ${one(value.fastestRound)}`;
}

function writeDerived(result: BenchReport): void {
  const derived = result.comparisons
    .map(derive)
    .filter((entry): entry is DerivedComparison => entry !== undefined);
  console.log('\nSuccess path, ratios from means / from medians / from the fastest rounds');
  for (const entry of derived) {
    console.log(`\n${entry.title}`);
    console.log(
      `  distkit / bare ${formatPair(entry.distkitOverBare)}; ` +
        `(distkit - bare) / bare ${formatPair(entry.distkitOverheadOverBare)}` +
        (entry.floor === null ? '' : `; floor / bare ${formatPair(entry.floor.overBare)}`),
    );
    for (const peer of entry.peers) {
      console.log(
        `  ${peer.peer}: total ${formatPair(peer.total)}, overhead ${formatPair(peer.overhead)}` +
          (peer.bestPossibleTotal === null
            ? ''
            : `, best possible total ${formatPair(peer.bestPossibleTotal)}`),
      );
    }
  }
  // The harness has written the file; add the derived figures as a field of their own.
  writeFileSync(
    new URL('./results/resilience.json', import.meta.url),
    `${JSON.stringify({ ...result, successPathDerived: derived }, null, 2)}\n`,
  );
}

writeDerived(report);
