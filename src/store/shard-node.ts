/**
 * A store node: the replicas of every shard it belongs to, multiplexed by shard id.
 * {@link StoreNodeCore} is sans-I/O (requests, peer messages and ticks in; envelopes to
 * send out), so a TCP process can host it as well as the simulator's
 * {@link StoreNodeProgram}.
 *
 * @module
 */

import { type Clock, InvalidArgumentError, type Random, SeededRandom } from '../core/index.js';
import type {
  DurableChanges,
  KeyedDurableState,
  ReplicaCore,
  ReplicaReply,
  ReplicaRequest,
} from '../replication/index.js';
import type { NodeHost, NodeProgram } from '../sim/index.js';
import type { ShardedStoreLayout } from './sharded-store.js';

/**
 * What store nodes and clients send each other; plain data, any codec carries it.
 * - `store-request`: a client's request for one shard's replica on the receiving node;
 * - `store-reply`: that replica's answer;
 * - `store-peer`: a replica's message to the same shard's replica on another node.
 */
export type StoreMessage =
  | { readonly kind: 'store-request'; readonly shard: string; readonly request: ReplicaRequest }
  | { readonly kind: 'store-reply'; readonly shard: string; readonly reply: ReplicaReply }
  | { readonly kind: 'store-peer'; readonly shard: string; readonly message: unknown };

/** A message for a node or a client. */
export interface StoreEnvelope {
  /** The node or client id. */
  readonly to: string;
  /** What to send. */
  readonly message: StoreMessage;
}

/**
 * What a store node keeps on stable storage: each shard replica's durable state, in the
 * plain form of `ReplicaCore.durableState()` or the keyed form of
 * `ReplicaCore.durableRecords()` (the modes' factories take either).
 */
export interface StoreNodeDurableState {
  /** Durable state per shard id. */
  readonly shards: Readonly<Record<string, unknown>>;
}

/**
 * The keyed form a replica without `durableRecords()` is kept in: its whole
 * `durableState()` as the meta, no records (so every change costs the whole state).
 */
const wholeStateFormat = 'distkit-whole-state/1';

function wholeState(state: unknown): unknown {
  const keyed = state as Partial<KeyedDurableState> | null;
  return typeof keyed === 'object' && keyed !== null && keyed.format === wholeStateFormat
    ? keyed.meta
    : state;
}

/** Options of {@link StoreNodeCore}. */
export interface StoreNodeCoreOptions {
  /** This node's id; it must be one of `layout.nodes`. */
  readonly id: string;
  /** The store's layout (the same on every node and client). */
  readonly layout: ShardedStoreLayout;
  /** This node's clock, shared by its replicas. */
  readonly clock: Clock;
  /** This node's random stream; each replica gets a stream seeded from it. */
  readonly random: Random;
  /** Milliseconds between ticks. */
  readonly tickMs: number;
  /** A previous incarnation's {@link StoreNodeCore.durableState}. */
  readonly durableState?: StoreNodeDurableState;
  /** Envelopes held between drains; beyond it the oldest peer messages are dropped. Default 100,000. */
  readonly outboxLengthMax?: number;
}

const shardIdLengthMax = 256;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/**
 * The replicas one node hosts, one {@link ReplicaCore} per shard it belongs to, built by
 * the shard keyspace's factory with the shard's replica nodes as the group. Requests and
 * peer messages name their shard; a request for a shard this node does not hold is
 * answered `unavailable` with reason `wrong-shard`; malformed messages are ignored.
 *
 * @example
 * ```ts
 * const node = new StoreNodeCore({ id: 'n1', layout, clock, random, tickMs: 10 });
 * node.receive('client-1', { kind: 'store-request', shard: 'users/0', request });
 * for (const { to, message } of node.drain()) transport.send(to, message);
 * ```
 */
export class StoreNodeCore {
  /** This node's id. */
  readonly id: string;
  readonly #replicas = new Map<string, ReplicaCore>();
  readonly #outbox: StoreEnvelope[] = [];
  readonly #outboxLengthMax: number;
  #droppedCount = 0;

  constructor(options: StoreNodeCoreOptions) {
    this.id = options.id;
    if (!options.layout.nodes.includes(options.id)) {
      throw new InvalidArgumentError(
        'StoreNodeCore options.id',
        `StoreNodeCore options.id ${JSON.stringify(options.id)} is not a node of the layout (${options.layout.nodes.join(', ')}).`,
      );
    }
    this.#outboxLengthMax = options.outboxLengthMax ?? 100_000;
    for (const shard of options.layout.shardsOfNode(options.id)) {
      const factory = options.layout.factoryOf(shard.id);
      if (factory === undefined) {
        continue;
      }
      const previous = options.durableState?.shards[shard.id];
      this.#replicas.set(
        shard.id,
        factory({
          id: options.id,
          replicas: shard.replicas,
          clock: options.clock,
          random: new SeededRandom({ seed: options.random.uint32() }),
          tickMs: options.tickMs,
          ...(previous === undefined ? {} : { durableState: wholeState(previous) }),
        }),
      );
    }
  }

  /** The shard ids this node holds. */
  shardIds(): string[] {
    return [...this.#replicas.keys()];
  }

  /** The replica of one shard on this node, or `undefined`. */
  replica(shardId: string): ReplicaCore | undefined {
    return this.#replicas.get(shardId);
  }

  /** A message from a client or a peer node arrived. */
  receive(from: string, message: unknown): void {
    if (!isObject(message) || typeof message['shard'] !== 'string') {
      return;
    }
    const shardId = message['shard'];
    if (shardId.length > shardIdLengthMax) {
      return;
    }
    const replica = this.#replicas.get(shardId);
    if (message['kind'] === 'store-request') {
      const request = message['request'];
      if (!isObject(request) || typeof request['id'] !== 'string') {
        return;
      }
      if (replica === undefined) {
        this.#push({
          to: from,
          message: {
            kind: 'store-reply',
            shard: shardId,
            reply: {
              id: request['id'],
              status: 'unavailable',
              reason: `wrong-shard: node ${this.id} holds no replica of shard ${shardId}`,
            },
          },
        });
        return;
      }
      replica.request(request as unknown as ReplicaRequest);
      this.#collect(shardId, replica);
    } else if (message['kind'] === 'store-peer' && replica !== undefined) {
      replica.step(from, message['message']);
      this.#collect(shardId, replica);
    }
  }

  /** Time passed: ticks every replica. */
  tick(): void {
    for (const [shardId, replica] of this.#replicas) {
      replica.tick();
      this.#collect(shardId, replica);
    }
  }

  /** The envelopes to send since the last call. */
  drain(): StoreEnvelope[] {
    return this.#outbox.splice(0, this.#outbox.length);
  }

  /** What stable storage holds now, per shard. */
  durableState(): StoreNodeDurableState {
    const shards: Record<string, unknown> = {};
    for (const [shardId, replica] of this.#replicas) {
      shards[shardId] = replica.durableState();
    }
    return { shards };
  }

  /**
   * Each replica's durable state in the keyed form (`ReplicaCore.durableRecords()`), per
   * shard: what a checkpoint holds. A replica without `durableRecords()` is kept whole
   * as the meta of a record-less keyed state.
   */
  durableRecords(): StoreNodeDurableState {
    const shards: Record<string, unknown> = {};
    for (const [shardId, replica] of this.#replicas) {
      shards[shardId] =
        replica.durableRecords === undefined
          ? { format: wholeStateFormat, meta: replica.durableState(), records: [] }
          : replica.durableRecords();
    }
    return { shards };
  }

  /**
   * Every replica's durable changes since the last call (`ReplicaCore.takeDurableChanges()`),
   * as `[shard, changes]` pairs; empty when nothing durable changed. Folding them per
   * shard onto {@link StoreNodeCore.durableRecords} taken before gives
   * `durableRecords()` now. A replica without `takeDurableChanges()` reports its whole
   * state every time.
   */
  takeDurableChanges(): [string, DurableChanges][] {
    const changes: [string, DurableChanges][] = [];
    for (const [shardId, replica] of this.#replicas) {
      const change =
        replica.takeDurableChanges === undefined
          ? { meta: replica.durableState(), upserts: [], deletes: [] }
          : replica.takeDurableChanges();
      if (change !== undefined) {
        changes.push([shardId, change]);
      }
    }
    return changes;
  }

  /** Each replica's metrics by shard id, and `outboxDrops` (envelopes dropped when full). */
  metrics(): {
    readonly shards: Readonly<Record<string, Readonly<Record<string, number>>>>;
    readonly outboxDrops: number;
  } {
    const shards: Record<string, Readonly<Record<string, number>>> = {};
    for (const [shardId, replica] of this.#replicas) {
      shards[shardId] = replica.metrics();
    }
    return { shards, outboxDrops: this.#droppedCount };
  }

  #collect(shardId: string, replica: ReplicaCore): void {
    const output = replica.drain();
    for (const { to, message } of output.messages) {
      this.#push({ to, message: { kind: 'store-peer', shard: shardId, message } });
    }
    for (const { to, reply } of output.replies) {
      this.#push({ to, message: { kind: 'store-reply', shard: shardId, reply } });
    }
  }

  #push(envelope: StoreEnvelope): void {
    if (this.#outbox.length >= this.#outboxLengthMax) {
      // A bounded outbox: the network may lose messages anyway, and every mode copes.
      this.#outbox.shift();
      this.#droppedCount += 1;
    }
    this.#outbox.push(envelope);
  }
}

/**
 * A store node in `distkit/sim`: builds a {@link StoreNodeCore} from the previous
 * incarnation's durable state (what a crash keeps), ticks it every `tickMs` and sends
 * what it drains.
 */
export class StoreNodeProgram implements NodeProgram {
  /** The node's core. */
  readonly core: StoreNodeCore;

  constructor(
    readonly host: NodeHost,
    layout: ShardedStoreLayout,
    tickMs: number,
    durableState: StoreNodeDurableState | undefined,
  ) {
    this.core = new StoreNodeCore({
      id: host.id,
      layout,
      clock: host.clock,
      random: host.random,
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

  /** A message from a client or a peer node arrived. */
  onMessage(from: string, message: unknown): void {
    this.core.receive(from, message);
    this.#flush();
  }

  #flush(): void {
    for (const { to, message } of this.core.drain()) {
      this.host.send(to, message);
    }
  }
}
