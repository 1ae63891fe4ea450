/**
 * The list of distkit's modules as they stand today: what each one can do now, not what
 * the roadmap promises. The CLI prints it and a test keeps it, the module folders, the
 * package exports and the README's module table in agreement.
 *
 * @module
 */

/** Layers of `docs/architecture.md`: imports point from higher numbers to lower ones. */
export type Layer = 0 | 1 | 2 | 3 | 4;

/** One module of the package, exported as `distkit/<name>`. */
export interface ModuleEntry {
  /** Folder under `src/` and subpath under `distkit/`. */
  readonly name: string;
  /** Its layer in `docs/architecture.md`. */
  readonly layer: Layer;
  /** One line: what the module is for. */
  readonly summary: string;
  /** What works today, one capability per line. */
  readonly capabilities: readonly string[];
}

/** Every module that exists, in layer order. */
export const moduleCatalogue: readonly ModuleEntry[] = [
  {
    name: 'core',
    layer: 0,
    summary: 'Clock, Scheduler, Random, errors, deadlines, bounded queues, events',
    capabilities: [
      'ManualClock and the system clock (monotonic and wall-clock time)',
      'VirtualScheduler (virtual time) and SystemScheduler (one platform timer for every task)',
      'SeededRandom (xoshiro128**, forkable streams, integer, float, pick, shuffle, exponential, normal, Zipf)',
      'DistkitError with stable codes and brand guards; assert() for invariants',
      'Deadline and linkSignal: deadline propagation through AbortSignals without listener leaks',
      'BoundedQueue: async producer/consumer queue with backpressure and abort support',
      'Emitter and Event: typed events that cost nothing without listeners',
    ],
  },
  {
    name: 'resilience',
    layer: 1,
    summary: 'Resilience policies for calls across a network boundary',
    capabilities: [
      'TimeoutPolicy: per-call timeouts and deadline propagation on the shared scheduler, no timer per call',
      'pipeline(): policies composed outside-in, passing attempt, signal and deadline inwards',
      'callPolicy(): retry, breaker, timeout and bulkhead in the recommended order from one options object',
      'RateLimitPolicy: a rate limiter in a pipeline',
      'RetryPolicy: constant, linear and capped exponential backoff with none, full, equal or decorrelated jitter; Retry-After hints; deadline-aware',
      'RetryBudget: retries as a bounded fraction of recent requests, shared by many callers',
      'FallbackPolicy: a value or a function of the error when the work fails',
      'HedgingPolicy: extra attempts after a fixed delay or a latency percentile; the first success wins, the rest are cancelled',
      'LatencyHistogram: bounded log-bucketed latency percentiles',
      'CircuitBreakerPolicy: consecutive-failure, count-window and time-window strategies, failure and slow-call rates, half-open probes, isolate/reset, save/restore',
      'BreakerRegistry: one breaker per key with a bounded key count',
      'Rate limiters with one decision type: token bucket, leaky bucket (meter and shaper), fixed window, sliding-window log and counter, GCRA; keyed with a bounded key count',
      'BulkheadPolicy: a concurrency limit with a bounded FIFO wait queue; aborted waiters leave at once',
      'LoadShedder: priority classes, shedding the lowest first when queueing delay stays above target',
      'AdaptiveConcurrencyPolicy with AimdLimit or GradientLimit: a concurrency limit found from observed latency',
    ],
  },
  {
    name: 'cache',
    layer: 1,
    summary:
      'A bounded in-process cache (LRU, LFU, SLRU, ARC, W-TinyLFU; TTLs; invalidation) and a loading layer against stampedes, penetration and avalanches',
    capabilities: [
      'Cache: a bound by entry count or by weight, typed errors for bad sizes, weights, TTLs and undefined values',
      'Eviction policies LRU, LFU (constant time), SLRU, ARC and W-TinyLFU (frequency sketch with doorkeeper and aging, admission window sized by hill climbing), each checked against a reference model',
      'Per-entry TTLs with jitter, expired entries purged without timers (on read, a sweep during writes, purgeExpired)',
      'Invalidation by key, tag and prefix, and across instances through an InvalidationBus (LocalInvalidationBus in process)',
      'Statistics (hits, misses, removals by reason) and a removed event with the reason',
    ],
  },
  {
    name: 'check',
    layer: 1,
    summary: 'Consistency checkers for recorded histories',
    capabilities: [
      'checkLinearizability: Wing-Gong-Lowe search with memoisation, per-key partitions, step/time/cache budgets (verdict ok, violation or unknown)',
      'checkSequentialConsistency: the same search constrained by program order only, split only where no process connects the parts',
      'checkCausalConsistency: causal order from sessions and reads-from; cycles, reads of the initial value after a causally earlier write, and causality inversions, each with the chain that shows it',
      'Session guarantees (read-your-writes, monotonic reads, monotonic writes, writes-follow-reads), bounded staleness by time and by versions, convergence after quiescence',
      'Violation explanations: the partition key, the longest linearizable prefix, the blocking operation and the candidates that could not be placed',
      'Models: register, cas-register, kv (get/put/append, partitioned per key), counter, set; custom models through the Model interface',
      'Readers: Jepsen log lines, Jepsen EDN events and JSON Lines, with typed errors naming the line',
      'renderTimelineHtml: a self-contained HTML timeline per key and process, highlighting where every order fails in a violation',
    ],
  },
  {
    name: 'clocks',
    layer: 1,
    summary: 'Lamport, vector, dotted version vector, hybrid logical and interval clocks',
    capabilities: [
      'LamportClock: a total order consistent with causality, node ids breaking ties',
      'VectorClock: before, after, equal or concurrent; merge; pruning of the least recently updated entries to a bound',
      'DottedVersionVector: siblings of a replicated key with one dot per write, so concurrent writes are kept and seen ones replaced, without false conflicts',
      'HybridLogicalClock: wall time plus a logical counter; remote timestamps beyond maxOffsetMs rejected with ClockOffsetError',
      'IntervalClock: now as [earliest, latest] from an uncertainty and drift bound; commit-wait durations',
      'Binary and JSON encodings with typed errors for malformed input; hybrid timestamps encode to 12 bytes whose byte order is time order',
    ],
  },
  {
    name: 'crdt',
    layer: 1,
    summary: 'Conflict-free replicated data types with delta-state mutators',
    capabilities: [
      'GCounter and PNCounter with deltas',
      'GSet, TwoPhaseSet, and the add-wins ORSet with dots and no tombstones',
      'LWWRegister on hybrid logical clock timestamps; MVRegister keeping concurrent writes',
      'ORMap of counters, sets, registers or enable-wins flags: removal resets what it observed, concurrent updates survive',
      'Sorted JSON encodings with typed errors for malformed input',
      'TextDocument: a YATA sequence CRDT for text with run-length pieces, a block index, compact binary states and updates, and buffering of updates that arrive early',
    ],
  },
  {
    name: 'partition',
    layer: 1,
    summary:
      'Where a key lives: hash, ring, rendezvous, jump, Maglev, bounded-load, range, directory and geographic partitioning, and resharding plans',
    capabilities: [
      'murmur3 (x86_32) and xxHash32 over UTF-8 strings and bytes, matching the reference vectors; malformed keys rejected',
      'hashPartition: hash mod N for fixed partition counts',
      'ConsistentHashRing: virtual nodes and weights, sorted Uint32Array points with a prefix index, allocation-free lookups; replicas clockwise, optionally spread across zones',
      'RendezvousHash: highest random weight with weights (logarithmic method); replicas in score order, zone-aware',
      'jumpBucket / jumpBucketOfUint64: jump consistent hash, bit-exact with the paper',
      'MaglevTable: prime-size lookup table with the permutation fill and weights',
      'BoundedLoadRing: consistent hashing with bounded loads, no node above ceil((1 + ε) × mean)',
      'RangeLayout: ordered key ranges with split, merge, reassignment and scans; HotRangeDetector proposes splits at the weighted median of observed load',
      'ShardMap and the ShardMapStore port (compare-and-set, InMemoryShardMapStore): versioned directory sharding with StaleShardMapError',
      "GeoPlacement and prefixResidency: placement that never leaves a key's allowed regions (NoAllowedRegionError otherwise)",
      'saltedKeys, saltedKey and scatterGather for hot keys; timeBucketKey and timeBucketKeys for time bucketing',
      'diffHashOwnership and diffRangeOwnership: exactly which ranges move from which owner to which; MigrationPlan: double-write, backfill, verify, cut-over, clean-up as a state machine with typed refusals',
    ],
  },
  {
    name: 'raft',
    layer: 2,
    summary:
      'Raft consensus as a sans-I/O state machine (etcd-raft style): tick, step, propose, ready, advance',
    capabilities: [
      'RaftNode: elections with randomized timeouts, pre-vote and check-quorum (a partitioned node cannot depose a healthy leader; a leader without a quorum steps down)',
      "Log replication with the paper's safety rules: current-term commit counting, log matching, conflict truncation, fast backtracking with a (term, index) hint",
      'Per-follower progress (probe, replicate, snapshot) with flow control: in-flight messages and bytes, message size, batching and pipelining; proposal forwarding from followers',
      'Ready/advance: hard state and entries to persist before sending, messages, committed entries to apply, read states; proposals return appended, forwarded or dropped with a reason',
      'Linearizable reads by ReadIndex (heartbeat-confirmed, forwarded from followers) and opt-in leader leases dated by heartbeat answers',
      'Snapshots and log compaction: InstallSnapshot in acknowledged chunks, resent when lost',
      'Membership by joint consensus (entered and left automatically), learners, leadership transfer (timeout-now), a removed leader steps down',
      'RaftStorage port with MemoryRaftStorage (conflict truncation, compaction, snapshot install)',
      'StateMachine port and KeyValueStateMachine: put, delete, compare-and-set, get, range reads, client sessions that apply a retried command once',
      'Evidence: golden interaction scripts; seeded 3- and 5-node simulations under partitions, crashes, pauses, clock faults, loss and duplication, checked for linearizability, liveness and each Raft safety property',
    ],
  },
  {
    name: 'replication',
    layer: 2,
    summary:
      'Replication modes as sans-I/O state machines behind one port: consensus (Raft), leader-follower, multi-leader, leaderless',
    capabilities: [
      'ReplicaCore: a replication mode as a sans-I/O state machine (request, step, tick, drain), with explicit durable state for crash and restart; parseReplicaRequest for requests from the network',
      'leaderFollower: sync, semi-sync (k acknowledgements) and async replication; local reads with reported staleness; hot-standby failover with epoch fencing; a deposed leader counts the acknowledged writes it discards; session tokens refuse reads that would go back in time',
      'multiLeader: every replica accepts writes and replicates with retransmission and anti-entropy; conflicts by last-writer-wins on hybrid logical clocks (counting the concurrent writes it overwrites), by siblings on dotted version vectors, or by an MVRegister CRDT',
      'leaderless: Dynamo-style preference lists on the consistent-hash ring, per-request W and R, sloppy quorum with hinted handoff, read repair, Merkle-tree anti-entropy',
      'consensus: a distkit/raft group as a replication mode (read-index reads, local reads with staleness and session tokens, snapshots, restart from durable state)',
      'Evidence: seeded simulations checked by distkit/check show sync leader-follower linearizable and lossless, async losing acknowledged writes on failover (counted), LWW losing concurrent updates while siblings keep them, W+R>N never reading a replaced value yet not linearizable, W=R=1 and sloppy quorums serving stale reads',
    ],
  },
  {
    name: 'net',
    layer: 3,
    summary:
      'Authenticated peer-to-peer messaging over TCP: MessagePack frames, bounded queues, reconnection',
    capabilities: [
      'TcpTransport: send(peerId, message) without waiting, onMessage from authenticated peers, one outbound connection per peer, addPeer/removePeer at run time',
      'Length-prefixed MessagePack frames (msgpackr, an optional peer dependency; Uint8Array as bytes) with a maximum frame size enforced on send and receive; an oversized length prefix is refused before buffering',
      'FrameDecoder: chunks split anywhere, memory bounded by one frame, typed errors for oversized or malformed frames (fuzzed with fast-check)',
      'HMAC-SHA256 challenge-response handshake on a cluster secret binding both ids and both nonces; optional mutual TLS 1.3 with the node id as certificate CN',
      'Peers that fail authentication, claim an unknown, duplicate or mismatched id, or send bad frames are disconnected and reported with typed reasons; the others are unaffected',
      'Bounded send queues per peer (count and bytes) with a typed SendQueueFullError result; corked writes; socket backpressure',
      'Reconnection with any distkit/resilience Backoff (exponential, full jitter by default) on the injected Random and Scheduler; connect and handshake timeouts; an inbound connection limit',
    ],
  },
  {
    name: 'sim',
    layer: 3,
    summary: 'Deterministic cluster simulator with network, node, clock and disk faults',
    capabilities: [
      'Simulation: any number of nodes in one thread on one event queue ordered by (time, sequence); one seed reproduces the run and its trace hash',
      'Per-node ports: a clock with offset, drift and wall-clock jumps, a scheduler on that clock, a seeded random stream, a disk and a network endpoint',
      'SimNetwork: per-link latency (constant, uniform, exponential, long-tailed), loss, duplication, reordering or FIFO; partitions, isolation, one-way blocks, bridge and ring partitions, clogs, heal',
      'Node faults: crash (memory and timers gone), restart from disk, pause and resume (a GC stall)',
      'SimDisk: append, truncate, atomic replace, fsync; unsynced writes lost or torn on crash; injected write errors and read corruption',
    ],
  },
  {
    name: 'storage',
    layer: 3,
    summary: 'Durable storage on real files: a segmented write-ahead log and atomic snapshot files',
    capabilities: [
      'WriteAheadLog: segmented log of typed records framed with length, index and CRC-32C; segments roll over at segmentBytesMax and are named by their first index',
      'Group commit: concurrent appends share one fdatasync; a bounded pending queue (records and bytes) rejects with WalQueueFullError',
      'Truncation of a conflicting suffix across segments, compaction of whole segments below an index, reset to a new index',
      'Recovery that cuts a torn or zero-filled tail off the last segment and refuses any other damage with WalCorruptionError (file and offset)',
      'Snapshot files written atomically (temporary file, fsync, rename, fsync folder) and verified on read; SnapshotStore with retention and cleanup of leftover temporary files',
      'RaftLogStore: Raft entries and hard state (term, vote, commit) on the WAL, with conflicting-suffix replacement and in-memory term lookup',
    ],
  },
  {
    name: 'store',
    layer: 4,
    summary:
      'A key-value store: a Raft group, and a partitioned store with per-request consistency levels, as real processes (write-ahead logs, TCP, HTTP API) and in the simulator',
    capabilities: [
      'RaftReplica: a distkit/raft node driven over the authenticated TCP transport with its log, hard state and snapshots on disk (fsync before send, group commit, snapshots and compaction every N entries, recovery on restart)',
      'Writes and compare-and-set through the log from any replica (followers forward); reads linearizable by read index, leased on the leader, or local',
      "Membership changes by joint consensus with the new members' addresses replicated through the log; leadership transfer",
      'Typed outcomes: unavailable (nothing applied, safe to retry), timed out (a write may still commit), closed',
      'RaftHttpApi: the store over HTTP/1.1 with JSON (kv, compare-and-set, status, membership, leadership)',
      "Partitioned store in the simulator: keyspaces by key prefix, each cut into shards by consistent hashing or ranges (distkit/partition) and replicated by its own mode (consensus, leader-follower sync/semi-sync/async, multi-leader, leaderless); StoreNodeCore hosts a node's shard replicas and multiplexes their messages by shard id",
      'StoreClient: routing to shard and replica, seven per-request consistency levels (linearizable, sequential, causal, read-your-writes, monotonic reads, bounded staleness, eventual) mapped onto what each mode offers, a typed ConsistencyLevelUnsupportedError for the rest, session tokens per shard, deadlines, reads retried elsewhere or at the leader, writes retried only when certainly not applied',
      'Each level checked by its own distkit/check checker over seeded simulations with crashes, partitions, pauses, loss and latency (checkConsistencyLevel, runConsistencyLevelScenario)',
      'StoreProcess: the partitioned store as real processes: a StoreNodeCore over the authenticated TCP transport, ticked on the real scheduler, its durable state written atomically with fsync (group commit per event-loop turn) before any message or reply that depends on it leaves, recovered on restart; any node answers for any key through an in-process StoreClient',
      'StoreHttpApi: PUT/GET /v1/kv/{key}?consistency=LEVEL and GET /v1/status; 422 for a level the mode cannot give, 503 with Retry-After when nothing was applied, 504 when a write may or may not have taken effect',
      'Evidence with real processes: a 5-node store (consensus, leader-follower sync) survives SIGKILL of 2 nodes including a shard leader with every acknowledged write read back at linearizable',
    ],
  },
  {
    name: 'lab',
    layer: 4,
    summary:
      'The CAP/PACELC lab: replication modes against partitions, crashes, clock skew and message loss in the simulator, every figure measured',
    capabilities: [
      'runLab(): a matrix of modes (Raft, leader-follower sync and async, multi-leader LWW and siblings, leaderless N=3 with W/R 2/2 and 1/1, sloppy quorum) against scenarios (healthy, minority and majority partition, leader crash and restart, clock skew, message loss and delay), one seeded simulation per cell with an explicit fault window',
      "Per cell, measured from the history and the replicas' final state: availability during the fault window, latency p50/p99, stale reads, acknowledged writes lost (and the mode's own count), writes overwritten by concurrent writes, siblings surfaced, keys left diverged, and linearizability, read-your-writes and monotonic reads per distkit/check",
      'Per cell, a time series (ok and failed operations and latency per 100 ms) and the first anomaly with its operations',
      'formatLabTable() and renderLabReportHtml(): the table as text, and a self-contained HTML report with charts over time (fault window shaded) and each first anomaly as a timeline',
      'runReplicationScenario(), ReplicaProgram and ReplicaClient: any ReplicaCore mode in the simulator under a workload and a fault plan or script',
    ],
  },
  {
    name: 'cli',
    layer: 4,
    summary: 'The distkit command',
    capabilities: [
      'distkit modules: this list',
      'distkit check FILE --model register|cas-register|kv|counter|set [--consistency linearizable|sequential]: the verdict of a Jepsen log, EDN or JSON Lines history (format guessed when --format is left out), the time it took, a short explanation of a violation; exit 0 ok, 1 violation, 2 undecided or malformed input (with the line)',
      'distkit check --html OUT.html: a self-contained timeline of the history, per key and process, with the point where every order fails highlighted',
      'distkit lab [--quick] [--seed N] [--modes a,b] [--scenarios x,y] [--out DIR]: the lab matrix with a progress bar, the table on standard output and DIR/report.html; npm start runs it',
      'distkit raft start: one Raft key-value node with its HTTP API; distkit raft cluster --nodes N: a local cluster of real processes on loopback, stopped cleanly by Ctrl-C',
      'distkit store start --mode MODE: one node of the partitioned store (hash shards, each replicated by MODE) with its HTTP API; distkit store cluster --nodes 5 --mode MODE: a local cluster of real processes, stopped cleanly by Ctrl-C',
      'distkit --help, distkit --version',
    ],
  },
];
