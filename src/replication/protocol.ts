/**
 * The port every replication mode of `distkit/replication` implements, so that one
 * driver (the simulator's, the lab's, a TCP process's) runs any of them: a replica is a
 * synchronous state machine that takes client requests, peer messages and ticks, and
 * hands back the messages to send and the replies to give.
 *
 * Durability is explicit: {@link ReplicaCore.durableState} is what the replica has on
 * stable storage at this instant (what a crash keeps); a replica restarted after a crash
 * is built from it and from nothing else.
 *
 * @module
 */

import type { Clock, Random } from '../core/index.js';

/** The id of a replica (a node of the group). */
export type ReplicaId = string;

/** What a client asks: a read or a write of one key of a string key-value map. */
export type ReplicaOperation =
  | { readonly kind: 'read'; readonly key: string }
  | { readonly kind: 'write'; readonly key: string; readonly value: string };

/**
 * Per-request settings. Each mode documents which it reads; the others are ignored.
 */
export interface RequestSettings {
  /** Leaderless: acknowledgements a write needs (W). */
  readonly writeQuorum?: number;
  /** Leaderless: answers a read needs (R). */
  readonly readQuorum?: number;
  /**
   * Leader-follower and multi-leader: the receiving replica answers a read from its own
   * state (reporting its lag) instead of sending it to the leader.
   */
  readonly localRead?: boolean;
}

/** A client's request, addressed to one replica. */
export interface ReplicaRequest {
  /** Unique per request of this client: the reply carries it back. */
  readonly id: string;
  /** The client node (replies go there). */
  readonly client: string;
  readonly operation: ReplicaOperation;
  readonly settings?: RequestSettings;
  /**
   * The session token of this client's latest reply, opaque to the client: what it has
   * seen, so a replica can refuse (or wait) rather than serve older data.
   */
  readonly session?: string;
}

/**
 * How a request ended:
 * - `ok`: done. A read gives `value` (`null`: absent) and, where the mode keeps
 *   concurrent versions, every sibling in `siblings`. `stalenessMs` is how far behind the
 *   answering replica knew itself to be (0 when current).
 * - `unavailable`: refused; it certainly took no effect, a retry is safe.
 * - `unknown`: given up (a timeout, a lost leader); a write may or may not take effect.
 */
export type ReplicaReply =
  | {
      readonly id: string;
      readonly status: 'ok';
      readonly value?: string | null;
      readonly siblings?: readonly string[];
      readonly session?: string;
      readonly stalenessMs?: number;
    }
  | { readonly id: string; readonly status: 'unavailable'; readonly reason: string }
  | { readonly id: string; readonly status: 'unknown'; readonly reason: string };

/** A message for a peer replica; `message` is plain data (any codec can carry it). */
export interface PeerEnvelope {
  readonly to: ReplicaId;
  readonly message: unknown;
}

/** A reply for a client. */
export interface ClientEnvelope {
  readonly to: string;
  readonly reply: ReplicaReply;
}

/** What a replica produced since the last {@link ReplicaCore.drain}. */
export interface ReplicaOutput {
  readonly messages: readonly PeerEnvelope[];
  readonly replies: readonly ClientEnvelope[];
}

/**
 * One replica of a replication mode, sans I/O. The driver calls `request`, `step` and
 * `tick` as things happen and, after each, sends what `drain` returns: peer messages may
 * be lost, duplicated, delayed and reordered by the network, and the mode must cope.
 * Replies are given only for requests this replica received.
 */
export interface ReplicaCore {
  readonly id: ReplicaId;
  /** A client's request arrived. */
  request(request: ReplicaRequest): void;
  /** A peer's message arrived. Malformed messages are ignored, never thrown on. */
  step(from: ReplicaId, message: unknown): void;
  /** Time passed (the driver calls it every `tickMs` of the node's clock). */
  tick(): void;
  /** The messages and replies produced since the last call. */
  drain(): ReplicaOutput;
  /** What stable storage holds now; a restart is built from it. Plain data. */
  durableState(): unknown;
  /**
   * Counters the lab reports, each with a stable name: for example
   * `acknowledgedWritesLost`, `conflictsSurfaced`, `hintsStored`, `readRepairs`.
   */
  metrics(): Readonly<Record<string, number>>;
}

/** What every mode's factory receives. */
export interface ReplicaCoreOptions {
  readonly id: ReplicaId;
  /** Every replica of the group, this one included, in the same order everywhere. */
  readonly replicas: readonly ReplicaId[];
  /** This node's clock (it may be skewed or drift relative to the others). */
  readonly clock: Clock;
  readonly random: Random;
  /** Milliseconds between ticks (the mode's timeouts count ticks of this length). */
  readonly tickMs: number;
  /** A previous incarnation's {@link ReplicaCore.durableState}; absent on first boot. */
  readonly durableState?: unknown;
}

/** Builds a replica of a mode; the lab and the drivers take modes as factories. */
export type ReplicaCoreFactory = (options: ReplicaCoreOptions) => ReplicaCore;
