/**
 * The partitioned store's layout and consistency levels: which keyspace a key belongs
 * to, which shard of it (consistent hashing or ranges from `distkit/partition`), which
 * nodes replicate that shard, and how each per-request consistency level maps onto what
 * the shard's replication mode offers. Pure computation, shared by store nodes and
 * clients so both route a key the same way.
 *
 * @module
 */

import {
  DistkitError,
  type DistkitErrorOptions,
  errorGuard,
  InvalidArgumentError,
  requireFunction,
  requireInteger,
  requireOneOf,
  requireOptions,
  requireString,
} from '../core/index.js';
import { ConsistentHashRing, RangeLayout } from '../partition/index.js';
import type { ReplicaCoreFactory } from '../replication/index.js';

/**
 * What a request asks of the store, strongest first:
 * - `linearizable`: every operation takes effect at one instant between its call and its
 *   answer, across every key and client.
 * - `sequential`: one order of all operations that respects each client's own order.
 * - `causal`: a read sees every write that causally precedes it (its session's writes and
 *   reads, and what those depended on).
 * - `read-your-writes`: a read sees the session's own earlier writes to the key (or newer).
 * - `monotonic-reads`: a session's reads of a key never go back in time.
 * - `bounded-staleness`: a read misses no write that completed more than
 *   `stalenessMsMax` before it.
 * - `eventual`: replicas converge once writes stop; a read may return anything older.
 */
export type ConsistencyLevel =
  | 'linearizable'
  | 'sequential'
  | 'causal'
  | 'read-your-writes'
  | 'monotonic-reads'
  | 'bounded-staleness'
  | 'eventual';

/** Every {@link ConsistencyLevel}, strongest first. */
export const consistencyLevels: readonly ConsistencyLevel[] = [
  'linearizable',
  'sequential',
  'causal',
  'read-your-writes',
  'monotonic-reads',
  'bounded-staleness',
  'eventual',
];

/**
 * The replication mode a keyspace's factory builds, so the client knows which levels it
 * can offer: `consensus` (Raft), leader-follower by replication kind, `multi-leader`
 * (conflicts `'lww'`: one value per key), `multi-leader-siblings` (conflicts `'siblings'`
 * or `'crdt'`: a read's `value` is one of the siblings, so it may be an older write than
 * one the session wrote or read) and `leaderless` (any W, R, sloppy or strict).
 */
export type ShardModeKind =
  | 'consensus'
  | 'leader-follower-sync'
  | 'leader-follower-semi-sync'
  | 'leader-follower-async'
  | 'multi-leader'
  | 'multi-leader-siblings'
  | 'leaderless';

/** Every {@link ShardModeKind}. */
export const shardModeKinds: readonly ShardModeKind[] = [
  'consensus',
  'leader-follower-sync',
  'leader-follower-semi-sync',
  'leader-follower-async',
  'multi-leader',
  'multi-leader-siblings',
  'leaderless',
];

/**
 * How a read of one level is served by one mode:
 * - `target`: `'leader'` sends it to the replica the client believes leads (a follower
 *   forwards it); `'any'` to a random replica of the shard.
 * - `localRead`: ask the receiving replica to answer from its own state.
 * - `session`: send the client's session token for the shard, so a replica behind it
 *   refuses (`behind-session`) and the client retries: at the leader when the mode has
 *   one, else at another replica.
 * - `stalenessCheck`: accept the answer only if its `stalenessMs` is within the bound,
 *   else ask the leader.
 * - `readQuorum`: leaderless R for this read (absent: the mode's default).
 */
export interface ReadPlan {
  /** Where the first attempt goes. */
  readonly target: 'leader' | 'any';
  /** Answer from the receiving replica's state. */
  readonly localRead: boolean;
  /** Carry the session token (and adopt the reply's). */
  readonly session: boolean;
  /** Check the reply's `stalenessMs` against the request's bound. */
  readonly stalenessCheck: boolean;
  /** Leaderless R, when the level sets one. */
  readonly readQuorum?: number;
  /** Where a retry goes after `behind-session` or a reply too stale. */
  readonly fallback: 'leader' | 'another';
}

const leaderRead: ReadPlan = {
  target: 'leader',
  localRead: false,
  session: true,
  stalenessCheck: false,
  fallback: 'leader',
};
const followerSessionRead: ReadPlan = {
  target: 'any',
  localRead: true,
  session: true,
  stalenessCheck: false,
  fallback: 'leader',
};
const followerBoundedRead: ReadPlan = {
  target: 'any',
  localRead: true,
  session: false,
  stalenessCheck: true,
  fallback: 'leader',
};
const followerAnyRead: ReadPlan = {
  target: 'any',
  localRead: true,
  session: false,
  stalenessCheck: false,
  fallback: 'leader',
};
const peerSessionRead: ReadPlan = {
  target: 'any',
  localRead: true,
  session: true,
  stalenessCheck: false,
  fallback: 'another',
};
const peerAnyRead: ReadPlan = {
  target: 'any',
  localRead: true,
  session: false,
  stalenessCheck: false,
  fallback: 'another',
};

type PlanTable = Readonly<Record<ShardModeKind, Partial<Record<ConsistencyLevel, ReadPlan>>>>;

/**
 * The level → mode table. Sequential and causal are served like linearizable where they
 * are offered: per-shard session tokens do not compose across shards (a session token
 * of one shard says nothing of another shard's writes it depended on), while
 * linearizability does compose, so leader reads give both store-wide.
 */
const plans: PlanTable = {
  consensus: {
    linearizable: leaderRead,
    sequential: leaderRead,
    causal: leaderRead,
    'read-your-writes': followerSessionRead,
    'monotonic-reads': followerSessionRead,
    // A consensus follower's stalenessMs counts from the leader's last message, not from
    // when it last held everything the leader had: a follower missing entries reports
    // itself fresh (seeds 1 and 4 of the level test read a value 200 ms overwritten), so
    // bounded staleness is served by read index.
    'bounded-staleness': leaderRead,
    eventual: followerAnyRead,
  },
  'leader-follower-sync': {
    linearizable: leaderRead,
    sequential: leaderRead,
    causal: leaderRead,
    'read-your-writes': followerSessionRead,
    'monotonic-reads': followerSessionRead,
    'bounded-staleness': followerBoundedRead,
    eventual: followerAnyRead,
  },
  'leader-follower-semi-sync': {
    'read-your-writes': followerSessionRead,
    'monotonic-reads': followerSessionRead,
    'bounded-staleness': followerBoundedRead,
    eventual: followerAnyRead,
  },
  'leader-follower-async': {
    'read-your-writes': followerSessionRead,
    'monotonic-reads': followerSessionRead,
    'bounded-staleness': followerBoundedRead,
    eventual: followerAnyRead,
  },
  'multi-leader': {
    'read-your-writes': peerSessionRead,
    'monotonic-reads': peerSessionRead,
    eventual: peerAnyRead,
  },
  // With siblings, the session token keeps the client's write among the siblings, but
  // the single `value` (the greatest sibling) may be an older write: read-your-writes on
  // the value broke in 5 of 8 seeds.
  'multi-leader-siblings': {
    eventual: peerAnyRead,
  },
  leaderless: {
    'read-your-writes': peerSessionRead,
    'monotonic-reads': peerSessionRead,
    eventual: { ...peerAnyRead, readQuorum: 1 },
  },
};

/** The levels a mode offers, strongest first. */
export function levelsOffered(mode: ShardModeKind): ConsistencyLevel[] {
  requireOneOf('levelsOffered mode', mode, shardModeKinds);
  return consistencyLevels.filter((level) => plans[mode][level] !== undefined);
}

/** How `mode` serves a read at `level`, or `undefined` when it cannot. */
export function readPlanFor(mode: ShardModeKind, level: ConsistencyLevel): ReadPlan | undefined {
  return plans[mode][level];
}

/**
 * A request asked for a consistency level that the replication mode of its key's
 * keyspace cannot give. Thrown at request time; nothing was sent. Ask for a level the
 * mode offers ({@link levelsOffered}) or configure the keyspace with another mode; the
 * store never serves a weaker level silently.
 */
export class ConsistencyLevelUnsupportedError extends DistkitError {
  /** The level asked for. */
  readonly level: ConsistencyLevel;
  /** The keyspace's mode. */
  readonly mode: ShardModeKind;
  /** The keyspace. */
  readonly keyspace: string;

  constructor(
    level: ConsistencyLevel,
    mode: ShardModeKind,
    keyspace: string,
    options?: DistkitErrorOptions,
  ) {
    super(
      'CONSISTENCY_LEVEL_UNSUPPORTED',
      `Keyspace ${JSON.stringify(keyspace)} is replicated by ${mode}, which cannot give ${level}; it offers ${levelsOffered(mode).join(', ')}. Ask for one of those, or configure the keyspace with a mode that offers ${level}.`,
      options,
    );
    this.level = level;
    this.mode = mode;
    this.keyspace = keyspace;
  }
}

/** Brand guard for {@link ConsistencyLevelUnsupportedError}. */
export const isConsistencyLevelUnsupportedError = errorGuard<ConsistencyLevelUnsupportedError>(
  'CONSISTENCY_LEVEL_UNSUPPORTED',
);

/** How a keyspace is cut into shards. */
export type KeyspacePartitioning =
  | {
      /** Consistent hashing of the key over the shards (a `ConsistentHashRing`). */
      readonly kind: 'hash';
      /** Shards of the keyspace, 1 to {@link shardedStoreShardCountMax}. */
      readonly shardCount: number;
      /** Ring points per shard. Default 160. */
      readonly virtualNodeCount?: number;
    }
  | {
      /** Ranges of keys (a `RangeLayout`): shard i holds keys from splitKeys[i - 1]. */
      readonly kind: 'range';
      /** Ascending, distinct, non-empty keys where a new shard starts; n keys make n + 1 shards. */
      readonly splitKeys: readonly string[];
    };

/** One keyspace of a {@link ShardedStoreLayout}. */
export interface KeyspaceOptions {
  /** Its name: 1 to 64 of `a-z`, `0-9`, `-`, `_`. Shard ids are `name/index`. */
  readonly name: string;
  /** Keys starting with it belong to the keyspace (the longest matching prefix wins). */
  readonly keyPrefix: string;
  /** The mode `factory` builds (decides which levels the keyspace offers). */
  readonly mode: ShardModeKind;
  /** Builds each replica of each shard of the keyspace. */
  readonly factory: ReplicaCoreFactory;
  /** How the keyspace is cut into shards. */
  readonly partitioning: KeyspacePartitioning;
  /** Replicas per shard, 1 to the node count. */
  readonly replicaCount: number;
}

/** Options of {@link ShardedStoreLayout}. */
export interface ShardedStoreLayoutOptions {
  /** The store's nodes, in the same order everywhere; 1 to 256 distinct ids. */
  readonly nodes: readonly string[];
  /** At least one keyspace; every key must match one prefix (give one `''` for the rest). */
  readonly keyspaces: readonly KeyspaceOptions[];
}

/** One shard: a replica group of its keyspace's mode on `replicas`. */
export interface ShardDescriptor {
  /** `keyspace/index`. */
  readonly id: string;
  /** The keyspace's name. */
  readonly keyspace: string;
  /** The shard's index in its keyspace. */
  readonly index: number;
  /** The mode of its keyspace. */
  readonly mode: ShardModeKind;
  /** The nodes replicating it; `replicas[0]` is where leader requests go first. */
  readonly replicas: readonly string[];
}

/** Most shards a layout holds, over all keyspaces. */
export const shardedStoreShardCountMax = 4_096;

const nodeCountMax = 256;
const keyspaceCountMax = 64;
const keyspaceNamePattern = /^[a-z0-9_-]{1,64}$/;

interface KeyspaceRouting {
  readonly options: KeyspaceOptions;
  readonly shards: readonly ShardDescriptor[];
  readonly shardIndexOf: (key: string) => number;
}

/**
 * Where every key lives: its keyspace (longest matching `keyPrefix`), its shard (hash
 * ring or ranges) and the shard's replicas (shard i of keyspace k on the nodes from
 * position `k + i` round the node list, so leaders spread over nodes). An immutable
 * value; nodes and clients built from the same options route identically.
 *
 * @example
 * ```ts
 * const layout = new ShardedStoreLayout({
 *   nodes: ['n1', 'n2', 'n3'],
 *   keyspaces: [{
 *     name: 'users', keyPrefix: '', mode: 'leader-follower-sync',
 *     factory: leaderFollower({ replication: 'sync' }),
 *     partitioning: { kind: 'hash', shardCount: 2 }, replicaCount: 3,
 *   }],
 * });
 * layout.shardOf('alice').id; // 'users/0' or 'users/1'
 * ```
 */
export class ShardedStoreLayout {
  /** The nodes, as given. */
  readonly nodes: readonly string[];
  /** Every shard of every keyspace. */
  readonly shards: readonly ShardDescriptor[];
  readonly #keyspaces: readonly KeyspaceRouting[];
  readonly #byShardId: ReadonlyMap<string, { shard: ShardDescriptor; routing: KeyspaceRouting }>;

  constructor(options: ShardedStoreLayoutOptions) {
    const checked = requireOptions('ShardedStoreLayout options', options);
    const nodes: unknown = checked.nodes;
    if (!Array.isArray(nodes) || nodes.length === 0 || nodes.length > nodeCountMax) {
      throw new InvalidArgumentError(
        'ShardedStoreLayout options.nodes',
        `ShardedStoreLayout options.nodes must list 1 to ${nodeCountMax} node ids.`,
      );
    }
    for (const [index, node] of nodes.entries()) {
      requireString(`ShardedStoreLayout options.nodes[${index}]`, node);
    }
    if (new Set(nodes).size !== nodes.length) {
      throw new InvalidArgumentError(
        'ShardedStoreLayout options.nodes',
        'ShardedStoreLayout options.nodes must not repeat an id.',
      );
    }
    this.nodes = [...(nodes as string[])];
    const keyspaces: unknown = checked.keyspaces;
    if (
      !Array.isArray(keyspaces) ||
      keyspaces.length === 0 ||
      keyspaces.length > keyspaceCountMax
    ) {
      throw new InvalidArgumentError(
        'ShardedStoreLayout options.keyspaces',
        `ShardedStoreLayout options.keyspaces must list 1 to ${keyspaceCountMax} keyspaces.`,
      );
    }
    const routings: KeyspaceRouting[] = [];
    const names = new Set<string>();
    const prefixes = new Set<string>();
    let shardTotal = 0;
    (keyspaces as KeyspaceOptions[]).forEach((input, keyspaceIndex) => {
      const name = `ShardedStoreLayout options.keyspaces[${keyspaceIndex}]`;
      const keyspace = requireOptions(name, input);
      if (typeof keyspace.name !== 'string' || !keyspaceNamePattern.test(keyspace.name)) {
        throw new InvalidArgumentError(
          `${name}.name`,
          `${name}.name must be 1 to 64 of a-z, 0-9, '-' and '_'.`,
        );
      }
      if (names.has(keyspace.name)) {
        throw new InvalidArgumentError(`${name}.name`, `${name}.name repeats ${keyspace.name}.`);
      }
      names.add(keyspace.name);
      const prefix = requireString(`${name}.keyPrefix`, keyspace.keyPrefix, true);
      if (prefixes.has(prefix)) {
        throw new InvalidArgumentError(
          `${name}.keyPrefix`,
          `${name}.keyPrefix repeats ${JSON.stringify(prefix)}; each keyspace needs its own.`,
        );
      }
      prefixes.add(prefix);
      requireOneOf(`${name}.mode`, keyspace.mode, shardModeKinds);
      requireFunction(`${name}.factory`, keyspace.factory);
      const replicaCount = requireInteger(`${name}.replicaCount`, keyspace.replicaCount, {
        min: 1,
        max: this.nodes.length,
      });
      const partitioning = requireOptions(`${name}.partitioning`, keyspace.partitioning);
      let shardCount: number;
      let shardIndexOf: (key: string) => number;
      if (partitioning.kind === 'hash') {
        shardCount = requireInteger(`${name}.partitioning.shardCount`, partitioning.shardCount, {
          min: 1,
          max: shardedStoreShardCountMax,
        });
        const ids = Array.from({ length: shardCount }, (_, index) => String(index));
        const ring = new ConsistentHashRing({
          nodes: ids,
          ...(partitioning.virtualNodeCount === undefined
            ? {}
            : { virtualNodeCount: partitioning.virtualNodeCount }),
        });
        shardIndexOf = (key) => Number(ring.nodeFor(key));
      } else if (partitioning.kind === 'range') {
        const splitKeys: unknown = partitioning.splitKeys;
        if (!Array.isArray(splitKeys) || splitKeys.length >= shardedStoreShardCountMax) {
          throw new InvalidArgumentError(
            `${name}.partitioning.splitKeys`,
            `${name}.partitioning.splitKeys must be an array of fewer than ${shardedStoreShardCountMax} keys.`,
          );
        }
        shardCount = splitKeys.length + 1;
        const ranges = new RangeLayout({
          ranges: [
            { startKey: '', owner: '0' },
            ...(splitKeys as string[]).map((startKey, index) => ({
              startKey,
              owner: String(index + 1),
            })),
          ],
        });
        shardIndexOf = (key) => Number(ranges.ownerFor(key));
      } else {
        throw new InvalidArgumentError(
          `${name}.partitioning.kind`,
          `${name}.partitioning.kind must be 'hash' or 'range'.`,
        );
      }
      shardTotal += shardCount;
      if (shardTotal > shardedStoreShardCountMax) {
        throw new InvalidArgumentError(
          `${name}.partitioning`,
          `The keyspaces hold more than ${shardedStoreShardCountMax} shards in all.`,
        );
      }
      const shards: ShardDescriptor[] = Array.from({ length: shardCount }, (_, index) => ({
        id: `${keyspace.name}/${index}`,
        keyspace: keyspace.name,
        index,
        mode: keyspace.mode,
        replicas: Array.from(
          { length: replicaCount },
          (__, position) =>
            this.nodes[(keyspaceIndex + index + position) % this.nodes.length] as string,
        ),
      }));
      routings.push({ options: keyspace, shards, shardIndexOf });
    });
    // Longest prefix first, so the first match is the longest.
    routings.sort((left, right) => right.options.keyPrefix.length - left.options.keyPrefix.length);
    this.#keyspaces = routings;
    this.shards = routings.flatMap((routing) => routing.shards);
    const byShardId = new Map<string, { shard: ShardDescriptor; routing: KeyspaceRouting }>();
    for (const routing of routings) {
      for (const shard of routing.shards) {
        byShardId.set(shard.id, { shard, routing });
      }
    }
    this.#byShardId = byShardId;
  }

  /** The keyspace of `key`, or `undefined` when no prefix matches. */
  keyspaceOf(key: string): KeyspaceOptions | undefined {
    return this.#keyspaces.find((routing) => key.startsWith(routing.options.keyPrefix))?.options;
  }

  /** The shard of `key`, or `undefined` when no keyspace's prefix matches it. */
  shardOf(key: string): ShardDescriptor | undefined {
    const routing = this.#keyspaces.find((candidate) =>
      key.startsWith(candidate.options.keyPrefix),
    );
    return routing === undefined ? undefined : routing.shards[routing.shardIndexOf(key)];
  }

  /** The shard with this id, or `undefined`. */
  shard(shardId: string): ShardDescriptor | undefined {
    return this.#byShardId.get(shardId)?.shard;
  }

  /** The factory that builds the replicas of a shard, or `undefined` for an unknown id. */
  factoryOf(shardId: string): ReplicaCoreFactory | undefined {
    return this.#byShardId.get(shardId)?.routing.options.factory;
  }

  /** The shards `node` holds a replica of. */
  shardsOfNode(node: string): ShardDescriptor[] {
    return this.shards.filter((shard) => shard.replicas.includes(node));
  }
}
