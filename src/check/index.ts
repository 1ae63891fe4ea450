/**
 * `distkit/check`: consistency checkers. Read a history ({@link parseJepsenLog},
 * {@link parseJepsenEdn}, {@link parseJsonLinesHistory}, or build {@link Operation}s
 * yourself), pick a sequential model ({@link casRegisterModel}, {@link kvModel}, ...) and
 * call {@link checkLinearizability} or {@link checkSequentialConsistency}: the verdict is
 * `'ok'`, `'violation'` with an explanation a person can follow, or `'unknown'` when the
 * search ran out of budget. For weaker stores and histories whose written values are
 * unique, {@link checkCausalConsistency} and the session checkers
 * ({@link checkSessionGuarantees}, ...) judge the smaller promises.
 *
 * Pure computation: no files, no timers. Readers take strings; time budgets take an
 * injected {@link Clock}.
 *
 * @packageDocumentation
 */

export type { Clock } from '../core/index.js';
export {
  type CausalCheckOk,
  type CausalCheckOptions,
  type CausalCheckResult,
  type CausalCheckStatistics,
  type CausalCheckUnknown,
  type CausalCheckViolation,
  type CausalLink,
  type CausalPattern,
  type CausalRelation,
  type CausalViolation,
  checkCausalConsistency,
} from './causal.js';
export {
  describeOperation,
  formatValue,
  type HistoryEvent,
  type HistoryEventType,
  HistoryFormatError,
  historyFromEvents,
  isHistoryFormatError,
  type Operation,
  type OperationStatus,
} from './history.js';
export {
  type Candidate,
  type CheckOk,
  type CheckOptions,
  type CheckResult,
  type CheckStatistics,
  type CheckUnknown,
  type CheckViolation,
  checkLinearizability,
  type LinearizedStep,
  type ViolationExplanation,
} from './linearizability.js';
export {
  type CounterModelOptions,
  casRegisterModel,
  counterModel,
  type HistoryPartition,
  type KvState,
  kvModel,
  type Model,
  type RegisterModelOptions,
  registerModel,
  type StateKey,
  type StepResult,
  setModel,
  valuesEqual,
} from './models.js';
export { parseJepsenEdn, parseJepsenLog, parseJsonLinesHistory } from './readers.js';
export { checkSequentialConsistency } from './sequential.js';
export {
  type BoundedStalenessOptions,
  type ConvergenceOptions,
  checkBoundedStaleness,
  checkConvergence,
  checkMonotonicReads,
  checkMonotonicWrites,
  checkReadYourWrites,
  checkSessionGuarantees,
  checkWritesFollowReads,
  isSessionHistoryError,
  type SessionCheckOk,
  type SessionCheckOptions,
  type SessionCheckResult,
  type SessionCheckViolation,
  type SessionGuarantee,
  type SessionGuaranteesResult,
  SessionHistoryError,
  type SessionHistoryProblem,
  type SessionOperation,
  type SessionViolation,
} from './sessions.js';
export { escapeHtml, renderTimelineHtml, type TimelineOptions } from './timeline.js';
