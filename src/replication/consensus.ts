/**
 * Consensus (Raft) as a replication mode: every replica runs a {@link RaftNode} of
 * `distkit/raft` over a {@link MemoryRaftStorage} and a {@link KeyValueStateMachine}, all
 * replicas voters. Writes go through the log, so an acknowledged write is on a majority
 * and survives any minority of crashes; reads are linearizable by read index unless the
 * request asks for a local read. The price: a side of a partition without a majority
 * serves no write and no linearizable read.
 *
 * @module
 */

import {
  describeValue,
  InvalidArgumentError,
  requireInteger,
  requireOptions,
} from '../core/index.js';
import {
  type Entry,
  encodeKeyValueCommand,
  type HardState,
  KeyValueStateMachine,
  MemoryRaftStorage,
  parseRaftMessage,
  type RaftMessage,
  RaftNode,
  type Ready,
  type Snapshot,
} from '../raft/index.js';
import {
  badOperationReason,
  DurableChangeTracker,
  entryRecordId,
  entryRecordPrefix,
  entryRecords,
  isIndex,
  isReplicaIdList,
  isShortString,
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
  ReplicaOutput,
  ReplicaReply,
  ReplicaRequest,
} from './protocol.js';

/**
 * Options of {@link consensus}. Counts of ticks are of the driver's `tickMs`: one
 * {@link ReplicaCore.tick} is one Raft tick, so a follower that hears nothing from a
 * leader campaigns after `electionTicks × tickMs` to `2 × electionTicks × tickMs`
 * (100 to 200 ms with the defaults and `tickMs` 10).
 */
export interface ConsensusOptions {
  /** Raft's election timeout in ticks (randomized up to twice this). Default 10. */
  readonly electionTicks?: number;
  /** Ticks between the leader's heartbeats; below `electionTicks`. Default 1. */
  readonly heartbeatTicks?: number;
  /**
   * Ticks a request waits for its outcome: a write then replies `unknown` (it may still
   * apply), a read `unavailable`. Default 30.
   */
  readonly requestTimeoutTicks?: number;
  /**
   * Applied entries between two snapshots. After each the log is compacted up to the
   * previous one, so it holds from `snapshotEveryEntries` to twice as many entries and a
   * follower fewer entries behind catches up without a snapshot. Default 1,000.
   */
  readonly snapshotEveryEntries?: number;
  /**
   * Requests a replica holds at once: writes waiting to apply, reads waiting for their
   * read index, writes forwarded to the leader. Past it, `unavailable` `overloaded`.
   * Default 1,024.
   */
  readonly pendingRequestCountMax?: number;
  /** Request ids remembered to drop duplicated deliveries. Default 4,096. */
  readonly requestIdCountMax?: number;
  /** Client sessions the state machine remembers (oldest forgotten first). Default 10,000. */
  readonly sessionCountMax?: number;
  /** Characters of a key (and of a request id). Default 1,024. */
  readonly keyLengthMax?: number;
  /** Characters of a value. Default 65,536. */
  readonly valueLengthMax?: number;
}

/** The metrics of a consensus replica (see {@link ReplicaCore.metrics}). */
export interface ConsensusMetrics {
  /** The Raft term this replica is in. */
  readonly term: number;
  /** Times this replica learned of a new leader (another node, or the same in a new term). */
  readonly leaderChanges: number;
  /** Writes this replica acknowledged `ok` (it proposed them and saw them applied). */
  readonly writesAcknowledged: number;
  /** Snapshots this replica took of its state machine (each followed by a compaction). */
  readonly snapshotsTaken: number;
  /** Snapshots this replica installed from a leader (it was behind the leader's compacted log). */
  readonly snapshotsInstalled: number;
  /** 1 while this replica is the Raft leader, else 0. */
  readonly isLeader: number;
  /** Index of the last log entry applied to the state machine. */
  readonly appliedIndex: number;
  /** Peer messages dropped as malformed or misaddressed. */
  readonly messagesIgnored: number;
}

interface Settings {
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly requestTimeoutTicks: number;
  readonly snapshotEveryEntries: number;
  readonly pendingRequestCountMax: number;
  readonly requestIdCountMax: number;
  readonly sessionCountMax: number;
  readonly keyLengthMax: number;
  readonly valueLengthMax: number;
}

const tickCountMax = 1_000_000;
/** Readies processed per input; what is left is processed at the next input. */
const readyRoundsMax = 1_000;

function requireSettings(options: ConsensusOptions): Settings {
  const given = requireOptions('options', options);
  const count = (name: keyof ConsensusOptions, fallback: number, min: number, max: number) =>
    requireInteger(`options.${name}`, given[name] ?? fallback, { min, max });
  const electionTicks = count('electionTicks', 10, 2, tickCountMax);
  const heartbeatTicks = count('heartbeatTicks', 1, 1, tickCountMax);
  if (heartbeatTicks >= electionTicks) {
    throw new InvalidArgumentError(
      'options.heartbeatTicks',
      `options.heartbeatTicks (${heartbeatTicks}) must be less than options.electionTicks (${electionTicks}), or followers campaign between two heartbeats of a healthy leader; a ratio of 10 is usual.`,
    );
  }
  return {
    electionTicks,
    heartbeatTicks,
    requestTimeoutTicks: count('requestTimeoutTicks', 30, 1, tickCountMax),
    snapshotEveryEntries: count('snapshotEveryEntries', 1_000, 1, 100_000_000),
    pendingRequestCountMax: count('pendingRequestCountMax', 1_024, 1, 1_000_000),
    requestIdCountMax: count('requestIdCountMax', 4_096, 1, 1_000_000),
    sessionCountMax: count('sessionCountMax', 10_000, 1, 10_000_000),
    keyLengthMax: count('keyLengthMax', 1_024, 1, 1_048_576),
    valueLengthMax: count('valueLengthMax', 65_536, 1, 268_435_456),
  };
}

/**
 * Builds consensus replicas: a Raft group of every replica in `replicas`, each a voter.
 *
 * - **Writes** become `put` commands proposed by the leader, with a client session taken
 *   from the request: `client` plus the request id without its trailing number, and that
 *   number as the sequence (ids such as `client:incarnation:counter`, increasing per
 *   client), so a duplicated request applies once and an older one never applies after a
 *   newer. `ok` once applied at the index and term the proposal got, with the session
 *   token of that index; `unavailable` when another leader's entry took that index (the
 *   proposal can no longer apply), when no leader is known, or past a limit; `unknown`
 *   when its fate is not known within `requestTimeoutTicks`. A follower forwards writes to
 *   the leader it knows and relays the answer.
 * - **Reads** are linearizable by Raft's read index: the leader confirms with a heartbeat
 *   round that it still leads, and the receiving replica answers once it has applied that
 *   far. With `settings.localRead` the receiving replica answers at once from what it has
 *   applied, with `stalenessMs` (time since it last heard from the leader on its own
 *   clock; 0 on the leader), and refuses `behind-session` when it has applied less than
 *   the request's session token.
 *
 * Throws {@link InvalidArgumentError} naming the option when one is wrong, here or (for
 * the group and the durable state) when a replica is built.
 *
 * @example
 * ```ts
 * const factory = consensus({ electionTicks: 10, snapshotEveryEntries: 500 });
 * const core = factory({ id: 'a', replicas: ['a', 'b', 'c'], clock, random, tickMs: 10 });
 * ```
 */
export function consensus(options: ConsensusOptions = {}): ReplicaCoreFactory {
  const settings = requireSettings(options);
  return (coreOptions) => new ConsensusReplica(settings, coreOptions);
}

// ------------------------------------------------------------------ messages

interface RaftEnvelope {
  readonly kind: 'raft';
  readonly raft: RaftMessage;
}

interface ForwardMessage {
  readonly kind: 'forward';
  readonly requestKey: string;
  readonly client: string;
  readonly id: string;
  readonly key: string;
  readonly value: string;
}

type ForwardedReply =
  | { readonly status: 'ok'; readonly session: string }
  | { readonly status: 'unavailable' | 'unknown'; readonly reason: string };

interface ForwardReplyMessage {
  readonly kind: 'forward-reply';
  readonly requestKey: string;
  readonly reply: ForwardedReply;
}

/** A session token is the decimal applied index of the reply that carried it. */
function parseSessionToken(token: unknown): number | undefined {
  return typeof token === 'string' && /^\d{1,15}$/.test(token) ? Number(token) : undefined;
}

/**
 * The client session of a request: the client and the id without its trailing number
 * name the session, the number is its sequence. An id without a trailing number is a
 * session of its own, sequence 1 (still applied once).
 */
function sessionOf(client: string, id: string): { client: string; sequence: number } {
  const match = /^([\s\S]*?)(\d{1,15})$/.exec(id);
  if (match === null) {
    return { client: `${client}\u0000${id}\u0000`, sequence: 1 };
  }
  return { client: `${client}\u0000${match[1] as string}`, sequence: Number(match[2]) };
}

// ------------------------------------------------------------------ durable state

interface Counters {
  leaderChanges: number;
  writesAcknowledged: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  /** Boots of this replica: makes read contexts unique across restarts. */
  boots: number;
}

/** The plain data of {@link ConsensusReplica.durableState}. */
interface DurableState {
  readonly format: 'consensus/1';
  readonly hardState: HardState;
  readonly snapshot: Snapshot;
  readonly entries: readonly Entry[];
  readonly counters: Counters;
}

function readDurableState(value: unknown): DurableState {
  const fail = (why: string): never => {
    throw new InvalidArgumentError(
      'options.durableState',
      `options.durableState is not a consensus replica's durable state (${why}); pass what durableState() returned (structuredClone keeps its Uint8Arrays), or nothing on first boot.`,
    );
  };
  if (typeof value !== 'object' || value === null) {
    return fail(`got ${describeValue(value)}`);
  }
  const state = value as Partial<DurableState>;
  if (state.format !== 'consensus/1') {
    return fail('no format consensus/1');
  }
  const hard = state.hardState;
  if (
    typeof hard !== 'object' ||
    hard === null ||
    !isIndex(hard.term) ||
    !isIndex(hard.commitIndex) ||
    !(hard.vote === null || typeof hard.vote === 'string')
  ) {
    return fail('hardState');
  }
  const snapshot = state.snapshot;
  if (
    typeof snapshot !== 'object' ||
    snapshot === null ||
    typeof snapshot.metadata !== 'object' ||
    snapshot.metadata === null ||
    !isIndex(snapshot.metadata.index) ||
    !isIndex(snapshot.metadata.term) ||
    typeof snapshot.metadata.membership !== 'object' ||
    !(snapshot.data instanceof Uint8Array)
  ) {
    return fail('snapshot');
  }
  if (!Array.isArray(state.entries)) {
    return fail('entries');
  }
  // The log may still hold entries the snapshot covers (compaction lags one snapshot).
  const firstIndex = (state.entries[0] as Partial<Entry> | undefined)?.index;
  let expected = isIndex(firstIndex) && firstIndex >= 1 ? firstIndex : snapshot.metadata.index + 1;
  if (expected > snapshot.metadata.index + 1) {
    return fail('a gap between the snapshot and the log');
  }
  for (const entry of state.entries as unknown[]) {
    const candidate = entry as Partial<Entry> | null;
    if (
      typeof candidate !== 'object' ||
      candidate === null ||
      candidate.index !== expected ||
      !isIndex(candidate.term) ||
      (candidate.type !== 'normal' && candidate.type !== 'config') ||
      !(candidate.data instanceof Uint8Array)
    ) {
      return fail(`entry at ${expected}`);
    }
    expected += 1;
  }
  if (hard.commitIndex > Math.max(expected - 1, snapshot.metadata.index)) {
    return fail('commitIndex past the log');
  }
  const counters = state.counters as Partial<Counters> | undefined;
  if (
    typeof counters !== 'object' ||
    counters === null ||
    !isIndex(counters.leaderChanges) ||
    !isIndex(counters.writesAcknowledged) ||
    !isIndex(counters.snapshotsTaken) ||
    !isIndex(counters.snapshotsInstalled) ||
    !isIndex(counters.boots)
  ) {
    return fail('counters');
  }
  return state as DurableState;
}

const keyedFormat = 'consensus-records/1';

/** The keyed form's meta: the hard state and the counters. */
interface KeyedMeta {
  readonly hardState: HardState;
  readonly counters: Counters;
}

/**
 * A keyed durable state (format `consensus-records/1`: meta `{ hardState, counters }`,
 * a `snapshot` record, one `e/<index>` record per log entry) as the plain form
 * {@link readDurableState} checks; any other value is returned as it is.
 */
function fromKeyed(value: unknown): unknown {
  return plainFromKeyed(value, keyedFormat, (keyed) => {
    const meta = keyed.meta as Partial<KeyedMeta>;
    const snapshot = keyed.records.find(([id]) => id === 'snapshot')?.[1];
    return {
      format: 'consensus/1',
      hardState: meta.hardState,
      snapshot,
      entries: entryRecords(keyed.records).map(([, entry]) => entry),
      counters: meta.counters,
    };
  });
}

function copyEntry(entry: Entry): Entry {
  return { ...entry };
}

function copySnapshot(snapshot: Snapshot): Snapshot {
  return {
    metadata: {
      index: snapshot.metadata.index,
      term: snapshot.metadata.term,
      membership: {
        voters: [...snapshot.metadata.membership.voters],
        votersOutgoing: [...snapshot.metadata.membership.votersOutgoing],
        learners: [...snapshot.metadata.membership.learners],
      },
    },
    data: snapshot.data,
  };
}

// ------------------------------------------------------------------ the replica

interface PendingWrite {
  readonly index: number;
  readonly term: number;
  readonly target: ReplyTarget;
  ticks: number;
}

interface PendingRead {
  readonly client: string;
  readonly id: string;
  readonly key: string;
  /** The read state's index, once the leader confirmed it. */
  index: number | undefined;
  /** The leader had not committed an entry of its term yet: ask again next tick. */
  retry: boolean;
  ticks: number;
}

interface ForwardedWrite {
  readonly client: string;
  readonly id: string;
  readonly leader: ReplicaId;
  ticks: number;
}

/**
 * One consensus replica. Built by {@link consensus}; drive it through the
 * {@link ReplicaCore} port.
 */
class ConsensusReplica implements ReplicaCore {
  readonly id: ReplicaId;
  readonly #settings: Settings;
  readonly #replicas: readonly ReplicaId[];
  readonly #clock: ReplicaCoreOptions['clock'];
  readonly #storage: MemoryRaftStorage;
  readonly #node: RaftNode;
  readonly #machine: KeyValueStateMachine;
  readonly #counters: Counters;
  /** Durable records changed since the last `takeDurableChanges()`. */
  readonly #changes = new DurableChangeTracker();

  // Volatile.
  readonly #pendingWrites = new Map<number, PendingWrite>();
  readonly #pendingReads = new Map<string, PendingRead>();
  readonly #forwarded = new Map<string, ForwardedWrite>();
  readonly #seenRequests: RecentRequests;
  #readCount = 0;
  #lastLeader: { readonly id: ReplicaId; readonly term: number } | undefined;
  /** Own clock's time when this replica last heard from the leader (or started). */
  #heardFromLeaderMs: number;
  #messagesIgnored = 0;
  readonly #outbox = new ReplicaOutbox();

  constructor(settings: Settings, options: ReplicaCoreOptions) {
    const given = requireOptions('options', options);
    this.#settings = settings;
    this.#seenRequests = new RecentRequests(settings.requestIdCountMax);
    this.id = requireReplicaId(given.id);
    if (!isReplicaIdList(given.replicas) || !given.replicas.includes(this.id)) {
      throw new InvalidArgumentError(
        'options.replicas',
        `options.replicas must list distinct non-empty replica ids, this one (${JSON.stringify(this.id)}) among them.`,
      );
    }
    this.#replicas = [...given.replicas];
    if (typeof given.clock?.nowMs !== 'function') {
      throw new InvalidArgumentError('options.clock', 'options.clock must be a Clock.');
    }
    if (typeof given.random?.fork !== 'function') {
      throw new InvalidArgumentError('options.random', 'options.random must be a Random.');
    }
    this.#clock = given.clock;
    requireInteger('options.tickMs', given.tickMs, { min: 1 });
    this.#heardFromLeaderMs = this.#clock.nowMs();
    this.#storage = new MemoryRaftStorage();
    this.#machine = new KeyValueStateMachine({ sessionCountMax: settings.sessionCountMax });
    let appliedIndex = 0;
    if (given.durableState === undefined) {
      this.#counters = {
        leaderChanges: 0,
        writesAcknowledged: 0,
        snapshotsTaken: 0,
        snapshotsInstalled: 0,
        boots: 1,
      };
    } else {
      const state = readDurableState(fromKeyed(given.durableState));
      if (state.snapshot.metadata.index > 0) {
        this.#storage.applySnapshot(state.snapshot);
        this.#machine.restore(state.snapshot.data);
        appliedIndex = state.snapshot.metadata.index;
      }
      this.#storage.append(state.entries);
      this.#storage.setHardState({
        ...state.hardState,
        commitIndex: Math.max(state.hardState.commitIndex, appliedIndex),
      });
      this.#counters = { ...state.counters, boots: state.counters.boots + 1 };
    }
    this.#changes.entryRange(this.#storage.firstIndex(), this.#storage.lastIndex());
    this.#node = new RaftNode({
      id: this.id,
      voters: this.#replicas,
      storage: this.#storage,
      random: given.random.fork('raft'),
      electionTicks: settings.electionTicks,
      heartbeatTicks: settings.heartbeatTicks,
      preVote: true,
      checkQuorum: true,
      readOnly: 'read-index',
      appliedIndex,
    });
    this.#process();
  }

  // ---------------------------------------------------------------- the port

  request(request: ReplicaRequest): void {
    if (typeof request !== 'object' || request === null) {
      return;
    }
    const { id, client } = request;
    const lengthMax = this.#settings.keyLengthMax;
    if (
      !isShortString(id, lengthMax) ||
      id.length === 0 ||
      !isShortString(client, lengthMax) ||
      client.length === 0
    ) {
      return;
    }
    const requestKey = `${client}|${id}`;
    if (!this.#seenRequests.remember(requestKey)) {
      return; // a duplicated delivery: the first copy is answered
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
    if (operation.kind === 'read') {
      const localRead =
        typeof request.settings === 'object' &&
        request.settings !== null &&
        request.settings.localRead === true;
      if (localRead) {
        this.#localRead(target, operation.key, parseSessionToken(request.session));
      } else {
        this.#read(client, id, operation.key);
      }
    } else if (this.#node.role === 'leader') {
      this.#propose(target, client, id, operation.key, operation.value);
    } else {
      this.#forward(target, requestKey, operation.key, operation.value);
    }
    this.#process();
  }

  step(from: ReplicaId, message: unknown): void {
    if (typeof from !== 'string' || from === this.id || !this.#replicas.includes(from)) {
      this.#messagesIgnored += 1;
      return;
    }
    if (typeof message !== 'object' || message === null) {
      this.#messagesIgnored += 1;
      return;
    }
    const kind = (message as { kind?: unknown }).kind;
    if (kind === 'raft') {
      this.#stepRaft(from, (message as { raft?: unknown }).raft);
    } else if (kind === 'forward') {
      this.#onForward(from, message as Partial<Record<keyof ForwardMessage, unknown>>);
    } else if (kind === 'forward-reply') {
      this.#onForwardReply(from, message as Partial<Record<keyof ForwardReplyMessage, unknown>>);
    } else {
      this.#messagesIgnored += 1;
    }
    this.#process();
  }

  tick(): void {
    if (this.#node.role === 'leader') {
      this.#heardFromLeaderMs = this.#clock.nowMs(); // a deposed leader's staleness starts here
    }
    this.#node.tick();
    const timeout = this.#settings.requestTimeoutTicks;
    for (const pending of [...this.#pendingWrites.values()]) {
      pending.ticks += 1;
      if (pending.ticks >= timeout) {
        this.#pendingWrites.delete(pending.index);
        this.#answer(pending.target, {
          status: 'unknown',
          reason: `timeout: not applied within ${timeout} ticks (the leader may have lost its majority); it may still apply`,
        });
      }
    }
    for (const [context, read] of [...this.#pendingReads]) {
      read.ticks += 1;
      if (read.ticks >= timeout) {
        this.#pendingReads.delete(context);
        this.#outbox.reply(read.client, {
          id: read.id,
          status: 'unavailable',
          reason: `timeout: no read index from a leader with a majority within ${timeout} ticks`,
        });
      } else if (read.retry) {
        this.#askReadIndex(context, read);
      }
    }
    for (const [requestKey, forwarded] of [...this.#forwarded]) {
      forwarded.ticks += 1;
      if (forwarded.ticks >= timeout) {
        this.#forwarded.delete(requestKey);
        this.#outbox.reply(forwarded.client, {
          id: forwarded.id,
          status: 'unknown',
          reason: `forward-timeout: no answer from the leader ${forwarded.leader} within ${timeout} ticks; the write may still apply`,
        });
      }
    }
    this.#process();
  }

  drain(): ReplicaOutput {
    return this.#outbox.drain();
  }

  durableState(): unknown {
    const storage = this.#storage;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    const state: DurableState = {
      format: 'consensus/1',
      hardState: { ...storage.hardState() },
      snapshot: copySnapshot(storage.snapshot()),
      entries:
        last < first
          ? []
          : storage.entries(first, last + 1, Number.MAX_SAFE_INTEGER).map(copyEntry),
      counters: { ...this.#counters },
    };
    return state;
  }

  durableRecords(): KeyedDurableState {
    const storage = this.#storage;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    const records: [string, unknown][] = [['snapshot', copySnapshot(storage.snapshot())]];
    if (last >= first) {
      for (const entry of storage.entries(first, last + 1, Number.MAX_SAFE_INTEGER)) {
        records.push([entryRecordId(entry.index), copyEntry(entry)]);
      }
    }
    return { format: keyedFormat, meta: this.#keyedMeta(), records };
  }

  takeDurableChanges(): DurableChanges | undefined {
    const storage = this.#storage;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.#changes.entryRange(first, last);
    return this.#changes.take(this.#keyedMeta(), (id) => {
      if (id === 'snapshot') {
        return copySnapshot(storage.snapshot());
      }
      const index = Number(id.slice(entryRecordPrefix.length));
      return index < first || index > last
        ? undefined
        : copyEntry(storage.entries(index, index + 1, Number.MAX_SAFE_INTEGER)[0] as Entry);
    });
  }

  #keyedMeta(): KeyedMeta {
    return { hardState: { ...this.#storage.hardState() }, counters: { ...this.#counters } };
  }

  metrics(): Readonly<Record<string, number>> {
    const metrics: ConsensusMetrics = {
      term: this.#node.term,
      leaderChanges: this.#counters.leaderChanges,
      writesAcknowledged: this.#counters.writesAcknowledged,
      snapshotsTaken: this.#counters.snapshotsTaken,
      snapshotsInstalled: this.#counters.snapshotsInstalled,
      isLeader: this.#node.role === 'leader' ? 1 : 0,
      appliedIndex: this.#machine.appliedIndex,
      messagesIgnored: this.#messagesIgnored,
    };
    return { ...metrics };
  }

  // ---------------------------------------------------------------- requests

  #pendingCount(): number {
    return this.#pendingWrites.size + this.#pendingReads.size + this.#forwarded.size;
  }

  #overloaded(): string | undefined {
    const max = this.#settings.pendingRequestCountMax;
    return this.#pendingCount() >= max
      ? `overloaded: ${max} requests already wait at this replica (pendingRequestCountMax)`
      : undefined;
  }

  #propose(target: ReplyTarget, client: string, id: string, key: string, value: string): void {
    const overloaded = this.#overloaded();
    if (overloaded !== undefined) {
      this.#answer(target, { status: 'unavailable', reason: overloaded });
      return;
    }
    const result = this.#node.propose(
      encodeKeyValueCommand({ kind: 'put', key, value }, sessionOf(client, id)),
    );
    if (result.status === 'appended') {
      this.#pendingWrites.set(result.index, {
        index: result.index,
        term: result.term,
        target,
        ticks: 0,
      });
    } else if (result.status === 'dropped') {
      this.#answer(target, {
        status: 'unavailable',
        reason: `${result.reason}: the leader did not append the write`,
      });
    } else {
      // Only a leader proposes here, so Raft never forwards; if it did, the fate is open.
      this.#answer(target, { status: 'unknown', reason: `forwarded to ${result.leader}` });
    }
  }

  #forward(target: ReplyTarget, requestKey: string, key: string, value: string): void {
    const leader = this.#node.leader;
    if (leader === null || leader === this.id) {
      this.#answer(target, {
        status: 'unavailable',
        reason: `no-leader: this replica knows no leader in term ${this.#node.term}`,
      });
      return;
    }
    const overloaded = this.#overloaded();
    if (overloaded !== undefined || target.kind !== 'client') {
      this.#answer(target, { status: 'unavailable', reason: overloaded ?? 'not-leader' });
      return;
    }
    this.#forwarded.set(requestKey, { client: target.client, id: target.id, leader, ticks: 0 });
    const message: ForwardMessage = {
      kind: 'forward',
      requestKey,
      client: target.client,
      id: target.id,
      key,
      value,
    };
    this.#outbox.send(leader, message);
  }

  #read(client: string, id: string, key: string): void {
    const overloaded = this.#overloaded();
    if (overloaded !== undefined) {
      this.#outbox.reply(client, { id, status: 'unavailable', reason: overloaded });
      return;
    }
    this.#readCount += 1;
    const context = `${this.id}:${this.#counters.boots}:${this.#readCount}`;
    const read: PendingRead = { client, id, key, index: undefined, retry: false, ticks: 0 };
    this.#pendingReads.set(context, read);
    this.#askReadIndex(context, read);
  }

  #askReadIndex(context: string, read: PendingRead): void {
    read.retry = false;
    const result = this.#node.readIndex(context);
    if (result.status !== 'dropped') {
      return;
    }
    if (result.reason === 'leader-not-ready') {
      read.retry = true; // a new leader's first entry is about to commit
      return;
    }
    this.#pendingReads.delete(context);
    this.#outbox.reply(read.client, {
      id: read.id,
      status: 'unavailable',
      reason: `${result.reason}: no leader confirmed a read index`,
    });
  }

  #localRead(target: ReplyTarget, key: string, session: number | undefined): void {
    const applied = this.#machine.appliedIndex;
    if (session !== undefined && session > applied) {
      this.#answer(target, {
        status: 'unavailable',
        reason: `behind-session: this replica has applied ${applied}, the session has seen ${session}`,
      });
      return;
    }
    if (target.kind !== 'client') {
      return;
    }
    const stalenessMs =
      this.#node.role === 'leader' ? 0 : Math.max(0, this.#clock.nowMs() - this.#heardFromLeaderMs);
    this.#outbox.reply(target.client, {
      id: target.id,
      status: 'ok',
      value: this.#machine.get(key),
      session: String(applied),
      stalenessMs,
    });
  }

  #answer(target: ReplyTarget, reply: ForwardedReply): void {
    if (target.kind === 'client') {
      this.#outbox.reply(target.client, { id: target.id, ...reply } as ReplicaReply);
    } else {
      const message: ForwardReplyMessage = {
        kind: 'forward-reply',
        requestKey: target.requestKey,
        reply,
      };
      this.#outbox.send(target.peer, message);
    }
  }

  // ---------------------------------------------------------------- peers

  #stepRaft(from: ReplicaId, value: unknown): void {
    const parsed = parseRaftMessage(value, { idLengthMax: 1_024 });
    if (!parsed.ok || parsed.message.from !== from || parsed.message.to !== this.id) {
      this.#messagesIgnored += 1;
      return;
    }
    const message = parsed.message;
    this.#node.step(message);
    if (
      (message.type === 'append' || message.type === 'heartbeat' || message.type === 'snapshot') &&
      this.#node.leader === from &&
      this.#node.term === message.term
    ) {
      this.#heardFromLeaderMs = this.#clock.nowMs();
    }
  }

  #onForward(from: ReplicaId, message: Partial<Record<keyof ForwardMessage, unknown>>): void {
    const settings = this.#settings;
    const { requestKey, client, id, key, value } = message;
    if (
      !isShortString(requestKey, 2 * settings.keyLengthMax + 1) ||
      !isShortString(client, settings.keyLengthMax) ||
      client.length === 0 ||
      !isShortString(id, settings.keyLengthMax) ||
      id.length === 0 ||
      requestKey !== `${client}|${id}` ||
      !isShortString(key, settings.keyLengthMax) ||
      !isShortString(value, settings.valueLengthMax)
    ) {
      this.#messagesIgnored += 1;
      return;
    }
    const target: ReplyTarget = { kind: 'peer', peer: from, requestKey };
    if (this.#node.role !== 'leader') {
      this.#answer(target, {
        status: 'unavailable',
        reason: `not-leader: ${this.id} does not lead term ${this.#node.term}`,
      });
      return;
    }
    if (!this.#seenRequests.remember(requestKey)) {
      return;
    }
    this.#propose(target, client, id, key, value);
  }

  #onForwardReply(
    from: ReplicaId,
    message: Partial<Record<keyof ForwardReplyMessage, unknown>>,
  ): void {
    const { requestKey } = message;
    const reply = message.reply as
      | { status?: unknown; session?: unknown; reason?: unknown }
      | null
      | undefined;
    let valid: ForwardedReply | undefined;
    if (typeof reply === 'object' && reply !== null) {
      const { status, session, reason } = reply;
      if (
        status === 'ok' &&
        typeof session === 'string' &&
        parseSessionToken(session) !== undefined
      ) {
        valid = { status: 'ok', session };
      } else if (
        (status === 'unavailable' || status === 'unknown') &&
        isShortString(reason, 4_096)
      ) {
        valid = { status, reason };
      }
    }
    if (typeof requestKey !== 'string' || valid === undefined) {
      this.#messagesIgnored += 1;
      return;
    }
    const forwarded = this.#forwarded.get(requestKey);
    if (forwarded === undefined || forwarded.leader !== from) {
      return; // answered already (a timeout), or not ours
    }
    this.#forwarded.delete(requestKey);
    this.#outbox.reply(forwarded.client, { id: forwarded.id, ...valid } as ReplicaReply);
  }

  // ---------------------------------------------------------------- the ready loop

  /**
   * Does what every ready asks, in Raft's order. The core is synchronous, so persisting is
   * updating the storage `durableState()` returns, and it comes before the messages leave
   * `drain()` whatever `persistBeforeSend` says: the ordering is kept for free.
   */
  #process(): void {
    for (let round = 0; round < readyRoundsMax && this.#node.hasReady(); round += 1) {
      const ready = this.#node.ready();
      this.#persist(ready);
      for (const message of ready.messages) {
        const envelope: RaftEnvelope = { kind: 'raft', raft: message };
        this.#outbox.send(message.to, envelope);
      }
      if (ready.snapshot !== undefined) {
        this.#restoreSnapshot(ready.snapshot);
      }
      for (const entry of ready.committedEntries) {
        this.#apply(entry);
      }
      for (const state of ready.readStates) {
        const read = this.#pendingReads.get(state.context);
        if (read !== undefined) {
          read.index = state.index;
        }
      }
      if (ready.softState !== undefined) {
        this.#leaderSeen(ready.softState.leader);
      }
      this.#node.advance(ready);
      this.#serveReads();
      this.#maybeSnapshot();
    }
  }

  #persist(ready: Ready): void {
    if (ready.snapshot !== undefined) {
      this.#storage.applySnapshot(ready.snapshot);
      this.#changes.mark('snapshot');
    }
    this.#storage.append(ready.entries);
    for (const entry of ready.entries) {
      this.#changes.mark(entryRecordId(entry.index));
    }
    if (ready.hardState !== undefined) {
      this.#storage.setHardState(ready.hardState);
    }
  }

  #leaderSeen(leader: ReplicaId | null): void {
    if (leader === null) {
      return;
    }
    const term = this.#node.term;
    if (this.#lastLeader?.id !== leader || this.#lastLeader.term !== term) {
      this.#lastLeader = { id: leader, term };
      this.#counters.leaderChanges += 1;
    }
    if (leader !== this.id) {
      this.#heardFromLeaderMs = this.#clock.nowMs();
    }
  }

  #restoreSnapshot(snapshot: Snapshot): void {
    if (snapshot.metadata.index <= this.#machine.appliedIndex) {
      return;
    }
    this.#machine.restore(snapshot.data);
    this.#counters.snapshotsInstalled += 1;
    // Entries the snapshot covers were never seen here: their fate is not known.
    for (const pending of [...this.#pendingWrites.values()]) {
      if (pending.index <= snapshot.metadata.index) {
        this.#pendingWrites.delete(pending.index);
        this.#answer(pending.target, {
          status: 'unknown',
          reason: 'snapshot-installed: the log position of the write was compacted away',
        });
      }
    }
  }

  #apply(entry: Entry): void {
    if (entry.index <= this.#machine.appliedIndex) {
      return; // covered by a restored snapshot
    }
    const result = this.#machine.apply(entry);
    const pending = this.#pendingWrites.get(entry.index);
    if (pending === undefined) {
      return;
    }
    this.#pendingWrites.delete(entry.index);
    if (entry.term !== pending.term) {
      // Another leader's entry holds the position: this proposal can never commit.
      this.#answer(pending.target, {
        status: 'unavailable',
        reason: `overwritten: a leader of term ${entry.term} replaced the entry at ${entry.index}; retry`,
      });
    } else if (result.status === 'ok') {
      this.#counters.writesAcknowledged += 1;
      this.#answer(pending.target, { status: 'ok', session: String(entry.index) });
    } else {
      // An older request of the same session applied after a newer one: nothing changed
      // now, but an earlier copy of it may have.
      this.#answer(pending.target, {
        status: 'unknown',
        reason: 'stale-session: a newer request of this client session applied first',
      });
    }
  }

  #serveReads(): void {
    const applied = this.#machine.appliedIndex;
    for (const [context, read] of [...this.#pendingReads]) {
      if (read.index === undefined || read.index > applied) {
        continue;
      }
      this.#pendingReads.delete(context);
      this.#outbox.reply(read.client, {
        id: read.id,
        status: 'ok',
        value: this.#machine.get(read.key),
        session: String(applied),
        stalenessMs: 0,
      });
    }
  }

  #maybeSnapshot(): void {
    const applied = this.#machine.appliedIndex;
    const storage = this.#storage;
    if (
      applied - storage.snapshot().metadata.index < this.#settings.snapshotEveryEntries ||
      applied > storage.lastIndex()
    ) {
      return;
    }
    // Compact only up to the previous snapshot: the log keeps the entries since then, so a
    // follower less than `snapshotEveryEntries` behind catches up by appends, not a snapshot.
    const previousIndex = storage.snapshot().metadata.index;
    storage.createSnapshot(applied, this.#node.membership, this.#machine.snapshot());
    this.#changes.mark('snapshot');
    storage.compact(previousIndex);
    this.#counters.snapshotsTaken += 1;
  }
}
