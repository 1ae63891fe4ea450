/**
 * Rendezvous hashing, also called highest random weight (Thaler and Ravishankar, 1996),
 * with weights by the logarithmic method (Schindelhauer and Schomaker, 2005).
 *
 * Every node scores every key with a hash of the pair; the key goes to the highest score.
 * When a node leaves, only its keys move, each to its own second choice, so they spread
 * evenly over the survivors; when one joins, it takes about 1/N of the keys from all the
 * others. No table, no virtual nodes, near-perfect balance, and the ranking doubles as
 * replica placement (the top k scores). The cost is O(N) hashes per lookup, so it suits
 * tens to a few hundred nodes.
 *
 * With weights, node i scores `-weight_i / ln(u)` for the pair's hash `u` in (0, 1): node
 * i then wins a key with probability `weight_i / Σ weights`, and changing one weight moves
 * keys only to or from that node.
 *
 * @module
 */

import { requireInteger, requireOptions } from '../core/index.js';
import { hashKeyNamed, mix32, murmur3 } from './hash.js';
import {
  type CheckedNodes,
  checkNodes,
  type NodeInput,
  nodeList,
  type PartitionNode,
  pickReplicas,
  requireKnownNode,
} from './nodes.js';
import type { ReplicaOptions } from './ring.js';

/** Options for {@link RendezvousHash}. */
export interface RendezvousHashOptions {
  /** The nodes: ids or `{ id, weight?, zone? }`. Non-empty, unique ids, weights above 0. */
  readonly nodes: readonly NodeInput[];
}

const twoPow32 = 0x1_0000_0000;

let fillScores: ((hrw: RendezvousHash, keyHash: number, scores: Float64Array) => void) | undefined;

/**
 * Writes every node's score for `keyHash` into `scores` (module-internal: used by
 * {@link GeoPlacement} to rank only the nodes a key may live on).
 */
export function rendezvousScores(hrw: RendezvousHash, keyHash: number, scores: Float64Array): void {
  (fillScores as NonNullable<typeof fillScores>)(hrw, keyHash, scores);
}

/**
 * Rendezvous (highest random weight) hashing with weights.
 *
 * @example
 * ```ts
 * const hrw = new RendezvousHash({ nodes: ['a', 'b', { id: 'c', weight: 2 }] });
 * hrw.nodeFor('user:42'); // the node with the highest score for this key
 * hrw.replicasFor('user:42', 2); // the two highest scores, best first
 * ```
 */
export class RendezvousHash {
  /** The node ids, in the order given. */
  readonly nodeIds: readonly string[];
  readonly #nodes: CheckedNodes;
  readonly #seedsA: Uint32Array;
  readonly #seedsB: Uint32Array;
  readonly #weights: Float64Array;
  readonly #weighted: boolean;

  static {
    fillScores = (hrw, keyHash, scores) => {
      for (let index = 0; index < hrw.nodeIds.length; index += 1) {
        scores[index] = hrw.#score(keyHash, index);
      }
    };
  }

  constructor(options: RendezvousHashOptions) {
    const checked = requireOptions('RendezvousHash options', options);
    const nodes = checkNodes('options.nodes', checked.nodes);
    this.nodeIds = nodes.ids;
    this.#nodes = nodes;
    this.#seedsA = Uint32Array.from(nodes.ids, (id) => murmur3(id, 0x5bd1_e995));
    this.#seedsB = Uint32Array.from(nodes.ids, (id) => murmur3(id, 0x1b87_3593));
    this.#weights = Float64Array.from(nodes.weights);
    this.#weighted = nodes.weights.some((weight) => weight !== nodes.weights[0]);
  }

  /** The nodes as {@link PartitionNode}s, in the order given. */
  nodes(): PartitionNode[] {
    return nodeList(this.#nodes);
  }

  /** The score of node `index` for a key hash: higher wins. */
  #score(keyHash: number, index: number): number {
    const pairHash = mix32(
      mix32(keyHash ^ (this.#seedsA[index] as number)) ^ (this.#seedsB[index] as number),
    );
    if (!this.#weighted) {
      return pairHash;
    }
    // u in (0, 1); -ln(u) is an exponential draw, so weight / -ln(u) wins in proportion to
    // the weight.
    const unit = (pairHash + 0.5) / twoPow32;
    return -(this.#weights[index] as number) / Math.log(unit);
  }

  /** The node with the highest score for `key`. O(nodes), allocation-free. */
  nodeFor(key: string): string {
    const keyHash = hashKeyNamed(key, 'key');
    const count = this.nodeIds.length;
    let best = 0;
    let bestScore = -1;
    for (let index = 0; index < count; index += 1) {
      const score = this.#score(keyHash, index);
      if (score > bestScore) {
        bestScore = score;
        best = index;
      }
    }
    return this.nodeIds[best] as string;
  }

  /**
   * The `count` distinct nodes with the highest scores for `key`, best first (optionally
   * spread across zones, see {@link ReplicaOptions}). Throws InvalidArgumentError when
   * `count` exceeds the node count.
   */
  replicasFor(key: string, count: number, options?: ReplicaOptions): string[] {
    const keyHash = hashKeyNamed(key, 'key');
    const nodeCount = this.nodeIds.length;
    requireInteger('count', count, { min: 1, max: nodeCount });
    const spreadZones = requireOptions('options', options).spreadZones === true;
    const scores = new Float64Array(nodeCount);
    const order: number[] = [];
    for (let index = 0; index < nodeCount; index += 1) {
      scores[index] = this.#score(keyHash, index);
      order.push(index);
    }
    order.sort(
      (left, right) => (scores[right] as number) - (scores[left] as number) || left - right,
    );
    return pickReplicas(order, this.#nodes, count, spreadZones);
  }

  /** A new instance with `node` added. */
  withNode(node: NodeInput): RendezvousHash {
    return new RendezvousHash({ nodes: [...this.nodes(), node] });
  }

  /** A new instance without node `id`. Throws InvalidArgumentError for an unknown id. */
  withoutNode(id: string): RendezvousHash {
    requireKnownNode(this.#nodes, id);
    return new RendezvousHash({ nodes: this.nodes().filter((node) => node.id !== id) });
  }
}
