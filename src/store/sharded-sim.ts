/**
 * The partitioned store in `distkit/sim`: store nodes as simulated nodes, clients as a
 * `register` workload whose every request asks for one consistency level, and an
 * optional nemesis, so a run's history can be checked by `distkit/check`.
 *
 * @module
 */

import type { Operation } from '../check/index.js';
import type { Random, Scheduler } from '../core/index.js';
import type { ReplicaCoreFactory } from '../replication/index.js';
import {
  type CompleteOperation,
  type FaultPlanOptions,
  type LinkOptions,
  Nemesis,
  type NodeHost,
  Simulation,
  Workload,
  type WorkloadClient,
  type WorkloadOperation,
  type WorkloadStatistics,
} from '../sim/index.js';
import { type StoreNodeDurableState, StoreNodeProgram } from './shard-node.js';
import { type ConsistencyLevelCheckResult, checkConsistencyLevel } from './sharded-check.js';
import {
  StoreClient,
  type StoreClientOptions,
  type StoreRequestOptions,
  type StoreResult,
} from './sharded-client.js';
import { type ConsistencyLevel, ShardedStoreLayout, type ShardModeKind } from './sharded-store.js';

/**
 * A `distkit/sim` workload client that speaks to the store through a
 * {@link StoreClient}: `read` and `write` operations of the `register` model, each at
 * the level `options(operation)` gives. Values are the workload's unique numbers.
 */
export class StoreWorkloadClient implements WorkloadClient {
  /** The store client. */
  readonly client: StoreClient;

  constructor(
    readonly host: NodeHost,
    layout: ShardedStoreLayout,
    readonly options: (operation: WorkloadOperation) => StoreRequestOptions,
    clientOptions: Omit<StoreClientOptions, 'layout' | 'transport'> = {},
  ) {
    this.client = new StoreClient({
      layout,
      requestIdPrefix: `${host.id}.${host.incarnation}`,
      ...clientOptions,
      transport: {
        id: host.id,
        scheduler: host.scheduler as Scheduler,
        random: host.random as Random,
        send: (to, message) => host.send(to, message),
      },
    });
  }

  /** Runs one workload operation. */
  invoke(operation: WorkloadOperation, complete: CompleteOperation): void {
    const key = operation.key ?? 'k';
    const done = (result: StoreResult): void => {
      if (result.status === 'ok') {
        const value = result.value;
        complete({
          status: 'ok',
          output: value === undefined || value === null ? null : Number(value),
        });
      } else if (result.status === 'unavailable') {
        complete({ status: 'fail' });
      } else {
        complete({ status: 'unknown' });
      }
    };
    if (operation.kind === 'read') {
      this.client.read(key, this.options(operation), done);
    } else {
      this.client.write(key, String(operation.input), this.options(operation), done);
    }
  }

  /** A message from a store node. */
  onMessage(from: string, message: unknown): void {
    this.client.onMessage(from, message);
  }
}

/** Options of {@link runShardedStoreWorkload}. */
export interface ShardedStoreWorkloadOptions {
  /** The simulation's seed. */
  readonly seed: number;
  /** The store's layout; its nodes become simulated server nodes. */
  readonly layout: ShardedStoreLayout;
  /** The level of each operation. */
  readonly options: (operation: WorkloadOperation, clientIndex: number) => StoreRequestOptions;
  /** Milliseconds between replica ticks. Default 10. */
  readonly tickMs?: number;
  /** Clients. Default 4. */
  readonly clientCount?: number;
  /** Operations in all. Default 200. */
  readonly operationCountMax?: number;
  /** Keys `k0`... the operations spread over. Default 6. */
  readonly keyCount?: number;
  /** Relative weights of `read` and `write`. Default equal. */
  readonly mix?: Readonly<Record<string, number>>;
  /** Think time between a client's operations, at most. Default 40. */
  readonly thinkMsMax?: number;
  /** The workload's timeout per operation; the client's deadline is 50 ms less. Default 1,000. */
  readonly operationTimeoutMs?: number;
  /** Client options (deadline, attempts, staleness margin...). */
  readonly client?: Omit<StoreClientOptions, 'layout' | 'transport'>;
  /**
   * Whether a client may run a write (say, one writer per key, as bounded staleness
   * needs): a write it may not run is recorded as failed without being sent. Default
   * every client writes.
   */
  readonly writer?: (clientIndex: number, operation: WorkloadOperation) => boolean;
  /** How links behave (latency, loss). */
  readonly network?: LinkOptions;
  /** Faults drawn by a nemesis; omit for a healthy run. */
  readonly faults?: Omit<FaultPlanOptions, 'nodeIds' | 'faultPhaseMs'> & {
    readonly nodeIds?: readonly string[];
  };
  /** When faults stop and the heal runs. Default 3,000. */
  readonly faultPhaseMs?: number;
  /** Quiet time after the workload (and the heal) before the final reads. Default 0. */
  readonly quietMsAfter?: number;
  /**
   * After the quiet time, every client reads every key this many times more (at the
   * same levels), in a second workload: the reads a convergence check judges. Default 0.
   */
  readonly finalReadRoundCount?: number;
}

/** The outcome of {@link runShardedStoreWorkload}. */
export interface ShardedStoreWorkloadResult {
  /** The simulation, for its trace and network counters. */
  readonly simulation: Simulation;
  /** The workload, with the history. */
  readonly workload: Workload;
  /** The final reads' workload, when `finalReadRoundCount` is above 0. */
  readonly finalReads: Workload | undefined;
  /** Each node's latest program. */
  readonly programs: ReadonlyMap<string, StoreNodeProgram>;
  /** The nemesis, when faults were given. */
  readonly nemesis: Nemesis | undefined;
}

/**
 * One seeded run of the store: nodes, a workload at the given levels, and faults. A
 * crashed node restarts from its replicas' durable states.
 *
 * @example
 * ```ts
 * const run = runShardedStoreWorkload({ seed: 1, layout, options: () => ({ consistency: 'linearizable' }) });
 * run.workload.history.operations();
 * ```
 */
export function runShardedStoreWorkload(
  options: ShardedStoreWorkloadOptions,
): ShardedStoreWorkloadResult {
  const tickMs = options.tickMs ?? 10;
  const simulation = new Simulation({
    seed: options.seed,
    ...(options.network === undefined ? {} : { network: options.network }),
  });
  const programs = new Map<string, StoreNodeProgram>();
  for (const id of options.layout.nodes) {
    simulation.addNode({
      id,
      program: (host) => {
        const previous: StoreNodeDurableState | undefined = programs.get(id)?.core.durableState();
        const program = new StoreNodeProgram(host, options.layout, tickMs, previous);
        programs.set(id, program);
        return program;
      },
    });
  }
  const operationTimeoutMs = options.operationTimeoutMs ?? 1_000;
  const writer = options.writer;
  const clientCount = options.clientCount ?? 4;
  const keyCount = options.keyCount ?? 6;
  const storeClient = (host: NodeHost, clientIndex: number): StoreWorkloadClient =>
    new StoreWorkloadClient(
      host,
      options.layout,
      (operation) => options.options(operation, clientIndex),
      { deadlineMs: Math.max(1, operationTimeoutMs - 50), ...options.client },
    );
  const workload = new Workload(simulation, {
    model: 'register',
    clientCount,
    operationCountMax: options.operationCountMax ?? 200,
    operationTimeoutMs,
    thinkTime: { kind: 'uniform', delayMsMin: 0, delayMsMax: options.thinkMsMax ?? 40 },
    keyCount,
    ...(options.mix === undefined ? {} : { mix: options.mix }),
    client: (host, clientIndex) => {
      const store = storeClient(host, clientIndex);
      if (writer === undefined) {
        return store;
      }
      return {
        invoke: (operation, complete) =>
          operation.kind === 'read' || writer(clientIndex, operation)
            ? store.invoke(operation, complete)
            : complete({ status: 'fail' }),
        onMessage: (from, message) => store.onMessage(from, message),
      };
    },
  });
  let nemesis: Nemesis | undefined;
  if (options.faults !== undefined) {
    nemesis = new Nemesis(simulation, {
      faultPhaseMs: options.faultPhaseMs ?? 3_000,
      plan: options.faults,
    });
  }
  simulation.runUntil(() => workload.done, { timeoutMs: 120_000 });
  if (nemesis !== undefined) {
    nemesis.runUntilHealed();
  }
  if ((options.quietMsAfter ?? 0) > 0) {
    simulation.runForMs(options.quietMsAfter as number);
  }
  let finalReads: Workload | undefined;
  const roundCount = options.finalReadRoundCount ?? 0;
  if (roundCount > 0) {
    const reads = new Workload(simulation, {
      model: 'register',
      clientCount,
      clientIdPrefix: 'final-',
      operationCountMax: roundCount * keyCount * clientCount,
      operationTimeoutMs,
      thinkTime: { kind: 'uniform', delayMsMin: 0, delayMsMax: 10 },
      keyCount,
      mix: { read: 1 },
      client: storeClient,
    });
    simulation.runUntil(() => reads.done, { timeoutMs: 120_000 });
    finalReads = reads;
  }
  return { simulation, workload, finalReads, programs, nemesis };
}

/** Options of {@link runConsistencyLevelScenario}. */
export interface ConsistencyLevelScenarioOptions {
  /** The simulation's seed. */
  readonly seed: number;
  /** The mode the keyspace's factory builds. */
  readonly mode: ShardModeKind;
  /** The replication mode of every shard. */
  readonly factory: ReplicaCoreFactory;
  /** The level every request asks for. */
  readonly level: ConsistencyLevel;
  /** Store nodes. Default 5. */
  readonly nodeCount?: number;
  /** Shards, hash-partitioned. Default 3. */
  readonly shardCount?: number;
  /** Replicas per shard. Default 3 (at most the node count). */
  readonly replicaCount?: number;
  /** Operations. Default 400. */
  readonly operationCountMax?: number;
  /** `bounded-staleness`: the bound asked for. Default 200. */
  readonly stalenessMsMax?: number;
  /** Faults; omit for a healthy run. */
  readonly faults?: ShardedStoreWorkloadOptions['faults'];
  /** Default 3,000. */
  readonly faultPhaseMs?: number;
  /** How links behave. Default latency uniform 1-10 ms. */
  readonly network?: LinkOptions;
}

/** What {@link runConsistencyLevelScenario} measured. */
export interface ConsistencyLevelScenarioResult {
  /** The checker's verdict on the history. */
  readonly check: ConsistencyLevelCheckResult;
  /** Operations ok, failed and of unknown outcome in the main workload. */
  readonly statistics: WorkloadStatistics;
  /** The run, for its trace and metrics. */
  readonly run: ShardedStoreWorkloadResult;
}

/**
 * One seeded run of one keyspace (hash-partitioned into `shardCount` shards of 3
 * replicas over `nodeCount` nodes) where every request asks for `level`, checked with the
 * level's checker ({@link checkConsistencyLevel}):
 * - `bounded-staleness`: each key has one writer (client `k mod 4`) so its writes never
 *   overlap, and each key's history is cut after its first write of unknown outcome (the
 *   checker needs real time to order every key's writes); the client's staleness margin
 *   is the network's largest one-way delay, and the check uses the requested bound;
 * - `eventual`: after the heal and 5 s of quiet every client reads every key twice, and
 *   only those reads are judged, against every write (a write of unknown outcome dated
 *   when its client gave up, since the checker never quiesces a key with one).
 *
 * @example
 * ```ts
 * const { check } = runConsistencyLevelScenario({
 *   seed: 1, mode: 'leader-follower-sync', factory: leaderFollower({ replication: 'sync' }),
 *   level: 'linearizable', faults: { weights: { crash: 1, split: 1 } },
 * });
 * ```
 */
export function runConsistencyLevelScenario(
  options: ConsistencyLevelScenarioOptions,
): ConsistencyLevelScenarioResult {
  const nodeCount = options.nodeCount ?? 5;
  const layout = new ShardedStoreLayout({
    nodes: Array.from({ length: nodeCount }, (_, index) => `n${index + 1}`),
    keyspaces: [
      {
        name: 'main',
        keyPrefix: '',
        mode: options.mode,
        factory: options.factory,
        partitioning: { kind: 'hash', shardCount: options.shardCount ?? 3 },
        replicaCount: options.replicaCount ?? Math.min(3, nodeCount),
      },
    ],
  });
  const network = options.network ?? {
    latency: { kind: 'uniform', delayMsMin: 1, delayMsMax: 10 },
  };
  const latency = network.latency;
  const delayMsMax =
    latency === undefined
      ? 5
      : latency.kind === 'constant'
        ? latency.delayMs
        : latency.kind === 'uniform'
          ? latency.delayMsMax
          : Number.POSITIVE_INFINITY;
  const level = options.level;
  const stalenessMsMax = options.stalenessMsMax ?? 200;
  const clientCount = 4;
  const bounded = level === 'bounded-staleness';
  const eventual = level === 'eventual';
  const run = runShardedStoreWorkload({
    seed: options.seed,
    layout,
    clientCount,
    operationCountMax: options.operationCountMax ?? 400,
    options: () => ({ consistency: level, ...(bounded ? { stalenessMsMax } : {}) }),
    ...(bounded
      ? {
          writer: (clientIndex: number, operation: WorkloadOperation) =>
            Number((operation.key ?? 'k0').slice(1)) % clientCount === clientIndex,
          client: { stalenessMarginMs: Number.isFinite(delayMsMax) ? delayMsMax : 0 },
        }
      : {}),
    network,
    ...(options.faults === undefined ? {} : { faults: options.faults }),
    faultPhaseMs: options.faultPhaseMs ?? 3_000,
    ...(eventual ? { quietMsAfter: 5_000, finalReadRoundCount: 2 } : {}),
  });
  let operations: Operation[] = [...run.workload.history.operations()];
  if (bounded) {
    operations = untilFirstUnknownWrite(operations);
  }
  if (eventual) {
    const endTime = Math.max(...operations.map((operation) => operation.invokeTime));
    operations = [
      ...operations
        .filter((operation) => operation.kind === 'write')
        .map((operation) =>
          operation.status === 'unknown'
            ? { ...operation, status: 'ok' as const, returnTime: endTime }
            : operation,
        ),
      ...(run.finalReads?.history.operations() ?? []),
    ];
  }
  const check = checkConsistencyLevel(level, operations, {
    stalenessMsMax,
    settleMs: 5_000,
  });
  return { check, statistics: run.workload.statistics, run };
}

/** Each key's operations invoked up to its first write of unknown outcome (kept). */
function untilFirstUnknownWrite(operations: readonly Operation[]): Operation[] {
  const cutAt = new Map<string, number>();
  for (const operation of operations) {
    const key = (operation as { readonly key?: string }).key ?? '';
    if (operation.kind === 'write' && operation.status === 'unknown') {
      cutAt.set(key, Math.min(cutAt.get(key) ?? Number.POSITIVE_INFINITY, operation.invokeTime));
    }
  }
  return operations.filter((operation) => {
    const key = (operation as { readonly key?: string }).key ?? '';
    const cut = cutAt.get(key);
    return (
      cut === undefined ||
      operation.invokeTime < cut ||
      (operation.invokeTime === cut && operation.kind === 'write')
    );
  });
}
