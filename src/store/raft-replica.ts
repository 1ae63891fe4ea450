/**
 * One member of a Raft-replicated key-value store, as a running process part: the
 * sans-I/O {@link RaftNode} of `distkit/raft` driven over the TCP transport of
 * `distkit/net`, with its log and snapshots on disk through `distkit/storage`, and a
 * {@link KeyValueStateMachine} applied in memory.
 *
 * The driver loop keeps Raft's order for every ready: persist (fsync) hard state, entries
 * and received snapshots; then send; then apply and answer. Work that arrives while a
 * ready is being persisted (ticks, peer messages, client requests) waits in an inbox and
 * is stepped into the node before the next ready, so one fsync covers every proposal
 * that arrived meanwhile (group commit).
 *
 * @module
 */

import {
  abortError,
  Emitter,
  type Event,
  InvalidArgumentError,
  type Random,
  requireInteger,
  requireOneOf,
  requireOptions,
  requireString,
  type ScheduledTask,
  type Scheduler,
  systemRandom,
  systemScheduler,
} from '../core/index.js';
import { type PeerAddress, TcpTransport, type TransportTlsOptions } from '../net/index.js';
import {
  decodeKeyValueCommand,
  type Entry,
  encodeKeyValueCommand,
  type HardState,
  type KeyValueCommand,
  type KeyValueResult,
  KeyValueStateMachine,
  type Membership,
  type ProposeResult,
  parseRaftMessage,
  RaftNode,
  type RaftStatus,
  type ReadIndexResult,
  type Ready,
} from '../raft/index.js';
import { DurableRaftStorage } from '../storage/index.js';
import {
  ReplicaClosedError,
  ReplicaUnavailableError,
  RequestTimeoutError,
  type UnavailableReason,
} from './errors.js';

/** How a read is served. */
export type ReadConsistency = 'linearizable' | 'lease' | 'local';

/** The consistency levels {@link RaftReplica.get} accepts. */
export const readConsistencies: readonly ReadConsistency[] = ['linearizable', 'lease', 'local'];

/** Options of {@link RaftReplica.open}. */
export interface RaftReplicaOptions {
  /** This node's id (1 to 128 characters). */
  readonly id: string;
  /**
   * Raft addresses of the cluster's members, this node's own included (it listens
   * there). For a new cluster these are the initial voters.
   */
  readonly peers: Readonly<Record<string, PeerAddress>>;
  /** Folder of this node's log, hard state and snapshots. */
  readonly directory: string;
  /** The cluster secret (at least 16 bytes) that peers prove in the handshake. */
  readonly secret?: string | Uint8Array;
  /** Mutual TLS between peers; at least one of `secret` and `tls` is required. */
  readonly tls?: TransportTlsOptions;
  /**
   * True for a node added to a running cluster: it starts with no voters and learns the
   * membership from the leader. Default false (the `peers` are the initial voters).
   */
  readonly join?: boolean;
  /** Milliseconds per Raft tick. Default 100. */
  readonly tickMs?: number;
  /** Ticks without a leader before a follower campaigns. Default 10 (1 s with 100 ms ticks). */
  readonly electionTicks?: number;
  /** Ticks between heartbeats; less than `electionTicks`. Default 1. */
  readonly heartbeatTicks?: number;
  /**
   * Applied entries between snapshots (the log is compacted at each). Default 100,000,
   * etcd's default too: the log stays in memory until then (about 35 MB of 256-byte
   * writes), and a snapshot serializes the whole map and holds back the appends queued
   * behind its fsync, so taking one too often shows in the tail latency.
   */
  readonly snapshotEveryEntries?: number;
  /** Entries kept behind a snapshot for followers that lag a little. Default 1,000. */
  readonly snapshotTrailingEntries?: number;
  /** Time a request may wait for commit or confirmation. Default 5,000 ms. */
  readonly requestTimeoutMs?: number;
  /** Client requests waiting at once; one more is refused as `overloaded`. Default 10,000. */
  readonly pendingRequestCountMax?: number;
  /** Largest key, in UTF-8 bytes. Default 1,024. */
  readonly keyBytesMax?: number;
  /** Largest value, in UTF-8 bytes. Default 1 MiB. */
  readonly valueBytesMax?: number;
  /** Election jitter. Default `systemRandom()`. */
  readonly random?: Random;
  /** Ticks and request deadlines. Default the shared system scheduler. */
  readonly scheduler?: Scheduler;
}

/** The answer to a write. */
export interface WriteResult {
  /** The log index the write committed at. */
  readonly index: number;
  /** The value before the write (`null`: the key was absent). */
  readonly previous: string | null;
}

/** The answer to a compare-and-set. */
export interface CompareAndSetResult {
  readonly index: number;
  /** Whether the value was replaced. */
  readonly swapped: boolean;
  /** The value the key held when the command applied (before the swap). */
  readonly current: string | null;
}

/** The answer to a read. */
export interface ReadResult {
  /** The value, or `null` when the key is absent. */
  readonly value: string | null;
  /** The applied index the read was served at. */
  readonly index: number;
}

/** Per-request options. */
export interface RequestOptions {
  /** Overrides the replica's `requestTimeoutMs`. */
  readonly timeoutMs?: number;
  /** Abandons the wait (a write may still commit). */
  readonly signal?: AbortSignal;
}

/** What {@link RaftReplica.status} reports. */
export interface ReplicaStatus extends RaftStatus {
  /** Raft addresses known, by node id. */
  readonly peers: Readonly<Record<string, string>>;
  /** Requests waiting for commit or read confirmation. */
  readonly pendingRequestCount: number;
  /** Index of the latest snapshot on disk. */
  readonly snapshotIndex: number;
}

/** Events a replica reports for logs. */
export type ReplicaEvent =
  | { readonly kind: 'leader-changed'; readonly leader: string | null; readonly term: number }
  | { readonly kind: 'snapshot-taken'; readonly index: number }
  | { readonly kind: 'snapshot-installed'; readonly index: number }
  | { readonly kind: 'message-refused'; readonly from: string; readonly reason: string }
  | { readonly kind: 'transport'; readonly detail: string }
  | { readonly kind: 'stopped'; readonly error: unknown };

/** Keys under this prefix belong to distkit (the peer address book), not to clients. */
export const reservedKeyPrefix = '\u0000distkit/';
const peerKeyPrefix = `${reservedKeyPrefix}peer/`;

interface PendingWrite {
  readonly kind: 'write' | 'cas';
  readonly resolve: (result: WriteResult | CompareAndSetResult) => void;
  readonly reject: (error: unknown) => void;
  timer: ScheduledTask | undefined;
  /** Where the local leader appended it (0: forwarded, unknown). */
  index: number;
  term: number;
  readonly cleanup: () => void;
}

interface MembershipWaiter {
  /** Where the change was appended (0 until it is). */
  index: number;
  term: number;
  readonly finish: (index: number) => void;
  readonly reject: (error: unknown) => void;
}

interface PendingRead {
  readonly key: string;
  readonly mode: 'read-index' | 'lease';
  /** The replica's tick count when Raft was last asked to confirm it. */
  askedAtTick: number;
  readonly resolve: (result: ReadResult) => void;
  readonly reject: (error: unknown) => void;
  timer: ScheduledTask | undefined;
  /** The read index once confirmed (−1 before). */
  index: number;
  readonly cleanup: () => void;
}

const encoder = new TextEncoder();

function parseAddress(text: string): PeerAddress {
  const colon = text.lastIndexOf(':');
  return { host: text.slice(0, colon), port: Number(text.slice(colon + 1)) };
}

/**
 * The TCP transport of node `id` (of {@link RaftReplica} and of the store's processes):
 * it listens on `peerTable[id]`, which the caller has checked, and dials every other
 * entry, with the secret and TLS options when given.
 */
export function peerTransport(
  id: string,
  peerTable: Readonly<Record<string, PeerAddress>>,
  options: { readonly secret?: string | Uint8Array; readonly tls?: TransportTlsOptions },
  scheduler: Scheduler,
  random: Random,
): TcpTransport {
  const peers: Record<string, PeerAddress> = {};
  for (const [peerId, address] of Object.entries(peerTable)) {
    if (peerId !== id) {
      peers[peerId] = address;
    }
  }
  return new TcpTransport({
    id,
    listen: peerTable[id] as PeerAddress,
    peers,
    ...(options.secret === undefined ? {} : { secret: options.secret }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    scheduler,
    random,
  });
}

function formatAddress(address: PeerAddress): string {
  return `${address.host}:${address.port}`;
}

/** Runs `start`, turning a synchronous throw (bad input) into a rejected promise. */
function rejectThrown<T>(start: () => Promise<T>): Promise<T> {
  try {
    return start();
  } catch (error) {
    return Promise.reject(error);
  }
}

function unavailableMessage(reason: UnavailableReason, leader: string | null): string {
  const where = leader === null ? 'no leader is known' : `the leader is ${leader}`;
  return `The replica cannot take the request now (${reason}; ${where}); nothing was applied, retry later.`;
}

/**
 * A running Raft replica of the key-value store: writes and compare-and-set go through
 * the log; reads are linearizable (read index, the default), leased (answered by the
 * leader from its lease, which relies on bounded clock drift) or local (this replica's
 * applied state, possibly stale). Any replica takes any request: a follower forwards
 * proposals and read confirmations to the leader.
 *
 * @example
 * ```ts
 * const replica = await RaftReplica.open({
 *   id: 'n1',
 *   peers: { n1: { host: '127.0.0.1', port: 7001 } },
 *   directory: './data/n1',
 *   secret: 'a cluster secret of 16+ bytes',
 * });
 * await replica.put('greeting', 'hello');
 * const { value } = await replica.get('greeting');
 * await replica.close();
 * ```
 */
export class RaftReplica {
  readonly id: string;
  readonly tickMs: number;
  readonly requestTimeoutMs: number;
  readonly pendingRequestCountMax: number;
  readonly snapshotEveryEntries: number;
  readonly snapshotTrailingEntries: number;
  readonly keyBytesMax: number;
  readonly valueBytesMax: number;

  readonly #node: RaftNode;
  readonly #storage: DurableRaftStorage;
  readonly #transport: TcpTransport;
  readonly #scheduler: Scheduler;
  readonly #kv = new KeyValueStateMachine({ sessionCountMax: 100_000 });
  readonly #events = new Emitter<ReplicaEvent>();
  /** This process's client session: commands it proposes carry it, so it can find their results. */
  readonly #clientId: string;
  #sequence = 0;
  #readCount = 0;
  readonly #writes = new Map<number, PendingWrite>();
  /** Locally appended writes by log index, to notice when another entry replaced one. */
  readonly #writesByIndex = new Map<number, number>();
  readonly #reads = new Map<string, PendingRead>();
  /** Confirmed reads waiting for the applied index, in confirmation order. */
  #readsWaiting: PendingRead[] = [];
  /** Work to step into the node before the next ready. */
  #inbox: (() => void)[] = [];
  #ticksDue = 0;
  /** Ticks fed to the node since it started. */
  #tickCount = 0;
  #tickTask: ScheduledTask | undefined;
  #cycleScheduled = false;
  #cycleRunning = false;
  #closed = false;
  #stopError: unknown;
  #lastHardState: HardState;
  #leader: string | null = null;
  readonly #peers = new Map<string, string>();
  #cycleDone: Promise<void> = Promise.resolve();

  private constructor(
    options: RaftReplicaOptions,
    storage: DurableRaftStorage,
    transport: TcpTransport,
    scheduler: Scheduler,
    random: Random,
  ) {
    this.id = options.id;
    this.tickMs = options.tickMs ?? 100;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5_000;
    this.pendingRequestCountMax = options.pendingRequestCountMax ?? 10_000;
    this.snapshotEveryEntries = options.snapshotEveryEntries ?? 100_000;
    this.snapshotTrailingEntries = options.snapshotTrailingEntries ?? 1_000;
    this.keyBytesMax = options.keyBytesMax ?? 1024;
    this.valueBytesMax = options.valueBytesMax ?? 1024 * 1024;
    this.#storage = storage;
    this.#transport = transport;
    this.#scheduler = scheduler;
    this.#clientId = `${options.id}/${random.integer(0, 2 ** 31 - 1).toString(36)}${random
      .integer(0, 2 ** 31 - 1)
      .toString(36)}`;
    for (const [id, address] of Object.entries(options.peers)) {
      this.#peers.set(id, formatAddress(address));
    }
    const snapshot = storage.snapshot();
    if (snapshot.metadata.index > 0) {
      this.#kv.restore(snapshot.data);
      this.#loadPeersFromState();
    }
    this.#lastHardState = storage.hardState();
    this.#node = new RaftNode({
      id: options.id,
      storage,
      voters: options.join === true ? [] : Object.keys(options.peers),
      random,
      electionTicks: options.electionTicks ?? 10,
      heartbeatTicks: options.heartbeatTicks ?? 1,
      appliedIndex: snapshot.metadata.index,
    });
  }

  /**
   * Opens the node's storage (recovering it), starts the transport and the ticks. The
   * returned replica serves requests once a leader is elected.
   */
  static async open(options: RaftReplicaOptions): Promise<RaftReplica> {
    const checked = requireOptions<RaftReplicaOptions>('RaftReplica options', options);
    const id = requireString('options.id', checked.id);
    const peerTable = requireOptions<Readonly<Record<string, PeerAddress>>>(
      'options.peers',
      checked.peers,
    );
    const own = peerTable[id];
    if (own === undefined) {
      throw new InvalidArgumentError(
        'options.peers',
        `options.peers must include this node's own id ${id} with the address it listens on.`,
      );
    }
    requireString('options.directory', checked.directory);
    requireInteger('options.tickMs', checked.tickMs ?? 100, { min: 1, max: 60_000 });
    requireInteger('options.snapshotEveryEntries', checked.snapshotEveryEntries ?? 100_000, {
      min: 1,
    });
    requireInteger('options.snapshotTrailingEntries', checked.snapshotTrailingEntries ?? 1_000, {
      min: 0,
    });
    requireInteger('options.requestTimeoutMs', checked.requestTimeoutMs ?? 5_000, { min: 1 });
    requireInteger('options.pendingRequestCountMax', checked.pendingRequestCountMax ?? 10_000, {
      min: 1,
    });
    requireInteger('options.keyBytesMax', checked.keyBytesMax ?? 1024, { min: 1 });
    requireInteger('options.valueBytesMax', checked.valueBytesMax ?? 1024 * 1024, { min: 0 });
    const scheduler = checked.scheduler ?? systemScheduler;
    const random = checked.random ?? systemRandom();
    const storage = await DurableRaftStorage.open({ directory: checked.directory });
    let transport: TcpTransport;
    try {
      transport = peerTransport(id, peerTable, checked, scheduler, random);
    } catch (error) {
      await storage.close();
      throw error;
    }
    let replica: RaftReplica;
    try {
      replica = new RaftReplica(checked, storage, transport, scheduler, random);
    } catch (error) {
      // The Raft core refused an option (electionTicks, heartbeatTicks...).
      await transport.close();
      await storage.close();
      throw error;
    }
    try {
      await replica.#start();
    } catch (error) {
      await replica.close();
      throw error;
    }
    return replica;
  }

  /** Events for logs: leader changes, snapshots, refused messages, a stop on failure. */
  get onEvent(): Event<ReplicaEvent> {
    return this.#events.event;
  }

  /** The address the Raft transport listens on. */
  get raftAddress(): PeerAddress | undefined {
    return this.#transport.address;
  }

  /** The leader this replica knows of. */
  get leader(): string | null {
    return this.#leader;
  }

  async #start(): Promise<void> {
    this.#transport.onMessage(({ from, message }) => {
      const parsed = parseRaftMessage(message);
      if (!parsed.ok) {
        this.#events.emit({ kind: 'message-refused', from, reason: parsed.reason });
        return;
      }
      if (parsed.message.from !== from || parsed.message.to !== this.id) {
        this.#events.emit({
          kind: 'message-refused',
          from,
          reason: `a message from ${parsed.message.from} to ${parsed.message.to} arrived on ${from}'s connection`,
        });
        return;
      }
      const raftMessage = parsed.message;
      this.#enqueue(() => this.#node.step(raftMessage));
    });
    this.#transport.onEvent((event) => {
      if (event.kind === 'disconnected' && event.reason !== 'connection-lost') {
        this.#events.emit({ kind: 'transport', detail: event.detail });
      }
    });
    await this.#transport.start();
    this.#scheduleTick();
    // A single-voter cluster elects itself at once instead of after a timeout.
    if (this.#node.membership.voters.length === 1 && this.#node.membership.voters[0] === this.id) {
      this.#enqueue(() => this.#node.campaign());
    }
    this.#kick();
  }

  #scheduleTick(): void {
    if (this.#closed) {
      return;
    }
    this.#tickTask = this.#scheduler.schedule(this.tickMs, () => {
      this.#ticksDue += 1;
      this.#kick();
      this.#scheduleTick();
    });
  }

  // ------------------------------------------------------------------ client API

  /** Writes `value` at `key` through the log; resolves once committed and applied here. */
  put(key: string, value: string, options?: RequestOptions): Promise<WriteResult> {
    return rejectThrown(() => {
      this.#checkKey(key);
      this.#checkValue(value);
      return this.#write({ kind: 'put', key, value }, options) as Promise<WriteResult>;
    });
  }

  /** Deletes `key` through the log. */
  delete(key: string, options?: RequestOptions): Promise<WriteResult> {
    return rejectThrown(() => {
      this.#checkKey(key);
      return this.#write({ kind: 'delete', key }, options) as Promise<WriteResult>;
    });
  }

  /** Replaces `key`'s value with `value` if it is `expected` (`null`: absent). */
  compareAndSet(
    key: string,
    expected: string | null,
    value: string,
    options?: RequestOptions,
  ): Promise<CompareAndSetResult> {
    return rejectThrown(() => {
      this.#checkKey(key);
      if (expected !== null) {
        this.#checkValue(expected, 'expected');
      }
      this.#checkValue(value);
      return this.#write(
        { kind: 'cas', key, expected, value },
        options,
      ) as Promise<CompareAndSetResult>;
    });
  }

  /**
   * Reads `key`. `'linearizable'` (default) confirms with a quorum that the leader still
   * leads, then answers once this replica has applied that far; `'lease'` lets the leader
   * answer from its lease without the round trip (a follower forwards it as a read
   * index); `'local'` answers at once from this replica's state, possibly stale.
   */
  get(
    key: string,
    options: RequestOptions & { readonly consistency?: ReadConsistency } = {},
  ): Promise<ReadResult> {
    return rejectThrown(() => this.#read(key, options));
  }

  #read(
    key: string,
    options: RequestOptions & { readonly consistency?: ReadConsistency },
  ): Promise<ReadResult> {
    this.#checkKey(key);
    const consistency = requireOneOf(
      'options.consistency',
      requireOptions('options', options).consistency ?? 'linearizable',
      readConsistencies,
    );
    if (this.#closed) {
      return Promise.reject(this.#closedError());
    }
    if (consistency === 'local') {
      return Promise.resolve({ value: this.#kv.get(key), index: this.#kv.appliedIndex });
    }
    return this.#request<ReadResult>(options, 'not-applied', (resolve, reject, cleanup) => {
      this.#readCount += 1;
      const context = `${this.#clientId}:${this.#readCount}`;
      const read: PendingRead = {
        key,
        resolve,
        reject,
        timer: undefined,
        index: -1,
        cleanup,
        mode: consistency === 'lease' ? 'lease' : 'read-index',
        askedAtTick: 0,
      };
      this.#reads.set(context, read);
      this.#enqueue(() => this.#askRead(context, read));
      return () => {
        this.#reads.delete(context);
        const position = this.#readsWaiting.indexOf(read);
        if (position >= 0) {
          this.#readsWaiting.splice(position, 1);
        }
      };
    });
  }

  /**
   * Changes the voters and learners by joint consensus. `addresses` gives the Raft
   * address of each new member; they are replicated first (every member learns them),
   * then the membership change is proposed. Resolves when the change entry is applied.
   */
  async changeMembership(change: {
    readonly voters: readonly string[];
    readonly learners?: readonly string[];
    readonly addresses?: Readonly<Record<string, string>>;
  }): Promise<{ readonly index: number }> {
    requireOptions('change', change);
    if (!Array.isArray(change.voters) || change.voters.length === 0) {
      throw new InvalidArgumentError('change.voters', 'change.voters must list at least one id.');
    }
    for (const [position, voter] of change.voters.entries()) {
      requireString(`change.voters[${position}]`, voter);
    }
    if (change.learners !== undefined && !Array.isArray(change.learners)) {
      throw new InvalidArgumentError('change.learners', 'change.learners must be an array of ids.');
    }
    if (
      change.addresses !== undefined &&
      (typeof change.addresses !== 'object' ||
        change.addresses === null ||
        Array.isArray(change.addresses))
    ) {
      throw new InvalidArgumentError(
        'change.addresses',
        'change.addresses must be an object of id to "host:port".',
      );
    }
    for (const [position, learner] of (change.learners ?? []).entries()) {
      requireString(`change.learners[${position}]`, learner);
    }
    if (this.#node.role !== 'leader') {
      throw new ReplicaUnavailableError(
        'no-leader',
        this.#leader,
        `Membership changes are taken by the leader only; send this one to ${this.#leader ?? 'the leader, once one is elected'}.`,
      );
    }
    for (const [peerId, address] of Object.entries(change.addresses ?? {})) {
      requireString(`change.addresses.${peerId}`, address);
      const parsed = parseAddress(address);
      if (
        parsed.host === '' ||
        !Number.isInteger(parsed.port) ||
        parsed.port < 1 ||
        parsed.port > 65_535
      ) {
        throw new InvalidArgumentError(
          `change.addresses.${peerId}`,
          `change.addresses.${peerId} must be host:port with a port from 1 to 65535; got ${address}.`,
        );
      }
      await this.#write({ kind: 'put', key: `${peerKeyPrefix}${peerId}`, value: address }, {});
    }
    const members = [...change.voters, ...(change.learners ?? [])];
    const unknown = members.filter((member) => !this.#peers.has(member));
    if (unknown.length > 0) {
      throw new InvalidArgumentError(
        'change.addresses',
        `No Raft address is known for ${unknown.join(', ')}: pass it in change.addresses.`,
      );
    }
    return this.#proposeMembership(change.voters, change.learners ?? []);
  }

  #proposeMembership(
    voters: readonly string[],
    learners: readonly string[],
  ): Promise<{ readonly index: number }> {
    return this.#request<{ index: number }>({}, 'unknown', (resolve, reject) => {
      const waiter: MembershipWaiter = {
        index: 0,
        term: 0,
        finish: (index) => resolve({ index }),
        reject,
      };
      this.#controls.add(waiter);
      this.#enqueue(() => {
        if (!this.#controls.has(waiter)) {
          return; // settled (timed out) while it waited in the inbox
        }
        if (this.#node.role !== 'leader') {
          // The core would forward it; the replica keeps "refused means not applied".
          reject(
            new ReplicaUnavailableError(
              'no-leader',
              this.#leader,
              `Membership changes are taken by the leader only; send this one to ${this.#leader ?? 'the leader, once one is elected'}.`,
            ),
          );
          return;
        }
        const result = this.#node.proposeMembership({ voters, learners });
        if (result.status === 'appended') {
          waiter.index = result.index;
          waiter.term = result.term;
          this.#membershipWaiters.push(waiter);
        } else if (result.status === 'forwarded') {
          reject(
            new ReplicaUnavailableError(
              'no-leader',
              result.leader,
              `Membership changes are taken by the leader only; send this one to ${result.leader}.`,
            ),
          );
        } else {
          reject(this.#unavailable(result.reason));
        }
      });
      return () => {
        this.#controls.delete(waiter);
        this.#membershipWaiters = this.#membershipWaiters.filter((other) => other !== waiter);
      };
    });
  }

  /** Membership changes appended by this leader, waiting to be applied. */
  #membershipWaiters: MembershipWaiter[] = [];
  /** Membership changes and leadership transfers not settled yet (failed by close). */
  readonly #controls = new Set<{ readonly reject: (error: unknown) => void }>();

  /**
   * Asks this replica, which must lead, to hand leadership to `to`; resolves once the
   * transfer started (the new leader takes over within an election timeout).
   */
  transferLeadership(to: string): Promise<void> {
    try {
      requireString('to', to);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#request<void>({}, 'not-applied', (resolve, reject) => {
      const control = { reject };
      this.#controls.add(control);
      this.#enqueue(() => {
        if (!this.#controls.has(control)) {
          return;
        }
        const result = this.#node.transferLeadership(to);
        if (result.status === 'started' || result.reason === 'already-leader') {
          resolve();
        } else if (result.reason === 'not-a-voter') {
          reject(new InvalidArgumentError('to', `${to} is not a voter: only a voter can lead.`));
        } else {
          reject(
            new ReplicaUnavailableError(
              result.reason === 'not-leader' ? 'no-leader' : 'transferring-leadership',
              this.#leader,
              result.reason === 'not-leader'
                ? `Only the leader hands leadership over; ask ${this.#leader ?? 'the leader, once one is elected'}.`
                : 'A leadership transfer is already running; retry once it ends.',
            ),
          );
        }
      });
      return () => {
        this.#controls.delete(control);
      };
    });
  }

  /** Raft state, the address book and the number of waiting requests. */
  status(): ReplicaStatus {
    return {
      ...this.#node.status(),
      peers: Object.fromEntries(this.#peers),
      pendingRequestCount: this.#writes.size + this.#reads.size + this.#controls.size,
      snapshotIndex: this.#storage.snapshot().metadata.index,
    };
  }

  /**
   * Stops ticking, fails waiting requests with {@link ReplicaClosedError}, waits for the
   * ready being persisted, and closes the transport and the storage.
   */
  async close(): Promise<void> {
    if (this.#closed) {
      await this.#cycleDone;
      return;
    }
    this.#closed = true;
    this.#tickTask?.cancel();
    this.#failAll(this.#closedError());
    await this.#cycleDone;
    await this.#transport.close();
    await this.#storage.close();
  }

  // ------------------------------------------------------------------ requests

  #checkKey(key: string): void {
    requireString('key', key);
    if (key.startsWith(reservedKeyPrefix)) {
      throw new InvalidArgumentError('key', 'Keys starting with "\\u0000distkit/" are reserved.');
    }
    // A UTF-16 code unit is at most 3 UTF-8 bytes: most keys need no encoding to check.
    if (key.length * 3 > this.keyBytesMax && encoder.encode(key).byteLength > this.keyBytesMax) {
      throw new InvalidArgumentError('key', `The key is longer than ${this.keyBytesMax} bytes.`);
    }
  }

  #checkValue(value: string, name = 'value'): void {
    if (typeof value !== 'string') {
      throw new InvalidArgumentError(name, `${name} must be a string.`);
    }
    if (
      value.length > this.valueBytesMax ||
      (value.length * 3 > this.valueBytesMax &&
        encoder.encode(value).byteLength > this.valueBytesMax)
    ) {
      throw new InvalidArgumentError(
        name,
        `The ${name} is longer than ${this.valueBytesMax} bytes.`,
      );
    }
  }

  #closedError(): ReplicaClosedError {
    return new ReplicaClosedError(
      this.#stopError === undefined
        ? `Replica ${this.id} is closed.`
        : `Replica ${this.id} stopped after a storage failure; restart it.`,
      this.#stopError === undefined ? undefined : { cause: this.#stopError },
    );
  }

  #unavailable(reason: string): ReplicaUnavailableError {
    const mapped: UnavailableReason =
      reason === 'uncommitted-limit' || reason === 'pending-reads-limit' || reason === 'too-large'
        ? 'overloaded'
        : (reason as UnavailableReason);
    return new ReplicaUnavailableError(
      mapped,
      this.#leader,
      unavailableMessage(mapped, this.#leader),
    );
  }

  /**
   * The common shape of a waiting request: limits, a deadline on the shared scheduler,
   * abort, and cleanup. `start` registers the request and returns its own cleanup.
   */
  #request<T>(
    options: RequestOptions,
    timeoutOutcome: 'unknown' | 'not-applied',
    start: (
      resolve: (value: T) => void,
      reject: (error: unknown) => void,
      cleanup: () => void,
    ) => () => void,
  ): Promise<T> {
    if (this.#closed) {
      return Promise.reject(this.#closedError());
    }
    const timeoutMs =
      options.timeoutMs === undefined
        ? this.requestTimeoutMs
        : requireInteger('options.timeoutMs', options.timeoutMs, { min: 1 });
    if (this.#writes.size + this.#reads.size >= this.pendingRequestCountMax) {
      return Promise.reject(this.#unavailable('uncommitted-limit'));
    }
    const signal = options.signal;
    if (signal?.aborted === true) {
      return Promise.reject(abortError(signal));
    }
    return new Promise<T>((outerResolve, outerReject) => {
      let settled = false;
      let release: () => void = () => {};
      let timer: ScheduledTask | undefined;
      const onAbort = (): void => reject(abortError(signal as AbortSignal));
      const cleanup = (): void => {
        timer?.cancel();
        signal?.removeEventListener('abort', onAbort);
        release();
      };
      const resolve = (value: T): void => {
        if (!settled) {
          settled = true;
          cleanup();
          outerResolve(value);
        }
      };
      const reject = (error: unknown): void => {
        if (!settled) {
          settled = true;
          cleanup();
          outerReject(error);
        }
      };
      release = start(resolve, reject, cleanup);
      timer = this.#scheduler.schedule(timeoutMs, () =>
        reject(
          new RequestTimeoutError(
            timeoutOutcome,
            timeoutMs,
            timeoutOutcome === 'unknown'
              ? `The write did not commit within ${timeoutMs} ms; it may still commit: read the key before writing again.`
              : `The read was not confirmed within ${timeoutMs} ms (no quorum reachable?); retrying is safe.`,
          ),
        ),
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #write(
    command: KeyValueCommand,
    options: RequestOptions = {},
  ): Promise<WriteResult | CompareAndSetResult> {
    return this.#request<WriteResult | CompareAndSetResult>(
      options,
      'unknown',
      (resolve, reject, cleanup) => {
        this.#sequence += 1;
        const sequence = this.#sequence;
        const pending: PendingWrite = {
          kind: command.kind === 'cas' ? 'cas' : 'write',
          resolve,
          reject,
          timer: undefined,
          index: 0,
          term: 0,
          cleanup,
        };
        this.#writes.set(sequence, pending);
        const data = encodeKeyValueCommand(command, { client: this.#clientId, sequence });
        this.#enqueue(() => {
          if (!this.#writes.has(sequence)) {
            return;
          }
          const result: ProposeResult = this.#node.propose(data);
          if (result.status === 'appended') {
            pending.index = result.index;
            pending.term = result.term;
            this.#writesByIndex.set(result.index, sequence);
          } else if (result.status === 'dropped') {
            reject(this.#unavailable(result.reason));
          }
        });
        return () => {
          this.#writes.delete(sequence);
          if (pending.index > 0 && this.#writesByIndex.get(pending.index) === sequence) {
            this.#writesByIndex.delete(pending.index);
          }
        };
      },
    );
  }

  /**
   * Asks Raft to confirm a read. A follower's request to the leader may be lost, or
   * ignored by a leader that cannot serve reads yet: the tick loop asks again after an
   * election timeout without an answer.
   */
  #askRead(context: string, read: PendingRead): void {
    if (!this.#reads.has(context) || read.index >= 0) {
      return; // settled, or confirmed, meanwhile
    }
    read.askedAtTick = this.#tickCount;
    const result: ReadIndexResult = this.#node.readIndex(context, { mode: read.mode });
    if (result.status === 'dropped') {
      this.#failRead(context, result.reason);
    }
  }

  #failRead(context: string, reason: string): void {
    const read = this.#reads.get(context);
    read?.reject(this.#unavailable(reason));
  }

  #failAll(error: unknown): void {
    for (const write of [...this.#writes.values()]) {
      write.reject(error);
    }
    for (const read of [...this.#reads.values()]) {
      read.reject(error);
    }
    for (const control of [...this.#controls]) {
      control.reject(error);
    }
  }

  // ------------------------------------------------------------------ driver loop

  #enqueue(work: () => void): void {
    if (this.#closed) {
      return;
    }
    this.#inbox.push(work);
    this.#kick();
  }

  #kick(): void {
    if (this.#cycleScheduled || this.#cycleRunning || this.#closed) {
      return;
    }
    this.#cycleScheduled = true;
    // A microtask, not a timer: the cycle starts at once, and whatever arrives while its
    // fsync runs waits in the inbox and joins the next ready (one fsync for all of it).
    queueMicrotask(this.#runCycle);
  }

  readonly #runCycle = (): void => {
    this.#cycleScheduled = false;
    if (this.#cycleRunning || this.#closed) {
      return;
    }
    this.#cycleRunning = true;
    this.#cycleDone = this.#cycle().then(
      () => {
        this.#cycleRunning = false;
        if (this.#inbox.length > 0 || this.#ticksDue > 0) {
          this.#kick();
        }
      },
      (error: unknown) => {
        this.#cycleRunning = false;
        this.#stop(error);
      },
    );
  };

  #drainInbox(): void {
    while (this.#ticksDue > 0) {
      this.#ticksDue -= 1;
      this.#tickCount += 1;
      this.#node.tick();
    }
    if (this.#reads.size > 0 && this.#tickCount % this.#node.electionTicks === 0) {
      for (const [context, read] of this.#reads) {
        if (read.index < 0 && this.#tickCount - read.askedAtTick >= this.#node.electionTicks) {
          this.#askRead(context, read);
        }
      }
    }
    const work = this.#inbox;
    this.#inbox = [];
    for (const item of work) {
      item();
    }
  }

  async #cycle(): Promise<void> {
    for (;;) {
      if (this.#closed) {
        return;
      }
      this.#drainInbox();
      if (!this.#node.hasReady()) {
        return;
      }
      const ready = this.#node.ready();
      if (ready.softState !== undefined) {
        this.#leaderChanged(ready.softState.leader);
      }
      if (ready.persistBeforeSend) {
        await this.#persist(ready);
        if (this.#closed) {
          return;
        }
        this.#sendAndApply(ready);
      } else {
        // A steady leader: followers write these entries while it does (see Ready).
        this.#sendAndApply(ready);
        await this.#persist(ready);
        if (this.#closed) {
          return;
        }
      }
      this.#node.advance(ready);
      this.#settleMembershipWaiters(ready.committedEntries);
      await this.#maybeSnapshot();
    }
  }

  /** Sends a ready's messages, installs its snapshot, applies its entries, records its reads. */
  #sendAndApply(ready: Ready): void {
    for (const message of ready.messages) {
      // A member whose address is not replicated yet cannot be reached; Raft resends.
      if (this.#peers.has(message.to)) {
        this.#transport.send(message.to, message);
      }
    }
    if (ready.snapshot !== undefined) {
      this.#kv.restore(ready.snapshot.data);
      this.#loadPeersFromState();
      this.#events.emit({ kind: 'snapshot-installed', index: ready.snapshot.metadata.index });
    }
    for (const entry of ready.committedEntries) {
      this.#apply(entry);
    }
    for (const state of ready.readStates) {
      const read = this.#reads.get(state.context);
      if (read !== undefined) {
        read.index = state.index;
        this.#readsWaiting.push(read);
      }
    }
    this.#serveReads();
  }

  async #persist(ready: Ready): Promise<void> {
    // The commit index alone need not be durable (a restarted node learns it again), so
    // a change of it alone costs no fsync; term and vote must be durable before sending.
    const hard = ready.hardState;
    const hardChanged =
      hard !== undefined &&
      (hard.term !== this.#lastHardState.term || hard.vote !== this.#lastHardState.vote);
    if (!hardChanged && ready.entries.length === 0 && ready.snapshot === undefined) {
      return;
    }
    await this.#storage.save({
      ...(hardChanged ? { hardState: hard } : {}),
      entries: ready.entries,
      ...(ready.snapshot === undefined ? {} : { snapshot: ready.snapshot }),
    });
    if (hardChanged) {
      this.#lastHardState = hard;
    }
  }

  #apply(entry: Entry): void {
    if (entry.index <= this.#kv.appliedIndex) {
      return; // covered by a snapshot restored since
    }
    // Every entry moves the applied index, the election's empty entry and membership
    // changes included: reads wait for it.
    const result: KeyValueResult = this.#kv.apply(entry);
    const waiting = this.#writesByIndex.get(entry.index);
    if (entry.type !== 'normal' || entry.data.byteLength === 0) {
      if (waiting !== undefined) {
        this.#writes.get(waiting)?.reject(this.#unavailable('not-applied'));
      }
      return;
    }
    const command = decodeKeyValueCommand(entry.data);
    if (command?.key.startsWith(peerKeyPrefix) && command.kind === 'put') {
      this.#learnPeer(command.key.slice(peerKeyPrefix.length), command.value);
    }
    if (command?.client === this.#clientId && command.sequence !== undefined) {
      const write = this.#writes.get(command.sequence);
      if (write !== undefined) {
        if (result.status === 'ok') {
          write.resolve(
            write.kind === 'cas'
              ? { index: entry.index, swapped: true, current: result.previous }
              : { index: entry.index, previous: result.previous },
          );
        } else if (result.status === 'cas-failed') {
          write.resolve({ index: entry.index, swapped: false, current: result.current });
        } else {
          write.reject(this.#unavailable('not-applied'));
        }
      }
    } else if (waiting !== undefined) {
      // Another leader's entry took the index this replica appended its write at.
      this.#writes.get(waiting)?.reject(this.#unavailable('not-applied'));
    }
  }

  #settleMembershipWaiters(entries: readonly Entry[]): void {
    if (this.#membershipWaiters.length === 0 || entries.length === 0) {
      return;
    }
    const waiters = this.#membershipWaiters;
    this.#membershipWaiters = [];
    for (const waiter of waiters) {
      const entry = entries.find((candidate) => candidate.index === waiter.index);
      if (entry === undefined) {
        this.#membershipWaiters.push(waiter);
      } else if (entry.term === waiter.term && entry.type === 'config') {
        waiter.finish(entry.index);
      } else {
        waiter.reject(this.#unavailable('not-applied'));
      }
    }
  }

  #serveReads(): void {
    if (this.#readsWaiting.length === 0) {
      return;
    }
    const applied = this.#kv.appliedIndex;
    // Detached first: resolving a read runs its cleanup, which removes it from the list.
    const waiting = this.#readsWaiting;
    this.#readsWaiting = [];
    const still: PendingRead[] = [];
    for (const read of waiting) {
      if (read.index <= applied) {
        read.resolve({ value: this.#kv.get(read.key), index: applied });
      } else {
        still.push(read);
      }
    }
    this.#readsWaiting = still;
  }

  #leaderChanged(leader: string | null): void {
    if (leader === this.#leader) {
      return;
    }
    this.#leader = leader;
    this.#events.emit({ kind: 'leader-changed', leader, term: this.#node.term });
    // Reads not yet confirmed were asked of the old leader, which will not answer them.
    for (const [context, read] of [...this.#reads]) {
      if (read.index < 0) {
        this.#failRead(context, 'leader-changed');
      }
    }
  }

  async #maybeSnapshot(): Promise<void> {
    const applied = this.#kv.appliedIndex;
    const snapshotIndex = this.#storage.snapshot().metadata.index;
    if (
      applied - snapshotIndex < this.snapshotEveryEntries ||
      applied > this.#storage.lastIndex()
    ) {
      return;
    }
    const membership: Membership = this.#node.membership;
    await this.#storage.createSnapshot(applied, membership, this.#kv.snapshot(), {
      trailingEntries: this.snapshotTrailingEntries,
    });
    this.#events.emit({ kind: 'snapshot-taken', index: applied });
  }

  #learnPeer(peerId: string, address: string): void {
    if (peerId === this.id || this.#peers.get(peerId) === address) {
      return;
    }
    this.#peers.set(peerId, address);
    this.#transport.addPeer(peerId, parseAddress(address));
  }

  #loadPeersFromState(): void {
    for (const [key, value] of this.#kv.range(peerKeyPrefix, `${peerKeyPrefix}\uffff`, 100_000)) {
      this.#learnPeer(key.slice(peerKeyPrefix.length), value);
    }
  }

  #stop(error: unknown): void {
    if (this.#closed) {
      return;
    }
    this.#stopError = error;
    this.#events.emit({ kind: 'stopped', error });
    void this.close();
  }
}
