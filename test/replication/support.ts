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
