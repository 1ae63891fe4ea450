/**
 * The partitioned store as a real process: a {@link StoreNodeCore} driven over the
 * authenticated TCP transport of `distkit/net`, ticked on the real scheduler, with the
 * changes of its durable state appended (and fsynced) to a write-ahead log of
 * `distkit/storage` before any message or reply that depends on them leaves, a
 * checkpoint of the whole state now and then, and an in-process
 * {@link StoreClient} that routes the node's own API requests to the right shard and
 * replica (over the same transport, or straight into the local core).
 *
 * @module
 */

import { mkdir } from 'node:fs/promises';
import {
  type Clock,
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
  systemClock,
  systemRandom,
  systemScheduler,
} from '../core/index.js';
import type { PeerAddress, TcpTransport, TransportTlsOptions } from '../net/index.js';
import {
  consensus,
  type DurableChanges,
  leaderFollower,
  leaderless,
  multiLeader,
  parseReplicaRequest,
  type ReplicaCoreFactory,
} from '../replication/index.js';
import { peerTransport } from './raft-replica.js';
import { type StoreEnvelope, type StoreMessage, StoreNodeCore } from './shard-node.js';
import { StoreClient, type StoreRequestOptions, type StoreResult } from './sharded-client.js';
import { ShardedStoreLayout, type ShardModeKind, shardModeKinds } from './sharded-store.js';
import { StoreDurableLog, type StoreStateHeader } from './store-durable-log.js';

/**
 * The replica factory a store process uses for each {@link ShardModeKind}, with the
 * modes' defaults: `consensus()`, `leaderFollower({ replication: 'sync' | 'semi-sync' |
 * 'async' })` (semi-sync: one follower), `multiLeader({ conflicts: 'lww' | 'siblings' })`
 * and `leaderless()` (N 3, W 2, R 2; the shard needs at least three replicas).
 */
export function storeModeFactory(mode: ShardModeKind): ReplicaCoreFactory {
  requireOneOf('mode', mode, shardModeKinds);
  switch (mode) {
    case 'consensus':
      return consensus();
    case 'leader-follower-sync':
      return leaderFollower({ replication: 'sync' });
    case 'leader-follower-semi-sync':
      return leaderFollower({ replication: 'semi-sync' });
    case 'leader-follower-async':
      return leaderFollower({ replication: 'async' });
    case 'multi-leader':
      return multiLeader({ conflicts: 'lww' });
    case 'multi-leader-siblings':
      return multiLeader({ conflicts: 'siblings' });
    case 'leaderless':
      return leaderless();
  }
}

/** Options of {@link storeProcessLayout}. */
export interface StoreProcessLayoutOptions {
  /** The node ids, in the same order on every node. */
  readonly nodes: readonly string[];
  /** The one keyspace's mode. */
  readonly mode: ShardModeKind;
  /** Hash shards of the keyspace. Default 3. */
  readonly shardCount?: number;
  /** Replicas per shard. Default 3, or the node count when smaller. */
  readonly replicaCount?: number;
}

/**
 * The layout every store process of a cluster builds: one keyspace `kv` holding every
 * key (prefix `''`), cut by consistent hashing into `shardCount` shards of
 * `replicaCount` replicas each, all replicated by `mode`.
 */
export function storeProcessLayout(options: StoreProcessLayoutOptions): ShardedStoreLayout {
  const checked = requireOptions('storeProcessLayout options', options);
  const mode = requireOneOf('options.mode', checked.mode, shardModeKinds);
  const nodeCount = Array.isArray(checked.nodes) ? checked.nodes.length : 0;
  return new ShardedStoreLayout({
    nodes: checked.nodes,
    keyspaces: [
      {
        name: 'kv',
        keyPrefix: '',
        mode,
        factory: storeModeFactory(mode),
        partitioning: { kind: 'hash', shardCount: checked.shardCount ?? 3 },
        replicaCount: checked.replicaCount ?? Math.max(1, Math.min(3, nodeCount)),
      },
    ],
  });
}

/** Options of {@link StoreProcess.open}. */
export interface StoreProcessOptions {
  /** This node's id; a key of `peers`. */
  readonly id: string;
  /**
   * Every node's transport address, this node's included. The order of the keys is the
   * layout's node order, so give the same table, in the same order, to every node.
   */
  readonly peers: Readonly<Record<string, PeerAddress>>;
  /** The folder of this node's write-ahead log and checkpoint; created when missing. */
  readonly directory: string;
  /** The keyspace's replication mode (the same on every node). */
  readonly mode: ShardModeKind;
  /** Hash shards (the same on every node). Default 3. */
  readonly shardCount?: number;
  /** Replicas per shard (the same on every node). Default 3, or the node count when smaller. */
  readonly replicaCount?: number;
  /** The cluster secret (16 bytes or more) of the transport's handshake. */
  readonly secret?: string | Uint8Array;
  /** Mutual TLS between nodes; at least one of `secret` and `tls`. */
  readonly tls?: TransportTlsOptions;
  /** Milliseconds between ticks of the replicas. Default 20. */
  readonly tickMs?: number;
  /** Deadline of one API request, in milliseconds. Default 5,000. */
  readonly requestTimeoutMs?: number;
  /** API requests in flight at once; one more is refused `unavailable`. Default 1,024. */
  readonly inflightCountMax?: number;
  /** Envelopes held back while their state is being written; beyond it new ones are dropped. Default 100,000. */
  readonly heldEnvelopeCountMax?: number;
  /**
   * A checkpoint (the whole state, written atomically) replaces the write-ahead log when
   * the log since the last checkpoint would grow past the larger of this and
   * `checkpointWalRatio` times the last checkpoint's size; then the log segments it
   * covers are deleted. Default 8 MiB.
   */
  readonly checkpointWalBytesMin?: number;
  /** See `checkpointWalBytesMin`. Default 4. */
  readonly checkpointWalRatio?: number;
  /** Size of a write-ahead log segment file. Default 16 MiB. */
  readonly walSegmentBytesMax?: number;
  /** Default the system scheduler. */
  readonly scheduler?: Scheduler;
  /** Default the system clock. */
  readonly clock?: Clock;
  /** Default `systemRandom()`. */
  readonly random?: Random;
}

/**
 * What a store process reports: `stopped` (its write-ahead log or checkpoint could not be written; it sends
 * nothing more and should exit), `message-refused` (a peer's message failed its checks)
 * and `transport` (a connection refused or broken for another reason than loss).
 */
export type StoreProcessEvent =
  | { readonly kind: 'stopped'; readonly error: unknown }
  | { readonly kind: 'message-refused'; readonly from: string; readonly reason: string }
  | { readonly kind: 'transport'; readonly detail: string };

/** What {@link StoreProcess.status} returns (and `GET /v1/status` serves). */
export interface StoreProcessStatus {
  readonly id: string;
  readonly mode: ShardModeKind;
  readonly nodes: readonly string[];
  readonly shardCount: number;
  readonly replicaCount: number;
  /** The shards this node holds a replica of, with their replicas and metrics. */
  readonly shards: readonly {
    readonly id: string;
    readonly replicas: readonly string[];
    readonly metrics: Readonly<Record<string, number>>;
  }[];
  /**
   * Durable writes since start: write-ahead log records (one fsync each, each holding
   * every change of one or more batches) plus checkpoints.
   */
  readonly stateWriteCount: number;
  /** Bytes of durable state now: the last checkpoint plus the log records after it. */
  readonly stateBytes: number;
  /** Write-ahead log records appended since start. */
  readonly walRecordCount: number;
  /** Bytes of log records appended since the last checkpoint. */
  readonly walBytes: number;
  /** Checkpoints written since start (one at start, then when the log outgrows its bound). */
  readonly checkpointCount: number;
  /** Size of the last checkpoint, in bytes. */
  readonly checkpointBytes: number;
  /** Envelopes dropped: held back over `heldEnvelopeCountMax`, or by the core's outbox. */
  readonly envelopeDropCount: number;
  /** API requests in flight. */
  readonly inflightCount: number;
}

interface HeldBatch {
  readonly generation: number;
  readonly envelopes: readonly StoreEnvelope[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/**
 * One node of the partitioned store as a process. The node's {@link StoreNodeCore}
 * holds a replica of each shard the layout gives it; peers talk over {@link TcpTransport};
 * {@link StoreProcess.read} and {@link StoreProcess.write} go through an in-process
 * {@link StoreClient} with the node's id as its client id, so any node answers for any
 * key (it routes the request to the shard's replicas).
 *
 * Durability: after each turn of the event loop in which the core did work, the node
 * takes each shard replica's durable changes (`takeDurableChanges()`, O(change)); when
 * there are any, it appends them as one record to its write-ahead log, fsyncs, and holds
 * back that turn's messages and replies until then. Appends do not overlap: the batches
 * made meanwhile go together in the next record (group commit). When the log since the
 * last checkpoint would outgrow its bound (`checkpointWalBytesMin`,
 * `checkpointWalRatio`), the node writes a checkpoint of its whole keyed state instead
 * (atomically, with the log index it covers) and deletes the log segments before it.
 * Nothing an acknowledgement depends on leaves before it is on disk; a restart rebuilds
 * the core from the checkpoint and the log records after it.
 *
 * @example
 * ```ts
 * const node = await StoreProcess.open({
 *   id: 'n1', peers: { n1: { host: '127.0.0.1', port: 7101 } }, directory: '/tmp/n1',
 *   mode: 'consensus', secret: 'a cluster secret of 16 bytes or more',
 * });
 * await node.write('greeting', 'hello', { consistency: 'linearizable' });
 * await node.close();
 * ```
 */
export class StoreProcess {
  /** This node's id. */
  readonly id: string;
  /** The keyspace's mode. */
  readonly mode: ShardModeKind;
  /** The layout (the same on every node). */
  readonly layout: ShardedStoreLayout;
  readonly #core: StoreNodeCore;
  readonly #client: StoreClient;
  readonly #transport: TcpTransport;
  readonly #scheduler: Scheduler;
  readonly #tickMs: number;
  readonly #log: StoreDurableLog;
  readonly #header: StoreStateHeader;
  readonly #heldEnvelopeCountMax: number;
  readonly #peerIds: ReadonlySet<string>;
  readonly #events = new Emitter<StoreProcessEvent>();
  readonly #held: HeldBatch[] = [];
  #heldCount = 0;
  #generation = 0;
  #persistedGeneration = 0;
  /** Changes taken but not yet written, in the order taken. */
  #pending: [string, DurableChanges][] = [];
  #writing: Promise<void> | undefined;
  #persisting = false;
  #flushQueued = false;
  #tickTask: ScheduledTask | undefined;
  #stopped = false;
  #closed = false;
  #dropCount = 0;

  private constructor(
    header: StoreStateHeader,
    layout: ShardedStoreLayout,
    core: StoreNodeCore,
    transport: TcpTransport,
    options: {
      scheduler: Scheduler;
      random: Random;
      tickMs: number;
      requestTimeoutMs: number;
      inflightCountMax: number;
      heldEnvelopeCountMax: number;
      log: StoreDurableLog;
    },
  ) {
    this.id = header.id;
    this.mode = header.mode;
    this.#header = header;
    this.layout = layout;
    this.#core = core;
    this.#transport = transport;
    this.#scheduler = options.scheduler;
    this.#tickMs = options.tickMs;
    this.#log = options.log;
    this.#heldEnvelopeCountMax = options.heldEnvelopeCountMax;
    this.#peerIds = new Set(header.nodes.filter((node) => node !== header.id));
    const incarnation = `${options.random.uint32().toString(36)}${options.random.uint32().toString(36)}`;
    this.#client = new StoreClient({
      layout,
      deadlineMs: options.requestTimeoutMs,
      attemptTimeoutMs: Math.min(1_000, options.requestTimeoutMs),
      inflightCountMax: options.inflightCountMax,
      requestIdPrefix: `${header.id}.${incarnation}`,
      transport: {
        id: header.id,
        scheduler: options.scheduler,
        random: options.random,
        send: (to, message) => this.#sendFromClient(to, message),
      },
    });
  }

  /**
   * Reads the node's checkpoint and write-ahead log (if any) and folds them into its
   * state, builds its core, writes a checkpoint of it (so a fresh node has its state on
   * disk before it says anything, and the log starts short), starts the transport and
   * the ticks.
   *
   * @throws InvalidArgumentError for bad options, or a folder written by another node id
   *   or with another mode, shard count, replica count or node list.
   * @throws WalCorruptionError (`distkit/storage`) when the log is damaged other than by
   *   a torn tail, or does not follow its checkpoint.
   * @throws SnapshotCorruptionError (`distkit/storage`) when the checkpoint is damaged.
   */
  static async open(options: StoreProcessOptions): Promise<StoreProcess> {
    const checked = requireOptions<StoreProcessOptions>('StoreProcess options', options);
    const id = requireString('options.id', checked.id);
    const peerTable = requireOptions('options.peers', checked.peers);
    const nodes = Object.keys(peerTable);
    const own = peerTable[id];
    if (own === undefined) {
      throw new InvalidArgumentError(
        'options.peers',
        `options.peers must include this node (${id}) with its address.`,
      );
    }
    const mode = requireOneOf('options.mode', checked.mode, shardModeKinds);
    const shardCount = requireInteger('options.shardCount', checked.shardCount ?? 3, {
      min: 1,
      max: 1_024,
    });
    const replicaCount = requireInteger(
      'options.replicaCount',
      checked.replicaCount ?? Math.min(3, nodes.length),
      { min: 1, max: nodes.length },
    );
    const directory = requireString('options.directory', checked.directory);
    const tickMs = requireInteger('options.tickMs', checked.tickMs ?? 20, { min: 1, max: 60_000 });
    const requestTimeoutMs = requireInteger(
      'options.requestTimeoutMs',
      checked.requestTimeoutMs ?? 5_000,
      { min: 1, max: 3_600_000 },
    );
    const inflightCountMax = requireInteger(
      'options.inflightCountMax',
      checked.inflightCountMax ?? 1_024,
      { min: 1 },
    );
    const heldEnvelopeCountMax = requireInteger(
      'options.heldEnvelopeCountMax',
      checked.heldEnvelopeCountMax ?? 100_000,
      { min: 1 },
    );
    const scheduler = checked.scheduler ?? systemScheduler;
    const clock = checked.clock ?? systemClock;
    const random = checked.random ?? systemRandom();
    const layout = storeProcessLayout({ nodes, mode, shardCount, replicaCount });
    const header: StoreStateHeader = {
      id,
      mode,
      nodes,
      shardCount,
      replicaCount,
    };
    const checkpointWalBytesMin = requireInteger(
      'options.checkpointWalBytesMin',
      checked.checkpointWalBytesMin ?? 8 * 1024 * 1024,
      { min: 1 },
    );
    const checkpointWalRatio = requireInteger(
      'options.checkpointWalRatio',
      checked.checkpointWalRatio ?? 4,
      { min: 1, max: 1_000 },
    );
    const walSegmentBytesMax = requireInteger(
      'options.walSegmentBytesMax',
      checked.walSegmentBytesMax ?? 16 * 1024 * 1024,
      { min: 64 * 1024, max: 1024 * 1024 * 1024 },
    );
    await mkdir(directory, { recursive: true });
    const { log, recovery } = await StoreDurableLog.open({
      directory,
      header,
      checkpointWalBytesMin,
      checkpointWalRatio,
      segmentBytesMax: walSegmentBytesMax,
    });
    const previous = recovery.state;
    const core = new StoreNodeCore({
      id,
      layout,
      clock,
      random,
      tickMs,
      ...(previous === undefined ? {} : { durableState: previous }),
    });
    const transport = peerTransport(id, peerTable, checked, scheduler, random);
    const node = new StoreProcess(header, layout, core, transport, {
      scheduler,
      random,
      tickMs,
      requestTimeoutMs,
      inflightCountMax,
      heldEnvelopeCountMax,
      log,
    });
    try {
      await node.#checkpointNow();
      await node.#start();
    } catch (error) {
      await node.close();
      throw error;
    }
    return node;
  }

  /** Stops when its log or checkpoint cannot be written, messages refused, connections refused. */
  get onEvent(): Event<StoreProcessEvent> {
    return this.#events.event;
  }

  /** Where the transport listens. */
  get address(): PeerAddress | undefined {
    return this.#transport.address;
  }

  /**
   * Reads `key` at `options.consistency`. Resolves with the {@link StoreResult} (never
   * rejects for an unavailable store or a timeout: those are results). Throws like
   * {@link StoreClient.read}: `ConsistencyLevelUnsupportedError` when the mode cannot
   * give the level, `InvalidArgumentError`, `LimitExceededError`.
   */
  read(key: string, options: StoreRequestOptions): Promise<StoreResult> {
    this.#requireRunning();
    return new Promise((resolve, reject) => {
      try {
        this.#client.read(key, options, resolve);
      } catch (error) {
        reject(error);
      }
    });
  }

  /** Writes `value` to `key` at `options.consistency`; resolves and throws like {@link StoreProcess.read}. */
  write(key: string, value: string, options: StoreRequestOptions): Promise<StoreResult> {
    this.#requireRunning();
    return new Promise((resolve, reject) => {
      try {
        this.#client.write(key, value, options, resolve);
      } catch (error) {
        reject(error);
      }
    });
  }

  /** The node's shards, their metrics and its write-ahead log's and checkpoint's figures. */
  status(): StoreProcessStatus {
    const metrics = this.#core.metrics();
    const durable = this.#log.statistics();
    return {
      id: this.id,
      mode: this.mode,
      nodes: this.layout.nodes,
      shardCount: this.#header.shardCount,
      replicaCount: this.#header.replicaCount,
      shards: this.#core.shardIds().map((shardId) => ({
        id: shardId,
        replicas: this.layout.shard(shardId)?.replicas ?? [],
        metrics: metrics.shards[shardId] ?? {},
      })),
      stateWriteCount: durable.walRecordCount + durable.checkpointCount,
      stateBytes: durable.checkpointBytes + durable.walBytesSinceCheckpoint,
      walRecordCount: durable.walRecordCount,
      walBytes: durable.walBytesSinceCheckpoint,
      checkpointCount: durable.checkpointCount,
      checkpointBytes: durable.checkpointBytes,
      envelopeDropCount: this.#dropCount + metrics.outboxDrops,
      inflightCount: this.#client.inflightCount,
    };
  }

  /**
   * Stops the ticks, ends requests in flight (reads `unavailable`, writes `unknown`),
   * waits for a state write in progress and closes the transport.
   */
  async close(): Promise<void> {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    this.#tickTask?.cancel();
    this.#tickTask = undefined;
    this.#client.close();
    await this.#writing?.catch(() => {});
    await this.#transport.close();
    await this.#log.close().catch(() => {});
  }

  async #start(): Promise<void> {
    this.#transport.onMessage(({ from, message }) => this.#onPeerMessage(from, message));
    this.#transport.onEvent((event) => {
      // Lost connections are the normal life of a cluster, and closed ones are this node's own doing.
      if (
        event.kind === 'disconnected' &&
        event.reason !== 'connection-lost' &&
        event.reason !== 'closed'
      ) {
        this.#events.emit({ kind: 'transport', detail: event.detail });
      }
    });
    await this.#transport.start();
    const tick = (): void => {
      if (this.#closed) {
        return;
      }
      this.#core.tick();
      this.#queueFlush();
      this.#tickTask = this.#scheduler.schedule(this.#tickMs, tick);
    };
    this.#tickTask = this.#scheduler.schedule(this.#tickMs, tick);
  }

  #requireRunning(): void {
    if (this.#closed || this.#stopped) {
      throw new InvalidArgumentError(
        'StoreProcess',
        `Store node ${this.id} is ${this.#closed ? 'closed' : 'stopped after a failed state write'}; open it again.`,
      );
    }
  }

  #onPeerMessage(from: string, message: unknown): void {
    if (this.#closed || this.#stopped) {
      return;
    }
    if (!isObject(message)) {
      this.#refuse(from, 'a message must be an object');
      return;
    }
    if (message['kind'] === 'store-reply') {
      this.#client.onMessage(from, message);
      return;
    }
    if (message['kind'] === 'store-request') {
      // Replies go to request.client: only the node that sent the request may be named.
      const parsed = parseReplicaRequest(message['request']);
      if (!parsed.ok || parsed.request.client !== from || typeof message['shard'] !== 'string') {
        this.#refuse(
          from,
          parsed.ok ? 'a request must name its sender as client and a shard' : parsed.reason,
        );
        return;
      }
      this.#core.receive(from, {
        kind: 'store-request',
        shard: message['shard'],
        request: parsed.request,
      });
    } else if (message['kind'] === 'store-peer') {
      this.#core.receive(from, message);
    } else {
      this.#refuse(from, 'unknown message kind');
      return;
    }
    this.#queueFlush();
  }

  #refuse(from: string, reason: string): void {
    this.#events.emit({ kind: 'message-refused', from, reason });
  }

  #sendFromClient(to: string, message: StoreMessage): void {
    if (to === this.id) {
      // The request enters the local core on the next microtask, not inside the client's call.
      queueMicrotask(() => {
        if (!this.#closed && !this.#stopped) {
          this.#core.receive(this.id, message);
          this.#queueFlush();
        }
      });
      return;
    }
    this.#transport.send(to, message);
  }

  #queueFlush(): void {
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => {
        this.#flushQueued = false;
        this.#flush();
      });
    }
  }

  /** One batch: drain the core, and send now or after the state it depends on is on disk. */
  #flush(): void {
    if (this.#closed || this.#stopped) {
      return;
    }
    const envelopes = this.#core.drain();
    const changes = this.#core.takeDurableChanges();
    if (changes.length > 0) {
      for (const change of changes) {
        this.#pending.push(change);
      }
      this.#generation += 1;
    }
    if (this.#generation === this.#persistedGeneration) {
      this.#dispatch(envelopes);
      return;
    }
    if (envelopes.length > 0) {
      if (this.#heldCount + envelopes.length > this.#heldEnvelopeCountMax) {
        // Past the bound the node behaves like a lossy network; every mode copes.
        this.#dropCount += envelopes.length;
      } else {
        this.#held.push({ generation: this.#generation, envelopes });
        this.#heldCount += envelopes.length;
      }
    }
    if (!this.#persisting) {
      // Set and cleared synchronously (the loop's finally), so no batch can slip between
      // the loop's last check and its end.
      this.#persisting = true;
      this.#writing = this.#persistLoop();
    }
  }

  async #persistLoop(): Promise<void> {
    try {
      while (this.#persistedGeneration < this.#generation && !this.#stopped) {
        const generation = this.#generation;
        const batch = this.#pending;
        this.#pending = [];
        const payload = this.#log.encode(batch);
        if (this.#log.checkpointDue(payload.length)) {
          // The checkpoint holds the whole state now, this batch and all before included.
          await this.#checkpointNow();
        } else {
          await this.#log.append(payload);
        }
        this.#persistedGeneration = generation;
        while (this.#held.length > 0 && (this.#held[0] as HeldBatch).generation <= generation) {
          const batch = this.#held.shift() as HeldBatch;
          this.#heldCount -= batch.envelopes.length;
          if (!this.#closed) {
            this.#dispatch(batch.envelopes);
          }
        }
      }
    } catch (error) {
      // Without its state on disk the node must not say anything more: stop.
      this.#stopped = true;
      this.#held.length = 0;
      this.#heldCount = 0;
      this.#tickTask?.cancel();
      this.#client.close();
      this.#events.emit({ kind: 'stopped', error });
    } finally {
      this.#persisting = false;
    }
  }

  /**
   * Writes the whole state as a checkpoint and deletes the log it covers. Synchronously
   * first: the changes not yet written (and those not yet taken) are in the state
   * captured here, so they are dropped, and every batch made so far is covered.
   */
  async #checkpointNow(): Promise<void> {
    this.#pending = [];
    this.#core.takeDurableChanges();
    const state = this.#core.durableRecords();
    await this.#log.checkpoint(state);
  }

  #dispatch(envelopes: readonly StoreEnvelope[]): void {
    for (const { to, message } of envelopes) {
      if (to === this.id) {
        if (message.kind === 'store-reply') {
          this.#client.onMessage(this.id, message);
        } else {
          this.#core.receive(this.id, message);
          this.#queueFlush();
        }
      } else if (this.#peerIds.has(to)) {
        this.#transport.send(to, message);
      }
    }
  }
}
