/**
 * `distkit/resilience`: the policies every service needs at each network boundary, on
 * the injected Clock, Scheduler and Random of `distkit/core`, composed with
 * {@link pipeline}.
 *
 * @packageDocumentation
 */

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
export { PipelinePolicy, pipeline } from './pipeline.js';
export {
  contextFrom,
  type DeriveOptions,
  ExecutionContext,
  type Policy,
  type PolicyContext,
  type PolicyWork,
} from './policy.js';
export { isThenable, type TimeoutEvent, type TimeoutOptions, TimeoutPolicy } from './timeout.js';
