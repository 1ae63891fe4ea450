/**
 * A deterministic simulated Raft cluster: each `distkit/sim` node runs a {@link RaftNode}
 * behind a small driver that persists every ready to the simulated disk (and syncs)
 * before it sends anything, applies committed entries to a {@link KeyValueStateMachine},
 * takes snapshots and compacts its log, recovers from its disk after a crash, and serves
 * clients: writes and compare-and-set through the log, reads through ReadIndex.
 *
 * A shared {@link SafetyObserver} checks the safety properties of the Raft paper as the
 * run goes (election safety, leader append-only, leader completeness, state machine
 * safety) and log matching over the final logs.
 */

import { Buffer } from 'node:buffer';
import {
  decodeKeyValueCommand,
  type Entry,
  encodeKeyValueCommand,
  type HardState,
  KeyValueStateMachine,
  type Membership,
  MemoryRaftStorage,
  type RaftMessage,
  RaftNode,
  type ReadOnlyMode,
  type Ready,
  type Snapshot,
} from '../../src/raft/index.js';
import {
  appendRecord,
  type CompleteOperation,
  type NodeHost,
  type NodeProgram,
  readRecords,
  type WorkloadClient,
  type WorkloadOperation,
} from '../../src/sim/index.js';

const logFile = 'raft.log';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

type DiskRecord =
  | { readonly kind: 'hard'; readonly hardState: HardState }
  | {
      readonly kind: 'entries';
      readonly entries: readonly { t: number; i: number; y: Entry['type']; d: string }[];
    }
  | {
      readonly kind: 'snapshot';
      readonly index: number;
      readonly term: number;
      readonly membership: Membership;
      readonly data: string;
    };

function writeRecord(host: NodeHost, record: DiskRecord): void {
  appendRecord(host.disk, logFile, encoder.encode(JSON.stringify(record)));
}

/** Violations of the safety properties, by property; empty lists mean none seen. */
export class SafetyObserver {
  readonly violations = {
    electionSafety: [] as string[],
    leaderAppendOnly: [] as string[],
    logMatching: [] as string[],
    leaderCompleteness: [] as string[],
    stateMachineSafety: [] as string[],
  };
  /** How many times each property was checked: a property never checked proves nothing. */
  readonly checks = {
    electionSafety: 0,
    leaderAppendOnly: 0,
    logMatching: 0,
    leaderCompleteness: 0,
    stateMachineSafety: 0,
  };
  /** Adds another run's checks and violations (each run has its own observer). */
  merge(other: SafetyObserver, label: string): void {
    for (const key of Object.keys(this.checks) as (keyof SafetyObserver['checks'])[]) {
      this.checks[key] += other.checks[key];
      this.violations[key].push(...other.violations[key].map((text) => `${label}: ${text}`));
    }
    this.appliedCount += other.appliedCount;
    this.snapshotsInstalled += other.snapshotsInstalled;
    this.membershipEntriesApplied += other.membershipEntriesApplied;
    this.recoveries += other.recoveries;
  }

  readonly #leaderOfTerm = new Map<number, string>();
  /** index → `${term}:${data}` of every applied entry. */
  readonly #applied = new Map<number, string>();
  appliedCount = 0;
  /** Snapshots installed from a leader, and node starts from a non-empty disk. */
  snapshotsInstalled = 0;
  recoveries = 0;
  /** Membership changes applied (enter-joint and leave-joint entries, counted per node). */
  membershipEntriesApplied = 0;

  /** index → the entry's term and the lowest term of a leader that committed it. */
  readonly #committed = new Map<number, { entryTerm: number; commitTerm: number }>();

  /** A leader of `leaderTerm` advanced its commit index over `index` (entry of `entryTerm`). */
  leaderCommitted(index: number, entryTerm: number, leaderTerm: number): void {
    const existing = this.#committed.get(index);
    if (existing === undefined || leaderTerm < existing.commitTerm) {
      this.#committed.set(index, { entryTerm, commitTerm: leaderTerm });
    }
  }

  becameLeader(id: string, node: RaftNode): void {
    this.checks.electionSafety += 1;
    const existing = this.#leaderOfTerm.get(node.term);
    if (existing !== undefined && existing !== id) {
      this.violations.electionSafety.push(`term ${node.term}: leaders ${existing} and ${id}`);
    }
    this.#leaderOfTerm.set(node.term, id);
    // Leader completeness (§5.4): an entry committed in term T is in the log of every
    // leader of a term above T. (A leader of an older term, elected by delayed votes
    // while a newer leader commits, may lack it: that is allowed.)
    for (const [index, { entryTerm, commitTerm }] of this.#committed) {
      if (commitTerm >= node.term) {
        continue;
      }
      const own = node.logTerm(index);
      if (own === undefined && index < node.status().lastIndex) {
        continue; // compacted into a snapshot: committed by construction
      }
      this.checks.leaderCompleteness += 1;
      if (own !== entryTerm) {
        this.violations.leaderCompleteness.push(
          `leader ${id} of term ${node.term} has term ${own} at ${index}, committed in term ${commitTerm} with entry term ${entryTerm}`,
        );
      }
    }
  }

  leaderPersists(id: string, storage: MemoryRaftStorage, entries: readonly Entry[]): void {
    for (const entry of entries) {
      this.checks.leaderAppendOnly += 1;
      const existing = storage.term(entry.index);
      if (existing !== undefined && entry.index >= storage.firstIndex()) {
        this.violations.leaderAppendOnly.push(
          `leader ${id} overwrites ${existing}/${entry.index} with ${entry.term}/${entry.index}`,
        );
      }
    }
  }

  applied(id: string, entry: Entry): void {
    this.checks.stateMachineSafety += 1;
    this.appliedCount += 1;
    const value = `${entry.term}:${Buffer.from(entry.data).toString('base64')}`;
    const existing = this.#applied.get(entry.index);
    if (existing === undefined) {
      this.#applied.set(entry.index, value);
    } else if (existing !== value) {
      this.violations.stateMachineSafety.push(
        `${id} applied ${value} at ${entry.index}, another node ${existing}`,
      );
    }
  }

  /** Log matching over final logs: same term at an index means identical prefixes. */
  checkLogMatching(logs: ReadonlyMap<string, MemoryRaftStorage>): void {
    const ids = [...logs.keys()].sort();
    for (let left = 0; left < ids.length; left += 1) {
      for (let right = left + 1; right < ids.length; right += 1) {
        const a = logs.get(ids[left] as string) as MemoryRaftStorage;
        const b = logs.get(ids[right] as string) as MemoryRaftStorage;
        const low = Math.max(a.firstIndex(), b.firstIndex());
        const high = Math.min(a.lastIndex(), b.lastIndex());
        let matched = 0;
        for (let index = high; index >= low; index -= 1) {
          if (a.term(index) === b.term(index)) {
            matched = index;
            break;
          }
        }
        if (matched < low) {
          continue;
        }
        const entriesA = a.entries(low, matched + 1, Number.MAX_SAFE_INTEGER);
        const entriesB = b.entries(low, matched + 1, Number.MAX_SAFE_INTEGER);
        for (let position = 0; position < entriesA.length; position += 1) {
          this.checks.logMatching += 1;
          const x = entriesA[position] as Entry;
          const y = entriesB[position] as Entry;
          if (x.term !== y.term || Buffer.compare(x.data, y.data) !== 0) {
            this.violations.logMatching.push(
              `${ids[left]} and ${ids[right]} agree at ${matched} but differ at ${x.index}`,
            );
            break;
          }
        }
      }
    }
  }
}

/** Client requests and replies. */
export interface ClientRequest {
  readonly id: number;
  readonly kind: string;
  readonly key: string;
  readonly input: unknown;
}

export interface ClientReply {
  readonly id: number;
  readonly status: 'ok' | 'fail' | 'unknown';
  readonly output?: unknown;
}

/** Options of the simulated cluster's nodes. */
export interface ClusterOptions {
  readonly voters: readonly string[];
  readonly observer: SafetyObserver;
  /** The live storages, for the final log-matching check. */
  readonly storages: Map<string, MemoryRaftStorage>;
  readonly tickMs?: number;
  readonly snapshotEveryEntries?: number;
  readonly readOnly?: ReadOnlyMode;
  /**
   * How long a steady leader's ready waits for its sync after being sent and applied
   * (virtual ms). 0 syncs before sending, as for every other node. Default 1.
   */
  readonly leaderSyncDelayMs?: number;
}

/** The driver of one Raft node in the simulator. */
export class RaftNodeProgram implements NodeProgram {
  readonly node: RaftNode;
  readonly storage: MemoryRaftStorage;
  readonly kv = new KeyValueStateMachine();
  readonly #writes = new Map<string, { client: string; id: number; kind: string }>();
  readonly #reads = new Map<string, { client: string; id: number; key: string }>();
  #waitingReads: { index: number; context: string }[] = [];
  /** A leader's ready sent ahead of its sync is waiting for that sync and its advance. */
  #syncing = false;
  /** Ticks and messages that arrived meanwhile. */
  #inbox: (() => void)[] = [];

  constructor(
    readonly host: NodeHost,
    readonly options: ClusterOptions,
  ) {
    this.storage = new MemoryRaftStorage();
    const log = readRecords(host.disk, logFile);
    host.disk.truncate(logFile, log.validBytes); // a torn tail is what was never synced
    for (const bytes of log.records) {
      const record = JSON.parse(decoder.decode(bytes)) as DiskRecord;
      if (record.kind === 'hard') {
        this.storage.setHardState(record.hardState);
      } else if (record.kind === 'entries') {
        this.storage.append(
          record.entries.map((entry) => ({
            term: entry.t,
            index: entry.i,
            type: entry.y,
            data: new Uint8Array(Buffer.from(entry.d, 'base64')),
          })),
        );
      } else {
        const snapshot: Snapshot = {
          metadata: {
            index: record.index,
            term: record.term,
            membership: record.membership,
          },
          data: new Uint8Array(Buffer.from(record.data, 'base64')),
        };
        const hard = this.storage.hardState();
        this.storage.applySnapshot(snapshot);
        this.storage.setHardState({
          ...hard,
          commitIndex: Math.max(hard.commitIndex, record.index),
        });
      }
    }
    if (log.records.length > 0) {
      options.observer.recoveries += 1;
    }
    const snapshot = this.storage.snapshot();
    if (snapshot.metadata.index > 0) {
      this.kv.restore(snapshot.data);
    }
    options.storages.set(host.id, this.storage);
    this.node = new RaftNode({
      id: host.id,
      voters: options.voters,
      storage: this.storage,
      random: host.random.fork('raft'),
      electionTicks: 10,
      heartbeatTicks: 1,
      messageBytesMax: 4096,
      inflightMessageCountMax: 64,
      readOnly: options.readOnly ?? 'read-index',
      appliedIndex: snapshot.metadata.index,
    });
    const tickMs = options.tickMs ?? 10;
    const tick = (): void => {
      this.#whenIdle(() => this.node.tick());
      host.scheduler.schedule(tickMs, tick);
    };
    host.scheduler.schedule(tickMs, tick);
  }

  onMessage(from: string, message: unknown): void {
    this.#whenIdle(() => this.#handle(from, message));
  }

  /**
   * Runs `work` and drains, or, while a leader's ready waits for its sync, queues it:
   * nothing is stepped between a ready and its advance (as in the real driver).
   */
  #whenIdle(work: () => void): void {
    if (this.#syncing) {
      this.#inbox.push(work);
      return;
    }
    work();
    this.#drain();
  }

  #handle(from: string, message: unknown): void {
    const candidate = message as { type?: unknown; kind?: unknown };
    if (typeof candidate.type === 'string') {
      this.node.step(message as RaftMessage);
    } else if (candidate.kind === 'reconfigure') {
      // Only a leader proposes; anywhere else, or with a change pending, this is dropped.
      const change = message as { voters: string[]; learners: string[] };
      if (this.node.role === 'leader') {
        this.node.proposeMembership({ voters: change.voters, learners: change.learners });
      }
    } else {
      this.#handleClient(from, message as ClientRequest);
    }
  }

  #handleClient(from: string, request: ClientRequest): void {
    const reply = (response: Omit<ClientReply, 'id'>): void => {
      this.host.send(from, { id: request.id, ...response });
    };
    if (request.kind === 'read') {
      const context = `${from}:${request.id}:${this.host.incarnation}`;
      const result = this.node.readIndex(context);
      if (result.status === 'dropped') {
        reply({ status: 'fail' });
      } else {
        this.#reads.set(context, { client: from, id: request.id, key: request.key });
      }
      return;
    }
    const key = request.key;
    const command =
      request.kind === 'write'
        ? { kind: 'put' as const, key, value: JSON.stringify(request.input) }
        : {
            kind: 'cas' as const,
            key,
            expected:
              (request.input as [unknown, unknown])[0] === null
                ? null
                : JSON.stringify((request.input as [unknown, unknown])[0]),
            value: JSON.stringify((request.input as [unknown, unknown])[1]),
          };
    const result = this.node.propose(
      encodeKeyValueCommand(command, { client: from, sequence: request.id }),
    );
    if (result.status === 'dropped') {
      // Not "certainly no effect": the network may have duplicated this request and an
      // earlier copy been proposed (before a crash that forgot it). Seed 232 of a harsh
      // sweep caught the driver answering `fail` here for a write that took effect.
      reply({ status: 'unknown' });
      return;
    }
    this.#writes.set(`${from}:${request.id}`, { client: from, id: request.id, kind: request.kind });
  }

  /**
   * The ready loop: persist (and sync), then send, then apply, then advance. A steady
   * leader's ready (`persistBeforeSend` false) is sent and applied first and synced
   * `leaderSyncDelayMs` later, as the real driver does while its fsync runs: a crash in
   * between loses the leader's unsynced entries, which the followers already have.
   */
  #drain(): void {
    for (let round = 0; round < 1000 && !this.#syncing && this.node.hasReady(); round += 1) {
      const ready = this.node.ready();
      const commitBefore = this.storage.hardState().commitIndex;
      const syncLater = !ready.persistBeforeSend && (this.options.leaderSyncDelayMs ?? 1) > 0;
      this.#persist(ready, !syncLater);
      const commitAfter = ready.hardState?.commitIndex ?? commitBefore;
      if (this.node.role === 'leader' && commitAfter > commitBefore) {
        for (
          let index = Math.max(commitBefore + 1, this.storage.firstIndex());
          index <= commitAfter;
          index += 1
        ) {
          this.options.observer.leaderCommitted(
            index,
            this.storage.term(index) as number,
            this.node.term,
          );
        }
      }
      for (const message of ready.messages) {
        this.host.send(message.to, message);
      }
      if (ready.snapshot !== undefined) {
        this.options.observer.snapshotsInstalled += 1;
        this.kv.restore(ready.snapshot.data);
      }
      if (ready.softState?.role === 'leader') {
        this.options.observer.becameLeader(this.host.id, this.node);
      }
      for (const entry of ready.committedEntries) {
        this.#apply(entry);
      }
      this.#waitingReads.push(...ready.readStates);
      if (syncLater) {
        this.#serveReads();
        this.#syncing = true;
        this.host.scheduler.schedule(this.options.leaderSyncDelayMs ?? 1, () => {
          this.host.disk.sync(logFile);
          this.#syncing = false;
          this.node.advance(ready);
          this.#serveReads();
          this.#maybeSnapshot();
          const waiting = this.#inbox;
          this.#inbox = [];
          for (const work of waiting) {
            work();
          }
          this.#drain();
        });
        return;
      }
      this.node.advance(ready);
      this.#serveReads();
      this.#maybeSnapshot();
    }
  }

  #persist(ready: Ready, sync: boolean): void {
    let written = false;
    if (ready.snapshot !== undefined) {
      const metadata = ready.snapshot.metadata;
      writeRecord(this.host, {
        kind: 'snapshot',
        index: metadata.index,
        term: metadata.term,
        membership: metadata.membership,
        data: Buffer.from(ready.snapshot.data).toString('base64'),
      });
      this.storage.applySnapshot(ready.snapshot);
      written = true;
    }
    if (ready.entries.length > 0) {
      if (this.node.role === 'leader') {
        this.options.observer.leaderPersists(this.host.id, this.storage, ready.entries);
      }
      writeRecord(this.host, {
        kind: 'entries',
        entries: ready.entries.map((entry) => ({
          t: entry.term,
          i: entry.index,
          y: entry.type,
          d: Buffer.from(entry.data).toString('base64'),
        })),
      });
      this.storage.append(ready.entries);
      written = true;
    }
    if (ready.hardState !== undefined) {
      writeRecord(this.host, { kind: 'hard', hardState: ready.hardState });
      this.storage.setHardState(ready.hardState);
      written = true;
    }
    if (written && sync) {
      this.host.disk.sync(logFile); // durable before any message that depends on it leaves
    }
  }

  #apply(entry: Entry): void {
    if (entry.index <= this.kv.appliedIndex) {
      return; // covered by a restored snapshot
    }
    this.options.observer.applied(this.host.id, entry);
    if (entry.type === 'config') {
      this.options.observer.membershipEntriesApplied += 1;
    }
    const result = this.kv.apply(entry);
    const command = decodeKeyValueCommand(entry.data);
    if (command?.client === undefined || command.sequence === undefined) {
      return;
    }
    const requestKey = `${command.client}:${command.sequence}`;
    const pending = this.#writes.get(requestKey);
    if (pending === undefined) {
      return;
    }
    this.#writes.delete(requestKey);
    // A failed compare-and-set certainly had no effect; a no-op (an older duplicate of a
    // command already applied) says nothing about the original.
    const status =
      result.status === 'ok' ? 'ok' : result.status === 'cas-failed' ? 'fail' : 'unknown';
    this.host.send(pending.client, { id: pending.id, status });
  }

  #serveReads(): void {
    const still: { index: number; context: string }[] = [];
    for (const read of this.#waitingReads) {
      if (read.index > this.kv.appliedIndex) {
        still.push(read);
        continue;
      }
      const pending = this.#reads.get(read.context);
      if (pending === undefined) {
        continue;
      }
      this.#reads.delete(read.context);
      const value = this.kv.get(pending.key);
      this.host.send(pending.client, {
        id: pending.id,
        status: 'ok',
        output: value === null ? null : JSON.parse(value),
      });
    }
    this.#waitingReads = still;
  }

  #maybeSnapshot(): void {
    const every = this.options.snapshotEveryEntries ?? 0;
    const applied = this.kv.appliedIndex;
    if (every === 0 || applied - this.storage.snapshot().metadata.index < every) {
      return;
    }
    if (applied > this.storage.lastIndex()) {
      return;
    }
    const data = this.kv.snapshot();
    const term = this.storage.term(applied) as number;
    writeRecord(this.host, {
      kind: 'snapshot',
      index: applied,
      term,
      membership: this.node.membership,
      data: Buffer.from(data).toString('base64'),
    });
    this.host.disk.sync(logFile);
    this.storage.createSnapshot(applied, this.node.membership, data);
    this.storage.compact(applied);
  }
}

/** The workload adapter: each operation goes to a random node; replies matched by id. */
export class RaftClient implements WorkloadClient {
  #nextId = 1;
  readonly #waiting = new Map<number, CompleteOperation>();

  constructor(
    readonly host: NodeHost,
    readonly nodeIds: readonly string[],
  ) {}

  invoke(operation: WorkloadOperation, complete: CompleteOperation): void {
    const id = this.#nextId;
    this.#nextId += 1;
    this.#waiting.set(id, complete);
    const request: ClientRequest = {
      id,
      kind: operation.kind,
      key: operation.key ?? 'r',
      input: operation.input ?? null,
    };
    this.host.send(this.host.random.pick(this.nodeIds), request);
  }

  onMessage(_from: string, message: unknown): void {
    const reply = message as ClientReply;
    const complete = this.#waiting.get(reply.id);
    this.#waiting.delete(reply.id);
    complete?.(
      reply.status === 'ok'
        ? { status: 'ok', output: reply.output }
        : reply.status === 'fail'
          ? { status: 'fail' }
          : { status: 'unknown' },
    );
  }

  onTimeout(): void {
    this.#waiting.clear();
  }
}
