/**
 * `distkit/clocks`: logical and physical clocks for ordering events across nodes.
 * Lamport clocks for a total order consistent with causality; vector clocks to tell
 * ordered events from concurrent ones; dotted version vectors for the siblings of a
 * replicated key; hybrid logical clocks for timestamps close to wall time that still
 * respect causality; an interval clock for commit-wait. Pure computation over an
 * injected {@link Clock}; compact binary and JSON encodings with typed errors for
 * malformed input.
 *
 * @packageDocumentation
 */

export type { Clock } from '../core/index.js';
export {
  type Dot,
  DottedVersionVector,
  type Sibling,
  type SiblingsRead,
} from './dotted-version-vector.js';
export { ClockEncodingError, isClockEncodingError } from './encoding.js';
export {
  ClockOffsetError,
  compareHybridTimestamps,
  decodeHybridTimestamp,
  encodeHybridTimestamp,
  formatHybridTimestamp,
  HybridLogicalClock,
  type HybridLogicalClockOptions,
  type HybridTimestamp,
  hybridLogicalMax,
  hybridTimestampBytes,
  hybridTimestampFromJSON,
  hybridTimestampToJSON,
  isClockOffsetError,
} from './hybrid-logical-clock.js';
export { IntervalClock, type IntervalClockOptions, type TimeInterval } from './interval-clock.js';
export {
  compareLamportTimestamps,
  LamportClock,
  type LamportClockOptions,
  type LamportTimestamp,
} from './lamport.js';
export {
  type CausalOrder,
  VectorClock,
  type VectorClockEntry,
  type VectorClockPruneOptions,
} from './vector-clock.js';
