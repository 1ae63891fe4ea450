/**
 * Pieces every replication mode's core shares, internal to `distkit/replication`.
 *
 * @module
 */

import { describeValue, InvalidArgumentError } from '../core/index.js';
import type {
  ClientEnvelope,
  PeerEnvelope,
  ReplicaId,
  ReplicaOperation,
  ReplicaOutput,
  ReplicaReply,
} from './protocol.js';

/**
 * What a replica has produced since the driver last called `drain()`:
 * the peer messages to send and the client replies to give, in the order produced.
 * Each mode keeps one and hands it over whole on `drain()`.
 */
export class ReplicaOutbox {
  #messages: PeerEnvelope[] = [];
  #replies: ClientEnvelope[] = [];

  /** Queues `message` for the peer `to`. */
  send(to: string, message: unknown): void {
    this.#messages.push({ to, message });
  }

  /** Queues `reply` for the client node `to`. */
  reply(to: string, reply: ReplicaReply): void {
    this.#replies.push({ to, reply });
  }

  /** Everything queued since the last call; the outbox starts empty again. */
  drain(): ReplicaOutput {
    const output = { messages: this.#messages, replies: this.#replies };
    this.#messages = [];
    this.#replies = [];
    return output;
  }
}

/**
 * `id` (from a replica's options) as a replica id.
 * Throws {@link InvalidArgumentError} naming `options.id` when it is not a non-empty string.
 */
export function requireReplicaId(id: unknown): string {
  if (typeof id !== 'string' || id.length === 0) {
    throw new InvalidArgumentError(
      'options.id',
      `options.id must be a non-empty string; got ${describeValue(id)}.`,
    );
  }
  return id;
}

/**
 * Whether `replicas` (from a replica's options) lists distinct non-empty replica ids;
 * each mode throws its own error naming `options.replicas` when not.
 */
export function isReplicaIdList(replicas: unknown): replicas is readonly string[] {
  return (
    Array.isArray(replicas) &&
    replicas.every((id) => typeof id === 'string' && id.length > 0) &&
    new Set(replicas).size === replicas.length
  );
}

/** A safe non-negative integer: an index, an epoch, a count in a peer message or a state. */
export function isIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** A string of at most `lengthMax` UTF-16 code units. */
export function isShortString(value: unknown, lengthMax: number): value is string {
  return typeof value === 'string' && value.length <= lengthMax;
}

/** The longest key and value a mode accepts in an operation. */
export interface OperationLimits {
  readonly keyLengthMax: number;
  readonly valueLengthMax: number;
}

/**
 * `operation` (from a client or a peer, so unchecked) as a fresh {@link ReplicaOperation},
 * or undefined when it is not a read or a write with a key (and value) within `limits`.
 */
export function validOperation(
  operation: unknown,
  limits: OperationLimits,
): ReplicaOperation | undefined {
  if (typeof operation !== 'object' || operation === null) {
    return undefined;
  }
  const { kind, key, value } = operation as { kind?: unknown; key?: unknown; value?: unknown };
  if (!isShortString(key, limits.keyLengthMax)) {
    return undefined;
  }
  if (kind === 'read') {
    return { kind, key };
  }
  if (kind === 'write' && isShortString(value, limits.valueLengthMax)) {
    return { kind, key, value };
  }
  return undefined;
}

/** Why a request whose operation {@link validOperation} rejected is refused `unavailable`. */
export function badOperationReason(limits: OperationLimits): string {
  return `bad-request: an operation is { kind: 'read', key } or { kind: 'write', key, value } with a key of at most ${limits.keyLengthMax} and a value of at most ${limits.valueLengthMax} characters`;
}

/**
 * Where an answer goes, in the modes whose followers forward requests: a client of this
 * replica, or the replica that forwarded the request (under its request key).
 */
export type ReplyTarget =
  | { readonly kind: 'client'; readonly client: string; readonly id: string }
  | { readonly kind: 'peer'; readonly peer: ReplicaId; readonly requestKey: string };

/**
 * The keys of the latest requests, at most `countMax` of them, so that a request
 * delivered twice is served once; the oldest is forgotten first.
 */
export class RecentRequests {
  readonly #keys = new Set<string>();
  readonly #countMax: number;

  constructor(countMax: number) {
    this.#countMax = countMax;
  }

  /** False when `requestKey` is among the recent ones (a duplicate); otherwise remembers it. */
  remember(requestKey: string): boolean {
    if (this.#keys.has(requestKey)) {
      return false;
    }
    this.#keys.add(requestKey);
    if (this.#keys.size > this.#countMax) {
      const oldest = this.#keys.values().next().value as string;
      this.#keys.delete(oldest);
    }
    return true;
  }
}
