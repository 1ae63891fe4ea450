/**
 * `distkit/partition`: where a key lives. Hashes ({@link murmur3}, {@link xxHash32}),
 * hash-space schemes ({@link hashPartition}, {@link ConsistentHashRing},
 * {@link RendezvousHash}, {@link jumpBucket}, {@link MaglevTable},
 * {@link BoundedLoadRing}) with replica placement across zones, key-space schemes
 * ({@link RangeLayout} with split, merge and {@link HotRangeDetector}), directory-based
 * sharding behind the {@link ShardMapStore} port, residency-respecting geographic
 * placement ({@link GeoPlacement}), hot-key mitigation ({@link saltedKeys},
 * {@link scatterGather}, {@link timeBucketKey}) and resharding ({@link diffHashOwnership},
 * {@link diffRangeOwnership}, {@link MigrationPlan}).
 *
 * Pure computation: no I/O, no timers, no ambient randomness; every layout is an
 * immutable value, so an old and a new layout can be compared key by key.
 *
 * @packageDocumentation
 */

export {
  BoundedLoadRing,
  type BoundedLoadRingOptions,
} from './bounded-load.js';
export {
  InMemoryShardMapStore,
  ShardMap,
  type ShardMapChanges,
  type ShardMapCommitResult,
  type ShardMapOptions,
  type ShardMapStore,
  type ShardRoute,
  shardCountMax,
  shardMapEntryCountMax,
} from './directory.js';
export {
  InvalidMigrationTransitionError,
  isInvalidMigrationTransitionError,
  isNoAllowedRegionError,
  isStaleShardMapError,
  NoAllowedRegionError,
  StaleShardMapError,
} from './errors.js';
export {
  type GeoNode,
  GeoPlacement,
  type GeoPlacementOptions,
  type PrefixResidencyRule,
  prefixResidency,
  type ResidencyRule,
} from './geo.js';
export { hashKey, keyLengthMax, mix32, murmur3, xxHash32 } from './hash.js';
export {
  saltCountMax,
  saltedKey,
  saltedKeys,
  scatterGather,
  timeBucketCountMax,
  timeBucketKey,
  timeBucketKeys,
} from './hot-key.js';
export {
  HotRangeDetector,
  type HotRangeDetectorOptions,
  type HotRangeProposal,
  type HotRangeReport,
} from './hot-range.js';
export { jumpBucket, jumpBucketCountMax, jumpBucketOfUint64 } from './jump.js';
export { MaglevTable, type MaglevTableOptions, maglevTableSizeMax } from './maglev.js';
export {
  type MigrationPhase,
  MigrationPlan,
  type MigrationPlanOptions,
  type MigrationRouting,
  type MigrationTransitionResult,
  migrationMoveCountMax,
} from './migration.js';
export { hashPartition, partitionCountMax } from './modulo.js';
export {
  type NodeInput,
  nodeCountMax,
  nodeIdLengthMax,
  nodeWeightMax,
  type PartitionNode,
} from './nodes.js';
export {
  type KeyRange,
  RangeLayout,
  type RangeLayoutOptions,
  type RangeSplitOptions,
  type RangeStart,
  rangeCountMax,
} from './range.js';
export { RendezvousHash, type RendezvousHashOptions } from './rendezvous.js';
export {
  diffHashOwnership,
  diffRangeOwnership,
  type HashRangeMove,
  type HashSpaceLayout,
  type KeyRangeMove,
} from './resharding.js';
export {
  ConsistentHashRing,
  type ConsistentHashRingOptions,
  type HashRange,
  type ReplicaOptions,
  ringPointCountMax,
} from './ring.js';
