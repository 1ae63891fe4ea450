/**
 * Maglev hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
 * Balancer", NSDI 2016): a lookup table of prime size `M` filled from one permutation of
 * the slots per node, so a lookup is a hash and one array read.
 *
 * Each node walks its own permutation of the slots, `(offset + j × skip) mod M`, with
 * `offset` and `skip` from two hashes of its id; the nodes take turns claiming the next
 * free slot of their permutation until the table is full. Every node ends up with
 * `M / N` slots give or take one (near-perfect balance), and a node joining or leaving
 * changes about 1/N of the slots plus a little extra churn (the paper's trade: slightly
 * more movement than a ring for much better balance and O(1) lookups). Keep `M` well above
 * the node count (the paper uses 100 × N or more; the default 65,537 suits up to several
 * hundred nodes).
 *
 * Weights: a node of weight w claims a slot on a turn with w / max weight of a turn's
 * credit, so it gets a share of slots proportional to its weight.
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
  requireKnownNode,
} from './nodes.js';

/** The largest Maglev table: 16,777,213 slots (a prime below 2^24). */
export const maglevTableSizeMax = 16_777_213;

/** Options for {@link MaglevTable}. */
export interface MaglevTableOptions {
  /** The nodes: ids or `{ id, weight?, zone? }`. Non-empty, unique ids, weights above 0. */
  readonly nodes: readonly NodeInput[];
  /**
   * The table size: a prime, at least the node count and at most
   * {@link maglevTableSizeMax}. Default 65,537. Larger: better balance and less movement,
   * more memory (2 bytes a slot) and a slower build.
   */
  readonly tableSize?: number;
}

function isPrime(value: number): boolean {
  if (value < 2) {
    return false;
  }
  if (value % 2 === 0) {
    return value === 2;
  }
  for (let divisor = 3; divisor * divisor <= value; divisor += 2) {
    if (value % divisor === 0) {
      return false;
    }
  }
  return true;
}

/**
 * A Maglev lookup table.
 *
 * @example
 * ```ts
 * const maglev = new MaglevTable({ nodes: ['a', 'b', 'c'], tableSize: 65_537 });
 * maglev.nodeFor('10.0.0.7:51234'); // one table read after one hash
 * ```
 */
export class MaglevTable {
  /** The node ids, in the order given. */
  readonly nodeIds: readonly string[];
  /** The table size M (a prime). */
  readonly tableSize: number;
  readonly #nodes: CheckedNodes;
  readonly #table: Uint16Array;

  constructor(options: MaglevTableOptions) {
    const checked = requireOptions('MaglevTable options', options);
    const nodes = checkNodes('options.nodes', checked.nodes);
    const size =
      checked.tableSize === undefined
        ? 65_537
        : requireInteger('options.tableSize', checked.tableSize, {
            min: nodes.ids.length,
            max: maglevTableSizeMax,
          });
    if (!isPrime(size)) {
      throw new InvalidArgumentError(
        'options.tableSize',
        `options.tableSize must be a prime (every node's permutation must reach every slot); got ${size}. ` +
          'Try 65,537, 655,373 or 5,000,011.',
      );
    }
    this.nodeIds = nodes.ids;
    this.tableSize = size;
    this.#nodes = nodes;
    this.#table = MaglevTable.#fill(nodes, size);
  }

  static #fill(nodes: CheckedNodes, size: number): Uint16Array {
    const count = nodes.ids.length;
    const offsets = new Float64Array(count);
    const skips = new Float64Array(count);
    const nextIndex = new Float64Array(count);
    const credits = new Float64Array(count);
    const weightMax = Math.max(...nodes.weights);
    const shares = nodes.weights.map((weight) => weight / weightMax);
    nodes.ids.forEach((id, index) => {
      offsets[index] = murmur3(id, 0xa3c5_9ac3) % size;
      skips[index] = (murmur3(id, 0x3c6e_f372) % (size - 1)) + 1;
    });
    const table = new Uint16Array(size);
    const claimed = new Uint8Array(size);
    let filled = 0;
    while (filled < size) {
      for (let node = 0; node < count && filled < size; node += 1) {
        credits[node] = (credits[node] as number) + (shares[node] as number);
        if ((credits[node] as number) < 1) {
          continue;
        }
        credits[node] = (credits[node] as number) - 1;
        const offset = offsets[node] as number;
        const skip = skips[node] as number;
        let next = nextIndex[node] as number;
        let slot = (offset + next * skip) % size;
        // The permutation visits every slot once (size is prime), so a free one exists.
        while (claimed[slot] === 1) {
          next += 1;
          slot = (offset + next * skip) % size;
        }
        claimed[slot] = 1;
        table[slot] = node;
        nextIndex[node] = next + 1;
        filled += 1;
      }
    }
    return table;
  }

  /** The nodes as {@link PartitionNode}s, in the order given. */
  nodes(): PartitionNode[] {
    return nodeList(this.#nodes);
  }

  /** The node for `key`: `table[hashKey(key) mod M]`. O(1), allocation-free. */
  nodeFor(key: string): string {
    return this.nodeIds[this.#table[hashKeyNamed(key, 'key') % this.tableSize] as number] as string;
  }

  /** How many table slots each node owns, in node order. */
  slotCounts(): number[] {
    const counts = new Array<number>(this.nodeIds.length).fill(0);
    for (const node of this.#table) {
      counts[node] = (counts[node] as number) + 1;
    }
    return counts;
  }

  /** A new table with `node` added (same size). */
  withNode(node: NodeInput): MaglevTable {
    return new MaglevTable({ nodes: [...this.nodes(), node], tableSize: this.tableSize });
  }

  /** A new table without node `id`. Throws InvalidArgumentError for an unknown id. */
  withoutNode(id: string): MaglevTable {
    requireKnownNode(this.#nodes, id);
    return new MaglevTable({
      nodes: this.nodes().filter((node) => node.id !== id),
      tableSize: this.tableSize,
    });
  }
}
