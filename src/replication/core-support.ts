/**
 * Pieces every replication mode's core shares, internal to `distkit/replication`.
 *
 * @module
 */

import { describeValue, InvalidArgumentError } from '../core/index.js';
import type {
  ClientEnvelope,
  KeyedDurableState,
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

/**
 * The dirty-record bookkeeping behind `takeDurableChanges()`: a mode marks the id of
 * every durable record it writes, replaces or removes, at the mutation site; `take`
 * looks each marked id up once (`recordOf` gives a fresh copy, or `undefined` when the
 * record no longer exists) and reports `meta` when it differs from the last one taken.
 * The cost of a take is the number of ids marked since the previous one.
 */
export class DurableChangeTracker {
  readonly #dirty = new Set<string>();
  #metaJson: string | undefined;
  #entriesFirst = 1;
  #entriesLast = 0;

  /**
   * For a mode whose log entries are records {@link entryRecordId}: the log now holds
   * `first` to `last` (`last < first` when empty). Marks the entries of the range last
   * given that are outside this one (compacted, truncated, replaced by a snapshot), so
   * removing a run of entries costs the run's length. Call it at build time and before
   * each `take`; entries appended or changed inside the range are marked by the mode.
   */
  entryRange(first: number, last: number): void {
    const reportedFirst = this.#entriesFirst;
    const reportedLast = this.#entriesLast;
    for (let index = reportedFirst; index <= Math.min(reportedLast, first - 1); index += 1) {
      this.#dirty.add(entryRecordId(index));
    }
    for (let index = Math.max(reportedFirst, last + 1); index <= reportedLast; index += 1) {
      this.#dirty.add(entryRecordId(index));
    }
    this.#entriesFirst = first;
    this.#entriesLast = last;
  }

  /** The record `id` was written, replaced or removed. */
  mark(id: string): void {
    this.#dirty.add(id);
  }

  /**
   * The changes since the last call, or `undefined` when no record was marked and
   * `meta` (compared as JSON, so keep it small and JSON-safe) is as last taken.
   */
  take(
    meta: unknown,
    recordOf: (id: string) => unknown,
  ): { meta: unknown; upserts: [string, unknown][]; deletes: string[] } | undefined {
    const metaJson = JSON.stringify(meta);
    if (this.#dirty.size === 0 && metaJson === this.#metaJson) {
      return undefined;
    }
    this.#metaJson = metaJson;
    const upserts: [string, unknown][] = [];
    const deletes: string[] = [];
    for (const id of this.#dirty) {
      const record = recordOf(id);
      if (record === undefined) {
        deletes.push(id);
      } else {
        upserts.push([id, record]);
      }
    }
    this.#dirty.clear();
    return { meta, upserts, deletes };
  }
}

/** The prefix of a log entry's record id; the rest is its index in decimal. */
export const entryRecordPrefix = 'e/';

/** The record id of the log entry at `index`. */
export function entryRecordId(index: number): string {
  return `${entryRecordPrefix}${index}`;
}

/**
 * The log entries among `records` (ids made by {@link entryRecordId}), sorted by index,
 * each as `[index, record]`; the other records are left out.
 */
export function entryRecords(
  records: readonly (readonly [string, unknown])[],
): [number, unknown][] {
  const entries: [number, unknown][] = [];
  for (const [id, record] of records) {
    if (typeof id === 'string' && id.startsWith(entryRecordPrefix)) {
      entries.push([Number(id.slice(entryRecordPrefix.length)), record]);
    }
  }
  return entries.sort(([a], [b]) => a - b);
}

/** What a mode's restore reads when a keyed durable state is malformed: it refuses it. */
export const malformedDurableState = { format: 'malformed' } as const;

/**
 * A mode's plain durable state from `value`: `value` as it is unless it is a keyed state
 * of `format`; {@link malformedDurableState} when it is one without a record list or a
 * meta object; otherwise what `toPlain` makes of it (the mode's restore then checks it).
 */
export function plainFromKeyed(
  value: unknown,
  format: string,
  toPlain: (keyed: KeyedDurableState & { readonly meta: object }) => unknown,
): unknown {
  const keyed = value as Partial<KeyedDurableState> | null;
  if (typeof keyed !== 'object' || keyed === null || keyed.format !== format) {
    return value;
  }
  if (!Array.isArray(keyed.records) || typeof keyed.meta !== 'object' || keyed.meta === null) {
    return malformedDurableState;
  }
  return toPlain(keyed as KeyedDurableState & { readonly meta: object });
}
