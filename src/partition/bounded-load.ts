/**
 * Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam, 2018): a
 * ring whose nodes refuse work beyond a capacity, so no node is ever more than a factor
 * `1 + ε` above the mean however skewed the keys are.
 *
 * With `m` items placed (counting the one being placed) on nodes of total weight `W`, a
 * node of weight `w` has capacity `ceil((1 + ε) × m × w / W)`. An item goes to the first
 * node clockwise from its key's hash that is below its capacity; the capacities add up to
 * at least `m`, so one always is. The load of every node therefore stays at or below
 * `ceil((1 + ε) × mean)`, and an item moves only when its node is full, so placement stays
 * mostly consistent. It suits sticky load balancing (sessions, cache shards, streams)
 * where a hot key must not melt one server.
 *
 * The structure tracks loads only, not items: the caller keeps which node an item went to
 * and calls {@link BoundedLoadRing.release} with it when the item leaves.
 *
 * @module
 */

import {
  assert,
  describeValue,
  InvalidArgumentError,
  LimitExceededError,
  requireNumber,
  requireOptions,
} from '../core/index.js';
import { hashKeyNamed } from './hash.js';
import type { NodeInput } from './nodes.js';
import { ConsistentHashRing, ringInternals, ringPointIndex } from './ring.js';

/** Options for {@link BoundedLoadRing}. */
export interface BoundedLoadRingOptions {
  /** The nodes: ids or `{ id, weight?, zone? }`. Non-empty, unique ids, weights above 0. */
  readonly nodes: readonly NodeInput[];
  /** Points per node of weight 1 on the underlying ring (default 160). */
  readonly virtualNodeCount?: number;
  /**
   * ε, how far above the mean a node may go: a number above 0 and at most 10. Default
   * 0.25 (each node at most 25% above the mean, rounded up). Smaller is more even and moves
   * more items away from their first choice.
   */
  readonly balanceFactor?: number;
  /** The most items placed at once, at most 2^31 (default 2^31). */
  readonly itemCountMax?: number;
}

/**
 * A consistent-hash ring with bounded loads.
 *
 * @example
 * ```ts
 * const ring = new BoundedLoadRing({ nodes: ['a', 'b', 'c'], balanceFactor: 0.25 });
 * const node = ring.place('session:9'); // the first node clockwise with room
 * ring.loadOf(node); // 1
 * ring.release(node); // when the session ends
 * ```
 */
export class BoundedLoadRing {
  /** ε: each node's load stays at or below ceil((1 + ε) × mean × weight share). */
  readonly balanceFactor: number;
  /** The most items placed at once. */
  readonly itemCountMax: number;
  /** The node ids, in the order given. */
  readonly nodeIds: readonly string[];
  readonly #ring: ConsistentHashRing;
  readonly #points: Uint32Array;
  readonly #owners: Uint16Array;
  readonly #starts: Uint32Array;
  readonly #shift: number;
  readonly #shares: Float64Array;
  readonly #indexOf: ReadonlyMap<string, number>;
  readonly #loads: Float64Array;
  #itemCount = 0;

  constructor(options: BoundedLoadRingOptions) {
    const checked = requireOptions('BoundedLoadRing options', options);
    this.balanceFactor =
      checked.balanceFactor === undefined
        ? 0.25
        : requireNumber('options.balanceFactor', checked.balanceFactor, { min: 0, max: 10 });
    if (this.balanceFactor === 0) {
      throw new InvalidArgumentError(
        'options.balanceFactor',
        'options.balanceFactor must be above 0 (with ε = 0 an item may have to visit every node); got 0.',
      );
    }
    this.itemCountMax =
      checked.itemCountMax === undefined
        ? 0x8000_0000
        : requireNumber('options.itemCountMax', checked.itemCountMax, { min: 1, max: 0x8000_0000 });
    this.#ring = new ConsistentHashRing(
      checked.virtualNodeCount === undefined
        ? { nodes: checked.nodes }
        : { nodes: checked.nodes, virtualNodeCount: checked.virtualNodeCount },
    );
    const internals = ringInternals(this.#ring);
    this.#points = internals.points;
    this.#owners = internals.owners;
    this.#starts = internals.starts;
    this.#shift = internals.shift;
    const weightSum = internals.nodes.weights.reduce((sum, weight) => sum + weight, 0);
    this.#shares = Float64Array.from(internals.nodes.weights, (weight) => weight / weightSum);
    this.#indexOf = internals.nodes.indexOf;
    this.nodeIds = this.#ring.nodeIds;
    this.#loads = new Float64Array(this.nodeIds.length);
  }

  /** How many items are placed now. */
  get itemCount(): number {
    return this.#itemCount;
  }

  /** The capacity of node `index` with `itemCount` items placed. */
  #capacity(index: number, itemCount: number): number {
    return Math.ceil((1 + this.balanceFactor) * itemCount * (this.#shares[index] as number));
  }

  /**
   * Places one item with key `key` and returns its node: the first node clockwise from
   * the key's hash whose load is below its capacity (computed with this item counted).
   * Throws LimitExceededError when {@link BoundedLoadRing.itemCountMax} items are placed.
   */
  place(key: string): string {
    const hash = hashKeyNamed(key, 'key');
    if (this.#itemCount >= this.itemCountMax) {
      throw new LimitExceededError(
        this.itemCountMax,
        `BoundedLoadRing holds its maximum of ${this.itemCountMax} items; release some first.`,
      );
    }
    const itemCount = this.#itemCount + 1;
    const points = this.#points;
    const owners = this.#owners;
    let pointIndex = ringPointIndex(points, this.#starts, this.#shift, hash);
    for (let step = 0; step < points.length; step += 1) {
      const owner = owners[pointIndex] as number;
      const load = this.#loads[owner] as number;
      if (load < this.#capacity(owner, itemCount)) {
        this.#loads[owner] = load + 1;
        this.#itemCount = itemCount;
        return this.nodeIds[owner] as string;
      }
      pointIndex = pointIndex + 1 === points.length ? 0 : pointIndex + 1;
    }
    // Σ capacities ≥ (1 + ε) × itemCount > itemCount - 1 = Σ loads, so some node has room.
    return assert(false, 'BoundedLoadRing: every node was at capacity') as never;
  }

  /**
   * The node `place(key)` would choose now, without placing anything.
   */
  peek(key: string): string {
    const hash = hashKeyNamed(key, 'key');
    const itemCount = this.#itemCount + 1;
    const points = this.#points;
    let pointIndex = ringPointIndex(points, this.#starts, this.#shift, hash);
    for (let step = 0; step < points.length; step += 1) {
      const owner = this.#owners[pointIndex] as number;
      if ((this.#loads[owner] as number) < this.#capacity(owner, itemCount)) {
        return this.nodeIds[owner] as string;
      }
      pointIndex = pointIndex + 1 === points.length ? 0 : pointIndex + 1;
    }
    return assert(false, 'BoundedLoadRing: every node was at capacity') as never;
  }

  /**
   * Removes one item from node `nodeId` (the node {@link BoundedLoadRing.place} returned
   * for it). Throws InvalidArgumentError for an unknown node or one with no items.
   */
  release(nodeId: string): void {
    const index = this.#indexOf.get(nodeId);
    if (index === undefined) {
      throw new InvalidArgumentError('nodeId', `No node has id ${describeValue(nodeId)}.`);
    }
    if ((this.#loads[index] as number) === 0) {
      throw new InvalidArgumentError(
        'nodeId',
        `Node ${JSON.stringify(nodeId)} holds no items; release each placed item once.`,
      );
    }
    this.#loads[index] = (this.#loads[index] as number) - 1;
    this.#itemCount -= 1;
  }

  /** The items on node `nodeId` now (0 for an unknown id). */
  loadOf(nodeId: string): number {
    const index = this.#indexOf.get(nodeId);
    return index === undefined ? 0 : (this.#loads[index] as number);
  }

  /** The capacity of node `nodeId` for the next item: ceil((1 + ε) × (items + 1) × share). */
  capacityOf(nodeId: string): number {
    const index = this.#indexOf.get(nodeId);
    return index === undefined ? 0 : this.#capacity(index, this.#itemCount + 1);
  }

  /** The loads of every node, in node order. */
  loads(): number[] {
    return Array.from(this.#loads);
  }
}
