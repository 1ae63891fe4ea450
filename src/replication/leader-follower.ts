/**
 * Leader-follower replication with a hot standby, as a {@link ReplicaCore}: one leader
 * orders every write in a log of (epoch, index) positions and ships it to the followers,
 * which apply it in order and acknowledge. The mode decides when the client hears `ok`:
 * at once (`async`), after `acknowledgementsRequired` followers (`semi-sync`) or after
 * every follower (`sync`). When the leader falls silent for `failoverTicks`, the standby
 * promotes itself in a new epoch, and the epoch fences the old leader out.
 *
 * @module
 */

import {
  describeValue,
  InvalidArgumentError,
  requireBoolean,
  requireInteger,
  requireOneOf,
  requireOptions,
} from '../core/index.js';
import {
  badOperationReason,
  DurableChangeTracker,
  entryRecordId,
  entryRecordPrefix,
  entryRecords,
  isIndex,
  isReplicaIdList,
  isShortString,
  malformedDurableState,
  plainFromKeyed,
  RecentRequests,
  ReplicaOutbox,
  type ReplyTarget,
  requireReplicaId,
  validOperation,
} from './core-support.js';
import type {
  DurableChanges,
  KeyedDurableState,
  ReplicaCore,
  ReplicaCoreFactory,
  ReplicaCoreOptions,
  ReplicaId,
  ReplicaOperation,
  ReplicaOutput,
  ReplicaReply,
  ReplicaRequest,
} from './protocol.js';

/**
 * When the leader acknowledges a write:
 * - `'async'`: as soon as it is in the leader's log (a failover loses what the standby
 *   had not received yet);
 * - `'semi-sync'`: once `acknowledgementsRequired` followers have it;
 * - `'sync'`: once every follower has it (a follower down stops the writes).
 */
export type ReplicationMode = 'sync' | 'async' | 'semi-sync';

/** Options of {@link leaderFollower}. Counts of ticks are of the driver's `tickMs`. */
export interface LeaderFollowerOptions {
  /** When a write is acknowledged; see {@link ReplicationMode}. Required. */
  readonly replication: ReplicationMode;
  /**
   * `'semi-sync'` only: followers that must hold a write before it is acknowledged, from
   * 1 to the follower count. Default 1.
   */
  readonly acknowledgementsRequired?: number;
  /** Ticks the standby waits without hearing the leader before it promotes itself. Default 30. */
  readonly failoverTicks?: number;
  /** Ticks between the leader's appends (heartbeats and retransmissions); below `failoverTicks`. Default 1. */
  readonly heartbeatTicks?: number;
  /** Ticks a write waits for its acknowledgements before the client is told `unknown`. Default 50. */
  readonly writeTimeoutTicks?: number;
  /** Ticks a replica waits for the leader's answer to a forwarded request. Default 50. */
  readonly forwardTimeoutTicks?: number;
  /** Writes waiting for acknowledgements at the leader; past it, `unavailable`. Default 1,024. */
  readonly pendingWriteCountMax?: number;
  /** Requests a replica has forwarded and not yet heard back about. Default 1,024. */
  readonly forwardedRequestCountMax?: number;
  /**
   * Entries the log holds beyond the compacted state. The log is compacted only up to
   * what every replica holds, so a follower down for long fills it; then writes are
   * refused. Default 10,000.
   */
  readonly logEntryCountMax?: number;
  /** Entries per append message. Default 64. */
  readonly messageEntryCountMax?: number;
  /** Characters of keys and values per append message (one entry always fits). Default 1,048,576. */
  readonly messageLengthMax?: number;
  /** Characters of a key. Default 256. */
  readonly keyLengthMax?: number;
  /** Characters of a value. Default 65,536. */
  readonly valueLengthMax?: number;
  /** Distinct keys the replicated map holds; a write of a new key past it is refused. Default 100,000. */
  readonly keyCountMax?: number;
  /**
   * Request ids a replica remembers to drop duplicates the network delivers (a duplicate
   * older than the last this many is taken as new). Default 4,096.
   */
  readonly requestIdCountMax?: number;
  /**
   * Serve `localRead` at a follower only when the client's session token allows it
   * (otherwise `unavailable` with reason `behind-session`). Default true.
   */
  readonly sessionChecks?: boolean;
}

/** The metrics of a leader-follower replica (see {@link ReplicaCore.metrics}). */
export interface LeaderFollowerMetrics {
  /** Acknowledged writes this replica discarded from its log: not in the new leader's log. */
  readonly acknowledgedWritesLost: number;
  /** Times this replica promoted itself. */
  readonly failovers: number;
  /** The highest epoch this replica has seen. */
  readonly epoch: number;
  /** Writes this replica (as leader) acknowledged to a client. */
  readonly writesAcknowledged: number;
  /** Local reads answered with a `stalenessMs` above 0. */
  readonly readsServedStale: number;
  /** 1 when this replica is the leader of its epoch, else 0. */
  readonly leader: number;
  /** Index of the last entry of the log. */
  readonly lastIndex: number;
  /** Index up to which the replica knows the log to be acknowledged (its readable state). */
  readonly commitIndex: number;
}

/** The position of an entry in the leader's log, as carried by a session token `epoch:index`. */
export interface LogPosition {
  readonly epoch: number;
  readonly index: number;
}

/** Formats a position as the session token a reply carries. */
export function formatSessionToken(position: LogPosition): string {
  return `${position.epoch}:${position.index}`;
}

/** Reads a session token `epoch:index`; `undefined` when it is not one. */
export function parseSessionToken(token: unknown): LogPosition | undefined {
  if (typeof token !== 'string' || token.length > 40) {
    return undefined;
  }
  const match = /^(\d{1,15}):(\d{1,15})$/.exec(token);
  if (match === null) {
    return undefined;
  }
  return { epoch: Number(match[1]), index: Number(match[2]) };
}

/** `a` before `b` in (epoch, index) order. */
function positionBefore(a: LogPosition, b: LogPosition): boolean {
  return a.epoch < b.epoch || (a.epoch === b.epoch && a.index < b.index);
}

interface Settings {
  readonly replication: ReplicationMode;
  readonly acknowledgementsRequired: number;
  readonly failoverTicks: number;
  readonly heartbeatTicks: number;
  readonly writeTimeoutTicks: number;
  readonly forwardTimeoutTicks: number;
  readonly pendingWriteCountMax: number;
  readonly forwardedRequestCountMax: number;
  readonly logEntryCountMax: number;
  readonly messageEntryCountMax: number;
  readonly messageLengthMax: number;
  readonly keyLengthMax: number;
  readonly valueLengthMax: number;
  readonly keyCountMax: number;
  readonly requestIdCountMax: number;
  readonly sessionChecks: boolean;
}

const tickCountMax = 1_000_000;

function requireSettings(options: LeaderFollowerOptions): Settings {
  const given = requireOptions('options', options);
  const replication = requireOneOf('options.replication', given.replication, [
    'sync',
    'async',
    'semi-sync',
  ]);
  if (given.acknowledgementsRequired !== undefined && replication !== 'semi-sync') {
    throw new InvalidArgumentError(
      'options.acknowledgementsRequired',
      `options.acknowledgementsRequired applies to 'semi-sync' only; replication is '${replication}' (sync waits for every follower, async for none). Leave it out or use 'semi-sync'.`,
    );
  }
  const acknowledgementsRequired = requireInteger(
    'options.acknowledgementsRequired',
    given.acknowledgementsRequired ?? 1,
    { min: 1, max: 1_000 },
  );
  const failoverTicks = requireInteger('options.failoverTicks', given.failoverTicks ?? 30, {
    min: 2,
    max: tickCountMax,
  });
  const heartbeatTicks = requireInteger('options.heartbeatTicks', given.heartbeatTicks ?? 1, {
    min: 1,
    max: tickCountMax,
  });
  if (heartbeatTicks >= failoverTicks) {
    throw new InvalidArgumentError(
      'options.heartbeatTicks',
      `options.heartbeatTicks (${heartbeatTicks}) must be less than options.failoverTicks (${failoverTicks}), or the standby promotes itself between two heartbeats of a healthy leader.`,
    );
  }
  const count = (name: keyof LeaderFollowerOptions, fallback: number, max: number): number =>
    requireInteger(`options.${name}`, given[name] ?? fallback, { min: 1, max });
  return {
    replication,
    acknowledgementsRequired,
    failoverTicks,
    heartbeatTicks,
    writeTimeoutTicks: count('writeTimeoutTicks', 50, tickCountMax),
    forwardTimeoutTicks: count('forwardTimeoutTicks', 50, tickCountMax),
    pendingWriteCountMax: count('pendingWriteCountMax', 1_024, 1_000_000),
    forwardedRequestCountMax: count('forwardedRequestCountMax', 1_024, 1_000_000),
    logEntryCountMax: requireInteger('options.logEntryCountMax', given.logEntryCountMax ?? 10_000, {
      min: 2,
      max: 10_000_000,
    }),
    messageEntryCountMax: count('messageEntryCountMax', 64, 100_000),
    messageLengthMax: count('messageLengthMax', 1_048_576, 1_073_741_824),
    keyLengthMax: count('keyLengthMax', 256, 1_048_576),
    valueLengthMax: count('valueLengthMax', 65_536, 268_435_456),
    keyCountMax: count('keyCountMax', 100_000, 100_000_000),
    requestIdCountMax: count('requestIdCountMax', 4_096, 1_000_000),
    sessionChecks: requireBoolean('options.sessionChecks', given.sessionChecks ?? true),
  };
}

/**
 * Builds leader-follower replicas. `replicas[0]` leads epoch 1 and `replicas[1]` is its
 * standby; the leader of epoch `e` is `replicas[(e - 1) % n]` and its standby the next one
 * round the ring, so every replica knows who leads the highest epoch it has seen.
 *
 * Writes go to the leader (a follower forwards them and relays the answer). Reads are
 * served by the leader from its acknowledged state, unless the request's settings ask for
 * `localRead`: then the receiving replica answers from its own acknowledged state, with
 * `stalenessMs` (how long since it last knew itself current, on its own clock) and never
 * older than the client's session token. Every `ok` carries the session token `epoch:index`
 * of the position the client has now seen.
 *
 * Throws {@link InvalidArgumentError} naming the option when an option is wrong, here or
 * (for what depends on the group: `acknowledgementsRequired` against the follower count)
 * when a replica is built.
 *
 * @example
 * ```ts
 * const factory = leaderFollower({ replication: 'sync' });
 * const core = factory({ id: 'a', replicas: ['a', 'b'], clock, random, tickMs: 10 });
 * ```
 */
export function leaderFollower(options: LeaderFollowerOptions): ReplicaCoreFactory {
  const settings = requireSettings(options);
  return (coreOptions) => new LeaderFollowerReplica(settings, coreOptions);
}

// ------------------------------------------------------------------ messages

interface WireEntry {
  readonly epoch: number;
  readonly key: string;
  readonly value: string;
}

interface AppendMessage {
  readonly type: 'append';
  readonly epoch: number;
  readonly prevIndex: number;
  readonly prevEpoch: number;
  readonly entries: readonly WireEntry[];
  readonly commitIndex: number;
  /** Every replica holds the log up to here: it may be compacted. */
  readonly stableIndex: number;
  readonly lastIndex: number;
}

interface AppendReplyMessage {
  readonly type: 'append-reply';
  readonly epoch: number;
  readonly success: boolean;
  readonly matchIndex: number;
  readonly hintIndex: number;
}

interface ForwardMessage {
  readonly type: 'forward';
  readonly epoch: number;
  readonly requestKey: string;
  readonly operation: ReplicaOperation;
  readonly session?: string;
}

type ForwardedReply =
  | {
      readonly status: 'ok';
      readonly value?: string | null;
      readonly session?: string;
      readonly stalenessMs?: number;
    }
  | { readonly status: 'unavailable' | 'unknown'; readonly reason: string };

interface ForwardReplyMessage {
  readonly type: 'forward-reply';
  readonly epoch: number;
  readonly requestKey: string;
  readonly reply: ForwardedReply;
}

type PeerMessage = AppendMessage | AppendReplyMessage | ForwardMessage | ForwardReplyMessage;

/** A peer message's fields before validation. */
type UncheckedFields = Partial<
  Record<
    | 'type'
    | 'epoch'
    | 'prevIndex'
    | 'prevEpoch'
    | 'entries'
    | 'commitIndex'
    | 'stableIndex'
    | 'lastIndex'
    | 'success'
    | 'matchIndex'
    | 'hintIndex'
    | 'requestKey'
    | 'operation'
    | 'session'
    | 'reply'
    | 'key'
    | 'value'
    | 'status'
    | 'reason'
    | 'stalenessMs',
    unknown
  >
>;

// ------------------------------------------------------------------ state

interface Entry {
  readonly epoch: number;
  readonly index: number;
  readonly key: string;
  readonly value: string;
  /** This replica, as leader, told a client `ok` for it (counted if it is discarded). */
  acknowledged: boolean;
}

interface PendingWrite {
  readonly index: number;
  readonly epoch: number;
  readonly target: ReplyTarget;
  ticks: number;
}

interface ForwardedRequest {
  readonly client: string;
  readonly id: string;
  readonly leader: ReplicaId;
  readonly write: boolean;
  ticks: number;
}

interface Progress {
  matchIndex: number;
  nextIndex: number;
}

interface Counters {
  acknowledgedWritesLost: number;
  failovers: number;
  writesAcknowledged: number;
  readsServedStale: number;
}

/** The plain data of {@link LeaderFollowerReplica.durableState}. */
interface DurableState {
  readonly format: 'leader-follower/1';
  readonly epoch: number;
  readonly commitIndex: number;
  readonly base: {
    readonly index: number;
    readonly epoch: number;
    readonly map: readonly (readonly [string, string])[];
  };
  readonly entries: readonly {
    readonly epoch: number;
    readonly key: string;
    readonly value: string;
    readonly acknowledged: boolean;
  }[];
  readonly counters: Counters;
}

function readDurableState(value: unknown): DurableState {
  const fail = (why: string): never => {
    throw new InvalidArgumentError(
      'options.durableState',
      `options.durableState is not a leader-follower replica's durable state (${why}); pass what durableState() returned, or nothing on first boot.`,
    );
  };
  if (typeof value !== 'object' || value === null) {
    return fail(`got ${describeValue(value)}`);
  }
  const state = value as Partial<DurableState>;
  if (state.format !== 'leader-follower/1') {
    return fail('no format leader-follower/1');
  }
  if (!isIndex(state.epoch) || state.epoch < 1 || !isIndex(state.commitIndex)) {
    return fail('epoch or commitIndex');
  }
  const base = state.base;
  if (
    typeof base !== 'object' ||
    base === null ||
    !isIndex(base.index) ||
    !isIndex(base.epoch) ||
    !Array.isArray(base.map)
  ) {
    return fail('base');
  }
  if (!Array.isArray(state.entries) || typeof state.counters !== 'object') {
    return fail('entries or counters');
  }
  if (state.commitIndex < base.index || state.commitIndex > base.index + state.entries.length) {
    return fail('commitIndex outside the log');
  }
  return state as DurableState;
}

const keyedFormat = 'leader-follower-records/1';
const baseRecordPrefix = 'b/';

/** The keyed form's meta. */
interface KeyedMeta {
  readonly epoch: number;
  readonly commitIndex: number;
  readonly baseIndex: number;
  readonly baseEpoch: number;
  readonly counters: Counters;
}

/** A log entry's record. */
interface EntryRecord {
  readonly epoch: number;
  readonly key: string;
  readonly value: string;
  readonly acknowledged: boolean;
}

/**
 * A keyed durable state (format `leader-follower-records/1`: meta `{ epoch, commitIndex,
 * baseIndex, baseEpoch, counters }`, a `b/<key>` record per key of the compacted base
 * holding its value, an `e/<index>` record per log entry) as the plain form
 * {@link readDurableState} checks; any other value is returned as it is.
 */
function fromKeyed(value: unknown): unknown {
  return plainFromKeyed(value, keyedFormat, (keyed) => {
    const meta = keyed.meta as Partial<KeyedMeta>;
    const map: [string, string][] = [];
    for (const [id, record] of keyed.records) {
      if (typeof id === 'string' && id.startsWith(baseRecordPrefix)) {
        map.push([id.slice(baseRecordPrefix.length), record as string]);
      }
    }
    const entries = entryRecords(keyed.records);
    const expected = (meta.baseIndex ?? 0) + 1;
    if (entries.some(([index], position) => index !== expected + position)) {
      return malformedDurableState;
    }
    return {
      format: 'leader-follower/1',
      epoch: meta.epoch,
      commitIndex: meta.commitIndex,
      base: { index: meta.baseIndex, epoch: meta.baseEpoch, map },
      entries: entries.map(([, entry]) => entry),
      counters: meta.counters,
    };
  });
}

function entryRecord(entry: Entry): EntryRecord {
  return {
    epoch: entry.epoch,
    key: entry.key,
    value: entry.value,
    acknowledged: entry.acknowledged,
  };
}

/**
 * One leader-follower replica. Built by {@link leaderFollower}; drive it through the
 * {@link ReplicaCore} port.
 */
class LeaderFollowerReplica implements ReplicaCore {
  readonly id: ReplicaId;
  readonly #settings: Settings;
  readonly #replicas: readonly ReplicaId[];
  readonly #others: readonly ReplicaId[];
  readonly #clock: ReplicaCoreOptions['clock'];
  readonly #createdMs: number;

  // Durable.
  #epoch: number;
  #baseIndex = 0;
  #baseEpoch = 0;
  #baseMap = new Map<string, string>();
  #entries: Entry[] = [];
  #commitIndex = 0;
  readonly #counters: Counters = {
    acknowledgedWritesLost: 0,
    failovers: 0,
    writesAcknowledged: 0,
    readsServedStale: 0,
  };
  /** Durable records changed since the last `takeDurableChanges()`. */
  readonly #changes = new DurableChangeTracker();

  // Volatile.
  /** The state at `#commitIndex`: what reads see. */
  #committedMap = new Map<string, string>();
  #leading = false;
  /** A leader serves reads once its commit index reaches the log's end at its start. */
  #readyIndex = 0;
  #heartbeatElapsed = 0;
  #ticksSinceLeader = 0;
  /** Own clock's time when this replica last knew itself as current as the leader. */
  #currentAtMs: number | undefined;
  readonly #progress = new Map<ReplicaId, Progress>();
  readonly #pendingWrites = new Map<number, PendingWrite>();
  readonly #forwarded = new Map<string, ForwardedRequest>();
  readonly #seenRequests: RecentRequests;
  readonly #outbox = new ReplicaOutbox();

  constructor(settings: Settings, options: ReplicaCoreOptions) {
    const given = requireOptions('options', options);
    this.#settings = settings;
    this.#seenRequests = new RecentRequests(settings.requestIdCountMax);
    this.id = requireReplicaId(given.id);
    if (!isReplicaIdList(given.replicas)) {
      throw new InvalidArgumentError(
        'options.replicas',
        'options.replicas must list distinct non-empty replica ids, in the same order at every replica.',
      );
    }
    if (given.replicas.length < 2 || !given.replicas.includes(this.id)) {
      throw new InvalidArgumentError(
        'options.replicas',
        `options.replicas must hold at least two replicas (a leader and its standby), this one (${JSON.stringify(this.id)}) among them; got ${given.replicas.length}.`,
      );
    }
    this.#replicas = [...given.replicas];
    this.#others = this.#replicas.filter((id) => id !== this.id);
    if (
      settings.replication === 'semi-sync' &&
      settings.acknowledgementsRequired > this.#others.length
    ) {
      throw new InvalidArgumentError(
        'options.acknowledgementsRequired',
        `options.acknowledgementsRequired (${settings.acknowledgementsRequired}) is more than the ${this.#others.length} followers of this group; use at most ${this.#others.length} (that many is 'sync').`,
      );
    }
    if (typeof given.clock?.nowMs !== 'function') {
      throw new InvalidArgumentError('options.clock', 'options.clock must be a Clock.');
    }
    this.#clock = given.clock;
    requireInteger('options.tickMs', given.tickMs, { min: 1 });
    this.#createdMs = this.#clock.nowMs();
    this.#epoch = 1;
    if (given.durableState !== undefined) {
      this.#restore(readDurableState(fromKeyed(given.durableState)));
    }
    this.#changes.entryRange(this.#baseIndex + 1, this.#lastIndex());
    this.#committedMap = this.#stateAt(this.#commitIndex);
    if (this.#leaderOf(this.#epoch) === this.id) {
      this.#becomeLeader();
    }
  }

  // ---------------------------------------------------------------- the port

  request(request: ReplicaRequest): void {
    if (typeof request !== 'object' || request === null) {
      return;
    }
    const { id, client } = request;
    if (!isShortString(id, 1_024) || !isShortString(client, 1_024) || client.length === 0) {
      return;
    }
    const requestKey = `${client}|${id}`;
    if (!this.#seenRequests.remember(requestKey)) {
      return;
    }
    const target: ReplyTarget = { kind: 'client', client, id };
    const operation = validOperation(request.operation, this.#settings);
    if (operation === undefined) {
      this.#answer(target, {
        status: 'unavailable',
        reason: badOperationReason(this.#settings),
      });
      return;
    }
    const session = parseSessionToken(request.session);
    const localRead =
      typeof request.settings === 'object' &&
      request.settings !== null &&
      request.settings.localRead === true;
    if (operation.kind === 'read' && localRead) {
      this.#localRead(target, operation.key, session);
    } else if (this.#leading) {
      this.#serve(target, operation, session);
    } else {
      this.#forward(target, requestKey, operation, request.session);
    }
  }

  step(from: ReplicaId, message: unknown): void {
    if (typeof from !== 'string' || from === this.id || !this.#replicas.includes(from)) {
      return;
    }
    const peer = this.#validMessage(message);
    if (peer === undefined) {
      return;
    }
    if (peer.epoch > this.#epoch) {
      this.#adoptEpoch(peer.epoch);
    }
    switch (peer.type) {
      case 'append':
        this.#onAppend(from, peer);
        break;
      case 'append-reply':
        this.#onAppendReply(from, peer);
        break;
      case 'forward':
        this.#onForward(from, peer);
        break;
      case 'forward-reply':
        this.#onForwardReply(from, peer);
        break;
    }
  }

  tick(): void {
    const settings = this.#settings;
    if (this.#leading) {
      this.#heartbeatElapsed += 1;
      if (this.#heartbeatElapsed >= settings.heartbeatTicks) {
        this.#heartbeatElapsed = 0;
        for (const follower of this.#others) {
          this.#sendAppend(follower);
        }
      }
      for (const pending of [...this.#pendingWrites.values()]) {
        pending.ticks += 1;
        if (pending.ticks >= settings.writeTimeoutTicks) {
          this.#pendingWrites.delete(pending.index);
          this.#answer(pending.target, {
            status: 'unknown',
            reason:
              'write-timeout: the followers did not acknowledge it in time; it may still apply',
          });
        }
      }
    } else {
      this.#ticksSinceLeader = Math.min(this.#ticksSinceLeader + 1, tickCountMax);
      if (
        this.#standbyOf(this.#epoch) === this.id &&
        this.#ticksSinceLeader >= settings.failoverTicks
      ) {
        this.#promote();
      }
    }
    for (const [requestKey, forwarded] of [...this.#forwarded]) {
      forwarded.ticks += 1;
      if (forwarded.ticks >= settings.forwardTimeoutTicks) {
        this.#forwarded.delete(requestKey);
        this.#outbox.reply(
          forwarded.client,
          forwarded.write
            ? {
                id: forwarded.id,
                status: 'unknown',
                reason: 'forward-timeout: no answer from the leader; the write may still apply',
              }
            : { id: forwarded.id, status: 'unavailable', reason: 'forward-timeout' },
        );
      }
    }
  }

  drain(): ReplicaOutput {
    return this.#outbox.drain();
  }

  durableState(): unknown {
    const state: DurableState = {
      format: 'leader-follower/1',
      epoch: this.#epoch,
      commitIndex: this.#commitIndex,
      base: { index: this.#baseIndex, epoch: this.#baseEpoch, map: [...this.#baseMap] },
      entries: this.#entries.map(entryRecord),
      counters: { ...this.#counters },
    };
    return state;
  }

  durableRecords(): KeyedDurableState {
    const records: [string, unknown][] = [];
    for (const [key, value] of this.#baseMap) {
      records.push([`${baseRecordPrefix}${key}`, value]);
    }
    for (const entry of this.#entries) {
      records.push([entryRecordId(entry.index), entryRecord(entry)]);
    }
    return { format: keyedFormat, meta: this.#keyedMeta(), records };
  }

  takeDurableChanges(): DurableChanges | undefined {
    this.#changes.entryRange(this.#baseIndex + 1, this.#lastIndex());
    return this.#changes.take(this.#keyedMeta(), (id) => {
      if (id.startsWith(baseRecordPrefix)) {
        return this.#baseMap.get(id.slice(baseRecordPrefix.length));
      }
      const entry = this.#entryAt(Number(id.slice(entryRecordPrefix.length)));
      return entry === undefined ? undefined : entryRecord(entry);
    });
  }

  #keyedMeta(): KeyedMeta {
    return {
      epoch: this.#epoch,
      commitIndex: this.#commitIndex,
      baseIndex: this.#baseIndex,
      baseEpoch: this.#baseEpoch,
      counters: { ...this.#counters },
    };
  }

  metrics(): Readonly<Record<string, number>> {
    const metrics: LeaderFollowerMetrics = {
      ...this.#counters,
      epoch: this.#epoch,
      leader: this.#leading ? 1 : 0,
      lastIndex: this.#lastIndex(),
      commitIndex: this.#commitIndex,
    };
    return { ...metrics };
  }

  // ---------------------------------------------------------------- log

  #lastIndex(): number {
    return this.#baseIndex + this.#entries.length;
  }

  #entryAt(index: number): Entry | undefined {
    return this.#entries[index - this.#baseIndex - 1];
  }

  /** The epoch of the entry at `index`; `undefined` past the end or inside the compacted base. */
  #epochAt(index: number): number | undefined {
    if (index === this.#baseIndex) {
      return this.#baseEpoch;
    }
    return this.#entryAt(index)?.epoch;
  }

  #positionAt(index: number): LogPosition {
    return { epoch: this.#epochAt(index) ?? this.#baseEpoch, index };
  }

  #stateAt(index: number): Map<string, string> {
    const map = new Map(this.#baseMap);
    for (let at = this.#baseIndex + 1; at <= index; at += 1) {
      const entry = this.#entryAt(at) as Entry;
      map.set(entry.key, entry.value);
    }
    return map;
  }

  #advanceCommit(index: number): void {
    const target = Math.min(index, this.#lastIndex());
    while (this.#commitIndex < target) {
      this.#commitIndex += 1;
      const entry = this.#entryAt(this.#commitIndex) as Entry;
      this.#committedMap.set(entry.key, entry.value);
    }
  }

  /** Drops the entries from `index` on, counting the acknowledged ones as lost. */
  #truncateFrom(index: number): void {
    const from = Math.max(index, this.#baseIndex + 1);
    if (from > this.#lastIndex()) {
      return;
    }
    for (let at = from; at <= this.#lastIndex(); at += 1) {
      if ((this.#entryAt(at) as Entry).acknowledged) {
        this.#counters.acknowledgedWritesLost += 1;
      }
    }
    this.#entries.length = from - this.#baseIndex - 1;
    if (this.#commitIndex >= from) {
      this.#commitIndex = from - 1;
      this.#committedMap = this.#stateAt(this.#commitIndex);
    }
  }

  /** Folds entries every replica holds into the base, once the log is half full. */
  #compact(stableIndex: number): void {
    if (this.#entries.length < this.#settings.logEntryCountMax / 2) {
      return;
    }
    const upTo = Math.min(stableIndex, this.#commitIndex);
    const count = upTo - this.#baseIndex;
    if (count <= 0) {
      return;
    }
    for (const entry of this.#entries.slice(0, count)) {
      this.#baseMap.set(entry.key, entry.value);
      this.#changes.mark(`${baseRecordPrefix}${entry.key}`);
    }
    this.#baseEpoch = (this.#entryAt(upTo) as Entry).epoch;
    this.#entries = this.#entries.slice(count);
    this.#baseIndex = upTo;
  }

  #restore(state: DurableState): void {
    this.#epoch = state.epoch;
    this.#baseIndex = state.base.index;
    this.#baseEpoch = state.base.epoch;
    this.#baseMap = new Map(state.base.map.map(([key, value]) => [key, value]));
    this.#entries = state.entries.map((entry, position) => ({
      epoch: entry.epoch,
      index: state.base.index + position + 1,
      key: entry.key,
      value: entry.value,
      acknowledged: entry.acknowledged,
    }));
    this.#commitIndex = state.commitIndex;
    Object.assign(this.#counters, state.counters);
  }

  // ---------------------------------------------------------------- roles

  #leaderOf(epoch: number): ReplicaId {
    return this.#replicas[(epoch - 1) % this.#replicas.length] as ReplicaId;
  }

  #standbyOf(epoch: number): ReplicaId {
    return this.#replicas[epoch % this.#replicas.length] as ReplicaId;
  }

  #becomeLeader(): void {
    this.#leading = true;
    this.#readyIndex = this.#lastIndex();
    this.#heartbeatElapsed = 0;
    this.#progress.clear();
    for (const follower of this.#others) {
      this.#progress.set(follower, { matchIndex: 0, nextIndex: this.#lastIndex() + 1 });
    }
    if (this.#settings.replication === 'async') {
      this.#advanceCommit(this.#lastIndex());
    }
  }

  #promote(): void {
    this.#epoch += 1;
    this.#counters.failovers += 1;
    this.#ticksSinceLeader = 0;
    this.#becomeLeader();
    // The announcement: every replica learns the new epoch from these appends.
    for (const follower of this.#others) {
      this.#sendAppend(follower);
    }
  }

  #adoptEpoch(epoch: number): void {
    this.#epoch = epoch;
    this.#ticksSinceLeader = 0;
    this.#currentAtMs = undefined;
    if (this.#leading) {
      this.#leading = false;
      this.#progress.clear();
      for (const pending of this.#pendingWrites.values()) {
        this.#answer(pending.target, {
          status: 'unknown',
          reason:
            'deposed: a newer epoch took over; the write applies only if the new leader has it',
        });
      }
      this.#pendingWrites.clear();
    }
    if (this.#leaderOf(epoch) === this.id) {
      this.#becomeLeader();
    }
  }

  // ---------------------------------------------------------------- requests

  #answer(target: ReplyTarget, reply: ForwardedReply): void {
    if (target.kind === 'client') {
      this.#outbox.reply(target.client, { id: target.id, ...reply } as ReplicaReply);
    } else {
      const message: ForwardReplyMessage = {
        type: 'forward-reply',
        epoch: this.#epoch,
        requestKey: target.requestKey,
        reply,
      };
      this.#outbox.send(target.peer, message);
    }
  }

  /** The position of the acknowledged state this replica reads from. */
  #committedPosition(): LogPosition {
    return this.#positionAt(this.#commitIndex);
  }

  #behind(session: LogPosition | undefined): boolean {
    return (
      this.#settings.sessionChecks &&
      session !== undefined &&
      positionBefore(this.#committedPosition(), session)
    );
  }

  #localRead(target: ReplyTarget, key: string, session: LogPosition | undefined): void {
    if (this.#behind(session)) {
      this.#answer(target, {
        status: 'unavailable',
        reason: 'behind-session: this replica has not applied what the session has seen',
      });
      return;
    }
    let stalenessMs = 0;
    if (!this.#leading) {
      const nowMs = this.#clock.nowMs();
      stalenessMs = Math.max(0, nowMs - (this.#currentAtMs ?? this.#createdMs));
    }
    if (stalenessMs > 0) {
      this.#counters.readsServedStale += 1;
    }
    this.#answer(target, {
      status: 'ok',
      value: this.#committedMap.get(key) ?? null,
      session: formatSessionToken(this.#committedPosition()),
      stalenessMs,
    });
  }

  /** At the leader: a read from the acknowledged state, or a write into the log. */
  #serve(target: ReplyTarget, operation: ReplicaOperation, session: LogPosition | undefined): void {
    if (operation.kind === 'read') {
      if (this.#commitIndex < this.#readyIndex) {
        this.#answer(target, {
          status: 'unavailable',
          reason:
            'leader-not-ready: the followers have not acknowledged the log of the new leader yet',
        });
      } else if (this.#behind(session)) {
        this.#answer(target, {
          status: 'unavailable',
          reason: 'behind-session: the leader has not applied what the session has seen',
        });
      } else {
        this.#answer(target, {
          status: 'ok',
          value: this.#committedMap.get(operation.key) ?? null,
          session: formatSessionToken(this.#committedPosition()),
          stalenessMs: 0,
        });
      }
      return;
    }
    const refusal = this.#writeRefusal(operation.key);
    if (refusal !== undefined) {
      this.#answer(target, { status: 'unavailable', reason: refusal });
      return;
    }
    const entry: Entry = {
      epoch: this.#epoch,
      index: this.#lastIndex() + 1,
      key: operation.key,
      value: operation.value,
      acknowledged: false,
    };
    this.#entries.push(entry);
    this.#changes.mark(entryRecordId(entry.index));
    if (this.#settings.replication === 'async') {
      this.#advanceCommit(entry.index);
    }
    for (const follower of this.#others) {
      const progress = this.#progress.get(follower) as Progress;
      if (progress.nextIndex === entry.index) {
        this.#sendAppend(follower);
      }
    }
    if (this.#settings.replication === 'async') {
      this.#acknowledge(entry, target);
    } else {
      this.#pendingWrites.set(entry.index, {
        index: entry.index,
        epoch: entry.epoch,
        target,
        ticks: 0,
      });
      this.#updateCommit();
    }
  }

  #writeRefusal(key: string): string | undefined {
    const settings = this.#settings;
    if (this.#pendingWrites.size >= settings.pendingWriteCountMax) {
      return `overloaded: ${settings.pendingWriteCountMax} writes already wait for acknowledgements (pendingWriteCountMax)`;
    }
    if (this.#entries.length >= settings.logEntryCountMax) {
      return `log-full: ${settings.logEntryCountMax} entries not yet on every replica (logEntryCountMax); a follower is down or far behind`;
    }
    if (
      !this.#committedMap.has(key) &&
      this.#committedMap.size + (this.#lastIndex() - this.#commitIndex) >= settings.keyCountMax
    ) {
      return `key-limit: the map holds ${settings.keyCountMax} keys (keyCountMax)`;
    }
    return undefined;
  }

  #acknowledge(entry: Entry, target: ReplyTarget): void {
    entry.acknowledged = true;
    this.#changes.mark(entryRecordId(entry.index));
    this.#counters.writesAcknowledged += 1;
    this.#answer(target, {
      status: 'ok',
      session: formatSessionToken({ epoch: entry.epoch, index: entry.index }),
    });
  }

  #forward(
    target: ReplyTarget,
    requestKey: string,
    operation: ReplicaOperation,
    session: string | undefined,
  ): void {
    if (this.#ticksSinceLeader >= this.#settings.failoverTicks) {
      this.#answer(target, {
        status: 'unavailable',
        reason: `no-leader: nothing heard from the leader of epoch ${this.#epoch} for ${this.#ticksSinceLeader} ticks`,
      });
      return;
    }
    if (this.#forwarded.size >= this.#settings.forwardedRequestCountMax) {
      this.#answer(target, {
        status: 'unavailable',
        reason: `overloaded: ${this.#settings.forwardedRequestCountMax} forwarded requests wait for the leader (forwardedRequestCountMax)`,
      });
      return;
    }
    if (target.kind !== 'client') {
      return;
    }
    const leader = this.#leaderOf(this.#epoch);
    this.#forwarded.set(requestKey, {
      client: target.client,
      id: target.id,
      leader,
      write: operation.kind === 'write',
      ticks: 0,
    });
    const message: ForwardMessage = {
      type: 'forward',
      epoch: this.#epoch,
      requestKey,
      operation,
      ...(parseSessionToken(session) === undefined ? {} : { session: session as string }),
    };
    this.#outbox.send(leader, message);
  }

  // ---------------------------------------------------------------- replication

  #sendAppend(follower: ReplicaId): void {
    const progress = this.#progress.get(follower) as Progress;
    const settings = this.#settings;
    const nextIndex = Math.max(progress.nextIndex, this.#baseIndex + 1);
    const entries: WireEntry[] = [];
    let length = 0;
    for (
      let at = nextIndex;
      at <= this.#lastIndex() && entries.length < settings.messageEntryCountMax;
      at += 1
    ) {
      const entry = this.#entryAt(at) as Entry;
      length += entry.key.length + entry.value.length;
      if (entries.length > 0 && length > settings.messageLengthMax) {
        break;
      }
      entries.push({ epoch: entry.epoch, key: entry.key, value: entry.value });
    }
    const message: AppendMessage = {
      type: 'append',
      epoch: this.#epoch,
      prevIndex: nextIndex - 1,
      prevEpoch: this.#epochAt(nextIndex - 1) as number,
      entries,
      commitIndex: this.#commitIndex,
      stableIndex: this.#stableIndex(),
      lastIndex: this.#lastIndex(),
    };
    this.#outbox.send(follower, message);
  }

  /** What every replica holds, as far as the leader knows. */
  #stableIndex(): number {
    let stable = this.#commitIndex;
    for (const progress of this.#progress.values()) {
      stable = Math.min(stable, progress.matchIndex);
    }
    return stable;
  }

  #onAppend(from: ReplicaId, message: AppendMessage): void {
    const reply = (success: boolean, matchIndex: number, hintIndex: number): void => {
      const answer: AppendReplyMessage = {
        type: 'append-reply',
        epoch: this.#epoch,
        success,
        matchIndex,
        hintIndex,
      };
      this.#outbox.send(from, answer);
    };
    if (message.epoch < this.#epoch) {
      // Fencing: the sender leads an old epoch; this answer tells it the new one.
      reply(false, 0, this.#lastIndex());
      return;
    }
    if (this.#leading || from !== this.#leaderOf(message.epoch)) {
      return;
    }
    this.#ticksSinceLeader = 0;
    const { prevIndex, prevEpoch, entries } = message;
    if (prevIndex > this.#lastIndex()) {
      reply(false, 0, this.#lastIndex());
      return;
    }
    if (prevIndex >= this.#baseIndex && this.#epochAt(prevIndex) !== prevEpoch) {
      // Skip back over the whole conflicting epoch in one round trip.
      const conflicting = this.#epochAt(prevIndex);
      let hint = prevIndex - 1;
      while (hint > this.#baseIndex && this.#epochAt(hint) === conflicting) {
        hint -= 1;
      }
      reply(false, 0, hint);
      return;
    }
    let index = prevIndex;
    for (const wire of entries) {
      index += 1;
      if (index <= this.#baseIndex) {
        continue;
      }
      const existing = this.#epochAt(index);
      if (existing === wire.epoch) {
        continue;
      }
      if (existing !== undefined) {
        this.#truncateFrom(index);
      }
      if (this.#entries.length >= this.#settings.logEntryCountMax) {
        index -= 1;
        break;
      }
      this.#entries.push({
        epoch: wire.epoch,
        index,
        key: wire.key,
        value: wire.value,
        acknowledged: false,
      });
      this.#changes.mark(entryRecordId(index));
    }
    const matchIndex = index;
    if (
      matchIndex === message.lastIndex &&
      matchIndex < this.#lastIndex() &&
      (this.#epochAt(matchIndex + 1) as number) < message.epoch
    ) {
      // Entries of older epochs past the leader's end can never be in its log: it only
      // appends entries of its own epoch.
      this.#truncateFrom(matchIndex + 1);
    }
    this.#advanceCommit(Math.min(message.commitIndex, matchIndex));
    if (matchIndex === message.lastIndex && this.#commitIndex === message.commitIndex) {
      this.#currentAtMs = this.#clock.nowMs();
    }
    this.#compact(Math.min(message.stableIndex, matchIndex));
    reply(true, matchIndex, this.#lastIndex());
  }

  #onAppendReply(from: ReplicaId, message: AppendReplyMessage): void {
    if (!this.#leading || message.epoch !== this.#epoch) {
      return;
    }
    const progress = this.#progress.get(from) as Progress;
    if (message.success) {
      if (message.matchIndex > this.#lastIndex()) {
        return;
      }
      progress.matchIndex = Math.max(progress.matchIndex, message.matchIndex);
      progress.nextIndex = Math.max(progress.nextIndex, message.matchIndex + 1);
      this.#updateCommit();
      this.#compact(this.#stableIndex());
      return;
    }
    const nextIndex = Math.max(
      progress.matchIndex + 1,
      this.#baseIndex + 1,
      Math.min(progress.nextIndex - 1, message.hintIndex + 1),
    );
    if (nextIndex !== progress.nextIndex) {
      progress.nextIndex = nextIndex;
      this.#sendAppend(from);
    }
  }

  /** Moves the commit index to what the mode's acknowledgements allow; answers the writes. */
  #updateCommit(): void {
    const settings = this.#settings;
    if (settings.replication === 'async') {
      return;
    }
    const matches = [...this.#progress.values()]
      .map((progress) => progress.matchIndex)
      .sort((a, b) => b - a);
    const required =
      settings.replication === 'sync' ? matches.length : settings.acknowledgementsRequired;
    const acknowledgedIndex = matches[required - 1] as number;
    if (acknowledgedIndex <= this.#commitIndex) {
      return;
    }
    this.#advanceCommit(acknowledgedIndex);
    for (const pending of [...this.#pendingWrites.values()]) {
      if (pending.index <= this.#commitIndex) {
        this.#pendingWrites.delete(pending.index);
        const entry = this.#entryAt(pending.index);
        if (entry !== undefined && entry.epoch === pending.epoch) {
          this.#acknowledge(entry, pending.target);
        }
      }
    }
  }

  #onForward(from: ReplicaId, message: ForwardMessage): void {
    const target: ReplyTarget = { kind: 'peer', peer: from, requestKey: message.requestKey };
    if (message.epoch < this.#epoch || !this.#leading) {
      this.#answer(target, {
        status: 'unavailable',
        reason: `not-leader: epoch ${this.#epoch} is led by ${this.#leaderOf(this.#epoch)}`,
      });
      return;
    }
    if (!this.#seenRequests.remember(message.requestKey)) {
      return;
    }
    this.#serve(target, message.operation, parseSessionToken(message.session));
  }

  #onForwardReply(from: ReplicaId, message: ForwardReplyMessage): void {
    const forwarded = this.#forwarded.get(message.requestKey);
    if (forwarded === undefined || forwarded.leader !== from) {
      return;
    }
    this.#forwarded.delete(message.requestKey);
    this.#outbox.reply(forwarded.client, { id: forwarded.id, ...message.reply } as ReplicaReply);
  }

  // ---------------------------------------------------------------- validation

  #validMessage(message: unknown): PeerMessage | undefined {
    if (typeof message !== 'object' || message === null) {
      return undefined;
    }
    const candidate = message as UncheckedFields;
    if (!isIndex(candidate.epoch) || candidate.epoch < 1) {
      return undefined;
    }
    const settings = this.#settings;
    switch (candidate.type) {
      case 'append': {
        const { prevIndex, prevEpoch, entries, commitIndex, stableIndex, lastIndex } = candidate;
        if (
          !isIndex(prevIndex) ||
          !isIndex(prevEpoch) ||
          !isIndex(commitIndex) ||
          !isIndex(stableIndex) ||
          !isIndex(lastIndex) ||
          !Array.isArray(entries) ||
          entries.length > settings.messageEntryCountMax ||
          prevIndex + entries.length > lastIndex ||
          prevEpoch > candidate.epoch
        ) {
          return undefined;
        }
        let epoch = prevEpoch;
        for (const entry of entries as unknown[]) {
          if (typeof entry !== 'object' || entry === null) {
            return undefined;
          }
          const wire = entry as UncheckedFields;
          if (
            !isIndex(wire.epoch) ||
            wire.epoch < epoch ||
            wire.epoch > candidate.epoch ||
            !isShortString(wire.key, settings.keyLengthMax) ||
            !isShortString(wire.value, settings.valueLengthMax)
          ) {
            return undefined;
          }
          epoch = wire.epoch;
        }
        return candidate as unknown as AppendMessage;
      }
      case 'append-reply':
        if (
          typeof candidate.success !== 'boolean' ||
          !isIndex(candidate.matchIndex) ||
          !isIndex(candidate.hintIndex)
        ) {
          return undefined;
        }
        return candidate as unknown as AppendReplyMessage;
      case 'forward': {
        if (!isShortString(candidate.requestKey, 2_100)) {
          return undefined;
        }
        const operation = validOperation(candidate.operation, this.#settings);
        if (
          operation === undefined ||
          (candidate.session !== undefined && parseSessionToken(candidate.session) === undefined)
        ) {
          return undefined;
        }
        return { ...(candidate as unknown as ForwardMessage), operation };
      }
      case 'forward-reply': {
        if (!isShortString(candidate.requestKey, 2_100)) {
          return undefined;
        }
        const reply = candidate.reply as UncheckedFields | null | undefined;
        if (typeof reply !== 'object' || reply === null) {
          return undefined;
        }
        let valid: ForwardedReply | undefined;
        if (reply.status === 'ok') {
          const value = reply.value;
          if (
            (value === undefined ||
              value === null ||
              isShortString(value, settings.valueLengthMax)) &&
            (reply.session === undefined || parseSessionToken(reply.session) !== undefined) &&
            (reply.stalenessMs === undefined ||
              (typeof reply.stalenessMs === 'number' && reply.stalenessMs >= 0))
          ) {
            valid = {
              status: 'ok',
              ...(value === undefined ? {} : { value: value as string | null }),
              ...(reply.session === undefined ? {} : { session: reply.session as string }),
              ...(reply.stalenessMs === undefined
                ? {}
                : { stalenessMs: reply.stalenessMs as number }),
            };
          }
        } else if (
          (reply.status === 'unavailable' || reply.status === 'unknown') &&
          isShortString(reply.reason, 1_024)
        ) {
          valid = { status: reply.status, reason: reply.reason };
        }
        if (valid === undefined) {
          return undefined;
        }
        return {
          type: 'forward-reply',
          epoch: candidate.epoch,
          requestKey: candidate.requestKey,
          reply: valid,
        };
      }
      default:
        return undefined;
    }
  }
}
