/**
 * Multi-leader replication: every replica accepts writes for every key, applies them at
 * once and answers `ok`, and replicates them to the others asynchronously. Concurrent
 * writes to one key are resolved by the configured conflict mode: last writer wins on
 * hybrid logical clock timestamps (`'lww'`, which loses concurrent updates and counts
 * them), siblings kept by dotted version vectors and replaced by writes whose session had
 * seen them (`'siblings'`), or a multi-value register CRDT joined by its merge
 * (`'crdt'`).
 *
 * ## Replication
 *
 * Each replica numbers its own writes 1, 2, 3, ... (its *seq*) and records, durably, which
 * writes of each replica it has applied: a version vector (contiguous prefix per replica)
 * plus the few seqs applied above a gap. Two mechanisms carry writes:
 *
 * - **Push.** A write is sent at once to every peer as the key's whole current state (a
 *   join-semilattice value, so duplicates and reordering are harmless), and retransmitted
 *   every `retransmitIntervalMs` until the peer acknowledges it. Each peer's queue holds
 *   at most `pushQueueLengthMax` writes; when it overflows it is dropped and the peer is
 *   caught up by anti-entropy instead (a write is never refused because a peer is down).
 * - **Anti-entropy.** Every `antiEntropyIntervalMs` a replica sends a random peer its
 *   applied vector; the peer answers, in pages of at most `messageKeyCountMax` keys, every
 *   key holding a write the vector does not cover (each key keeps the highest seq of each
 *   replica it holds), and its own vector; after the last page the requester has applied
 *   everything that vector covers, including writes of replicas it cannot reach. A peer
 *   that sees the requester ahead starts a round of its own the other way, so a
 *   restarted replica (which asks every peer at once) gets its writes out again.
 *
 * ## Sessions and staleness
 *
 * An `ok` reply carries a session token: the answering replica's applied vector
 * (`r1:4,r2:7`, replica ids URI-encoded), which covers what the client has seen. A replica
 * that has not applied everything a request's token covers refuses it with
 * `unavailable` / `behind-session` rather than serve older data or accept a write out of
 * the client's causal order. A read reply's `stalenessMs` is, for the peer this replica is
 * furthest behind, how long ago (on this replica's clock) it last had every write of that
 * peer it knew of: 0 when it is current with everyone as far as it knows. A peer it
 * cannot hear from counts as current until it hears of that peer's newer writes.
 *
 * @module
 */

import {
  compareHybridTimestamps,
  HybridLogicalClock,
  type HybridTimestamp,
  hybridTimestampFromJSON,
  hybridTimestampToJSON,
  isClockOffsetError,
  VectorClock,
} from '../clocks/index.js';
import {
  type Clock,
  InvalidArgumentError,
  isDistkitError,
  type Random,
  requireInteger,
  requireOneOf,
  requireOptions,
} from '../core/index.js';
import { CausalContext } from '../crdt/index.js';
import { DurableChangeTracker, plainFromKeyed, ReplicaOutbox } from './core-support.js';
import {
  hybridSuccessor,
  type KeyLimits,
  type KeyStrategy,
  type KeyVersion,
  keyStrategy,
  type MultiLeaderConflictMode,
} from './multi-leader-keys.js';
import {
  type DurableChanges,
  type KeyedDurableState,
  parseReplicaRequest,
  type ReplicaCore,
  type ReplicaCoreFactory,
  type ReplicaCoreOptions,
  type ReplicaId,
  type ReplicaOutput,
  type ReplicaReply,
  type ReplicaRequest,
} from './protocol.js';

export type { MultiLeaderConflictMode } from './multi-leader-keys.js';

/**
 * Options of {@link multiLeader}. Every limit has a default; intervals are milliseconds
 * of the replica's clock, counted in ticks of the driver's `tickMs` (rounded up).
 */
export interface MultiLeaderOptions {
  /**
   * How concurrent writes to one key are resolved:
   * - `'lww'`: the write with the greatest hybrid timestamp (ties: the greater replica
   *   id) wins everywhere; the others are lost, and those lost to a write that had not
   *   seen them are counted in `concurrentWritesOverwritten`.
   * - `'siblings'`: concurrent writes are kept as siblings (dotted version vectors); a
   *   read returns them all, and a write replaces exactly the siblings its session token
   *   covers.
   * - `'crdt'`: each key is an `MVRegister` from `distkit/crdt` joined by its merge: a
   *   write replaces every value its replica holds, writes through different replicas
   *   that did not see each other are kept side by side.
   */
  readonly conflicts: MultiLeaderConflictMode;
  /** How often an unacknowledged push is sent again. Default 50. */
  readonly retransmitIntervalMs?: number;
  /** How often a replica starts an anti-entropy round with a random peer. Default 200. */
  readonly antiEntropyIntervalMs?: number;
  /**
   * Writes waiting for one peer's acknowledgement. Beyond it the queue is dropped and the
   * peer caught up by anti-entropy. Default 4,096.
   */
  readonly pushQueueLengthMax?: number;
  /** Keys in one push or anti-entropy message. Default 64. */
  readonly messageKeyCountMax?: number;
  /**
   * Keys a replica accepts new writes for; a write to a new key beyond it is refused
   * (`unavailable` / `key-limit`). Keys written elsewhere are merged up to
   * `keyCountMax` × the replica count. Default 100,000.
   */
  readonly keyCountMax?: number;
  /** Longest key, in UTF-16 code units. Default 1,024. */
  readonly keyLengthMax?: number;
  /** Longest value, in UTF-16 code units. Default 65,536. */
  readonly valueLengthMax?: number;
  /**
   * `'siblings'`: a write that would leave more siblings than this is refused
   * (`unavailable` / `sibling-limit`; read and write back with the session to resolve
   * them). Merges of writes from different replicas can hold up to this × the replica
   * count. Default 16.
   */
  readonly siblingCountMax?: number;
  /**
   * `'lww'`: how far ahead of this replica's wall clock a peer's timestamp may be before
   * the hybrid clock refuses to follow it (the value is still merged; see
   * `clockOffsetsRejected`). Default 1,000.
   */
  readonly clockOffsetMsMax?: number;
}

/** The defaults of {@link MultiLeaderOptions}. */
export const multiLeaderDefaults = {
  retransmitIntervalMs: 50,
  antiEntropyIntervalMs: 200,
  pushQueueLengthMax: 4_096,
  messageKeyCountMax: 64,
  keyCountMax: 100_000,
  keyLengthMax: 1_024,
  valueLengthMax: 65_536,
  siblingCountMax: 16,
  clockOffsetMsMax: 1_000,
} as const;

interface Settings {
  readonly conflicts: MultiLeaderConflictMode;
  readonly retransmitIntervalMs: number;
  readonly antiEntropyIntervalMs: number;
  readonly pushQueueLengthMax: number;
  readonly messageKeyCountMax: number;
  readonly keyCountMax: number;
  readonly keyLengthMax: number;
  readonly valueLengthMax: number;
  readonly siblingCountMax: number;
  readonly clockOffsetMsMax: number;
}

function requireSettings(options: MultiLeaderOptions): Settings {
  const given = requireOptions('multiLeader options', options);
  if (options === undefined) {
    throw new InvalidArgumentError(
      'multiLeader options',
      "multiLeader options must be an object with conflicts: 'lww' | 'siblings' | 'crdt'.",
    );
  }
  const integer = (name: keyof typeof multiLeaderDefaults, min: number, max?: number): number =>
    requireInteger(`multiLeader options.${name}`, given[name] ?? multiLeaderDefaults[name], {
      min,
      ...(max === undefined ? {} : { max }),
    });
  return {
    conflicts: requireOneOf('multiLeader options.conflicts', given.conflicts, [
      'lww',
      'siblings',
      'crdt',
    ]),
    retransmitIntervalMs: integer('retransmitIntervalMs', 1),
    antiEntropyIntervalMs: integer('antiEntropyIntervalMs', 1),
    pushQueueLengthMax: integer('pushQueueLengthMax', 1, 1_000_000),
    messageKeyCountMax: integer('messageKeyCountMax', 1, 10_000),
    keyCountMax: integer('keyCountMax', 1, 100_000_000),
    keyLengthMax: integer('keyLengthMax', 1, 1_048_576),
    valueLengthMax: integer('valueLengthMax', 0, 67_108_864),
    siblingCountMax: integer('siblingCountMax', 1, 1_024),
    clockOffsetMsMax: integer('clockOffsetMsMax', 0),
  };
}

/**
 * Multi-leader replication as a {@link ReplicaCoreFactory}. Validates `options` at once
 * (an {@link InvalidArgumentError} names the option) and each replica's
 * {@link ReplicaCoreOptions} when it is built.
 *
 * Metrics: `writesAccepted`, `concurrentWritesOverwritten` (counted once, by the replica
 * that accepted the lost write, when it learns of the write that replaced it without
 * having seen it), `conflictsSurfaced` (reads that returned two or more siblings and
 * merges that left a key with two or more), `antiEntropyRepairs` (keys an anti-entropy
 * round changed), and `readsServed`, `sessionRefusals`, `pushesSent`,
 * `pushRetransmissions`, `pushQueueOverflows`, `antiEntropyRounds`, `messagesIgnored`,
 * `clockOffsetsRejected`.
 *
 * @example
 * ```ts
 * const factory = multiLeader({ conflicts: 'siblings' });
 * const replica = factory({ id: 'r1', replicas: ['r1', 'r2'], clock, random, tickMs: 10 });
 * ```
 */
export function multiLeader(options: MultiLeaderOptions): ReplicaCoreFactory {
  const settings = requireSettings(options);
  return (core) => new MultiLeaderReplica(settings, core);
}

/** Per key: the mode's state and the highest seq of each replica it holds. */
interface KeyRecord {
  readonly state: unknown;
  readonly seqs: VectorClock;
}

/** One peer's unacknowledged pushes of one key. */
interface PushEntry {
  seqs: number[];
  sentTick: number;
}

/** An anti-entropy round this replica runs as the requester. */
interface SyncRound {
  readonly id: number;
  cursor: string | null;
  /** The responder's applied vector on the first page. */
  vector: [string, number][] | undefined;
  sentTick: number;
  /** Some key of a page could not be merged: the vector is not adopted. */
  incomplete: boolean;
}

const messageTypes = {
  push: 'multi-leader/push',
  ack: 'multi-leader/ack',
  syncRequest: 'multi-leader/sync-request',
  syncResponse: 'multi-leader/sync-response',
} as const;

const durableFormat = 'distkit.multi-leader/1';
/**
 * The keyed form: meta `{ conflicts, seq, applied, hlc }`, one `k/<key>` record per key
 * holding `[state, seqs]` as the plain form's `keys` items do.
 */
const keyedFormat = 'distkit.multi-leader-records/1';
const keyRecordPrefix = 'k/';

/** A keyed durable state as the plain form `#restore` reads; any other value as it is. */
function fromKeyed(value: unknown): unknown {
  return plainFromKeyed(value, keyedFormat, (keyed) => {
    const keys: unknown[] = [];
    for (const [id, record] of keyed.records) {
      if (typeof id === 'string' && id.startsWith(keyRecordPrefix) && Array.isArray(record)) {
        keys.push([id.slice(keyRecordPrefix.length), ...record]);
      }
    }
    return { ...(keyed.meta as Record<string, unknown>), format: durableFormat, keys };
  });
}

/** Keys a responder looks at per anti-entropy page, relative to the page size. */
const scanFactor = 16;

/** The pieces of a peer message every type carries. */
interface PeerHeader {
  /** The sender's own write count. */
  readonly seq: number;
  /** The sender's applied vector. */
  readonly applied: [string, number][];
}

class MultiLeaderReplica implements ReplicaCore {
  readonly id: ReplicaId;
  readonly #settings: Settings;
  readonly #strategy: KeyStrategy<unknown>;
  readonly #replicas: readonly ReplicaId[];
  readonly #peers: readonly ReplicaId[];
  readonly #replicaSet: ReadonlySet<string>;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #limits: KeyLimits;
  readonly #retransmitTicks: number;
  readonly #antiEntropyTicks: number;

  // Durable.
  #seq = 0;
  readonly #applied = new CausalContext();
  /** Durable records changed since the last `takeDurableChanges()`. */
  readonly #changes = new DurableChangeTracker();
  readonly #keys = new Map<string, KeyRecord>();
  readonly #hlc: HybridLogicalClock | undefined;

  // Volatile.
  readonly #appliedVector = new Map<string, number>();
  readonly #sortedKeys: string[] = [];
  readonly #queues = new Map<ReplicaId, Map<string, PushEntry>>();
  readonly #queueLengths = new Map<ReplicaId, number>();
  readonly #peerAppliedMe = new Map<ReplicaId, number>();
  readonly #syncs = new Map<ReplicaId, SyncRound>();
  readonly #newestSeq = new Map<ReplicaId, number>();
  readonly #currentSinceMs = new Map<ReplicaId, number>();
  #tick = 0;
  #syncCounter = 0;
  #restartSyncPending: boolean;
  readonly #outbox = new ReplicaOutbox();
  readonly #metrics = {
    writesAccepted: 0,
    concurrentWritesOverwritten: 0,
    conflictsSurfaced: 0,
    antiEntropyRepairs: 0,
    readsServed: 0,
    sessionRefusals: 0,
    pushesSent: 0,
    pushRetransmissions: 0,
    pushQueueOverflows: 0,
    antiEntropyRounds: 0,
    messagesIgnored: 0,
    clockOffsetsRejected: 0,
  };

  constructor(settings: Settings, options: ReplicaCoreOptions) {
    requireOptions('multiLeader replica options', options);
    if (options === undefined) {
      throw new InvalidArgumentError(
        'multiLeader replica options',
        'multiLeader: the factory needs { id, replicas, clock, random, tickMs }.',
      );
    }
    const replicas = options.replicas;
    if (
      !Array.isArray(replicas) ||
      replicas.length === 0 ||
      replicas.some((replica) => typeof replica !== 'string' || replica === '') ||
      new Set(replicas).size !== replicas.length
    ) {
      throw new InvalidArgumentError(
        'options.replicas',
        'multiLeader: options.replicas must be a non-empty array of distinct non-empty ids.',
      );
    }
    if (typeof options.id !== 'string' || !replicas.includes(options.id)) {
      throw new InvalidArgumentError(
        'options.id',
        `multiLeader: options.id must be one of options.replicas; got ${JSON.stringify(options.id)}.`,
      );
    }
    if (typeof options.clock?.nowMs !== 'function' || typeof options.clock.wallMs !== 'function') {
      throw new InvalidArgumentError(
        'options.clock',
        'multiLeader: options.clock must be a Clock.',
      );
    }
    if (typeof options.random?.pick !== 'function') {
      throw new InvalidArgumentError(
        'options.random',
        'multiLeader: options.random must be a Random.',
      );
    }
    const tickMs = options.tickMs;
    if (typeof tickMs !== 'number' || !Number.isFinite(tickMs) || tickMs <= 0) {
      throw new InvalidArgumentError(
        'options.tickMs',
        `multiLeader: options.tickMs must be a positive number; got ${String(tickMs)}.`,
      );
    }
    this.id = options.id;
    this.#settings = settings;
    this.#strategy = keyStrategy(settings.conflicts);
    this.#replicas = [...replicas];
    this.#peers = replicas.filter((replica) => replica !== options.id);
    this.#replicaSet = new Set(replicas);
    this.#clock = options.clock;
    this.#random = options.random;
    this.#limits = {
      replicas: this.#replicaSet,
      valueLengthMax: settings.valueLengthMax,
      versionCountMax: settings.siblingCountMax * replicas.length,
    };
    this.#retransmitTicks = Math.max(1, Math.ceil(settings.retransmitIntervalMs / tickMs));
    this.#antiEntropyTicks = Math.max(1, Math.ceil(settings.antiEntropyIntervalMs / tickMs));
    let hlcLast: HybridTimestamp | undefined;
    if (options.durableState !== undefined) {
      hlcLast = this.#restore(fromKeyed(options.durableState));
    }
    this.#hlc =
      settings.conflicts === 'lww'
        ? new HybridLogicalClock({
            clock: options.clock,
            maxOffsetMs: settings.clockOffsetMsMax,
            ...(hlcLast === undefined ? {} : { last: hlcLast }),
          })
        : undefined;
    this.#restartSyncPending = options.durableState !== undefined;
    const nowMs = this.#clock.nowMs();
    for (const peer of this.#peers) {
      this.#queues.set(peer, new Map());
      this.#queueLengths.set(peer, 0);
      this.#currentSinceMs.set(peer, nowMs);
    }
    this.#refreshApplied();
  }

  request(request: ReplicaRequest): void {
    const parsed = parseReplicaRequest(request, {
      idLengthMax: this.#settings.keyLengthMax,
      valueLengthMax: this.#settings.valueLengthMax,
    });
    if (!parsed.ok) {
      const id = (request as { id?: unknown } | null)?.id;
      const client = (request as { client?: unknown } | null)?.client;
      if (typeof id === 'string' && typeof client === 'string') {
        this.#reply(client, {
          id,
          status: 'unavailable',
          reason: `invalid-request: ${parsed.reason}`,
        });
      } else {
        this.#metrics.messagesIgnored += 1;
      }
      return;
    }
    const { id, client, operation } = parsed.request;
    const session = parseSession(parsed.request.session ?? '', this.#replicaSet);
    if (session === undefined) {
      this.#reply(client, { id, status: 'unavailable', reason: 'invalid-session' });
      return;
    }
    for (const [replica, seq] of session) {
      if ((this.#appliedVector.get(replica) ?? 0) < seq) {
        this.#metrics.sessionRefusals += 1;
        this.#reply(client, { id, status: 'unavailable', reason: 'behind-session' });
        return;
      }
    }
    if (operation.kind === 'read') {
      this.#read(id, client, operation.key);
    } else {
      this.#write(id, client, operation.key, operation.value, session);
    }
  }

  step(from: ReplicaId, message: unknown): void {
    if (typeof from !== 'string' || from === this.id || !this.#replicaSet.has(from)) {
      this.#metrics.messagesIgnored += 1;
      return;
    }
    try {
      if (!this.#stepChecked(from, message)) {
        this.#metrics.messagesIgnored += 1;
      }
    } catch (error) {
      // Decoding errors of a malformed message; a bug (AssertionError) still throws.
      if (!isDistkitError(error)) {
        throw error;
      }
      this.#metrics.messagesIgnored += 1;
    }
  }

  tick(): void {
    this.#tick += 1;
    if (this.#restartSyncPending) {
      this.#restartSyncPending = false;
      for (const peer of this.#peers) {
        this.#startSync(peer);
      }
    }
    for (const peer of this.#peers) {
      this.#sendPushes(peer);
    }
    for (const [peer, round] of this.#syncs) {
      if (this.#tick - round.sentTick >= 2 * this.#antiEntropyTicks) {
        // The page or its answer was lost (or the peer is down): ask again.
        this.#sendSyncRequest(peer, round);
      }
    }
    if (this.#tick % this.#antiEntropyTicks === 0 && this.#peers.length > 0) {
      const idle = this.#peers.filter((peer) => !this.#syncs.has(peer));
      if (idle.length > 0) {
        this.#startSync(this.#random.pick(idle));
      }
    }
  }

  drain(): ReplicaOutput {
    return this.#outbox.drain();
  }

  durableState(): unknown {
    const keys: [string, unknown, [string, number, number][]][] = [];
    for (const [key, record] of this.#keys) {
      keys.push([key, this.#strategy.encode(record.state), record.seqs.toJSON()]);
    }
    return {
      format: durableFormat,
      conflicts: this.#settings.conflicts,
      seq: this.#seq,
      applied: this.#applied.toJSON(),
      hlc: this.#hlc === undefined ? null : hybridTimestampToJSON(this.#hlc.last),
      keys,
    };
  }

  durableRecords(): KeyedDurableState {
    const records: [string, unknown][] = [];
    for (const key of this.#keys.keys()) {
      records.push([`${keyRecordPrefix}${key}`, this.#keyRecord(key)]);
    }
    return { format: keyedFormat, meta: this.#keyedMeta(), records };
  }

  takeDurableChanges(): DurableChanges | undefined {
    return this.#changes.take(this.#keyedMeta(), (id) =>
      this.#keyRecord(id.slice(keyRecordPrefix.length)),
    );
  }

  #keyRecord(key: string): unknown {
    const record = this.#keys.get(key);
    return record === undefined
      ? undefined
      : [this.#strategy.encode(record.state), record.seqs.toJSON()];
  }

  #keyedMeta(): Record<string, unknown> {
    return {
      conflicts: this.#settings.conflicts,
      seq: this.#seq,
      applied: this.#applied.toJSON(),
      hlc: this.#hlc === undefined ? null : hybridTimestampToJSON(this.#hlc.last),
    };
  }

  metrics(): Readonly<Record<string, number>> {
    return { ...this.#metrics };
  }

  // ---- client requests ----

  #read(id: string, client: string, key: string): void {
    const record = this.#keys.get(key);
    const versions = record === undefined ? [] : this.#strategy.versions(record.state);
    const values = versions.map((version) => version.value);
    this.#metrics.readsServed += 1;
    if (values.length >= 2) {
      this.#metrics.conflictsSurfaced += 1;
    }
    const reply: ReplicaReply = {
      id,
      status: 'ok',
      value: pickValue(values),
      ...(this.#settings.conflicts === 'lww' ? {} : { siblings: values }),
      session: this.#sessionToken(),
      stalenessMs: this.#stalenessMs(),
    };
    this.#reply(client, reply);
  }

  #write(
    id: string,
    client: string,
    key: string,
    value: string,
    session: ReadonlyMap<string, number>,
  ): void {
    const record = this.#keys.get(key);
    if (record === undefined && this.#keys.size >= this.#settings.keyCountMax) {
      this.#reply(client, { id, status: 'unavailable', reason: 'key-limit' });
      return;
    }
    if (this.#seq >= Number.MAX_SAFE_INTEGER) {
      this.#reply(client, { id, status: 'unavailable', reason: 'seq-exhausted' });
      return;
    }
    const state = record?.state ?? this.#strategy.empty();
    const seq = this.#seq + 1;
    const next = this.#strategy.write(
      state,
      {
        replica: this.id,
        value,
        seq,
        timestamp: this.#writeTimestamp(state),
        session,
      },
      this.#settings.siblingCountMax,
    );
    if (next === undefined) {
      this.#reply(client, { id, status: 'unavailable', reason: 'sibling-limit' });
      return;
    }
    this.#seq = seq;
    this.#applied.add({ replica: this.id, counter: seq });
    this.#appliedVector.set(this.id, seq);
    this.#store(key, {
      state: next,
      seqs: (record?.seqs ?? VectorClock.empty).merge(singleEntry(this.id, seq)),
    });
    this.#metrics.writesAccepted += 1;
    this.#reply(client, { id, status: 'ok', session: this.#sessionToken() });
    for (const peer of this.#peers) {
      this.#enqueue(peer, key, seq);
    }
  }

  /** `lww`: now on the hybrid clock, and always after the key's current winner. */
  #writeTimestamp(state: unknown): HybridTimestamp {
    if (this.#hlc === undefined) {
      return { wallMs: 0, logical: 0 };
    }
    const now = this.#hlc.now();
    const winner = this.#strategy.timestamp(state);
    // The winner may be ahead of this clock when its timestamp was refused as too far
    // ahead; a write made after seeing it must still win over it.
    return winner !== undefined && compareHybridTimestamps(now, winner) <= 0
      ? hybridSuccessor(winner)
      : now;
  }

  #reply(client: string, reply: ReplicaReply): void {
    this.#outbox.reply(client, reply);
  }

  #sessionToken(): string {
    return formatSession(this.#appliedVector);
  }

  #stalenessMs(): number {
    const nowMs = this.#clock.nowMs();
    let stalenessMs = 0;
    for (const peer of this.#peers) {
      if ((this.#appliedVector.get(peer) ?? 0) < (this.#newestSeq.get(peer) ?? 0)) {
        stalenessMs = Math.max(stalenessMs, nowMs - (this.#currentSinceMs.get(peer) ?? nowMs));
      }
    }
    return Math.max(0, stalenessMs);
  }

  // ---- keys ----

  #store(key: string, record: KeyRecord): void {
    if (!this.#keys.has(key)) {
      this.#sortedKeys.splice(lowerBound(this.#sortedKeys, key), 0, key);
    }
    this.#keys.set(key, record);
    this.#changes.mark(`${keyRecordPrefix}${key}`);
  }

  /**
   * Joins a peer's state of `key` into this replica's; returns whether anything changed.
   * `false` with nothing merged when the key is new and the key bound is reached.
   */
  #merge(key: string, state: unknown, seqs: VectorClock): { merged: boolean; changed: boolean } {
    const record = this.#keys.get(key);
    if (
      record === undefined &&
      this.#keys.size >= this.#settings.keyCountMax * this.#replicas.length
    ) {
      return { merged: false, changed: false };
    }
    const incomingTimestamp = this.#strategy.timestamp(state);
    if (this.#hlc !== undefined && incomingTimestamp !== undefined) {
      try {
        this.#hlc.update(incomingTimestamp);
      } catch (error) {
        if (!isClockOffsetError(error)) {
          throw error;
        }
        this.#metrics.clockOffsetsRejected += 1;
      }
    }
    const before = record?.state ?? this.#strategy.empty();
    const after = this.#strategy.merge(before, state);
    const mergedSeqs = (record?.seqs ?? VectorClock.empty).merge(seqs);
    const beforeVersions = this.#strategy.versions(before);
    const afterVersions = this.#strategy.versions(after);
    const changed =
      record === undefined ||
      !sameVersions(beforeVersions, afterVersions) ||
      this.#strategy.context(before).compare(this.#strategy.context(after)) !== 'equal' ||
      record.seqs.compare(mergedSeqs) !== 'equal';
    if (!changed) {
      return { merged: true, changed: false };
    }
    this.#countOverwritten(beforeVersions, afterVersions);
    if (
      this.#settings.conflicts !== 'lww' &&
      afterVersions.length >= 2 &&
      !sameVersions(beforeVersions, afterVersions)
    ) {
      this.#metrics.conflictsSurfaced += 1;
    }
    this.#store(key, { state: after, seqs: mergedSeqs });
    return { merged: true, changed: true };
  }

  /**
   * A version this replica accepted that a merge removed is an overwritten concurrent
   * write unless some version that remains was written by a replica that had seen it.
   */
  #countOverwritten(before: readonly KeyVersion[], after: readonly KeyVersion[]): void {
    for (const version of before) {
      if (
        version.replica !== this.id ||
        after.some(
          (other) => other.replica === version.replica && other.counter === version.counter,
        )
      ) {
        continue;
      }
      if (!after.some((other) => other.past.covers(version.replica, version.counter))) {
        this.#metrics.concurrentWritesOverwritten += 1;
      }
    }
  }

  // ---- pushes ----

  #enqueue(peer: ReplicaId, key: string, seq: number): void {
    const queue = this.#queues.get(peer) as Map<string, PushEntry>;
    const length = (this.#queueLengths.get(peer) ?? 0) + 1;
    if (length > this.#settings.pushQueueLengthMax) {
      // The peer has been unreachable for a while: drop its queue and let anti-entropy
      // (which this replica's vector, ahead of the peer's, will trigger both ways) catch
      // it up instead of growing without bound.
      this.#metrics.pushQueueOverflows += 1;
      queue.clear();
      this.#queueLengths.set(peer, 0);
      if (!this.#syncs.has(peer)) {
        this.#startSync(peer);
      }
      return;
    }
    this.#queueLengths.set(peer, length);
    const entry = queue.get(key);
    const seqs = entry === undefined ? [seq] : [...entry.seqs, seq];
    queue.set(key, { seqs, sentTick: this.#tick });
    // Sent at once, alone: the key's state now holds every write still queued for it.
    const record = this.#keys.get(key) as KeyRecord;
    this.#metrics.pushesSent += 1;
    this.#send(peer, {
      type: messageTypes.push,
      entries: [
        { k: key, n: [...seqs], s: this.#strategy.encode(record.state), g: record.seqs.toJSON() },
      ],
    });
  }

  #sendPushes(peer: ReplicaId): void {
    const queue = this.#queues.get(peer) as Map<string, PushEntry>;
    const entries: { k: string; n: number[]; s: unknown; g: unknown }[] = [];
    for (const [key, entry] of queue) {
      if (entries.length >= this.#settings.messageKeyCountMax) {
        break;
      }
      if (this.#tick - entry.sentTick < this.#retransmitTicks) {
        continue;
      }
      entry.sentTick = this.#tick;
      const record = this.#keys.get(key) as KeyRecord;
      entries.push({
        k: key,
        n: [...entry.seqs],
        s: this.#strategy.encode(record.state),
        g: record.seqs.toJSON(),
      });
    }
    if (entries.length === 0) {
      return;
    }
    this.#metrics.pushesSent += 1;
    this.#metrics.pushRetransmissions += 1;
    this.#send(peer, { type: messageTypes.push, entries });
  }

  #acknowledge(peer: ReplicaId, key: string, seqMax: number): void {
    const queue = this.#queues.get(peer) as Map<string, PushEntry>;
    const entry = queue.get(key);
    if (entry === undefined) {
      return;
    }
    const kept = entry.seqs.filter((seq) => seq > seqMax);
    this.#queueLengths.set(
      peer,
      (this.#queueLengths.get(peer) ?? 0) - (entry.seqs.length - kept.length),
    );
    if (kept.length === 0) {
      queue.delete(key);
    } else {
      entry.seqs = kept;
    }
  }

  /** The peer has applied every write of this replica up to `seq`: forget those pushes. */
  #peerApplied(peer: ReplicaId, seq: number): void {
    if (seq <= (this.#peerAppliedMe.get(peer) ?? 0)) {
      return;
    }
    this.#peerAppliedMe.set(peer, seq);
    const queue = this.#queues.get(peer) as Map<string, PushEntry>;
    for (const key of [...queue.keys()]) {
      this.#acknowledge(peer, key, seq);
    }
  }

  // ---- anti-entropy ----

  #startSync(peer: ReplicaId): void {
    this.#syncCounter += 1;
    this.#metrics.antiEntropyRounds += 1;
    const round: SyncRound = {
      id: this.#syncCounter,
      cursor: null,
      vector: undefined,
      sentTick: this.#tick,
      incomplete: false,
    };
    this.#syncs.set(peer, round);
    this.#sendSyncRequest(peer, round);
  }

  #sendSyncRequest(peer: ReplicaId, round: SyncRound): void {
    round.sentTick = this.#tick;
    this.#send(peer, { type: messageTypes.syncRequest, id: round.id, cursor: round.cursor });
  }

  #answerSync(peer: ReplicaId, id: number, cursor: string | null, theirs: PeerHeader): void {
    const covered = new Map(theirs.applied);
    const entries: { k: string; s: unknown; g: unknown }[] = [];
    let index = cursor === null ? 0 : upperBound(this.#sortedKeys, cursor);
    const scanEnd = Math.min(
      this.#sortedKeys.length,
      index + this.#settings.messageKeyCountMax * scanFactor,
    );
    for (; index < scanEnd && entries.length < this.#settings.messageKeyCountMax; index += 1) {
      const key = this.#sortedKeys[index] as string;
      const record = this.#keys.get(key) as KeyRecord;
      if (record.seqs.entries().some((entry) => entry.counter > (covered.get(entry.node) ?? 0))) {
        entries.push({ k: key, s: this.#strategy.encode(record.state), g: record.seqs.toJSON() });
      }
    }
    // More keys remain after the last one looked at: the requester asks from there.
    const next = index < this.#sortedKeys.length ? (this.#sortedKeys[index - 1] ?? null) : null;
    this.#send(peer, { type: messageTypes.syncResponse, id, cursor, next, entries });
    // The requester holds writes this replica lacks: pull them too.
    const ahead = theirs.applied.some(
      ([replica, seq]) => seq > (this.#appliedVector.get(replica) ?? 0),
    );
    if (ahead && !this.#syncs.has(peer)) {
      this.#startSync(peer);
    }
  }

  #receiveSyncPage(
    peer: ReplicaId,
    page: { id: number; cursor: string | null; next: string | null; entries: unknown[] },
    theirs: PeerHeader,
  ): boolean {
    const round = this.#syncs.get(peer);
    if (round === undefined || round.id !== page.id || round.cursor !== page.cursor) {
      return true; // a stale or duplicate page: harmless, nothing to do
    }
    const decoded = this.#decodeEntries(page.entries, false);
    if (decoded === undefined) {
      return false;
    }
    for (const entry of decoded) {
      const outcome = this.#merge(entry.key, entry.state, entry.seqs);
      if (outcome.changed) {
        this.#metrics.antiEntropyRepairs += 1;
      }
      // A key left out (the key bound) means this round cannot vouch for the vector.
      round.incomplete ||= !outcome.merged;
    }
    if (page.cursor === null) {
      round.vector = theirs.applied;
    }
    if (page.next === null) {
      this.#syncs.delete(peer);
      const vector = round.incomplete ? [] : (round.vector ?? []);
      const context = CausalContext.fromJSON({ vector, cloud: [] });
      this.#applied.merge(context);
      this.#refreshApplied();
    } else {
      round.cursor = page.next;
      this.#sendSyncRequest(peer, round);
    }
    return true;
  }

  // ---- peer messages ----

  #send(peer: ReplicaId, body: Record<string, unknown>): void {
    const message = { ...body, seq: this.#seq, applied: [...this.#appliedVector] };
    this.#outbox.send(peer, message);
  }

  /** Handles one message; `false` when it was malformed. */
  #stepChecked(from: ReplicaId, message: unknown): boolean {
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      return false;
    }
    const body = message as Record<string, unknown>;
    const header = this.#readHeader(body);
    if (header === undefined) {
      return false;
    }
    switch (body['type']) {
      case messageTypes.push: {
        const decoded = this.#decodeEntries(body['entries'], true);
        if (decoded === undefined) {
          return false;
        }
        const acknowledged: [string, number][] = [];
        for (const entry of decoded) {
          const seqs = entry.pushed as number[];
          if (seqs.some((seq) => seq > entry.seqs.get(from))) {
            return false; // claims writes its state does not hold
          }
        }
        for (const entry of decoded) {
          const seqs = entry.pushed as number[];
          if (this.#merge(entry.key, entry.state, entry.seqs).merged) {
            for (const seq of seqs) {
              this.#applied.add({ replica: from, counter: seq });
            }
            acknowledged.push([entry.key, Math.max(...seqs)]);
          }
        }
        this.#refreshApplied();
        this.#noteHeader(from, header);
        this.#send(from, { type: messageTypes.ack, entries: acknowledged });
        return true;
      }
      case messageTypes.ack: {
        const entries = body['entries'];
        if (!Array.isArray(entries) || entries.length > this.#settings.messageKeyCountMax) {
          return false;
        }
        for (const item of entries as unknown[]) {
          if (
            !Array.isArray(item) ||
            item.length !== 2 ||
            typeof item[0] !== 'string' ||
            !Number.isSafeInteger(item[1])
          ) {
            return false;
          }
        }
        for (const [key, seq] of entries as [string, number][]) {
          this.#acknowledge(from, key, seq);
        }
        this.#noteHeader(from, header);
        return true;
      }
      case messageTypes.syncRequest: {
        const id = body['id'];
        const cursor = body['cursor'];
        if (!Number.isSafeInteger(id) || !(cursor === null || this.#isKey(cursor))) {
          return false;
        }
        this.#noteHeader(from, header);
        this.#answerSync(from, id as number, cursor as string | null, header);
        return true;
      }
      case messageTypes.syncResponse: {
        const id = body['id'];
        const cursor = body['cursor'];
        const next = body['next'];
        const entries = body['entries'];
        if (
          !Number.isSafeInteger(id) ||
          !(cursor === null || this.#isKey(cursor)) ||
          !(next === null || this.#isKey(next)) ||
          !Array.isArray(entries)
        ) {
          return false;
        }
        const ok = this.#receiveSyncPage(
          from,
          {
            id: id as number,
            cursor: cursor as string | null,
            next: next as string | null,
            entries,
          },
          header,
        );
        if (ok) {
          this.#noteHeader(from, header);
        }
        return ok;
      }
      default:
        return false;
    }
  }

  #isKey(value: unknown): value is string {
    return typeof value === 'string' && value.length <= this.#settings.keyLengthMax;
  }

  #readHeader(body: Record<string, unknown>): PeerHeader | undefined {
    const seq = body['seq'];
    const applied = body['applied'];
    if (
      !Number.isSafeInteger(seq) ||
      (seq as number) < 0 ||
      !Array.isArray(applied) ||
      applied.length > this.#replicas.length
    ) {
      return undefined;
    }
    const seen = new Set<string>();
    for (const item of applied as unknown[]) {
      if (
        !Array.isArray(item) ||
        item.length !== 2 ||
        typeof item[0] !== 'string' ||
        !this.#replicaSet.has(item[0]) ||
        seen.has(item[0]) ||
        !Number.isSafeInteger(item[1]) ||
        (item[1] as number) < 1
      ) {
        return undefined;
      }
      seen.add(item[0]);
    }
    return { seq: seq as number, applied: applied as [string, number][] };
  }

  /** What a message says about its sender's and others' writes. */
  #noteHeader(from: ReplicaId, header: PeerHeader): void {
    this.#noteNewest(from, header.seq);
    for (const [replica, seq] of header.applied) {
      if (replica === this.id) {
        this.#peerApplied(from, seq);
      } else {
        this.#noteNewest(replica, seq);
      }
    }
  }

  #noteNewest(replica: ReplicaId, seq: number): void {
    const known = this.#newestSeq.get(replica) ?? 0;
    if (seq <= known) {
      return;
    }
    if ((this.#appliedVector.get(replica) ?? 0) >= known) {
      // Current with `replica` until this moment, as far as this replica knew.
      this.#currentSinceMs.set(replica, this.#clock.nowMs());
    }
    this.#newestSeq.set(replica, seq);
  }

  #decodeEntries(
    value: unknown,
    pushed: boolean,
  ): { key: string; state: unknown; seqs: VectorClock; pushed?: number[] }[] | undefined {
    if (!Array.isArray(value) || value.length > this.#settings.messageKeyCountMax) {
      return undefined;
    }
    const decoded: { key: string; state: unknown; seqs: VectorClock; pushed?: number[] }[] = [];
    for (const item of value as unknown[]) {
      const entry = item as { k?: unknown; n?: unknown; s?: unknown; g?: unknown } | null;
      if (typeof entry !== 'object' || entry === null || !this.#isKey(entry.k)) {
        return undefined;
      }
      const seqs = VectorClock.fromJSON(entry.g);
      if (
        seqs.size > this.#replicas.length ||
        seqs.entries().some((clockEntry) => !this.#replicaSet.has(clockEntry.node))
      ) {
        return undefined;
      }
      const state = this.#strategy.decode(entry.s, this.#limits);
      if (!pushed) {
        decoded.push({ key: entry.k, state, seqs });
        continue;
      }
      const numbers = entry.n;
      if (
        !Array.isArray(numbers) ||
        numbers.length === 0 ||
        numbers.length > this.#settings.pushQueueLengthMax ||
        numbers.some((seq) => !Number.isSafeInteger(seq) || (seq as number) < 1)
      ) {
        return undefined;
      }
      decoded.push({ key: entry.k, state, seqs, pushed: numbers as number[] });
    }
    return decoded;
  }

  // ---- durable state ----

  #refreshApplied(): void {
    this.#appliedVector.clear();
    for (const [replica, seq] of this.#applied.toJSON().vector) {
      this.#appliedVector.set(replica, seq);
    }
  }

  #restore(durable: unknown): HybridTimestamp | undefined {
    const problem = (detail: string): InvalidArgumentError =>
      new InvalidArgumentError(
        'options.durableState',
        `multiLeader: options.durableState is not a multi-leader durable state (${detail}); pass what durableState() returned.`,
      );
    const state = durable as {
      format?: unknown;
      conflicts?: unknown;
      seq?: unknown;
      applied?: unknown;
      hlc?: unknown;
      keys?: unknown;
    } | null;
    if (typeof state !== 'object' || state === null || state.format !== durableFormat) {
      throw problem(`format must be ${durableFormat}`);
    }
    if (state.conflicts !== this.#settings.conflicts) {
      throw problem(
        `it was written with conflicts ${JSON.stringify(state.conflicts)}, not ${JSON.stringify(this.#settings.conflicts)}`,
      );
    }
    if (
      !Number.isSafeInteger(state.seq) ||
      (state.seq as number) < 0 ||
      !Array.isArray(state.keys)
    ) {
      throw problem('seq and keys are malformed');
    }
    let hlc: HybridTimestamp | undefined;
    try {
      this.#applied.merge(CausalContext.fromJSON(state.applied, 'multi-leader applied'));
      if (state.hlc !== null && state.hlc !== undefined) {
        hlc = hybridTimestampFromJSON(state.hlc);
      }
      for (const item of state.keys as unknown[]) {
        if (!Array.isArray(item) || item.length !== 3 || typeof item[0] !== 'string') {
          throw problem('a key entry is not [key, state, seqs]');
        }
        this.#store(item[0], {
          state: this.#strategy.decode(item[1], this.#limits),
          seqs: VectorClock.fromJSON(item[2]),
        });
      }
    } catch (error) {
      if (error instanceof InvalidArgumentError || !isDistkitError(error)) {
        throw error;
      }
      throw problem(error.message);
    }
    this.#seq = state.seq as number;
    return hlc;
  }
}

// ---- helpers ----

function singleEntry(replica: string, seq: number): VectorClock {
  return VectorClock.from([{ node: replica, counter: seq, updatedAtMs: 0 }]);
}

function sameVersions(a: readonly KeyVersion[], b: readonly KeyVersion[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (version, index) =>
        version.replica === b[index]?.replica && version.counter === b[index]?.counter,
    )
  );
}

/** The value a read reports when there are siblings: the greatest in code-unit order. */
function pickValue(values: readonly string[]): string | null {
  let picked: string | null = null;
  for (const value of values) {
    if (picked === null || value > picked) {
      picked = value;
    }
  }
  return picked;
}

/** `r1:4,r2:7`: each replica's applied count, ids URI-encoded, zeros left out. */
function formatSession(vector: ReadonlyMap<string, number>): string {
  return [...vector]
    .filter(([, seq]) => seq > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([replica, seq]) => `${encodeURIComponent(replica)}:${seq}`)
    .join(',');
}

/** Reads {@link formatSession}'s output; `undefined` when malformed or naming strangers. */
function parseSession(
  token: string,
  replicas: ReadonlySet<string>,
): ReadonlyMap<string, number> | undefined {
  const session = new Map<string, number>();
  if (token === '') {
    return session;
  }
  const parts = token.split(',');
  if (parts.length > replicas.size) {
    return undefined;
  }
  for (const part of parts) {
    const match = /^([^:]+):([1-9]\d{0,15})$/.exec(part);
    if (match === null) {
      return undefined;
    }
    let replica: string;
    try {
      replica = decodeURIComponent(match[1] as string);
    } catch {
      return undefined;
    }
    const seq = Number(match[2]);
    if (!replicas.has(replica) || session.has(replica) || !Number.isSafeInteger(seq)) {
      return undefined;
    }
    session.set(replica, seq);
  }
  return session;
}

function lowerBound(sorted: readonly string[], key: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((sorted[middle] as string) < key) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return low;
}

function upperBound(sorted: readonly string[], key: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((sorted[middle] as string) <= key) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return low;
}
