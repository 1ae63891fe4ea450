/**
 * `distkit/sim`: a deterministic simulator. Any number of nodes run in one thread on one
 * event queue ordered by (time, sequence); each node gets simulated ports (a clock that
 * can drift and jump, a scheduler, a seeded random stream, a disk with real fsync
 * semantics and a network endpoint), and the network and a nemesis inject faults drawn
 * from one seed. The same seed gives the same run, byte for byte, trace hash included.
 *
 * @packageDocumentation
 */

export {
  DiskWriteError,
  isDiskWriteError,
  SimDisk,
  type SimDiskOptions,
  type SimDiskStatistics,
  type UnsyncedWritesOnCrash,
} from './disk.js';
export {
  type HistoryEventInput,
  HistoryRecorder,
  type HistoryRecorderOptions,
} from './history.js';
export {
  type ConstantDelay,
  type DelayDistribution,
  type ExponentialDelay,
  type LongTailedDelay,
  requireDelayDistribution,
  sampleDelayMs,
  type UniformDelay,
} from './latency.js';
export {
  type BlockOneWayFault,
  type BridgeFault,
  type ClockJumpFault,
  type ClockOffsetFault,
  type ClockRateFault,
  type ClogFault,
  type CrashFault,
  checkLiveness,
  describeFault,
  type Fault,
  type FaultKind,
  type FaultLogEntry,
  type FaultLogEvent,
  type FaultPlanOptions,
  faultCountLimit,
  faultKinds,
  type IsolateFault,
  type LastingFault,
  type LatencySpikeFault,
  type LinkBaseline,
  type LivenessOptions,
  type LivenessResult,
  type LossFault,
  Nemesis,
  type NemesisOptions,
  type PauseFault,
  planFaults,
  type RingFault,
  requireFault,
  type ScheduledFault,
  type SplitFault,
} from './nemesis.js';
export {
  type LinkOptions,
  type LinkSelection,
  type NetworkStatistics,
  SimNetwork,
} from './network.js';
export {
  type NodeClockOptions,
  type NodeHost,
  type NodeProgram,
  type NodeProgramFactory,
  type NodeRole,
  type NodeStatus,
  SimNode,
  SimNodeClock,
} from './node.js';
export {
  appendRecord,
  type DecodedRecords,
  decodeRecords,
  encodeRecord,
  type RecordLogEnd,
  readRecords,
  recordPayloadBytesMax,
} from './record-log.js';
export {
  isSeedFailedError,
  type RunSeedsOptions,
  runSeeds,
  SeedFailedError,
  type SeedResult,
  seedCountEnvironmentVariable,
  seedCountMax,
  seedEnvironmentVariable,
  seedRange,
  seedsFromEnvironment,
} from './seeds.js';
export {
  type AddNodeOptions,
  isSimulationError,
  type RunUntilOptions,
  Simulation,
  SimulationError,
  type SimulationOptions,
  type SimulationStatistics,
} from './simulation.js';
export type { TraceOptions } from './trace.js';
export {
  type CompleteOperation,
  type KeyChoice,
  Workload,
  type WorkloadClient,
  type WorkloadClientFactory,
  type WorkloadModel,
  type WorkloadOperation,
  type WorkloadOptions,
  type WorkloadOutcome,
  type WorkloadStatistics,
} from './workload.js';
