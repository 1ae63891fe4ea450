/**
 * `distkit/crdt`: conflict-free replicated data types. State-based counters, sets,
 * registers and a map of CRDTs, and a sequence CRDT for text ({@link TextDocument}), each with a merge that is commutative, associative and
 * idempotent, so replicas that have seen the same updates in any order, any number of
 * times, hold the same state. The counters, the OR-Set, the MV-Register and the map have
 * delta mutators: every update returns a small delta that merges like a whole state.
 *
 * Pure computation: no I/O, no timers; timestamps come from `distkit/clocks`.
 *
 * @packageDocumentation
 */

export {
  CausalContext,
  type CausalContextJSON,
  CrdtEncodingError,
  type Dot,
  isCrdtEncodingError,
} from './causal.js';
export { GCounter, PNCounter } from './counters.js';
export type { ElementKeyOf, ElementOptions } from './elements.js';
export {
  counterKind,
  type EmbeddedEntry,
  type EmbeddedKind,
  type EmbeddedPlan,
  flagKind,
  ORMap,
  type ORMapJSON,
  registerKind,
  type SetOperation,
  setKind,
} from './or-map.js';
export { ORSet, type ORSetJSON } from './or-set.js';
export {
  LWWRegister,
  type LWWRegisterJSON,
  MVRegister,
  type MVRegisterJSON,
} from './registers.js';
export {
  GSet,
  isTwoPhaseSetError,
  TwoPhaseSet,
  TwoPhaseSetError,
  type TwoPhaseSetProblem,
} from './sets.js';
export {
  compareTextReplicaIds,
  TextDocument,
  type TextDocumentOptions,
  type TextReplicaId,
  type TextVersion,
  textReplicaIdLengthMax,
} from './text.js';
