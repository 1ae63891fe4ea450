/**
 * The consistent-hash ring (Karger et al., 1997) with virtual nodes and weights.
 *
 * Every node is hashed to `virtualNodeCount × weight` points on a 32-bit circle; a key
 * belongs to the first point at or after its own hash, wrapping past the top. When a
 * node joins it takes over only the arcs just before its new points, so about 1/N of the
 * keys move, all of them to the new node; when it leaves, only its own keys move. More
 * virtual nodes smooth the arc lengths: the load spread (max/mean) for 10 nodes falls from
 * about 1.4 at 16 points per node to about 1.1 at 256 (see docs/partition.md).
 *
 * The points live in one sorted `Uint32Array` with a parallel array of owners and a prefix
 * index (the first point of each bucket of the top bits, up to 2^16 buckets, about one
 * point per bucket), so a lookup is a hash, one index read and a binary search within one
 * bucket: O(log points) at worst, one or two comparisons on average, no allocation. Rings are
 * immutable; {@link ConsistentHashRing.withNode} and
 * {@link ConsistentHashRing.withoutNode} build the next layout, and
 * {@link ConsistentHashRing.ownership} lists its arcs for resharding plans.
 *
 * @module
 */

import { InvalidArgumentError, requireInteger, requireOptions } from '../core/index.js';
import { hashKeyNamed, murmur3 } from './hash.js';
import {
  type CheckedNodes,
  checkNodes,
  type NodeInput,
  nodeList,
  type PartitionNode,
  pickReplicas,
  requireKnownNode,
} from './nodes.js';

/** The most points a ring may hold in all: 4,194,304 (32 MB of arrays). */
export const ringPointCountMax = 4_194_304;

/** Options for {@link ConsistentHashRing}. */
export interface ConsistentHashRingOptions {
  /** The nodes: ids or `{ id, weight?, zone? }`. Non-empty, unique ids, weights above 0. */
  readonly nodes: readonly NodeInput[];
  /**
   * Points per node of weight 1, from 1 to 65,536 (default 160). A node of weight w gets
   * `max(1, round(virtualNodeCount × w))` points. More points: better balance, more
   * memory, slightly slower lookups and rebuilds.
   */
  readonly virtualNodeCount?: number;
}

/** Options for replica placement. */
export interface ReplicaOptions {
  /**
   * Prefer nodes of distinct zones: first the most preferred node of each zone not yet
   * used, then the rest in preference order. Default false.
   */
  readonly spreadZones?: boolean;
}

/**
 * A contiguous arc of the 32-bit hash space, both ends included, and the node that owns
 * it. Keys whose {@link hashKey} lies in `[firstHash, lastHash]` belong to `owner`.
 */
export interface HashRange {
  /** The first hash in the range. */
  readonly firstHash: number;
  /** The last hash in the range (inclusive). */
  readonly lastHash: number;
  /** The node id that owns it. */
  readonly owner: string;
}

const twoPow32 = 0x1_0000_0000;

/** The arrays behind a ring, for the other schemes of this module that walk it. */
export interface RingInternals {
  /** Point positions, ascending. */
  readonly points: Uint32Array;
  /** Owner node index of each point. */
  readonly owners: Uint16Array;
  /** The prefix index of the points: see {@link ringPointIndex}. */
  readonly starts: Uint32Array;
  /** 32 minus the prefix index's bit count. */
  readonly shift: number;
  /** The validated nodes. */
  readonly nodes: CheckedNodes;
}

let readInternals: ((ring: ConsistentHashRing) => RingInternals) | undefined;

/** The arrays behind `ring` (module-internal: not exported from `distkit/partition`). */
export function ringInternals(ring: ConsistentHashRing): RingInternals {
  return (readInternals as (ring: ConsistentHashRing) => RingInternals)(ring);
}

/**
 * The prefix index of ascending `points`: `starts[b]` is the index of the first point whose
 * top `32 - shift` bits are at least `b`, for every bucket `b` and one past the last. A
 * lookup then binary-searches one bucket (about one point) instead of the whole ring.
 */
export function ringPrefixIndex(points: Uint32Array): { starts: Uint32Array; shift: number } {
  const bits = Math.min(16, Math.max(1, Math.ceil(Math.log2(points.length + 1))));
  const shift = 32 - bits;
  const bucketCount = 2 ** bits;
  const starts = new Uint32Array(bucketCount + 1);
  let pointIndex = 0;
  for (let bucket = 0; bucket <= bucketCount; bucket += 1) {
    while (pointIndex < points.length && (points[pointIndex] as number) >>> shift < bucket) {
      pointIndex += 1;
    }
    starts[bucket] = pointIndex;
  }
  return { starts, shift };
}

/**
 * Index of the first point at or after `hash` in ascending `points`, wrapping to 0: a
 * binary search within the hash's bucket of the prefix index.
 */
export function ringPointIndex(
  points: Uint32Array,
  starts: Uint32Array,
  shift: number,
  hash: number,
): number {
  const bucket = hash >>> shift;
  let low = starts[bucket] as number;
  let high = starts[bucket + 1] as number;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((points[middle] as number) < hash) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return low === points.length ? 0 : low;
}

/**
 * A consistent-hash ring with virtual nodes and weights.
 *
 * @example
 * ```ts
 * const ring = new ConsistentHashRing({ nodes: ['a', 'b', { id: 'c', weight: 2 }] });
 * ring.nodeFor('user:42'); // one of 'a', 'b', 'c'; 'c' twice as often
 * ring.replicasFor('user:42', 2); // two distinct nodes, the owner first
 * const bigger = ring.withNode('d'); // about a quarter of the keys move, all to 'd'
 * ```
 */
export class ConsistentHashRing {
  /** Points per node of weight 1. */
  readonly virtualNodeCount: number;
  /** The node ids, in the order given. */
  readonly nodeIds: readonly string[];
  readonly #nodes: CheckedNodes;
  /** Point positions, ascending. */
  readonly #points: Uint32Array;
  /** Owner node index of each point. */
  readonly #owners: Uint16Array;
  readonly #starts: Uint32Array;
  readonly #shift: number;

  static {
    readInternals = (ring) => ({
      points: ring.#points,
      owners: ring.#owners,
      starts: ring.#starts,
      shift: ring.#shift,
      nodes: ring.#nodes,
    });
  }

  constructor(options: ConsistentHashRingOptions) {
    const checked = requireOptions('ConsistentHashRing options', options);
    const nodes = checkNodes('options.nodes', checked.nodes);
    const virtualNodeCount =
      checked.virtualNodeCount === undefined
        ? 160
        : requireInteger('options.virtualNodeCount', checked.virtualNodeCount, {
            min: 1,
            max: 65_536,
          });
    const counts = nodes.weights.map((weight) =>
      Math.max(1, Math.round(virtualNodeCount * weight)),
    );
    const total = counts.reduce((sum, count) => sum + count, 0);
    if (total > ringPointCountMax) {
      throw new InvalidArgumentError(
        'options.virtualNodeCount',
        `The ring would hold ${total} points (virtualNodeCount × weights), more than the ` +
          `limit of ${ringPointCountMax}; use fewer virtual nodes or smaller weights.`,
      );
    }
    // Sort (position, owner) pairs as one exact double, position × 2^16 + owner, so equal
    // positions order by owner and the layout does not depend on the input order's sort.
    const keys = new Float64Array(total);
    let filled = 0;
    nodes.ids.forEach((id, nodeIndex) => {
      const count = counts[nodeIndex] as number;
      for (let replica = 0; replica < count; replica += 1) {
        keys[filled] = murmur3(id, replica) * 65_536 + nodeIndex;
        filled += 1;
      }
    });
    keys.sort();
    const points = new Uint32Array(total);
    const owners = new Uint16Array(total);
    for (let index = 0; index < total; index += 1) {
      const key = keys[index] as number;
      const owner = key % 65_536;
      points[index] = (key - owner) / 65_536;
      owners[index] = owner;
    }
    this.virtualNodeCount = virtualNodeCount;
    this.nodeIds = nodes.ids;
    this.#nodes = nodes;
    this.#points = points;
    this.#owners = owners;
    const { starts, shift } = ringPrefixIndex(points);
    this.#starts = starts;
    this.#shift = shift;
  }

  /** How many points the ring holds. */
  get pointCount(): number {
    return this.#points.length;
  }

  /** The nodes as {@link PartitionNode}s, in the order given. */
  nodes(): PartitionNode[] {
    return nodeList(this.#nodes);
  }

  /** Index of the first point at or after `hash`, wrapping to 0. */
  #pointIndex(hash: number): number {
    return ringPointIndex(this.#points, this.#starts, this.#shift, hash);
  }

  /** The node that owns `key`. O(log points) at worst, allocation-free. */
  nodeFor(key: string): string {
    const hash = hashKeyNamed(key, 'key');
    return this.nodeIds[this.#owners[this.#pointIndex(hash)] as number] as string;
  }

  /** The node that owns the hash-space position `hash` (an integer in [0, 2^32)). */
  nodeForHash(hash: number): string {
    if (!(Number.isInteger(hash) && hash >= 0 && hash < twoPow32)) {
      requireInteger('hash', hash, { min: 0, max: twoPow32 - 1 });
    }
    return this.nodeIds[this.#owners[this.#pointIndex(hash)] as number] as string;
  }

  /**
   * The `count` distinct nodes for `key`, the owner first, then the next distinct nodes
   * clockwise (optionally spread across zones, see {@link ReplicaOptions}). Throws
   * InvalidArgumentError when `count` exceeds the node count.
   */
  replicasFor(key: string, count: number, options?: ReplicaOptions): string[] {
    const hash = hashKeyNamed(key, 'key');
    const nodeCount = this.nodeIds.length;
    requireInteger('count', count, { min: 1, max: nodeCount });
    const spreadZones = requireOptions('options', options).spreadZones === true;
    const seen = new Uint8Array(nodeCount);
    const candidates: number[] = [];
    const zonesSeen = new Set<string | number>();
    const points = this.#points.length;
    let pointIndex = this.#pointIndex(hash);
    for (let step = 0; step < points && candidates.length < nodeCount; step += 1) {
      const owner = this.#owners[pointIndex] as number;
      if (seen[owner] === 0) {
        seen[owner] = 1;
        candidates.push(owner);
        zonesSeen.add(this.#nodes.zones[owner] ?? -owner - 1);
        if (!spreadZones ? candidates.length === count : zonesSeen.size >= count) {
          break;
        }
      }
      pointIndex = pointIndex + 1 === points ? 0 : pointIndex + 1;
    }
    return pickReplicas(candidates, this.#nodes, count, spreadZones);
  }

  /** A new ring with `node` added (same virtual node count). */
  withNode(node: NodeInput): ConsistentHashRing {
    return new ConsistentHashRing({
      nodes: [...this.nodes(), node],
      virtualNodeCount: this.virtualNodeCount,
    });
  }

  /** A new ring without node `id`. Throws InvalidArgumentError for an unknown id. */
  withoutNode(id: string): ConsistentHashRing {
    requireKnownNode(this.#nodes, id);
    return new ConsistentHashRing({
      nodes: this.nodes().filter((node) => node.id !== id),
      virtualNodeCount: this.virtualNodeCount,
    });
  }

  /**
   * The ring's arcs in ascending order, covering [0, 2^32) exactly once, adjacent arcs of
   * the same owner merged. Used by {@link diffHashOwnership} to plan resharding.
   */
  ownership(): HashRange[] {
    const points = this.#points;
    const owners = this.#owners;
    const ids = this.nodeIds;
    const ranges: HashRange[] = [];
    const push = (firstHash: number, lastHash: number, owner: string): void => {
      const last = ranges[ranges.length - 1];
      if (last !== undefined && last.owner === owner && last.lastHash + 1 === firstHash) {
        ranges[ranges.length - 1] = { firstHash: last.firstHash, lastHash, owner };
      } else {
        ranges.push({ firstHash, lastHash, owner });
      }
    };
    let previous = -1;
    for (let index = 0; index < points.length; index += 1) {
      const point = points[index] as number;
      if (point > previous) {
        push(previous + 1, point, ids[owners[index] as number] as string);
        previous = point;
      }
    }
    if (previous < twoPow32 - 1) {
      push(previous + 1, twoPow32 - 1, ids[owners[0] as number] as string);
    }
    return ranges;
  }
}
