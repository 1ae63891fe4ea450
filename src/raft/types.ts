/**
 * The plain data of the Raft core: log entries, persistent and volatile state, snapshots
 * and the messages nodes exchange. Every type here is a plain object (numbers, strings,
 * booleans, arrays and `Uint8Array`), so any codec can carry it.
 *
 * @module
 */

/** The id of a Raft node. */
export type NodeId = string;

/** `'normal'` carries application data; `'config'` carries a membership change. */
export type EntryType = 'normal' | 'config';

/** One log entry. */
export interface Entry {
  /** The term of the leader that created it. */
  readonly term: number;
  /** Its position in the log, from 1. */
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** State that must be on stable storage before any message that depends on it is sent. */
export interface HardState {
  /** The latest term this node has seen. */
  readonly term: number;
  /** The candidate it voted for in `term`, or `null`. */
  readonly vote: NodeId | null;
  /** The highest index known to be committed. */
  readonly commitIndex: number;
}

/** The role of a node. */
export type RaftRole = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** Volatile state a driver may want to show or act on; not persisted. */
export interface SoftState {
  /** The leader this node knows of, or `null`. */
  readonly leader: NodeId | null;
  readonly role: RaftRole;
}

/**
 * The members of a cluster. Outside a membership change `votersOutgoing` is empty; during
 * a joint-consensus change a decision needs a majority of `voters` and of
 * `votersOutgoing`. Learners receive the log but do not vote.
 */
export interface Membership {
  readonly voters: readonly NodeId[];
  readonly votersOutgoing: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/** What a snapshot covers: the log up to `index` (whose entry had `term`). */
export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  /** The membership in force at `index`. */
  readonly membership: Membership;
}

/** A state-machine snapshot at an index, with the application's serialised state. */
export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

/** A linearizable read's answer: once applied ≥ `index`, serve the read for `context`. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  /** The sender's term; 0 for messages that are forwarded within a term (proposals, reads). */
  readonly term: number;
}

/** A request for a vote (or, with `type: 'pre-vote-request'`, a non-binding poll). */
export interface VoteRequest extends Envelope {
  readonly type: 'vote-request' | 'pre-vote-request';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  /** True when a leadership transfer asked for this election: voters ignore their lease. */
  readonly transfer: boolean;
}

/** The answer to a {@link VoteRequest}. */
export interface VoteResponse extends Envelope {
  readonly type: 'vote-response' | 'pre-vote-response';
  readonly granted: boolean;
}

/** Log entries after (`previousIndex`, `previousTerm`), and the leader's commit index. */
export interface AppendRequest extends Envelope {
  readonly type: 'append';
  readonly previousIndex: number;
  readonly previousTerm: number;
  readonly entries: readonly Entry[];
  readonly commitIndex: number;
}

/**
 * The answer to an {@link AppendRequest}. Accepted: `index` is the last index now known
 * to match. Rejected: `index` is the rejected `previousIndex`, and (`hintIndex`,
 * `hintTerm`) is the follower's last entry that may still match, so the leader can skip
 * a whole term of mismatches at once.
 */
export interface AppendResponse extends Envelope {
  readonly type: 'append-response';
  readonly index: number;
  readonly rejected: boolean;
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/** The leader's heartbeat; `context` names the read-index round it confirms, if any. */
export interface Heartbeat extends Envelope {
  readonly type: 'heartbeat';
  readonly commitIndex: number;
  readonly context: string | null;
  /** The leader's tick count when it sent this; echoed back, it dates the follower's lease. */
  readonly sentAtTick: number;
}

/** The answer to a {@link Heartbeat}, echoing its context. */
export interface HeartbeatResponse extends Envelope {
  readonly type: 'heartbeat-response';
  readonly context: string | null;
  /** The `sentAtTick` of the heartbeat answered. */
  readonly sentAtTick: number;
}

/** One chunk of a snapshot, sent in order from `offset` 0; `done` marks the last. */
export interface SnapshotChunk extends Envelope {
  readonly type: 'snapshot';
  readonly metadata: SnapshotMetadata;
  readonly offset: number;
  readonly totalBytes: number;
  readonly data: Uint8Array;
  readonly done: boolean;
}

/** Acknowledges the snapshot chunks received so far: `offset` is the next one expected. */
export interface SnapshotResponse extends Envelope {
  readonly type: 'snapshot-response';
  readonly index: number;
  readonly offset: number;
}

/** Leadership transfer: the leader tells an up-to-date follower to campaign now. */
export interface TimeoutNow extends Envelope {
  readonly type: 'timeout-now';
}

/** A follower forwarding proposals to the leader it knows. */
export interface ProposalForward extends Envelope {
  readonly type: 'propose';
  readonly entries: readonly { readonly type: EntryType; readonly data: Uint8Array }[];
}

/** A follower forwarding a linearizable read to the leader. */
export interface ReadIndexRequest extends Envelope {
  readonly type: 'read-index';
  readonly context: string;
}

/** The leader's answer to a forwarded read: the commit index to wait for. */
export interface ReadIndexResponse extends Envelope {
  readonly type: 'read-index-response';
  readonly context: string;
  readonly index: number;
}

/** Every message of the protocol, discriminated by `type`. */
export type RaftMessage =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | Heartbeat
  | HeartbeatResponse
  | SnapshotChunk
  | SnapshotResponse
  | TimeoutNow
  | ProposalForward
  | ReadIndexRequest
  | ReadIndexResponse;

/** The `type` of every message. */
export type RaftMessageType = RaftMessage['type'];

/** The byte size an entry counts for in flow control: its data plus a fixed header. */
export function entryBytes(entry: Entry): number {
  return entry.data.byteLength + entryHeaderBytes;
}

/** The fixed part of an entry's size in flow-control accounting. */
export const entryHeaderBytes = 16;
