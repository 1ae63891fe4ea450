/**
 * The client of the partitioned store: routes each key to its shard and each request to
 * a replica chosen by its consistency level, keeps a session token per shard, retries
 * within the request's deadline, and never serves a weaker level than asked.
 *
 * @module
 */

import {
  InvalidArgumentError,
  LimitExceededError,
  type Random,
  requireInteger,
  requireNumber,
  requireOneOf,
  type ScheduledTask,
  type Scheduler,
} from '../core/index.js';
import type { ReplicaReply, ReplicaRequest, RequestSettings } from '../replication/index.js';
import type { StoreMessage } from './shard-node.js';
import {
  type ConsistencyLevel,
  ConsistencyLevelUnsupportedError,
  consistencyLevels,
  type ReadPlan,
  readPlanFor,
  type ShardDescriptor,
  type ShardedStoreLayout,
  type ShardModeKind,
} from './sharded-store.js';
import { StoreSession } from './store-session.js';

/** How a {@link StoreClient} reaches the store nodes, and its time and randomness. */
export interface StoreClientTransport {
  /** The client's id: replies are addressed to it. Unique among the store's clients. */
  readonly id: string;
  /** Timers for attempts and deadlines. */
  readonly scheduler: Scheduler;
  /** Picks replicas. */
  readonly random: Random;
  /** Sends a message to a store node. */
  send(to: string, message: StoreMessage): void;
}

/** Options of {@link StoreClient}. */
export interface StoreClientOptions {
  /** The store's layout (the same as the nodes'). */
  readonly layout: ShardedStoreLayout;
  /** Where messages go. */
  readonly transport: StoreClientTransport;
  /** A request's deadline unless it gives its own. Default 1,000. */
  readonly deadlineMs?: number;
  /** How long one attempt waits for a reply before the next (reads only). Default 300. */
  readonly attemptTimeoutMs?: number;
  /** Most attempts per request. Default 5. */
  readonly attemptCountMax?: number;
  /** Wait before retrying after a refusal (not after `behind-session`). Default 20. */
  readonly retryDelayMs?: number;
  /** Requests in flight at once; one more throws `LimitExceededError`. Default 1,024. */
  readonly inflightCountMax?: number;
  /** Shards whose session token and leader hint are kept (least recently used dropped). Default 4,096. */
  readonly shardStateCountMax?: number;
  /**
   * Subtracted from a `bounded-staleness` request's bound before comparing a reply's
   * `stalenessMs`: a follower counts its staleness from when the leader's message
   * arrived, not when it was sent, so set it to the one-way delay of the network. Default 0.
   */
  readonly stalenessMarginMs?: number;
  /**
   * Starts every request id (replicas drop a request id they have seen). Default the
   * transport's id; give a new one for each incarnation of a client that restarts.
   */
  readonly requestIdPrefix?: string;
}

/** Per-request options. */
export interface StoreRequestOptions {
  /** The level the request needs; it must be one the key's keyspace offers. */
  readonly consistency: ConsistencyLevel;
  /** Required with `bounded-staleness`: the largest staleness accepted, in milliseconds. */
  readonly stalenessMsMax?: number;
  /** Overrides the client's `deadlineMs`. */
  readonly deadlineMs?: number;
  /**
   * The caller's own session: the request sends this session's token for the key's shard
   * and advances it with the reply's, instead of the client's own. One application client
   * that carries its session keeps read-your-writes and monotonic reads across store
   * clients and nodes.
   */
  readonly session?: StoreSession;
}

/**
 * How a request ended:
 * - `ok`: a read's `value` (`null`: absent), `siblings` where the mode keeps them, the
 *   `replica` that answered and its `stalenessMs` when reported;
 * - `unavailable`: it certainly took no effect (every attempt was refused, timed out as
 *   a read, or the deadline passed before a write was sent);
 * - `unknown`: a write that may or may not have taken effect.
 */
export type StoreResult =
  | {
      readonly status: 'ok';
      readonly value?: string | null;
      readonly siblings?: readonly string[];
      readonly replica: string;
      readonly stalenessMs?: number;
      readonly attemptCount: number;
    }
  | { readonly status: 'unavailable'; readonly reason: string; readonly attemptCount: number }
  | { readonly status: 'unknown'; readonly reason: string; readonly attemptCount: number };

interface ShardState {
  session: string | undefined;
  leaderIndex: number;
}

interface Pending {
  readonly id: string;
  readonly shard: ShardDescriptor;
  readonly kind: 'read' | 'write';
  readonly key: string;
  readonly value: string | undefined;
  readonly plan: ReadPlan | undefined;
  readonly stalenessMsMax: number;
  /** The caller's session, or undefined for the client's own. */
  readonly session: StoreSession | undefined;
  readonly callback: (result: StoreResult) => void;
  readonly tried: Set<string>;
  deadline: ScheduledTask | undefined;
  attemptTimer: ScheduledTask | undefined;
  attemptId: string | undefined;
  attemptTarget: string | undefined;
  attemptToLeader: boolean;
  attemptCount: number;
  toLeader: boolean;
  sessionSent: string | undefined;
  writeMayHaveApplied: boolean;
  lastReason: string;
}

const leaderModes: readonly ShardModeKind[] = [
  'consensus',
  'leader-follower-sync',
  'leader-follower-semi-sync',
  'leader-follower-async',
];

/**
 * The store's client. Each request names a {@link ConsistencyLevel}; the client maps it
 * onto the key's shard mode ({@link readPlanFor}) and throws
 * {@link ConsistencyLevelUnsupportedError} at once when the mode cannot give it.
 *
 * Reads are retried (at another replica, or at the leader after `behind-session` or a
 * reply staler than the bound) until the deadline or `attemptCountMax`. Writes are
 * retried only after an `unavailable` reply (certainly not applied): the replicas
 * deduplicate a request id only where it arrived, not across replicas, so a write whose
 * attempt timed out or ended `unknown` ends `unknown` rather than risk applying twice.
 *
 * The API takes callbacks, not promises, so it runs inside the simulator's synchronous
 * event loop; wrap it in a promise on a real event loop.
 *
 * @example
 * ```ts
 * const client = new StoreClient({ layout, transport });
 * client.write('user/alice', 'blue', { consistency: 'linearizable' }, (result) => {
 *   client.read('user/alice', { consistency: 'read-your-writes' }, console.log);
 * });
 * ```
 */
export class StoreClient {
  readonly #layout: ShardedStoreLayout;
  readonly #transport: StoreClientTransport;
  readonly #deadlineMs: number;
  readonly #attemptTimeoutMs: number;
  readonly #attemptCountMax: number;
  readonly #retryDelayMs: number;
  readonly #inflightCountMax: number;
  readonly #shardStateCountMax: number;
  readonly #stalenessMarginMs: number;
  readonly #requestIdPrefix: string;
  readonly #pending = new Map<string, Pending>();
  readonly #byAttempt = new Map<string, Pending>();
  readonly #shards = new Map<string, ShardState>();
  #counter = 0;

  constructor(options: StoreClientOptions) {
    this.#layout = options.layout;
    this.#transport = options.transport;
    this.#requestIdPrefix = options.requestIdPrefix ?? options.transport.id;
    this.#deadlineMs = requireNumber(
      'StoreClient options.deadlineMs',
      options.deadlineMs ?? 1_000,
      {
        min: 1,
      },
    );
    this.#attemptTimeoutMs = requireNumber(
      'StoreClient options.attemptTimeoutMs',
      options.attemptTimeoutMs ?? 300,
      { min: 1 },
    );
    this.#attemptCountMax = requireInteger(
      'StoreClient options.attemptCountMax',
      options.attemptCountMax ?? 5,
      { min: 1, max: 1_000 },
    );
    this.#retryDelayMs = requireNumber(
      'StoreClient options.retryDelayMs',
      options.retryDelayMs ?? 20,
      {
        min: 0,
      },
    );
    this.#inflightCountMax = requireInteger(
      'StoreClient options.inflightCountMax',
      options.inflightCountMax ?? 1_024,
      { min: 1 },
    );
    this.#shardStateCountMax = requireInteger(
      'StoreClient options.shardStateCountMax',
      options.shardStateCountMax ?? 4_096,
      { min: 1 },
    );
    this.#stalenessMarginMs = requireNumber(
      'StoreClient options.stalenessMarginMs',
      options.stalenessMarginMs ?? 0,
      { min: 0 },
    );
  }

  /** Requests in flight. */
  get inflightCount(): number {
    return this.#pending.size;
  }

  /** The session token this client holds for a shard (what it has seen there). */
  sessionToken(shardId: string): string | undefined {
    return this.#shards.get(shardId)?.session;
  }

  /**
   * Reads `key` at `options.consistency`; `callback` gets the {@link StoreResult} once.
   * Throws {@link ConsistencyLevelUnsupportedError} when the key's mode cannot give the
   * level, `InvalidArgumentError` for a key no keyspace holds or bad options, and
   * `LimitExceededError` when `inflightCountMax` requests are in flight.
   */
  read(key: string, options: StoreRequestOptions, callback: (result: StoreResult) => void): void {
    this.#start('read', key, undefined, options, callback);
  }

  /**
   * Writes `value` to `key` at `options.consistency` (the level must be one the mode
   * offers; a write's session token joins the client's session). Throws like
   * {@link StoreClient.read}.
   */
  write(
    key: string,
    value: string,
    options: StoreRequestOptions,
    callback: (result: StoreResult) => void,
  ): void {
    this.#start('write', key, value, options, callback);
  }

  /** A message from a store node arrived (ignored unless it answers a current attempt). */
  onMessage(_from: string, message: unknown): void {
    if (typeof message !== 'object' || message === null) {
      return;
    }
    const envelope = message as { kind?: unknown; reply?: unknown };
    if (
      envelope.kind !== 'store-reply' ||
      typeof envelope.reply !== 'object' ||
      envelope.reply === null
    ) {
      return;
    }
    const reply = envelope.reply as ReplicaReply;
    if (typeof reply.id !== 'string') {
      return;
    }
    const pending = this.#byAttempt.get(reply.id);
    if (pending === undefined || pending.attemptId !== reply.id) {
      return;
    }
    this.#onReply(pending, reply);
  }

  /** Gives up every request in flight (reads `unavailable`, sent writes `unknown`). */
  close(): void {
    for (const pending of [...this.#pending.values()]) {
      this.#giveUp(pending, 'closed: the client was closed');
    }
  }

  #start(
    kind: 'read' | 'write',
    key: string,
    value: string | undefined,
    options: StoreRequestOptions,
    callback: (result: StoreResult) => void,
  ): void {
    if (typeof key !== 'string') {
      throw new InvalidArgumentError('key', 'key must be a string.');
    }
    if (typeof callback !== 'function') {
      throw new InvalidArgumentError('callback', 'callback must be a function.');
    }
    const level = requireOneOf('options.consistency', options?.consistency, consistencyLevels);
    const shard = this.#layout.shardOf(key);
    if (shard === undefined) {
      throw new InvalidArgumentError(
        'key',
        `No keyspace holds key ${JSON.stringify(key)}: no keyPrefix matches it. Add a keyspace with keyPrefix '' for the rest.`,
      );
    }
    const plan = readPlanFor(shard.mode, level);
    if (plan === undefined) {
      throw new ConsistencyLevelUnsupportedError(level, shard.mode, shard.keyspace);
    }
    let stalenessMsMax = Number.POSITIVE_INFINITY;
    if (level === 'bounded-staleness') {
      stalenessMsMax = requireNumber('options.stalenessMsMax', options.stalenessMsMax, { min: 0 });
    }
    const deadlineMs = requireNumber('options.deadlineMs', options.deadlineMs ?? this.#deadlineMs, {
      min: 1,
    });
    if (options.session !== undefined && !(options.session instanceof StoreSession)) {
      throw new InvalidArgumentError(
        'options.session',
        'options.session must be a StoreSession (StoreSession.parse reads one from text).',
      );
    }
    if (this.#pending.size >= this.#inflightCountMax) {
      throw new LimitExceededError(
        this.#inflightCountMax,
        `StoreClient has ${this.#inflightCountMax} requests in flight (inflightCountMax); wait for some to finish.`,
      );
    }
    this.#counter += 1;
    const pending: Pending = {
      id: `${this.#requestIdPrefix}:${this.#counter}`,
      shard,
      kind,
      key,
      value,
      plan: kind === 'read' ? plan : undefined,
      stalenessMsMax,
      session: options.session,
      callback,
      tried: new Set(),
      deadline: undefined,
      attemptTimer: undefined,
      attemptId: undefined,
      attemptTarget: undefined,
      attemptToLeader: false,
      attemptCount: 0,
      toLeader: false,
      sessionSent: undefined,
      writeMayHaveApplied: false,
      lastReason: 'no attempt made',
    };
    this.#pending.set(pending.id, pending);
    pending.deadline = this.#transport.scheduler.schedule(deadlineMs, () => {
      this.#giveUp(pending, `deadline: no answer within ${deadlineMs} ms (${pending.lastReason})`);
    });
    this.#attempt(pending);
  }

  #state(shardId: string): ShardState {
    let state = this.#shards.get(shardId);
    if (state === undefined) {
      state = { session: undefined, leaderIndex: 0 };
      if (this.#shards.size >= this.#shardStateCountMax) {
        const oldest = this.#shards.keys().next().value as string;
        this.#shards.delete(oldest);
      }
    } else {
      this.#shards.delete(shardId);
    }
    this.#shards.set(shardId, state);
    return state;
  }

  /** The token the request's session holds for its shard: the caller's, or the client's. */
  #sessionToken(pending: Pending, state: ShardState): string | undefined {
    return pending.session === undefined ? state.session : pending.session.token(pending.shard.id);
  }

  #attempt(pending: Pending): void {
    if (!this.#pending.has(pending.id)) {
      return;
    }
    if (pending.attemptCount >= this.#attemptCountMax) {
      this.#giveUp(
        pending,
        `attempts: ${this.#attemptCountMax} attempts failed (attemptCountMax); last: ${pending.lastReason}`,
      );
      return;
    }
    pending.attemptCount += 1;
    const shard = pending.shard;
    const state = this.#state(shard.id);
    const hasLeader = leaderModes.includes(shard.mode);
    const plan = pending.plan;
    const toLeader =
      hasLeader && (pending.kind === 'write' || pending.toLeader || plan?.target === 'leader');
    let target: string;
    if (toLeader) {
      target = shard.replicas[state.leaderIndex % shard.replicas.length] as string;
    } else {
      const untried = shard.replicas.filter((replica) => !pending.tried.has(replica));
      target = this.#transport.random.pick(untried.length > 0 ? untried : shard.replicas);
    }
    pending.tried.add(target);
    const settings: { -readonly [K in keyof RequestSettings]: RequestSettings[K] } = {};
    if (plan?.localRead && !toLeader) {
      settings.localRead = true;
    }
    if (plan?.readQuorum !== undefined) {
      settings.readQuorum = plan.readQuorum;
    }
    const carrySession = pending.kind === 'write' || (plan?.session ?? false);
    const session = carrySession ? this.#sessionToken(pending, state) : undefined;
    pending.sessionSent = session;
    const attemptId = `${pending.id}.${pending.attemptCount}`;
    const request: ReplicaRequest = {
      id: attemptId,
      client: this.#transport.id,
      operation:
        pending.kind === 'read'
          ? { kind: 'read', key: pending.key }
          : { kind: 'write', key: pending.key, value: pending.value as string },
      ...(Object.keys(settings).length === 0 ? {} : { settings }),
      ...(session === undefined ? {} : { session }),
    };
    if (pending.attemptId !== undefined) {
      this.#byAttempt.delete(pending.attemptId);
    }
    pending.attemptId = attemptId;
    pending.attemptTarget = target;
    pending.attemptToLeader = toLeader;
    this.#byAttempt.set(attemptId, pending);
    if (pending.kind === 'write') {
      pending.writeMayHaveApplied = true;
    }
    pending.attemptTimer = this.#transport.scheduler.schedule(this.#attemptTimeoutMs, () => {
      pending.attemptTimer = undefined;
      pending.lastReason = `timeout: ${target} did not answer within ${this.#attemptTimeoutMs} ms`;
      if (pending.kind === 'write') {
        // Keep waiting for this attempt's answer until the deadline: no second copy.
        return;
      }
      this.#moveOn(pending, toLeader);
      this.#attempt(pending);
    });
    this.#transport.send(target, { kind: 'store-request', shard: shard.id, request });
  }

  #moveOn(pending: Pending, wasLeader: boolean): void {
    if (wasLeader) {
      const state = this.#state(pending.shard.id);
      state.leaderIndex = (state.leaderIndex + 1) % pending.shard.replicas.length;
    }
  }

  #onReply(pending: Pending, reply: ReplicaReply): void {
    pending.attemptTimer?.cancel();
    pending.attemptTimer = undefined;
    const shard = pending.shard;
    const target = pending.attemptTarget as string;
    const wasLeader = pending.attemptToLeader;
    if (reply.status === 'ok') {
      const plan = pending.plan;
      if (
        plan?.stalenessCheck &&
        !pending.toLeader &&
        (reply.stalenessMs === undefined ||
          reply.stalenessMs > pending.stalenessMsMax - this.#stalenessMarginMs)
      ) {
        pending.lastReason = `too-stale: ${target} was ${reply.stalenessMs ?? 'unknown'} ms behind`;
        pending.toLeader = plan.fallback === 'leader';
        this.#attempt(pending);
        return;
      }
      const state = this.#state(shard.id);
      const held = this.#sessionToken(pending, state);
      const adopt =
        reply.session !== undefined &&
        (pending.kind === 'write' || (plan?.session ?? false) || held === undefined) &&
        pending.sessionSent === held;
      if (adopt) {
        if (pending.session === undefined) {
          state.session = reply.session;
        } else {
          pending.session.advance(shard.id, reply.session as string);
        }
      }
      this.#finish(pending, {
        status: 'ok',
        ...(reply.value === undefined ? {} : { value: reply.value }),
        ...(reply.siblings === undefined ? {} : { siblings: reply.siblings }),
        replica: target,
        ...(reply.stalenessMs === undefined ? {} : { stalenessMs: reply.stalenessMs }),
        attemptCount: pending.attemptCount,
      });
      return;
    }
    pending.lastReason = `${reply.status} from ${target}: ${reply.reason}`;
    if (reply.status === 'unknown' && pending.kind === 'write') {
      this.#finish(pending, {
        status: 'unknown',
        reason: pending.lastReason,
        attemptCount: pending.attemptCount,
      });
      return;
    }
    if (reply.status === 'unavailable' && pending.kind === 'write') {
      pending.writeMayHaveApplied = false;
    }
    if (reply.status === 'unavailable' && reply.reason.startsWith('behind-session')) {
      if (pending.plan?.fallback === 'leader' && leaderModes.includes(shard.mode)) {
        if (pending.toLeader) {
          this.#moveOn(pending, wasLeader);
        }
        pending.toLeader = true;
      }
      this.#attempt(pending);
      return;
    }
    this.#moveOn(pending, wasLeader);
    const retry = (): void => this.#attempt(pending);
    if (this.#retryDelayMs === 0) {
      retry();
    } else {
      pending.attemptTimer = this.#transport.scheduler.schedule(this.#retryDelayMs, retry);
    }
  }

  #giveUp(pending: Pending, reason: string): void {
    if (pending.kind === 'write' && pending.writeMayHaveApplied) {
      this.#finish(pending, { status: 'unknown', reason, attemptCount: pending.attemptCount });
    } else {
      this.#finish(pending, { status: 'unavailable', reason, attemptCount: pending.attemptCount });
    }
  }

  #finish(pending: Pending, result: StoreResult): void {
    if (!this.#pending.delete(pending.id)) {
      return;
    }
    pending.deadline?.cancel();
    pending.attemptTimer?.cancel();
    if (pending.attemptId !== undefined) {
      this.#byAttempt.delete(pending.attemptId);
    }
    pending.callback(result);
  }
}
