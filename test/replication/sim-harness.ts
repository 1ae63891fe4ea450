/**
 * Runs any replication mode (a {@link ReplicaCoreFactory}) in the deterministic
 * simulator: each replica is a simulated node whose program feeds the core requests,
 * peer messages and ticks and sends what it drains; a crash keeps only the core's
 * `durableState()` and the restart builds a new core from it. Clients are a `distkit/sim`
 * workload on the `register` model (reads and writes of unique values over a few keys),
 * so the history can be checked by `distkit/check`.
 *
 * Shared by the tests of every mode (and the seed of the lab's runner).
 */

import type { Clock, Random } from '../../src/core/index.js';
import type {
  ReplicaCore,
  ReplicaCoreFactory,
  ReplicaReply,
  ReplicaRequest,
  RequestSettings,
} from '../../src/replication/protocol.js';
import {
  type CompleteOperation,
  type FaultPlanOptions,
  Nemesis,
  type NodeHost,
  type NodeProgram,
  Simulation,
  Workload,
  type WorkloadClient,
  type WorkloadOperation,
} from '../../src/sim/index.js';

/** The program of one replica node. */
export class ReplicaProgram implements NodeProgram {
  readonly core: ReplicaCore;

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
}

/** A workload client speaking {@link ReplicaRequest} / {@link ReplicaReply}. */
export class ReplicaClient implements WorkloadClient {
  readonly #pending = new Map<string, CompleteOperation>();
  #counter = 0;
  #session: string | undefined;

  constructor(
    readonly host: NodeHost,
    readonly replicas: readonly string[],
    readonly policy: ClientPolicy = {},
  ) {}

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
    this.#pending.set(id, complete);
    this.host.send(target, { kind: 'client-request', request });
  }

  onMessage(_from: string, message: unknown): void {
    const envelope = message as { kind?: unknown; reply?: ReplicaReply };
    if (envelope.kind !== 'client-reply' || envelope.reply === undefined) {
      return;
    }
    const reply = envelope.reply;
    const complete = this.#pending.get(reply.id);
    if (complete === undefined) {
      return;
    }
    this.#pending.delete(reply.id);
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
  readonly seed: number;
  readonly factory: ReplicaCoreFactory;
  readonly replicaCount?: number;
  readonly tickMs?: number;
  readonly clientCount?: number;
  readonly operationCountMax?: number;
  readonly keyCount?: number;
  readonly client?: ClientPolicy;
  /** Faults; omit for a healthy run. */
  readonly faults?: FaultPlanOptions;
  readonly faultPhaseMs?: number;
}

/** The outcome of one run: the history (for `distkit/check`) and each replica's metrics. */
export interface ReplicationScenarioResult {
  readonly simulation: Simulation;
  readonly workload: Workload;
  readonly programs: ReadonlyMap<string, ReplicaProgram>;
  readonly nemesis: Nemesis | undefined;
}

/** One seeded run of a mode under a workload (and faults, if given). */
export function runReplicationScenario(
  options: ReplicationScenarioOptions,
): ReplicationScenarioResult {
  const replicaCount = options.replicaCount ?? 3;
  const tickMs = options.tickMs ?? 10;
  const replicas = Array.from({ length: replicaCount }, (_, index) => `r${index + 1}`);
  const simulation = new Simulation({ seed: options.seed });
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
    operationCountMax: options.operationCountMax ?? 200,
    operationTimeoutMs: 500,
    thinkTime: { kind: 'uniform', delayMsMin: 0, delayMsMax: 40 },
    keyCount: options.keyCount ?? 3,
    client: (host) => new ReplicaClient(host, replicas, options.client ?? {}),
  });
  let nemesis: Nemesis | undefined;
  if (options.faults !== undefined) {
    nemesis = new Nemesis(simulation, {
      faultPhaseMs: options.faultPhaseMs ?? 4_000,
      plan: options.faults,
    });
    nemesis.runUntilHealed();
  }
  simulation.runUntil(() => workload.done, { timeoutMs: 60_000 });
  return { simulation, workload, programs, nemesis };
}
