/**
 * The Raft core: one node's protocol state machine, sans I/O. The driver feeds it
 * {@link RaftNode.tick}, {@link RaftNode.step} and {@link RaftNode.propose}, then loops:
 * `ready()`, persist its entries and hard state, send its messages, apply its committed
 * entries, `advance(ready)`.
 *
 * @module
 */

import {
  assert,
  InvalidArgumentError,
  type Random,
  requireBoolean,
  requireInteger,
  requireOneOf,
  requireOptions,
  requireString,
} from '../core/index.js';
import { RaftLog } from './log.js';
import { Progress } from './progress.js';
import { allMembers, committedIndex, isVoter, voteOutcome } from './quorum.js';
import type { RaftStorage } from './storage.js';
import {
  type AppendRequest,
  type AppendResponse,
  type Entry,
  type EntryType,
  entryBytes,
  entryHeaderBytes,
  type HardState,
  type Heartbeat,
  type HeartbeatResponse,
  type Membership,
  type NodeId,
  type RaftMessage,
  type RaftRole,
  type ReadState,
  type Snapshot,
  type SnapshotChunk,
  type SnapshotResponse,
  type SoftState,
  type VoteRequest,
} from './types.js';

/** How the leader serves linearizable reads. */
export type ReadOnlyMode = 'read-index' | 'lease';

/** Options for {@link RaftNode}. */
export interface RaftNodeOptions {
  /** This node's id. */
  readonly id: NodeId;
  /** The storage the node recovers from; the driver writes it from each ready. */
  readonly storage: RaftStorage;
  /**
   * The voters of a new cluster. Ignored when the storage already holds a membership
   * (a restarted node), required otherwise; `[]` for a node joining an existing cluster
   * (it learns the membership from the leader's snapshot).
   */
  readonly voters?: readonly NodeId[];
  /** The learners of a new cluster (non-voting members). Default none. */
  readonly learners?: readonly NodeId[];
  /** Draws the randomized election timeout, in [electionTicks, 2 × electionTicks). */
  readonly random: Random;
  /** Ticks without hearing from a leader before a follower campaigns. Default 10. */
  readonly electionTicks?: number;
  /** Ticks between a leader's heartbeats; must be less than `electionTicks`. Default 1. */
  readonly heartbeatTicks?: number;
  /** Poll voters before raising the term, so a rejoining node cannot disrupt. Default true. */
  readonly preVote?: boolean;
  /**
   * A leader steps down when it has not heard from a quorum for `electionTicks`, and a
   * voter that hears from a leader ignores vote requests for as long. Default true.
   */
  readonly checkQuorum?: boolean;
  /** Unacknowledged appends per follower in replicate state. Default 256. */
  readonly inflightMessageCountMax?: number;
  /** Unacknowledged entry bytes per follower. Default 16 MiB. */
  readonly inflightBytesMax?: number;
  /** Entry bytes per append message (at least one entry is sent); a larger proposal is dropped. Default 1 MiB. */
  readonly messageBytesMax?: number;
  /** Bytes of snapshot data per snapshot chunk message. Default `messageBytesMax`. */
  readonly snapshotChunkBytesMax?: number;
  /**
   * Bytes of the largest snapshot this node receives. Chunks of a larger one (by their
   * `totalBytes`) are dropped unbuffered, so a peer cannot make a follower hold more; a
   * follower that needs a larger snapshot cannot catch up. Default 1 GiB.
   */
  readonly snapshotBytesMax?: number;
  /** Bytes of proposed but uncommitted entries a leader accepts. Default 64 MiB. */
  readonly uncommittedBytesMax?: number;
  /** Bytes of committed entries per ready. Default 16 MiB. */
  readonly committedBytesMaxPerReady?: number;
  /** Pending read-index requests a leader holds. Default 4096. */
  readonly pendingReadCountMax?: number;
  /** `'read-index'` (default) or `'lease'` (needs `checkQuorum`; relies on bounded clock drift). */
  readonly readOnly?: ReadOnlyMode;
  /** Index the application has already applied (its snapshot); default the storage's snapshot. */
  readonly appliedIndex?: number;
}

/** Why a proposal or read was not accepted. */
export type DropReason =
  | 'no-leader'
  | 'transferring-leadership'
  | 'too-large'
  | 'uncommitted-limit'
  | 'not-a-member'
  | 'pending-reads-limit'
  | 'leader-not-ready'
  | 'config-change-pending';

/** The result of {@link RaftNode.propose}. */
export type ProposeResult =
  | { readonly status: 'appended'; readonly index: number; readonly term: number }
  | { readonly status: 'forwarded'; readonly leader: NodeId }
  | { readonly status: 'dropped'; readonly reason: DropReason };

/** The result of {@link RaftNode.readIndex}. */
export type ReadIndexResult =
  | { readonly status: 'pending' }
  | { readonly status: 'forwarded'; readonly leader: NodeId }
  | { readonly status: 'dropped'; readonly reason: DropReason };

/** The result of {@link RaftNode.transferLeadership}. */
export type TransferResult =
  | { readonly status: 'started' }
  | {
      readonly status: 'rejected';
      readonly reason: 'not-leader' | 'not-a-voter' | 'already-leader' | 'already-transferring';
    };

/**
 * What the driver must do, in order: persist `hardState`, `entries` and `snapshot`;
 * then send `messages`; then restore `snapshot` into the state machine and apply
 * `committedEntries`; serve `readStates` once applied ≥ their index; call `advance`.
 *
 * When `persistBeforeSend` is false (a leader whose term and vote did not change) the
 * driver may instead send `messages` and apply `committedEntries` first and persist
 * while the followers write the same entries (Raft thesis §10.2.1): the leader counts
 * its own entries towards a commit only after `advance` reports them persisted, so
 * every committed entry is already on a majority's disks. `advance` still comes last.
 */
export interface Ready {
  /** Present when the leader or role changed. */
  readonly softState?: SoftState;
  /** Present when term, vote or commit index changed: persist before sending. */
  readonly hardState?: HardState;
  /** Entries to append to stable storage before sending `messages`. */
  readonly entries: readonly Entry[];
  /** A snapshot from the leader: persist it, and restore the state machine from it. */
  readonly snapshot?: Snapshot;
  /** Messages to send, after persisting. */
  readonly messages: readonly RaftMessage[];
  /** Committed entries to apply, in order. */
  readonly committedEntries: readonly Entry[];
  /** Linearizable reads confirmed: serve each once the applied index reaches its index. */
  readonly readStates: readonly ReadState[];
  /**
   * True (the rule for every node but a steady leader): `messages` may depend on this
   * ready's hard state or entries, so persist them first. False: send and apply may
   * overlap the persisting (see {@link Ready}).
   */
  readonly persistBeforeSend: boolean;
}

/** A snapshot of a node's state for tests and status pages. */
export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly role: RaftRole;
  readonly leader: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly membership: Membership;
  /** Per follower, on a leader. */
  readonly progress: Readonly<
    Record<
      NodeId,
      { readonly matchIndex: number; readonly nextIndex: number; readonly state: string }
    >
  >;
}

interface PendingRead {
  readonly context: string;
  readonly index: number;
  /** The node to answer (`null`: this node's own readStates). */
  readonly requester: NodeId | null;
  readonly acknowledgements: Set<NodeId>;
}

const messageCountMaxPerReady = 1_000_000;

/**
 * One Raft node as a deterministic state machine. Nothing in it reads a clock, sets a
 * timer or does I/O: time is {@link tick}, the network is {@link step} and the returned
 * {@link Ready}, the disk is the {@link RaftStorage} the driver writes.
 *
 * @example
 * ```ts
 * const node = new RaftNode({ id: 'n1', voters: ['n1'], storage, random });
 * node.campaign();
 * const ready = node.ready(); // persist, send, apply, then:
 * node.advance(ready);
 * ```
 */
export class RaftNode {
  readonly id: NodeId;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly readOnly: ReadOnlyMode;
  readonly inflightMessageCountMax: number;
  readonly inflightBytesMax: number;
  readonly messageBytesMax: number;
  readonly snapshotChunkBytesMax: number;
  readonly snapshotBytesMax: number;
  readonly uncommittedBytesMax: number;
  readonly committedBytesMaxPerReady: number;
  readonly pendingReadCountMax: number;

  readonly #random: Random;
  readonly #log: RaftLog;
  #term = 0;
  #vote: NodeId | null = null;
  #role: RaftRole = 'follower';
  #leader: NodeId | null = null;
  #membership: Membership;
  readonly #progress = new Map<NodeId, Progress>();
  readonly #votes = new Map<NodeId, boolean>();
  #electionElapsed = 0;
  #heartbeatElapsed = 0;
  /** Ticks since this node started: the leader's clock for leases. */
  #tickCount = 0;
  #randomizedElectionTicks = 0;
  #transferee: NodeId | null = null;
  #uncommittedBytes = 0;
  /** Index of the latest config entry not yet applied (0: none). */
  #pendingConfigIndex = 0;
  #pendingReads: PendingRead[] = [];
  #messages: RaftMessage[] = [];
  #readStates: ReadState[] = [];
  /**
   * A snapshot being received: its chunks so far, copied into `buffer` (which grows by
   * doubling up to `totalBytes`, so memory follows the bytes received, not the size a
   * peer announces).
   */
  #incomingSnapshot: {
    metadata: Snapshot['metadata'];
    totalBytes: number;
    buffer: Uint8Array;
    bytes: number;
  } | null = null;
  #previousSoftState: SoftState;
  #previousHardState: HardState;
  /** A leader owes its followers an append (new entries or a new commit index) at the next ready. */
  #broadcastPending = false;
  /** A follower's proposals to forward to the leader at the next ready. */
  #forwardQueue: { type: EntryType; data: Uint8Array }[] = [];
  /** Data bytes in `#forwardQueue`, at most `uncommittedBytesMax`. */
  #forwardQueueBytes = 0;

  constructor(options: RaftNodeOptions) {
    requireOptions('options', options);
    this.id = requireString('options.id', options.id);
    this.electionTicks = requireInteger('options.electionTicks', options.electionTicks ?? 10, {
      min: 2,
      max: 1_000_000,
    });
    this.heartbeatTicks = requireInteger('options.heartbeatTicks', options.heartbeatTicks ?? 1, {
      min: 1,
      max: 1_000_000,
    });
    if (this.heartbeatTicks >= this.electionTicks) {
      throw new InvalidArgumentError(
        'options.heartbeatTicks',
        `options.heartbeatTicks (${this.heartbeatTicks}) must be less than options.electionTicks (${this.electionTicks}), or followers time out between heartbeats; a ratio of 10 is usual.`,
      );
    }
    this.preVote = requireBoolean('options.preVote', options.preVote ?? true);
    this.checkQuorum = requireBoolean('options.checkQuorum', options.checkQuorum ?? true);
    this.readOnly = requireOneOf('options.readOnly', options.readOnly ?? 'read-index', [
      'read-index',
      'lease',
    ]);
    if (this.readOnly === 'lease' && !this.checkQuorum) {
      throw new InvalidArgumentError(
        'options.readOnly',
        "options.readOnly 'lease' needs options.checkQuorum true: the lease is the time a leader that lost its quorum keeps leading.",
      );
    }
    this.inflightMessageCountMax = requireInteger(
      'options.inflightMessageCountMax',
      options.inflightMessageCountMax ?? 256,
      { min: 1, max: 1_000_000 },
    );
    this.inflightBytesMax = requireInteger(
      'options.inflightBytesMax',
      options.inflightBytesMax ?? 16 * 1024 * 1024,
      { min: 1 },
    );
    this.messageBytesMax = requireInteger(
      'options.messageBytesMax',
      options.messageBytesMax ?? 1024 * 1024,
      { min: 1 },
    );
    this.snapshotChunkBytesMax = requireInteger(
      'options.snapshotChunkBytesMax',
      options.snapshotChunkBytesMax ?? this.messageBytesMax,
      { min: 1 },
    );
    this.snapshotBytesMax = requireInteger(
      'options.snapshotBytesMax',
      options.snapshotBytesMax ?? 1024 * 1024 * 1024,
      { min: 1 },
    );
    this.uncommittedBytesMax = requireInteger(
      'options.uncommittedBytesMax',
      options.uncommittedBytesMax ?? 64 * 1024 * 1024,
      { min: 1 },
    );
    this.committedBytesMaxPerReady = requireInteger(
      'options.committedBytesMaxPerReady',
      options.committedBytesMaxPerReady ?? 16 * 1024 * 1024,
      { min: 1 },
    );
    this.pendingReadCountMax = requireInteger(
      'options.pendingReadCountMax',
      options.pendingReadCountMax ?? 4096,
      { min: 1, max: 1_000_000 },
    );
    this.#random = options.random;
    this.#log = new RaftLog(options.storage);
    const initial = options.storage.initialState();
    let membership = initial.membership;
    if (membership.voters.length === 0) {
      if (options.voters === undefined) {
        throw new InvalidArgumentError(
          'options.voters',
          'options.voters must list the voters of a new cluster (the storage holds no membership); pass [] for a node that joins an existing cluster and learns it from the leader.',
        );
      }
      membership = {
        voters: [...new Set(options.voters)].sort(),
        votersOutgoing: [],
        learners: [...new Set(options.learners ?? [])].sort(),
      };
    }
    this.#membership = membership;
    const hardState = initial.hardState;
    this.#term = hardState.term;
    this.#vote = hardState.vote;
    if (hardState.commitIndex > 0) {
      assert(
        hardState.commitIndex <= this.#log.lastIndex(),
        () => `commit ${hardState.commitIndex} past the last index ${this.#log.lastIndex()}`,
      );
      this.#log.commitTo(hardState.commitIndex);
    }
    if (options.appliedIndex !== undefined) {
      this.#log.appliedTo(requireInteger('options.appliedIndex', options.appliedIndex, { min: 0 }));
    }
    this.#becomeFollower(this.#term, null);
    this.#previousSoftState = this.#softState();
    this.#previousHardState = this.#hardState();
  }

  // ---------------------------------------------------------------- inputs

  /** One unit of logical time: elections and heartbeats are counted in ticks. */
  tick(): void {
    this.#tickCount += 1;
    if (this.#role === 'leader') {
      this.#tickLeader();
    } else {
      this.#tickElection();
    }
  }

  /** Starts an election now (if this node is a voter and not the leader). */
  campaign(): void {
    this.#hup(false);
  }

  /**
   * Proposes application data. On the leader: appended, with its index and term (it is
   * committed once applied with that term). On a follower: forwarded to the leader (it may
   * be lost; retry on timeout). Dropped, with the reason, when no leader is known, a
   * leadership transfer is under way, or a limit is reached.
   */
  propose(data: Uint8Array): ProposeResult {
    return this.#propose('normal', data, null);
  }

  /**
   * Proposes a membership change by joint consensus: `voters` become the new voters and
   * `learners` the learners; the node enters the joint configuration when the entry is
   * applied and leaves it automatically. Only one change may be pending.
   */
  proposeMembership(change: {
    voters: readonly NodeId[];
    learners?: readonly NodeId[];
  }): ProposeResult {
    const voters = [...new Set(change.voters)].sort();
    if (voters.length === 0) {
      throw new InvalidArgumentError('change.voters', 'A membership needs at least one voter.');
    }
    const learners = [...new Set(change.learners ?? [])]
      .filter((id) => !voters.includes(id))
      .sort();
    const data = new TextEncoder().encode(
      JSON.stringify({ kind: 'enter-joint', voters, learners }),
    );
    return this.#propose('config', data, null);
  }

  /**
   * Requests a linearizable read: when confirmed, a {@link ReadState} with `context` and
   * the commit index appears in a later ready; serve the read once the applied index
   * reaches it.
   *
   * `options.mode` overrides the node's `readOnly` for this read. `'lease'` needs
   * `checkQuorum`; it is answered from the lease only on the leader itself: a follower
   * forwards every read, and the leader answers forwarded reads in its own `readOnly`
   * mode.
   */
  readIndex(context: string, options: { readonly mode?: ReadOnlyMode } = {}): ReadIndexResult {
    requireString('context', context, true);
    const mode =
      options.mode === undefined
        ? this.readOnly
        : requireOneOf('options.mode', options.mode, ['read-index', 'lease']);
    if (mode === 'lease' && !this.checkQuorum) {
      throw new InvalidArgumentError(
        'options.mode',
        "A 'lease' read needs the node's checkQuorum true: the lease is the time a leader that lost its quorum keeps leading.",
      );
    }
    if (this.#role === 'leader') {
      return this.#leaderReadIndex(context, null, mode);
    }
    if (this.#leader === null) {
      return { status: 'dropped', reason: 'no-leader' };
    }
    this.#send({ type: 'read-index', from: this.id, to: this.#leader, term: 0, context });
    return { status: 'forwarded', leader: this.#leader };
  }

  /** On the leader: hands leadership to `to` once its log is up to date. */
  transferLeadership(to: NodeId): TransferResult {
    if (this.#role !== 'leader') {
      return { status: 'rejected', reason: 'not-leader' };
    }
    if (to === this.id) {
      return { status: 'rejected', reason: 'already-leader' };
    }
    if (!isVoter(this.#membership, to)) {
      return { status: 'rejected', reason: 'not-a-voter' };
    }
    if (this.#transferee !== null) {
      return { status: 'rejected', reason: 'already-transferring' };
    }
    this.#transferee = to;
    this.#electionElapsed = 0;
    const progress = this.#progress.get(to) as Progress;
    if (progress.matchIndex === this.#log.lastIndex()) {
      this.#send({ type: 'timeout-now', from: this.id, to, term: this.#term });
    } else {
      this.#sendAppend(to);
    }
    return { status: 'started' };
  }

  /**
   * Feeds one message from the network. Messages for another node, and messages that
   * claim to come from this one, are ignored. A sender outside the membership is heard
   * as the Raft paper asks (a node may be behind on membership changes, or joining): its
   * term counts, its requests are answered, and a leader's messages are followed; but
   * its votes are not counted, and a leader ignores its responses. Check a value from
   * the network with `parseRaftMessage` before stepping it: this method trusts
   * the shape of its argument.
   */
  step(message: RaftMessage): void {
    if (message.to !== this.id || message.from === this.id) {
      return;
    }
    if (message.term === 0) {
      this.#stepLocal(message);
      return;
    }
    if (message.term > this.#term) {
      if (message.type === 'vote-request' || message.type === 'pre-vote-request') {
        const inLease =
          this.checkQuorum && this.#leader !== null && this.#electionElapsed < this.electionTicks;
        if (!message.transfer && inLease) {
          // A leader was heard from within an election timeout: this voter does not help
          // a (possibly partitioned) node disrupt it.
          return;
        }
      }
      if (message.type === 'pre-vote-request') {
        // A poll never changes the term.
      } else if (message.type === 'pre-vote-response' && message.granted) {
        // Granted polls carry the future term; the term rises when the election starts.
      } else if (
        message.type === 'append' ||
        message.type === 'heartbeat' ||
        message.type === 'snapshot'
      ) {
        this.#becomeFollower(message.term, message.from);
      } else {
        this.#becomeFollower(message.term, null);
      }
    } else if (message.term < this.#term) {
      if (
        (this.checkQuorum || this.preVote) &&
        (message.type === 'append' || message.type === 'heartbeat')
      ) {
        // Tell a stale leader about the new term, or a node partitioned with pre-vote on
        // would never raise its term and stay away forever.
        this.#send({
          type: 'append-response',
          from: this.id,
          to: message.from,
          term: this.#term,
          index: 0,
          rejected: false,
          hintIndex: 0,
          hintTerm: 0,
        });
      } else if (message.type === 'pre-vote-request') {
        this.#send({
          type: 'pre-vote-response',
          from: this.id,
          to: message.from,
          term: this.#term,
          granted: false,
        });
      }
      return;
    }

    if (message.type === 'vote-request' || message.type === 'pre-vote-request') {
      this.#handleVoteRequest(message);
      return;
    }
    switch (this.#role) {
      case 'leader':
        this.#stepLeader(message);
        break;
      case 'candidate':
      case 'pre-candidate':
        this.#stepCandidate(message);
        break;
      case 'follower':
        this.#stepFollower(message);
        break;
    }
  }

  // ---------------------------------------------------------------- outputs

  /** True when {@link ready} has something to persist, send, apply or report. */
  hasReady(): boolean {
    if ((this.#broadcastPending && this.#role === 'leader') || this.#forwardQueue.length > 0) {
      return true;
    }
    const soft = this.#softState();
    if (
      soft.leader !== this.#previousSoftState.leader ||
      soft.role !== this.#previousSoftState.role
    ) {
      return true;
    }
    const hard = this.#hardState();
    if (!sameHardState(hard, this.#previousHardState)) {
      return true;
    }
    return (
      this.#messages.length > 0 ||
      this.#readStates.length > 0 ||
      this.#log.hasUnstableEntries() ||
      this.#log.unstableSnapshot() !== null ||
      this.#log.hasNextCommittedEntries()
    );
  }

  /** Collects what the driver must do; hand it back to {@link advance} when done. */
  ready(): Ready {
    if (this.#broadcastPending) {
      this.#broadcastPending = false;
      if (this.#role === 'leader') {
        this.#sendPendingAppends();
      }
    }
    if (this.#forwardQueue.length > 0) {
      this.#forwardProposals();
    }
    const soft = this.#softState();
    const hard = this.#hardState();
    const snapshot = this.#log.unstableSnapshot();
    const ready: Ready = {
      ...(soft.leader !== this.#previousSoftState.leader ||
      soft.role !== this.#previousSoftState.role
        ? { softState: soft }
        : {}),
      ...(sameHardState(hard, this.#previousHardState) ? {} : { hardState: hard }),
      entries: this.#log.unstableEntries(),
      ...(snapshot === null ? {} : { snapshot }),
      messages: this.#messages,
      committedEntries: this.#log.nextCommittedEntries(this.committedBytesMaxPerReady),
      readStates: this.#readStates,
      persistBeforeSend: !(
        this.#role === 'leader' &&
        hard.term === this.#previousHardState.term &&
        hard.vote === this.#previousHardState.vote
      ),
    };
    assert(this.#messages.length < messageCountMaxPerReady, 'too many messages in one ready');
    this.#messages = [];
    this.#readStates = [];
    this.#previousSoftState = soft;
    this.#previousHardState = hard;
    return ready;
  }

  /** The driver has persisted, sent and applied everything in `ready`. */
  advance(ready: Ready): void {
    const lastEntry = ready.entries[ready.entries.length - 1];
    if (lastEntry !== undefined) {
      this.#log.stableTo(lastEntry.index, lastEntry.term);
    }
    if (ready.snapshot !== undefined) {
      this.#log.stableSnapshotTo(ready.snapshot.metadata.index);
    }
    if (this.#role === 'leader') {
      // Now durable here: the leader's own copy counts towards the commit.
      const own = this.#progress.get(this.id);
      if (own?.maybeUpdate(this.#log.lastStableIndex()) === true && this.#maybeCommit()) {
        this.#broadcastPending = true;
      }
    }
    const lastCommitted = ready.committedEntries[ready.committedEntries.length - 1];
    if (lastCommitted !== undefined) {
      for (const entry of ready.committedEntries) {
        this.#applyEntry(entry);
      }
      this.#log.appliedTo(lastCommitted.index);
    }
  }

  // ---------------------------------------------------------------- status

  /** The current term, vote, role, indexes, membership and (on a leader) progress. */
  status(): RaftStatus {
    const progress: Record<NodeId, { matchIndex: number; nextIndex: number; state: string }> = {};
    if (this.#role === 'leader') {
      for (const [id, value] of this.#progress) {
        progress[id] = {
          matchIndex: value.matchIndex,
          nextIndex: value.nextIndex,
          state: value.state,
        };
      }
    }
    return {
      id: this.id,
      term: this.#term,
      vote: this.#vote,
      role: this.#role,
      leader: this.#leader,
      commitIndex: this.#log.committedIndex,
      appliedIndex: this.#log.appliedIndex,
      lastIndex: this.#log.lastIndex(),
      membership: this.#membership,
      progress,
    };
  }

  get role(): RaftRole {
    return this.#role;
  }

  get term(): number {
    return this.#term;
  }

  get leader(): NodeId | null {
    return this.#leader;
  }

  /** The membership in force (the latest applied configuration). */
  get membership(): Membership {
    return this.#membership;
  }

  /** The term of the entry at `index` in this node's log, if present. */
  logTerm(index: number): number | undefined {
    return this.#log.term(index);
  }

  // ---------------------------------------------------------------- roles

  #softState(): SoftState {
    return { leader: this.#leader, role: this.#role };
  }

  #hardState(): HardState {
    return { term: this.#term, vote: this.#vote, commitIndex: this.#log.committedIndex };
  }

  #reset(term: number): void {
    this.#broadcastPending = false;
    if (this.#term !== term) {
      this.#term = term;
      this.#vote = null;
    }
    this.#leader = null;
    this.#electionElapsed = 0;
    this.#heartbeatElapsed = 0;
    this.#randomizedElectionTicks = this.#random.integer(
      this.electionTicks,
      2 * this.electionTicks - 1,
    );
    this.#votes.clear();
    this.#transferee = null;
    this.#pendingReads = [];
    this.#uncommittedBytes = 0;
    this.#progress.clear();
    const lastIndex = this.#log.lastIndex();
    for (const id of allMembers(this.#membership)) {
      const progress = new Progress(
        lastIndex + 1,
        this.inflightMessageCountMax,
        this.inflightBytesMax,
      );
      if (id === this.id) {
        progress.matchIndex = this.#log.lastStableIndex();
      }
      this.#progress.set(id, progress);
    }
  }

  #becomeFollower(term: number, leader: NodeId | null): void {
    this.#reset(term);
    this.#role = 'follower';
    this.#leader = leader;
  }

  #becomePreCandidate(): void {
    assert(this.#role !== 'leader', 'a leader cannot become a pre-candidate');
    // The term and vote stay: a poll changes no persistent state.
    this.#votes.clear();
    this.#role = 'pre-candidate';
    this.#leader = null;
  }

  #becomeCandidate(): void {
    assert(this.#role !== 'leader', 'a leader cannot become a candidate');
    this.#reset(this.#term + 1);
    this.#vote = this.id;
    this.#role = 'candidate';
  }

  #becomeLeader(): void {
    assert(this.#role === 'candidate', 'only a candidate becomes leader');
    this.#reset(this.#term);
    this.#role = 'leader';
    this.#leader = this.id;
    for (const [id, progress] of this.#progress) {
      progress.recentActive = id === this.id;
    }
    // A leader may not count replicas of older terms' entries (Raft §5.4.2); an empty
    // entry of its own term commits them, and lets it serve reads.
    const lastIndex = this.#log.lastIndex();
    for (let index = this.#log.committedIndex + 1; index <= lastIndex; index += 1) {
      const entry = this.#log.entries(index, index + 1, 1)?.[0];
      if (entry?.type === 'config') {
        this.#pendingConfigIndex = index;
      }
    }
    this.#appendEntries([{ type: 'normal', data: new Uint8Array(0) }]);
  }

  #tickElection(): void {
    this.#electionElapsed += 1;
    // Only a voter restarts its count when it times out. A learner (or a node removed
    // from the voters) keeps counting, so its lease on the last leader expires and it
    // answers other candidates' polls; resetting it would keep it "in lease" forever and
    // a joint configuration that needs its vote could never elect a leader (found by the
    // membership sweep, seed 268 with 5 nodes).
    if (this.#promotable() && this.#electionElapsed >= this.#randomizedElectionTicks) {
      this.#electionElapsed = 0;
      this.#hup(false);
    }
  }

  #tickLeader(): void {
    this.#heartbeatElapsed += 1;
    this.#electionElapsed += 1;
    if (this.#electionElapsed >= this.electionTicks) {
      this.#electionElapsed = 0;
      if (this.checkQuorum && !this.#quorumActive()) {
        this.#becomeFollower(this.#term, null);
        return;
      }
      this.#transferee = null; // a transfer that did not finish in an election timeout
      if (
        this.#membership.votersOutgoing.length > 0 &&
        this.#pendingConfigIndex <= this.#log.appliedIndex
      ) {
        // A joint configuration inherited from a previous leader: leave it.
        const data = new TextEncoder().encode(JSON.stringify({ kind: 'leave-joint' }));
        this.#pendingConfigIndex = this.#appendEntries([{ type: 'config', data }]);
        this.#broadcastAppend();
      }
    }
    if (this.#heartbeatElapsed >= this.heartbeatTicks) {
      this.#heartbeatElapsed = 0;
      this.#broadcastHeartbeat(this.#pendingReads[this.#pendingReads.length - 1]?.context ?? null);
    }
  }

  /** True when a quorum was heard from since the last check; resets the marks. */
  #quorumActive(): boolean {
    const votes = new Map<NodeId, boolean>();
    for (const [id, progress] of this.#progress) {
      votes.set(id, id === this.id || progress.recentActive);
      if (id !== this.id) {
        progress.recentActive = false;
      }
    }
    return voteOutcome(this.#membership, votes) === 'won';
  }

  #promotable(): boolean {
    return isVoter(this.#membership, this.id);
  }

  #hup(transfer: boolean): void {
    if (this.#role === 'leader' || !this.#promotable()) {
      return;
    }
    if (
      this.#pendingConfigIndex > this.#log.appliedIndex &&
      this.#log.committedIndex > this.#log.appliedIndex
    ) {
      // A configuration change is committed but not applied: campaigning now could use
      // the wrong membership.
      return;
    }
    if (this.preVote && !transfer) {
      this.#becomePreCandidate();
      this.#requestVotes('pre-vote-request', this.#term + 1, false);
    } else {
      this.#becomeCandidate();
      this.#requestVotes('vote-request', this.#term, transfer);
    }
  }

  #requestVotes(type: 'vote-request' | 'pre-vote-request', term: number, transfer: boolean): void {
    this.#votes.set(this.id, true);
    if (this.#tallyVotes() !== 'pending') {
      return;
    }
    const lastLogIndex = this.#log.lastIndex();
    const lastLogTerm = this.#log.lastTerm();
    for (const id of allMembers(this.#membership)) {
      if (id !== this.id && isVoter(this.#membership, id)) {
        this.#send({ type, from: this.id, to: id, term, lastLogIndex, lastLogTerm, transfer });
      }
    }
  }

  /** Acts on the votes so far: the next phase when won, a follower when lost. */
  #tallyVotes(): 'won' | 'lost' | 'pending' {
    const outcome = voteOutcome(this.#membership, this.#votes);
    if (outcome === 'won') {
      if (this.#role === 'pre-candidate') {
        this.#becomeCandidate();
        this.#requestVotes('vote-request', this.#term, false);
      } else {
        this.#becomeLeader();
        this.#broadcastAppend();
      }
    } else if (outcome === 'lost') {
      this.#becomeFollower(this.#term, null);
    }
    return outcome;
  }

  #handleVoteRequest(message: VoteRequest): void {
    const preVote = message.type === 'pre-vote-request';
    const canVote =
      this.#vote === message.from ||
      (this.#vote === null && this.#leader === null) ||
      (preVote && message.term > this.#term);
    const granted = canVote && this.#log.isUpToDate(message.lastLogIndex, message.lastLogTerm);
    this.#send({
      type: preVote ? 'pre-vote-response' : 'vote-response',
      from: this.id,
      to: message.from,
      // A granted poll answers in the poll's term, so the pre-candidate counts it.
      term: granted ? message.term : this.#term,
      granted,
    });
    if (granted && !preVote) {
      this.#electionElapsed = 0;
      this.#vote = message.from;
    }
  }

  // ---------------------------------------------------------------- per role

  #stepLocal(message: RaftMessage): void {
    if (message.type === 'propose') {
      if (this.#role === 'leader') {
        for (const entry of message.entries) {
          this.#propose(entry.type, entry.data, message.from);
        }
      } else if (this.#leader !== null && message.from !== this.#leader) {
        // Forward once more (the sender's view of the leader was stale).
        this.#send({ ...message, from: this.id, to: this.#leader });
      }
    } else if (message.type === 'read-index') {
      if (this.#role === 'leader') {
        this.#leaderReadIndex(message.context, message.from);
      }
    }
  }

  #stepLeader(message: RaftMessage): void {
    const progress = this.#progress.get(message.from);
    if (progress === undefined) {
      return;
    }
    switch (message.type) {
      case 'append-response':
        progress.recentActive = true;
        this.#handleAppendResponse(message, progress);
        break;
      case 'heartbeat-response':
        progress.recentActive = true;
        this.#handleHeartbeatResponse(message, progress);
        break;
      case 'snapshot-response':
        progress.recentActive = true;
        this.#handleSnapshotResponse(message, progress);
        break;
      default:
        break;
    }
  }

  #stepCandidate(message: RaftMessage): void {
    switch (message.type) {
      case 'append':
        this.#becomeFollower(message.term, message.from);
        this.#handleAppend(message);
        break;
      case 'heartbeat':
        this.#becomeFollower(message.term, message.from);
        this.#handleHeartbeat(message);
        break;
      case 'snapshot':
        this.#becomeFollower(message.term, message.from);
        this.#handleSnapshot(message);
        break;
      case 'vote-response':
      case 'pre-vote-response': {
        const expected = this.#role === 'pre-candidate' ? 'pre-vote-response' : 'vote-response';
        // Only voters count, and only they are recorded: the map stays bounded.
        if (message.type === expected && isVoter(this.#membership, message.from)) {
          this.#votes.set(message.from, message.granted);
          this.#tallyVotes();
        }
        break;
      }
      default:
        break;
    }
  }

  #stepFollower(message: RaftMessage): void {
    switch (message.type) {
      case 'append':
        this.#electionElapsed = 0;
        this.#leader = message.from;
        this.#handleAppend(message);
        break;
      case 'heartbeat':
        this.#electionElapsed = 0;
        this.#leader = message.from;
        this.#handleHeartbeat(message);
        break;
      case 'snapshot':
        this.#electionElapsed = 0;
        this.#leader = message.from;
        this.#handleSnapshot(message);
        break;
      case 'timeout-now':
        // Leadership transfer: campaign at once, skipping pre-vote and the lease. Only the
        // leader of this term may ask.
        if (message.from === this.#leader) {
          this.#hup(true);
        }
        break;
      case 'read-index-response':
        // Only the leader of this term confirms reads; from anyone else it could be stale.
        if (message.from === this.#leader) {
          this.#readStates.push({ index: message.index, context: message.context });
        }
        break;
      default:
        break;
    }
  }

  // ---------------------------------------------------------------- proposals

  #propose(type: EntryType, data: Uint8Array, from: NodeId | null): ProposeResult {
    if (!(data instanceof Uint8Array)) {
      throw new InvalidArgumentError('data', 'A proposal must be a Uint8Array.');
    }
    if (this.#role !== 'leader') {
      if (this.#leader === null) {
        return { status: 'dropped', reason: 'no-leader' };
      }
      if (from !== null) {
        return { status: 'dropped', reason: 'no-leader' };
      }
      if (data.byteLength + entryHeaderBytes > this.messageBytesMax) {
        return { status: 'dropped', reason: 'too-large' };
      }
      if (this.#forwardQueueBytes + data.byteLength > this.uncommittedBytesMax) {
        return { status: 'dropped', reason: 'uncommitted-limit' };
      }
      // Forwarded with the next ready, together with every proposal made until then.
      this.#forwardQueue.push({ type, data });
      this.#forwardQueueBytes += data.byteLength;
      return { status: 'forwarded', leader: this.#leader };
    }
    if (this.#transferee !== null) {
      return { status: 'dropped', reason: 'transferring-leadership' };
    }
    if (!this.#progress.has(this.id)) {
      return { status: 'dropped', reason: 'not-a-member' };
    }
    const bytes = data.byteLength + 16;
    if (bytes > this.messageBytesMax) {
      return { status: 'dropped', reason: 'too-large' };
    }
    if (this.#uncommittedBytes > 0 && this.#uncommittedBytes + bytes > this.uncommittedBytesMax) {
      return { status: 'dropped', reason: 'uncommitted-limit' };
    }
    if (type === 'config') {
      if (
        this.#pendingConfigIndex > this.#log.appliedIndex ||
        this.#membership.votersOutgoing.length > 0
      ) {
        return { status: 'dropped', reason: 'config-change-pending' };
      }
    }
    const index = this.#appendEntries([{ type, data }]);
    if (type === 'config') {
      this.#pendingConfigIndex = index;
    }
    // Sent with the next ready: every proposal made until then travels in one append.
    this.#broadcastPending = true;
    return { status: 'appended', index, term: this.#term };
  }

  /** Appends to the leader's log; returns the last new index. */
  #appendEntries(items: readonly { type: EntryType; data: Uint8Array }[]): number {
    let index = this.#log.lastIndex();
    const entries: Entry[] = [];
    for (const item of items) {
      index += 1;
      entries.push({ term: this.#term, index, type: item.type, data: item.data });
      this.#uncommittedBytes += item.data.byteLength;
    }
    this.#log.append(entries);
    // The leader's own entries count towards the commit only once the driver has
    // persisted them (see advance), so it may send them to followers while it persists.
    return index;
  }

  #maybeCommit(): boolean {
    const index = committedIndex(this.#membership, (id) => this.#progress.get(id)?.matchIndex ?? 0);
    const before = this.#log.committedIndex;
    if (this.#log.maybeCommit(index, this.#term)) {
      if (this.#log.committedIndex >= this.#log.lastIndex()) {
        this.#uncommittedBytes = 0;
      } else {
        for (const entry of this.#log.entries(before + 1, index + 1, Number.MAX_SAFE_INTEGER) ??
          []) {
          this.#uncommittedBytes = Math.max(0, this.#uncommittedBytes - entry.data.byteLength);
        }
      }
      return true;
    }
    return false;
  }

  // ---------------------------------------------------------------- replication

  /**
   * The appends owed since the last ready: new entries to each follower that lacks them,
   * else an empty append to each follower that has not been sent the commit index yet.
   */
  #sendPendingAppends(): void {
    const lastIndex = this.#log.lastIndex();
    const committed = this.#log.committedIndex;
    for (const [id, progress] of this.#progress) {
      if (id === this.id) {
        continue;
      }
      if (progress.nextIndex <= lastIndex) {
        this.#sendAppend(id, false);
      } else if (progress.commitIndexSent < committed) {
        this.#sendAppend(id);
      }
    }
  }

  /**
   * Sends the queued proposals to the leader in messages of at most `messageBytesMax`.
   * With no leader to send them to (it was lost, or this node leads now) they are
   * dropped: a forwarded proposal may be lost, and its proposer times out.
   */
  #forwardProposals(): void {
    const queue = this.#forwardQueue;
    this.#forwardQueue = [];
    this.#forwardQueueBytes = 0;
    const leader = this.#leader;
    if (leader === null || leader === this.id) {
      return;
    }
    let batch: { type: EntryType; data: Uint8Array }[] = [];
    let bytes = 0;
    for (const item of queue) {
      const size = item.data.byteLength + entryHeaderBytes;
      if (batch.length > 0 && bytes + size > this.messageBytesMax) {
        this.#send({ type: 'propose', from: this.id, to: leader, term: 0, entries: batch });
        batch = [];
        bytes = 0;
      }
      batch.push(item);
      bytes += size;
    }
    this.#send({ type: 'propose', from: this.id, to: leader, term: 0, entries: batch });
  }

  #broadcastAppend(): void {
    for (const id of this.#progress.keys()) {
      if (id !== this.id) {
        this.#sendAppend(id);
      }
    }
  }

  /** Sends appends to `to` while its flow control allows; a snapshot when needed. */
  #sendAppend(to: NodeId, sendEmpty = true): void {
    const progress = this.#progress.get(to);
    if (progress === undefined) {
      return;
    }
    let sentEmpty = !sendEmpty;
    // Bounded by the in-flight limits: each pass either sends or stops.
    for (let pass = 0; pass <= this.inflightMessageCountMax; pass += 1) {
      if (progress.isPaused()) {
        return;
      }
      const previousIndex = progress.nextIndex - 1;
      const previousTerm = this.#log.term(previousIndex);
      const entries = this.#log.entries(
        progress.nextIndex,
        this.#log.lastIndex() + 1,
        this.messageBytesMax,
      );
      if (previousTerm === undefined || entries === undefined) {
        this.#sendSnapshot(to, progress);
        return;
      }
      if (entries.length === 0 && sentEmpty) {
        return;
      }
      let bytes = 0;
      for (const entry of entries) {
        bytes += entryBytes(entry);
      }
      this.#send({
        type: 'append',
        from: this.id,
        to,
        term: this.#term,
        previousIndex,
        previousTerm,
        entries,
        commitIndex: this.#log.committedIndex,
      });
      progress.sentEntries(previousIndex + entries.length, entries.length, bytes);
      progress.commitIndexSent = Math.max(progress.commitIndexSent, this.#log.committedIndex);
      sentEmpty = true;
      if (entries.length === 0 || progress.state !== 'replicate') {
        return;
      }
    }
  }

  #sendSnapshot(to: NodeId, progress: Progress): void {
    const snapshot = this.#log.storage.snapshot();
    if (snapshot.metadata.index === 0) {
      return; // nothing compacted yet can only mean the follower is probing below 1
    }
    if (
      progress.state !== 'snapshot' ||
      progress.pendingSnapshotIndex !== snapshot.metadata.index
    ) {
      progress.becomeSnapshot(snapshot.metadata.index);
    }
    this.#sendSnapshotChunk(to, progress, snapshot);
  }

  #sendSnapshotChunk(to: NodeId, progress: Progress, snapshot: Snapshot): void {
    const offset = progress.snapshotOffset;
    const end = Math.min(snapshot.data.byteLength, offset + this.snapshotChunkBytesMax);
    const message: SnapshotChunk = {
      type: 'snapshot',
      from: this.id,
      to,
      term: this.#term,
      metadata: snapshot.metadata,
      offset,
      totalBytes: snapshot.data.byteLength,
      data: snapshot.data.subarray(offset, end),
      done: end >= snapshot.data.byteLength,
    };
    this.#send(message);
  }

  #handleSnapshotResponse(message: SnapshotResponse, progress: Progress): void {
    if (progress.state !== 'snapshot' || message.index !== progress.pendingSnapshotIndex) {
      return;
    }
    const snapshot = this.#log.storage.snapshot();
    if (snapshot.metadata.index !== message.index) {
      progress.becomeProbe();
      this.#sendAppend(message.from);
      return;
    }
    if (message.offset > progress.snapshotOffset && message.offset <= snapshot.data.byteLength) {
      progress.snapshotOffset = message.offset;
      if (message.offset < snapshot.data.byteLength) {
        this.#sendSnapshotChunk(message.from, progress, snapshot);
      }
    }
  }

  #broadcastHeartbeat(context: string | null): void {
    for (const [id, progress] of this.#progress) {
      if (id === this.id) {
        continue;
      }
      const message: Heartbeat = {
        type: 'heartbeat',
        from: this.id,
        to: id,
        term: this.#term,
        // Never past the follower's match: it might not have those entries.
        commitIndex: Math.min(progress.matchIndex, this.#log.committedIndex),
        context,
        sentAtTick: this.#tickCount,
      };
      this.#send(message);
    }
  }

  #handleAppendResponse(message: AppendResponse, progress: Progress): void {
    const from = message.from;
    if (message.rejected) {
      let probeIndex = message.hintIndex;
      if (message.hintTerm > 0) {
        probeIndex = this.#log.findConflictByTerm(message.hintIndex, message.hintTerm);
      }
      if (progress.maybeDecreaseTo(message.index, probeIndex)) {
        if (progress.state === 'replicate') {
          progress.becomeProbe();
        }
        this.#sendAppend(from);
      }
      return;
    }
    const wasPaused = progress.isPaused();
    if (progress.maybeUpdate(message.index)) {
      if (progress.state === 'probe') {
        progress.becomeReplicate();
      } else if (
        progress.state === 'snapshot' &&
        progress.matchIndex >= progress.pendingSnapshotIndex
      ) {
        progress.becomeProbe();
        progress.becomeReplicate();
      }
      if (this.#maybeCommit()) {
        // The new commit index goes out with the next ready, once for all the answers
        // that arrived meanwhile.
        this.#broadcastPending = true;
      } else if (wasPaused) {
        this.#sendAppend(from);
      }
      this.#sendAppend(from, false);
      if (from === this.#transferee && progress.matchIndex === this.#log.lastIndex()) {
        this.#send({ type: 'timeout-now', from: this.id, to: from, term: this.#term });
      }
    }
  }

  #handleHeartbeatResponse(message: HeartbeatResponse, progress: Progress): void {
    progress.leaseSentAtTick = Math.max(progress.leaseSentAtTick, message.sentAtTick);
    if (progress.state === 'snapshot') {
      // A chunk may have been lost: send the one the follower is waiting for again.
      const snapshot = this.#log.storage.snapshot();
      if (snapshot.metadata.index === progress.pendingSnapshotIndex) {
        this.#sendSnapshotChunk(message.from, progress, snapshot);
      } else {
        progress.becomeProbe();
        this.#sendAppend(message.from);
      }
    } else {
      progress.probeSent = false;
      if (progress.matchIndex < this.#log.lastIndex()) {
        this.#sendAppend(message.from);
      }
    }
    if (message.context !== null) {
      this.#acknowledgeRead(message.context, message.from);
    }
  }

  #handleAppend(message: AppendRequest): void {
    if (message.previousIndex < this.#log.committedIndex) {
      this.#sendAppendResponse(message.from, this.#log.committedIndex, false, 0, 0);
      return;
    }
    const lastNew = this.#log.maybeAppend(
      message.previousIndex,
      message.previousTerm,
      message.commitIndex,
      message.entries,
    );
    if (lastNew !== undefined) {
      this.#sendAppendResponse(message.from, lastNew, false, 0, 0);
      return;
    }
    // Fast backtracking: point the leader at the last entry that may still match, so
    // it skips every entry of a term this log does not have in one round trip.
    const hintIndex = this.#log.findConflictByTerm(
      Math.min(message.previousIndex, this.#log.lastIndex()),
      message.previousTerm,
    );
    const hintTerm = this.#log.term(hintIndex) ?? 0;
    this.#sendAppendResponse(message.from, message.previousIndex, true, hintIndex, hintTerm);
  }

  #sendAppendResponse(
    to: NodeId,
    index: number,
    rejected: boolean,
    hintIndex: number,
    hintTerm: number,
  ): void {
    this.#send({
      type: 'append-response',
      from: this.id,
      to,
      term: this.#term,
      index,
      rejected,
      hintIndex,
      hintTerm,
    });
  }

  #handleHeartbeat(message: Heartbeat): void {
    // A leader never sends a commit index past the follower's match; one past this log's
    // end comes from a faulty peer, and committing entries this node lacks is impossible.
    if (message.commitIndex <= this.#log.lastIndex()) {
      this.#log.commitTo(message.commitIndex);
    }
    this.#send({
      type: 'heartbeat-response',
      from: this.id,
      to: message.from,
      term: this.#term,
      context: message.context,
      sentAtTick: message.sentAtTick,
    });
  }

  #handleSnapshot(message: SnapshotChunk): void {
    const metadata = message.metadata;
    const respond = (offset: number): void => {
      this.#send({
        type: 'snapshot-response',
        from: this.id,
        to: message.from,
        term: this.#term,
        index: metadata.index,
        offset,
      });
    };
    if (metadata.index <= this.#log.committedIndex) {
      this.#incomingSnapshot = null;
      this.#sendAppendResponse(message.from, this.#log.committedIndex, false, 0, 0);
      return;
    }
    const chunkBytes = message.data.byteLength;
    const end = message.offset + chunkBytes;
    if (
      message.totalBytes > this.snapshotBytesMax ||
      end > message.totalBytes ||
      message.done !== (end === message.totalBytes)
    ) {
      // Too large for this node, or a chunk that does not fit the size it announces:
      // drop it without buffering anything (the leader resends on the next heartbeat).
      if (
        this.#incomingSnapshot?.metadata.index === metadata.index &&
        this.#incomingSnapshot.metadata.term === metadata.term
      ) {
        this.#incomingSnapshot = null;
      }
      return;
    }
    let incoming = this.#incomingSnapshot;
    if (
      incoming === null ||
      incoming.metadata.index !== metadata.index ||
      incoming.metadata.term !== metadata.term ||
      incoming.totalBytes !== message.totalBytes
    ) {
      if (message.offset !== 0) {
        respond(0);
        return;
      }
      incoming = { metadata, totalBytes: message.totalBytes, buffer: new Uint8Array(0), bytes: 0 };
      this.#incomingSnapshot = incoming;
    }
    if (message.offset !== incoming.bytes) {
      respond(incoming.bytes);
      return;
    }
    // In order and within totalBytes: at most snapshotBytesMax is ever held.
    if (end > incoming.buffer.byteLength) {
      const grown = new Uint8Array(
        Math.min(incoming.totalBytes, Math.max(end, 2 * incoming.buffer.byteLength)),
      );
      grown.set(incoming.buffer.subarray(0, incoming.bytes));
      incoming.buffer = grown;
    }
    incoming.buffer.set(message.data, incoming.bytes);
    incoming.bytes = end;
    if (!message.done) {
      respond(incoming.bytes);
      return;
    }
    this.#incomingSnapshot = null;
    this.#restore({ metadata, data: incoming.buffer });
    this.#sendAppendResponse(message.from, this.#log.lastIndex(), false, 0, 0);
  }

  #restore(snapshot: Snapshot): void {
    const metadata = snapshot.metadata;
    if (this.#log.matchTerm(metadata.index, metadata.term)) {
      // The log already has the snapshot's last entry: just commit up to it.
      this.#log.commitTo(metadata.index);
      return;
    }
    this.#log.restore(snapshot);
    this.#membership = metadata.membership;
    this.#pendingConfigIndex = 0;
    const lastIndex = this.#log.lastIndex();
    this.#progress.clear();
    for (const id of allMembers(this.#membership)) {
      this.#progress.set(
        id,
        new Progress(lastIndex + 1, this.inflightMessageCountMax, this.inflightBytesMax),
      );
    }
  }

  // ---------------------------------------------------------------- reads

  #leaderReadIndex(
    context: string,
    requester: NodeId | null,
    mode: ReadOnlyMode = this.readOnly,
  ): ReadIndexResult {
    if (this.#log.term(this.#log.committedIndex) !== this.#term) {
      // Until an entry of its term commits, the leader does not know the commit index.
      return { status: 'dropped', reason: 'leader-not-ready' };
    }
    const index = this.#log.committedIndex;
    const onlyVoter = voteOutcome(this.#membership, new Map([[this.id, true]])) === 'won';
    if (onlyVoter || (mode === 'lease' && this.#leaseHolds())) {
      this.#answerRead({ context, index, requester, acknowledgements: new Set() });
      return { status: 'pending' };
    }
    if (this.#pendingReads.length >= this.pendingReadCountMax) {
      return { status: 'dropped', reason: 'pending-reads-limit' };
    }
    this.#pendingReads.push({ context, index, requester, acknowledgements: new Set([this.id]) });
    this.#broadcastHeartbeat(context);
    return { status: 'pending' };
  }

  /**
   * True while a quorum answered heartbeats sent less than `electionTicks - 1` ticks ago
   * (on this node's clock): each of those voters ignores other candidates for
   * `electionTicks` of its own ticks after receiving one, so no other leader can exist
   * yet, if the clocks tick at about the same rate and this node did not stall. Without
   * a lease the read takes the read-index path.
   */
  #leaseHolds(): boolean {
    const votes = new Map<NodeId, boolean>();
    for (const [id, progress] of this.#progress) {
      votes.set(
        id,
        id === this.id || this.#tickCount - progress.leaseSentAtTick < this.electionTicks - 1,
      );
    }
    return voteOutcome(this.#membership, votes) === 'won';
  }

  #acknowledgeRead(context: string, from: NodeId): void {
    let position = -1;
    for (let index = this.#pendingReads.length - 1; index >= 0; index -= 1) {
      if ((this.#pendingReads[index] as PendingRead).context === context) {
        position = index;
        break;
      }
    }
    if (position < 0) {
      return;
    }
    const read = this.#pendingReads[position] as PendingRead;
    read.acknowledgements.add(from);
    const votes = new Map<NodeId, boolean>();
    for (const id of read.acknowledgements) {
      votes.set(id, true);
    }
    if (voteOutcome(this.#membership, votes) !== 'won') {
      return;
    }
    // A quorum still followed this leader after every read queued up to this one.
    const released = this.#pendingReads.splice(0, position + 1);
    for (const done of released) {
      this.#answerRead(done);
    }
  }

  #answerRead(read: PendingRead): void {
    if (read.requester === null || read.requester === this.id) {
      this.#readStates.push({ index: read.index, context: read.context });
    } else {
      this.#send({
        type: 'read-index-response',
        from: this.id,
        to: read.requester,
        term: this.#term,
        context: read.context,
        index: read.index,
      });
    }
  }

  // ---------------------------------------------------------------- membership

  #applyEntry(entry: Entry): void {
    if (entry.type !== 'config') {
      return;
    }
    let change: { kind?: string; voters?: NodeId[]; learners?: NodeId[] };
    try {
      change = JSON.parse(new TextDecoder().decode(entry.data)) as typeof change;
    } catch {
      return;
    }
    if (change.kind === 'enter-joint' && Array.isArray(change.voters)) {
      this.#membership = {
        voters: change.voters,
        votersOutgoing: this.#membership.voters,
        learners: change.learners ?? [],
      };
    } else if (change.kind === 'leave-joint') {
      this.#membership = { ...this.#membership, votersOutgoing: [] };
    } else {
      return;
    }
    if (this.#pendingConfigIndex <= entry.index) {
      this.#pendingConfigIndex = 0;
    }
    this.#membershipChanged(change.kind === 'enter-joint');
  }

  #membershipChanged(enteredJoint: boolean): void {
    const members = allMembers(this.#membership);
    if (this.#role === 'leader') {
      const lastIndex = this.#log.lastIndex();
      for (const id of members) {
        if (!this.#progress.has(id)) {
          this.#progress.set(
            id,
            new Progress(lastIndex + 1, this.inflightMessageCountMax, this.inflightBytesMax),
          );
        }
      }
      for (const id of [...this.#progress.keys()]) {
        if (!members.includes(id)) {
          this.#progress.delete(id);
        }
      }
      if (!this.#promotable()) {
        // Removed from the voters: step down so the remaining voters elect a leader.
        this.#becomeFollower(this.#term, null);
        return;
      }
      if (enteredJoint) {
        const data = new TextEncoder().encode(JSON.stringify({ kind: 'leave-joint' }));
        const index = this.#appendEntries([{ type: 'config', data }]);
        this.#pendingConfigIndex = index;
      } else {
        this.#maybeCommit();
      }
      this.#broadcastAppend();
    }
  }

  // ---------------------------------------------------------------- sending

  #send(message: RaftMessage): void {
    this.#messages.push(message);
  }
}

function sameHardState(left: HardState, right: HardState): boolean {
  return (
    left.term === right.term && left.vote === right.vote && left.commitIndex === right.commitIndex
  );
}
