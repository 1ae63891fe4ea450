/**
 * `distkit/resilience`: the policies every service needs at each network boundary, on
 * the injected Clock, Scheduler and Random of `distkit/core`, composed with
 * {@link pipeline}.
 *
 * @packageDocumentation
 */

export {
  contextFrom,
  type DeriveOptions,
  ExecutionContext,
  type Policy,
  type PolicyContext,
  type PolicyWork,
} from './policy.js';
export { PipelinePolicy, pipeline } from './pipeline.js';
export { isThenable, type TimeoutEvent, TimeoutPolicy, type TimeoutOptions } from './timeout.js';
