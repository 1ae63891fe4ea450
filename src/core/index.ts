/**
 * `distkit/core`: the ports every other module is built on. Time ({@link Clock}),
 * deferred work ({@link Scheduler}), randomness ({@link Random}), the error model
 * ({@link DistkitError}, {@link assert}), deadlines and cancellation ({@link Deadline},
 * {@link linkSignal}), backpressure ({@link BoundedQueue}) and typed events
 * ({@link Emitter}).
 *
 * Each port has a deterministic implementation for tests and simulations
 * ({@link ManualClock}, {@link VirtualScheduler}, {@link SeededRandom}) and a real one
 * ({@link systemClock}, {@link SystemScheduler}, {@link systemRandom}).
 *
 * @packageDocumentation
 */

export {
  BoundedQueue,
  type BoundedQueueOptions,
  isQueueClosedError,
  isQueueFullError,
  QueueClosedError,
  QueueFullError,
  type WaitOptions,
} from './bounded-queue.js';
export { ByteReader, type ByteReaderFailure, ByteWriter } from './bytes.js';
export { crc32c, crc32cUpdate } from './checksum.js';
export { type Clock, ManualClock, type ManualClockOptions } from './clock.js';
export {
  Deadline,
  deadlineOf,
  type LinkSignalOptions,
  linkSignal,
  type SignalScope,
} from './deadline.js';
export {
  AbortedError,
  AssertionError,
  abortError,
  assert,
  causeChain,
  DeadlineExceededError,
  DistkitError,
  type DistkitErrorLike,
  type DistkitErrorOptions,
  errorGuard,
  hasErrorCode,
  InvalidArgumentError,
  isAbortedError,
  isAssertionError,
  isDeadlineExceededError,
  isDistkitError,
  isInvalidArgumentError,
  isLimitExceededError,
  LimitExceededError,
} from './errors.js';
export {
  type Disposable,
  Emitter,
  type EmitterOptions,
  type Event,
  type Listener,
} from './event.js';
export { type HeapEntry, IndexedHeap } from './indexed-heap.js';
export { mix32, type Random, SeededRandom, type SeededRandomOptions } from './random.js';
export {
  checkScheduleArguments,
  checkScheduleAtArguments,
  type ScheduledTask,
  type Scheduler,
  VirtualScheduler,
  type VirtualSchedulerOptions,
} from './scheduler.js';
export { SystemClock, systemClock } from './system-clock.js';
export { systemRandom, systemSeed } from './system-random.js';
export {
  SystemScheduler,
  type SystemSchedulerOptions,
  systemScheduler,
} from './system-scheduler.js';
export {
  describeValue,
  type RangeBounds,
  requireBoolean,
  requireFunction,
  requireInteger,
  requireNumber,
  requireOneOf,
  requireOptionalSignal,
  requireOptions,
  requireString,
} from './validate.js';
