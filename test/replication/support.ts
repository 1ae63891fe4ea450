/**
 * Test support shared by the tests of every replication mode.
 */

import assert from 'node:assert/strict';
import {
  type CheckResult,
  checkLinearizability,
  type Operation,
  registerModel,
} from '../../src/check/index.js';
import { type ManualClock, SeededRandom } from '../../src/core/index.js';
import type {
  ClientEnvelope,
  ReplicaCore,
  ReplicaCoreFactory,
  ReplicaReply,
  ReplicaRequest,
} from '../../src/replication/index.js';
import type { FaultPlanOptions } from '../../src/sim/index.js';
import type { ReplicationScenarioResult } from './sim-harness.js';

/**
 * The history split by key, each key's part checked against a register on its own (a
 * key-value history is linearizable when each key's is), lazily: a caller that wants
 * only the first violation stops there.
 */
export function* linearizabilityByKey(
  operations: readonly Operation[],
): Generator<readonly [key: string, check: CheckResult]> {
  const byKey = new Map<string, Operation[]>();
  for (const operation of operations) {
    const key = operation.key ?? '';
    byKey.set(key, [...(byKey.get(key) ?? []), operation]);
  }
  for (const [key, history] of byKey) {
    yield [key, checkLinearizability(registerModel(), history)];
  }
}

/**
 * Each key's history checked on its own: one message per key that is not linearizable,
 * and how many keys the checker could not decide.
 */
export function keyLinearizability(operations: readonly Operation[]): {
  violations: string[];
  undecidedKeys: number;
} {
  const violations: string[] = [];
  let undecidedKeys = 0;
  for (const [key, check] of linearizabilityByKey(operations)) {
    if (check.verdict === 'violation') {
      violations.push(`key ${key}: ${check.explanation.message}`);
    } else if (check.verdict === 'unknown') {
      undecidedKeys += 1;
    }
  }
  return { violations, undecidedKeys };
}

/** What {@link assertLinearizableRuns} reads of a seeded run. */
export interface CheckedRun {
  readonly seed: number;
  /** One message per key whose history is not linearizable. */
  readonly violations: readonly string[];
  readonly undecidedKeys: number;
}

/** What every mode's seeded run measures: its outcome counts and per-key linearizability. */
export interface ScenarioRun extends CheckedRun {
  readonly seed: number;
  readonly result: ReplicationScenarioResult;
  readonly ok: number;
  readonly fail: number;
  readonly unknown: number;
}

/** The outcome counts and per-key linearizability of the run of `seed` that gave `result`. */
export function scenarioRun(seed: number, result: ReplicationScenarioResult): ScenarioRun {
  const statistics = result.workload.statistics;
  return {
    seed,
    result,
    ok: statistics.okCount,
    fail: statistics.failCount,
    unknown: statistics.unknownCount,
    ...keyLinearizability(result.workload.history.operations()),
  };
}

/** Fails with the seed and the checker's explanation when a run is not linearizable. */
export function assertLinearizableRuns(
  runs: readonly CheckedRun[],
  replayCommand: (seed: number) => string,
): void {
  for (const run of runs) {
    assert.deepEqual(
      run.violations,
      [],
      `seed ${run.seed} is not linearizable; replay: ${replayCommand(run.seed)}`,
    );
    assert.equal(run.undecidedKeys, 0, `seed ${run.seed}: the checker could not decide`);
  }
}

/**
 * The soaks' plan of every fault kind over `replicas` for 5 s (crashes, partitions,
 * pauses, lossy and slow links, clock jumps), with what a mode's soak adds or changes.
 */
export function everyFaultKind(
  replicas: readonly string[],
  overrides: Partial<FaultPlanOptions> = {},
): FaultPlanOptions {
  return {
    nodeIds: replicas,
    faultPhaseMs: 5_000,
    intervalMsMean: 300,
    durationMsMax: 1_500,
    crashCountMax: 1,
    clockStepMsMax: 2_000,
    ...overrides,
  };
}

/** A message a replica sent, waiting for the test to deliver (or lose) it. */
export interface InFlight<Message = unknown> {
  readonly from: string;
  readonly to: string;
  readonly message: Message;
}

/** How a {@link HandDrivenGroup} builds its replicas. */
export interface HandDrivenGroupOptions {
  /** The mode under test. */
  readonly factory: ReplicaCoreFactory;
  /** Every replica, in the order each is given. */
  readonly ids: readonly string[];
  /** The clock every replica shares; {@link HandDrivenGroup.tickEach} advances it. */
  readonly clock: ManualClock;
  /** The seed of a replica's `Random`. */
  readonly seedOf: (id: string) => number;
  /** The client id of the requests the test sends. */
  readonly client: string;
  /** Durable states to start replicas from (the others start empty). */
  readonly durableStates?: ReadonlyMap<string, unknown>;
}

/**
 * Replicas of one mode whose network is the test: what a replica sends waits in
 * `inFlight` (a copy, as the wire would carry) until the test delivers, reorders or loses
 * it; replies are kept by request id. Each mode's test adds its own way of delivering.
 */
export class HandDrivenGroup<Core extends ReplicaCore = ReplicaCore, Message = unknown> {
  readonly factory: ReplicaCoreFactory;
  readonly ids: readonly string[];
  readonly clock: ManualClock;
  readonly cores = new Map<string, Core>();
  inFlight: InFlight<Message>[] = [];
  /** Every message {@link deliver} handed to a replica, in order. */
  readonly delivered: InFlight<Message>[] = [];
  /** The latest reply to each request id. */
  readonly replies = new Map<string, ReplicaReply>();
  /** Every reply, in the order given. */
  readonly replyLog: ClientEnvelope[] = [];
  readonly #seedOf: (id: string) => number;
  readonly #client: string;
  #requestCount = 0;

  constructor(options: HandDrivenGroupOptions) {
    this.factory = options.factory;
    this.ids = options.ids;
    this.clock = options.clock;
    this.#seedOf = options.seedOf;
    this.#client = options.client;
    for (const id of this.ids) {
      this.start(id, options.durableStates?.get(id));
    }
  }

  /** Builds (or rebuilds, after a crash) replica `id`, from a copy of `durableState`. */
  start(id: string, durableState?: unknown): Core {
    const core = this.factory({
      id,
      replicas: this.ids,
      clock: this.clock,
      random: new SeededRandom({ seed: this.#seedOf(id) }),
      tickMs: 10,
      ...(durableState === undefined ? {} : { durableState: structuredClone(durableState) }),
    }) as Core;
    this.cores.set(id, core);
    return core;
  }

  core(id: string): Core {
    return this.cores.get(id) as Core;
  }

  /** Moves what replica `id` produced into `inFlight` and the replies. */
  collect(id: string): void {
    const output = this.core(id).drain();
    for (const { to, message } of output.messages) {
      this.inFlight.push({ from: id, to, message: structuredClone(message) as Message });
    }
    for (const envelope of output.replies) {
      this.replyLog.push(envelope);
      this.replies.set(envelope.reply.id, envelope.reply);
    }
  }

  /** Sends a client request to `to` (not collected yet); returns its id. */
  send(
    to: string,
    operation: ReplicaRequest['operation'],
    extra: Partial<ReplicaRequest> = {},
  ): string {
    this.#requestCount += 1;
    const id = `q${this.#requestCount}`;
    this.core(to).request({ id, client: this.#client, operation, ...extra });
    return id;
  }

  /** Hands `message` to its receiver and collects what that produced. */
  deliver(message: InFlight<Message>): void {
    this.delivered.push(message);
    this.core(message.to).step(message.from, structuredClone(message.message));
    this.collect(message.to);
  }

  /**
   * Delivers everything in flight (and what that produces) in order, first in first out;
   * messages `drop` picks are lost.
   */
  flush(drop: (message: InFlight<Message>) => boolean = () => false, limit = 100_000): void {
    for (let count = 0; this.inFlight.length > 0; count += 1) {
      assert.ok(count < limit, 'the replicas kept talking');
      const message = this.inFlight.shift() as InFlight<Message>;
      if (!drop(message)) {
        this.deliver(message);
      }
    }
  }

  /** 10 ms pass: the given replicas tick, in order, each collected after its tick. */
  tickEach(ids: readonly string[] = this.ids): void {
    this.clock.advanceMs(10);
    for (const id of ids) {
      this.core(id).tick();
      this.collect(id);
    }
  }
}

/**
 * A {@link HandDrivenGroup} whose messages go in rounds to every replica at once, over
 * links the test can cut (`blocked` holds `from>to`), with requests from one client.
 */
export class LinkedGroup<
  Core extends ReplicaCore = ReplicaCore,
  Message = unknown,
> extends HandDrivenGroup<Core, Message> {
  /** Links `from>to` whose messages are lost. */
  readonly blocked = new Set<string>();

  /** Collects what every core produced. */
  collectAll(): void {
    for (const id of this.cores.keys()) {
      this.collect(id);
    }
  }

  /** Delivers messages in rounds until none are left (blocked links lose theirs). */
  exchange(roundsMax = 50): void {
    for (let round = 0; round < roundsMax; round += 1) {
      this.collectAll();
      if (this.inFlight.length === 0) {
        return;
      }
      const batch = this.inFlight;
      this.inFlight = [];
      for (const { from, to, message } of batch) {
        if (!this.blocked.has(`${from}>${to}`)) {
          this.cores.get(to)?.step(from, message);
        }
      }
    }
  }

  /** Cuts every link between `id` and the others, both ways. */
  isolate(id: string): void {
    for (const other of this.ids) {
      if (other !== id) {
        this.blocked.add(`${id}>${other}`);
        this.blocked.add(`${other}>${id}`);
      }
    }
  }

  /** Restores every link. */
  heal(): void {
    this.blocked.clear();
  }

  request(
    to: string,
    operation: ReplicaRequest['operation'],
    extra: Partial<ReplicaRequest> = {},
  ): string {
    return this.send(to, operation, extra);
  }

  write(to: string, key: string, value: string): string {
    return this.request(to, { kind: 'write', key, value });
  }

  read(to: string, key: string, extra: Partial<ReplicaRequest> = {}): string {
    return this.request(to, { kind: 'read', key }, extra);
  }

  /** The first reply to request `id`, after collecting what every core produced. */
  reply(id: string): ReplicaReply | undefined {
    this.collectAll();
    return this.replyLog.find((envelope) => envelope.reply.id === id)?.reply;
  }
}
