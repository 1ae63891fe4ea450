/**
 * `distkit/resilience`: the policies every service needs at each network boundary, on
 * the injected Clock, Scheduler and Random of `distkit/core`, composed with
 * {@link pipeline}.
 *
 * @packageDocumentation
 */

export {
  type AdaptiveConcurrencyOptions,
  AdaptiveConcurrencyPolicy,
  classifyOverloadErrors,
  type ErrorSampleKind,
  type LimitChangeEvent,
} from './adaptive-concurrency.js';
export {
  AimdLimit,
  type AimdLimitOptions,
  GradientLimit,
  type GradientLimitOptions,
  type Limit,
  type LimitSample,
} from './adaptive-limit.js';
export {
  type Backoff,
  ConstantBackoff,
  type ConstantBackoffOptions,
  ExponentialBackoff,
  type ExponentialBackoffOptions,
  type Jitter,
  LinearBackoff,
  type LinearBackoffOptions,
} from './backoff.js';
export {
  type BreakerEvictEvent,
  BreakerRegistry,
  type BreakerRegistryOptions,
} from './breaker-registry.js';
export {
  type BreakerStrategy,
  type BreakerStrategyOptions,
  type BreakerStrategySnapshot,
  type BreakReason,
  type ConsecutiveFailuresOptions,
  type ConsecutiveFailuresSnapshot,
  type CountWindowOptions,
  type CountWindowSnapshot,
  createBreakerStrategy,
  type RateThresholdOptions,
  type TimeBucketSnapshot,
  type TimeWindowOptions,
  type TimeWindowSnapshot,
} from './breaker-strategies.js';
export {
  type BulkheadDequeuedEvent,
  type BulkheadDequeueOutcome,
  type BulkheadOptions,
  BulkheadPolicy,
  type BulkheadQueuedEvent,
  type BulkheadRejectEvent,
  BulkheadRejectedError,
  isBulkheadRejectedError,
} from './bulkhead.js';
export { type CallPolicyOptions, callPolicy } from './call-policy.js';
export {
  type BreakEvent,
  BreakerOpenError,
  type CallFailureEvent,
  type CallSuccessEvent,
  type CircuitBreakerOptions,
  CircuitBreakerPolicy,
  type CircuitBreakerRejectingState,
  type CircuitBreakerSnapshot,
  type CircuitBreakerState,
  isBreakerOpenError,
  type ResetEvent,
  type StateChangeEvent,
} from './circuit-breaker.js';
export {
  type FallbackEvent,
  type FallbackFunction,
  type FallbackOptions,
  FallbackPolicy,
} from './fallback.js';
export {
  type HedgeAttemptFailureEvent,
  type HedgeEvent,
  type HedgeSuccessEvent,
  HedgeSupersededError,
  type HedgingOptions,
  HedgingPolicy,
  isHedgeSupersededError,
} from './hedging.js';
export { LatencyHistogram, type LatencyHistogramOptions } from './latency-histogram.js';
export {
  isLoadShedError,
  LoadShedder,
  type LoadShedderOptions,
  LoadShedError,
  type LoadShedEvent,
  type LoadShedLevelEvent,
  type LoadShedReason,
  type PriorityPolicy,
} from './load-shedder.js';
export { PipelinePolicy, pipeline } from './pipeline.js';
export {
  contextFrom,
  type DeriveOptions,
  ExecutionContext,
  type Policy,
  type PolicyContext,
  type PolicyWork,
} from './policy.js';
export * from './rate-limit/index.js';
export {
  RateLimitPolicy,
  type RateLimitPolicyOptions,
  type RateLimitRejectEvent,
} from './rate-limit-policy.js';
export {
  defaultShouldRetryError,
  isRetryAttemptError,
  isRetryExhaustedError,
  type RetryAfterHint,
  RetryAttemptError,
  type RetryEvent,
  RetryExhaustedError,
  type RetryExhaustedReason,
  type RetryFailureEvent,
  type RetryGiveUpEvent,
  type RetryOptions,
  RetryPolicy,
  type RetrySuccessEvent,
  retryAfterMsOf,
} from './retry.js';
export { RetryBudget, type RetryBudgetLike, type RetryBudgetOptions } from './retry-budget.js';
export { isThenable, type TimeoutEvent, type TimeoutOptions, TimeoutPolicy } from './timeout.js';
