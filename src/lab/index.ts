/**
 * `distkit/lab`: the CAP/PACELC lab. Runs replication modes (rows) against fault scenarios
 * (columns) in the deterministic simulator and measures, per cell, availability during the
 * fault window, latency, stale reads, acknowledged writes lost, conflicts surfaced and the
 * consistency models the history satisfies according to `distkit/check`; prints the table
 * and renders a self-contained HTML report.
 *
 * @packageDocumentation
 */

export {
  defaultLabTiming,
  formatLabTable,
  type LabCell,
  type LabModeCounters,
  type LabOptions,
  type LabProgress,
  type LabReport,
  type LabTiming,
  labIds,
  labTableHeaders,
  labTableRows,
  quickLabCheckBudget,
  quickLabTiming,
  runLab,
  runLabCell,
  verdictMark,
} from './lab.js';
export {
  checkConsistency,
  historyAnomalies,
  type LabAnomaly,
  type LabAnomalyKind,
  type LabCheckBudget,
  type LabConsistency,
  type LabTimeBucket,
  type LabVerdict,
  type LostWrites,
  lostWrites,
  percentile,
  staleReads,
  timeSeries,
} from './measure.js';
export { type LabMode, type LabModeId, labModeIds, labModes } from './modes.js';
export {
  type ClientPolicy,
  ReplicaClient,
  ReplicaProgram,
  type ReplicationScenarioOptions,
  type ReplicationScenarioResult,
  runReplicationScenario,
} from './replica-program.js';
export { type LabReportHtmlOptions, renderLabReportHtml } from './report.js';
export {
  clockSkewMs,
  type LabScenario,
  type LabScenarioId,
  labScenarioIds,
  labScenarios,
  lossProbability,
  type ScenarioContext,
} from './scenarios.js';
