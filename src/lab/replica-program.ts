/**
 * Runs any replication mode (a {@link ReplicaCoreFactory}) in the deterministic
 * simulator: each replica is a simulated node whose program feeds the core requests,
 * peer messages and ticks and sends what it drains; a crash keeps only the core's
 * `durableState()` and the restart builds a new core from it. Clients are a `distkit/sim`
 * workload on the `register` model (reads and writes of unique values over a few keys),
 * so the history can be checked by `distkit/check`.
 *
 * The lab's matrix runner is built on it, and so are the simulation tests of every mode.
 *
 * @module
 */

import type { Clock, Random } from '../core/index.js';
import type {
  ReplicaCore,
  ReplicaCoreFactory,
  ReplicaReply,
  ReplicaRequest,
  RequestSettings,
} from '../replication/index.js';
import {
  type CompleteOperation,
  type DelayDistribution,
  type FaultPlanOptions,
  type LinkOptions,
  Nemesis,
  type NodeHost,
  type NodeProgram,
  type ScheduledFault,
  Simulation,
  Workload,
  type WorkloadClient,
  type WorkloadOperation,
} from '../sim/index.js';

/**
 * The program of one replica node: it builds the core (from the previous incarnation's
 * durable state after a crash), ticks it every `tickMs` of the node's clock, hands it
 * client requests and peer messages, and sends what it drains.
 */
export class ReplicaProgram implements NodeProgram {
  /** The replica's core, sans I/O. */
  readonly core: ReplicaCore;

  /**
   * @param host - the simulated node.
   * @param factory - the mode.
   * @param replicas - every replica of the group, in the same order everywhere.
   * @param tickMs - milliseconds of the node's clock between ticks.
   * @param durableState - the previous incarnation's durable state; `undefined` on first boot.
   */
  constructor(
    readonly host: NodeHost,
    factory: ReplicaCoreFactory,
    replicas: readonly string[],
    tickMs: number,
    durableState: unknown,
  ) {
    this.core = factory({
      id: host.id,
      replicas,
      clock: host.clock as Clock,
      random: host.random as Random,
      tickMs,
      ...(durableState === undefined ? {} : { durableState: structuredClone(durableState) }),
    });
    const tick = (): void => {
      this.core.tick();
      this.#flush();
      host.scheduler.schedule(tickMs, tick);
    };
    host.scheduler.schedule(tickMs, tick);
  }

  /** A client request or a peer message arrived. */
  onMessage(from: string, message: unknown): void {
    const envelope = message as { kind?: unknown; request?: ReplicaRequest; peer?: unknown };
    if (envelope.kind === 'client-request' && envelope.request !== undefined) {
      this.core.request(envelope.request);
    } else if (envelope.kind === 'peer') {
      this.core.step(from, envelope.peer);
    }
    this.#flush();
  }

  #flush(): void {
    const output = this.core.drain();
    for (const { to, message } of output.messages) {
      this.host.send(to, { kind: 'peer', peer: message });
    }
    for (const { to, reply } of output.replies) {
      this.host.send(to, { kind: 'client-reply', reply });
    }
  }
}

/** How a simulated client picks replicas and settings for its requests. */
export interface ClientPolicy {
  /** The replica to send an operation to. Default: a random one. */
  readonly target?: (
    operation: WorkloadOperation,
    random: Random,
    replicas: readonly string[],
  ) => string;
  /** Settings for each request. Default none. */
  readonly settings?: (operation: WorkloadOperation) => RequestSettings | undefined;
  /** Carry each reply's session token into the next request. Default true. */
  readonly sessions?: boolean;
  /**
   * Sees every reply that completes an operation (siblings, `stalenessMs` and the reason
   * of a refusal are not in the history); the lab counts conflicts with it. Default none.
   */
  readonly observe?: (operation: WorkloadOperation, reply: ReplicaReply) => void;
}

/**
 * A workload client speaking {@link ReplicaRequest} / {@link ReplicaReply}: `ok` replies
 * complete `ok` (a read's value as a number, `null` when absent), `unavailable` completes
 * `fail` (it took no effect), `unknown` completes unknown.
 */
export class ReplicaClient implements WorkloadClient {
  readonly #pending = new Map<
    string,
    { readonly complete: CompleteOperation; readonly operation: WorkloadOperation }
  >();
  #counter = 0;
  #session: string | undefined;

  /**
   * @param host - the simulated client node.
   * @param replicas - the replicas it may send to.
   * @param policy - how it picks replicas and settings.
   */
  constructor(
    readonly host: NodeHost,
    readonly replicas: readonly string[],
    readonly policy: ClientPolicy = {},
  ) {}

  /** Sends `operation` to a replica as a {@link ReplicaRequest}. */
  invoke(operation: WorkloadOperation, complete: CompleteOperation): void {
    this.#counter += 1;
    const id = `${this.host.id}:${this.host.incarnation}:${this.#counter}`;
    const key = operation.key ?? 'k';
    const request: ReplicaRequest = {
      id,
      client: this.host.id,
      operation:
        operation.kind === 'read'
          ? { kind: 'read', key }
          : { kind: 'write', key, value: String(operation.input) },
      ...(this.policy.settings?.(operation) === undefined
        ? {}
        : { settings: this.policy.settings(operation) as RequestSettings }),
      ...(this.#session === undefined || this.policy.sessions === false
        ? {}
        : { session: this.#session }),
    };
    const target =
      this.policy.target?.(operation, this.host.random, this.replicas) ??
      (this.host.random.pick(this.replicas) as string);
    this.#pending.set(id, { complete, operation });
    this.host.send(target, { kind: 'client-request', request });
  }

  /** A reply arrived: completes the operation it answers. */
  onMessage(_from: string, message: unknown): void {
    const envelope = message as { kind?: unknown; reply?: ReplicaReply };
    if (envelope.kind !== 'client-reply' || envelope.reply === undefined) {
      return;
    }
    const reply = envelope.reply;
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) {
      return;
    }
    this.#pending.delete(reply.id);
    this.policy.observe?.(pending.operation, reply);
    const complete = pending.complete;
    if (reply.status === 'ok') {
      if (reply.session !== undefined) {
        this.#session = reply.session;
      }
      // The register model reads numbers; an absent key reads as null.
      const value = reply.value;
      complete({
        status: 'ok',
        output: value === undefined || value === null ? null : Number(value),
      });
    } else if (reply.status === 'unavailable') {
      complete({ status: 'fail' });
    } else {
      complete({ status: 'unknown' });
    }
  }
}

/** Options of {@link runReplicationScenario}. */
export interface ReplicationScenarioOptions {
  /** The seed of the whole run. */
  readonly seed: number;
  /** The mode. */
  readonly factory: ReplicaCoreFactory;
  /** Replicas `r1`..`rN`. Default 3. */
  readonly replicaCount?: number;
  /** Milliseconds between ticks. Default 10. */
  readonly tickMs?: number;
  /** Concurrent clients. Default 4. */
  readonly clientCount?: number;
  /**
   * Operations the workload invokes in all. Default 200 when `endTimeMs` is absent,
   * otherwise no count limit.
   */
  readonly operationCountMax?: number;
  /** No operation is invoked at or after this simulated time. Default none. */
  readonly endTimeMs?: number;
  /** Keys `k0`..: the register operations spread over them. Default 3. */
  readonly keyCount?: number;
  /** How clients pick replicas and settings. */
  readonly client?: ClientPolicy;
  /** How long a client waits before it records the outcome as unknown. Default 500. */
  readonly operationTimeoutMs?: number;
  /** A client's pause before each operation. Default uniform from 0 to 40 ms. */
  readonly thinkTime?: DelayDistribution;
  /** How every link behaves at first. Default the simulator's (1 to 5 ms, no loss). */
  readonly network?: LinkOptions;
  /** Faults drawn from the seed; omit (and omit `script`) for a healthy run. */
  readonly faults?: FaultPlanOptions;
  /**
   * An explicit fault schedule (`atMs` from `faultStartMs`), or a function that builds it
   * from the replicas' programs when the nemesis starts (to fault the leader of the
   * moment); excludes `faults`.
   */
  readonly script?:
    | readonly ScheduledFault[]
    | ((programs: ReadonlyMap<string, ReplicaProgram>) => readonly ScheduledFault[]);
  /** Simulated time at which the nemesis starts (`faults` or `script`). Default 0. */
  readonly faultStartMs?: number;
  /** When the nemesis heals everything, from its start. Default 4,000. */
  readonly faultPhaseMs?: number;
  /** Simulated time to run on after the workload is done (replicas settle). Default 0. */
  readonly settleMs?: number;
}

/** The outcome of one run: the history (for `distkit/check`) and each replica's core. */
export interface ReplicationScenarioResult {
  /** The simulation, stopped at the end of the run (it can run on). */
  readonly simulation: Simulation;
  /** The workload and its history. */
  readonly workload: Workload;
  /** Each replica's current program (the latest incarnation). */
  readonly programs: ReadonlyMap<string, ReplicaProgram>;
  /** The nemesis, when there were faults. */
  readonly nemesis: Nemesis | undefined;
}

/**
 * One seeded run of a mode under a workload (and faults, if given): builds the replicas
 * and clients, runs the nemesis through its heal phase, then runs until the workload is
 * done (at most a minute of simulated time) and `settleMs` more.
 *
 * @example
 * ```ts
 * const result = runReplicationScenario({ seed: 1, factory: leaderFollower({ replication: 'sync' }) });
 * checkLinearizability(registerModel(), result.workload.history.operations());
 * ```
 */
export function runReplicationScenario(
  options: ReplicationScenarioOptions,
): ReplicationScenarioResult {
  const replicaCount = options.replicaCount ?? 3;
  const tickMs = options.tickMs ?? 10;
  const replicas = Array.from({ length: replicaCount }, (_, index) => `r${index + 1}`);
  const simulation = new Simulation({
    seed: options.seed,
    ...(options.network === undefined ? {} : { network: options.network }),
  });
  const programs = new Map<string, ReplicaProgram>();
  for (const id of replicas) {
    simulation.addNode({
      id,
      program: (host) => {
        const previous = programs.get(id);
        const program = new ReplicaProgram(
          host,
          options.factory,
          replicas,
          tickMs,
          previous?.core.durableState(),
        );
        programs.set(id, program);
        return program;
      },
    });
  }
  const workload = new Workload(simulation, {
    model: 'register',
    clientCount: options.clientCount ?? 4,
    ...(options.operationCountMax === undefined && options.endTimeMs !== undefined
      ? {}
      : { operationCountMax: options.operationCountMax ?? 200 }),
    ...(options.endTimeMs === undefined ? {} : { endTimeMs: options.endTimeMs }),
    operationTimeoutMs: options.operationTimeoutMs ?? 500,
    thinkTime: options.thinkTime ?? { kind: 'uniform', delayMsMin: 0, delayMsMax: 40 },
    keyCount: options.keyCount ?? 3,
    client: (host) => new ReplicaClient(host, replicas, options.client ?? {}),
  });
  let nemesis: Nemesis | undefined;
  const faultPhaseMs = options.faultPhaseMs ?? 4_000;
  if (options.faultStartMs !== undefined && (options.script ?? options.faults) !== undefined) {
    simulation.runUntilMs(options.faultStartMs);
  }
  if (options.script !== undefined) {
    const script = typeof options.script === 'function' ? options.script(programs) : options.script;
    nemesis = new Nemesis(simulation, { faultPhaseMs, script });
  } else if (options.faults !== undefined) {
    nemesis = new Nemesis(simulation, { faultPhaseMs, plan: options.faults });
  }
  nemesis?.runUntilHealed();
  simulation.runUntil(() => workload.done, { timeoutMs: 60_000 });
  if (options.settleMs !== undefined && options.settleMs > 0) {
    simulation.runForMs(options.settleMs);
  }
  return { simulation, workload, programs, nemesis };
}
