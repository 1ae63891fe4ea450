/**
 * Node lists as every partitioner takes them, and their validation: one place that
 * rejects empty lists, duplicate ids, weights of zero or less and malformed ids with an
 * `InvalidArgumentError` naming the option, before any structure is built.
 *
 * @module
 */

import { describeValue, InvalidArgumentError } from '../core/index.js';
import { hashKeyNamed } from './hash.js';

/**
 * A node (a server, a shard, a bucket) that keys are placed on. A bare string is a node
 * with that id, weight 1 and no zone.
 */
export interface PartitionNode {
  /** Unique, non-empty, well-formed id; it is hashed, so it decides where the node sits. */
  readonly id: string;
  /**
   * Relative capacity, a finite number above 0 and at most 1,000,000 (default 1): a node
   * of weight 2 gets about twice the keys of a node of weight 1.
   */
  readonly weight?: number;
  /** Failure domain (a zone, rack or region) for replica placement; optional. */
  readonly zone?: string;
}

/** A node given as its id or as a {@link PartitionNode}. */
export type NodeInput = string | PartitionNode;

/** The most nodes any partitioner accepts: 10,000. */
export const nodeCountMax = 10_000;

/** The longest node id or zone name, in UTF-16 code units: 1,024. */
export const nodeIdLengthMax = 1_024;

/** The largest node weight: 1,000,000. */
export const nodeWeightMax = 1_000_000;

/** Validated, normalised nodes in input order. */
export interface CheckedNodes {
  /** Node ids, in input order. */
  readonly ids: readonly string[];
  /** Weights, in input order. */
  readonly weights: readonly number[];
  /** Zones (undefined where none was given), in input order. */
  readonly zones: readonly (string | undefined)[];
  /** Index of each id. */
  readonly indexOf: ReadonlyMap<string, number>;
}

function checkName(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > nodeIdLengthMax) {
    throw new InvalidArgumentError(
      name,
      `${name} must be a non-empty string of at most ${nodeIdLengthMax} characters; got ${describeValue(value)}.`,
    );
  }
  hashKeyNamed(value, name); // rejects lone surrogates
  return value;
}

/**
 * Validates a node list. Throws InvalidArgumentError (naming `name[index]`) for a missing
 * or empty list, more than {@link nodeCountMax} nodes, a malformed or duplicate id, a
 * weight that is not a finite number in (0, {@link nodeWeightMax}], or a malformed zone.
 */
export function checkNodes(name: string, nodes: unknown): CheckedNodes {
  if (!Array.isArray(nodes) || nodes.length === 0) {
    throw new InvalidArgumentError(
      name,
      `${name} must be a non-empty array of node ids or { id, weight?, zone? } objects; got ${describeValue(nodes)}.`,
    );
  }
  if (nodes.length > nodeCountMax) {
    throw new InvalidArgumentError(
      name,
      `${name} may hold at most ${nodeCountMax} nodes; got ${nodes.length}.`,
    );
  }
  const ids: string[] = [];
  const weights: number[] = [];
  const zones: (string | undefined)[] = [];
  const indexOf = new Map<string, number>();
  nodes.forEach((node: unknown, index) => {
    const itemName = `${name}[${index}]`;
    let id: string;
    let weight = 1;
    let zone: string | undefined;
    if (typeof node === 'string') {
      id = checkName(itemName, node);
    } else if (typeof node === 'object' && node !== null && !Array.isArray(node)) {
      const candidate = node as { id?: unknown; weight?: unknown; zone?: unknown };
      id = checkName(`${itemName}.id`, candidate.id);
      if (candidate.weight !== undefined) {
        const value = candidate.weight;
        if (typeof value !== 'number' || !(value > 0) || !(value <= nodeWeightMax)) {
          throw new InvalidArgumentError(
            `${itemName}.weight`,
            `${itemName}.weight must be a finite number above 0 and at most ${nodeWeightMax}; ` +
              `got ${describeValue(value)}. Remove a node instead of giving it weight 0.`,
          );
        }
        weight = value;
      }
      if (candidate.zone !== undefined) {
        zone = checkName(`${itemName}.zone`, candidate.zone);
      }
    } else {
      throw new InvalidArgumentError(
        itemName,
        `${itemName} must be a node id or a { id, weight?, zone? } object; got ${describeValue(node)}.`,
      );
    }
    if (indexOf.has(id)) {
      throw new InvalidArgumentError(
        itemName,
        `${itemName} repeats node id ${JSON.stringify(id)} (first at index ${indexOf.get(id)}); node ids must be unique.`,
      );
    }
    indexOf.set(id, index);
    ids.push(id);
    weights.push(weight);
    zones.push(zone);
  });
  return { ids, weights, zones, indexOf };
}

/** The nodes back as {@link PartitionNode} objects (for `withNode`/`withoutNode`). */
export function nodeList(nodes: CheckedNodes): PartitionNode[] {
  return nodes.ids.map((id, index) => {
    const zone = nodes.zones[index];
    const weight = nodes.weights[index] as number;
    return zone === undefined ? { id, weight } : { id, weight, zone };
  });
}

/**
 * Picks up to `count` distinct nodes from `candidates` (node indices in preference order,
 * without repeats). With `spreadZones`, the first pass takes the most preferred node of
 * each zone not yet used (a node without a zone is a zone of its own), and the second
 * pass fills the rest in preference order. Returns node ids, most preferred first.
 */
export function pickReplicas(
  candidates: readonly number[],
  nodes: CheckedNodes,
  count: number,
  spreadZones: boolean,
): string[] {
  const picked: number[] = [];
  if (!spreadZones) {
    for (let index = 0; index < candidates.length && picked.length < count; index += 1) {
      picked.push(candidates[index] as number);
    }
    return picked.map((node) => nodes.ids[node] as string);
  }
  const usedZones = new Set<string>();
  const taken = new Set<number>();
  for (const node of candidates) {
    if (picked.length === count) {
      break;
    }
    const zone = nodes.zones[node];
    if (zone === undefined || !usedZones.has(zone)) {
      if (zone !== undefined) {
        usedZones.add(zone);
      }
      picked.push(node);
      taken.add(node);
    }
  }
  for (const node of candidates) {
    if (picked.length === count) {
      break;
    }
    if (!taken.has(node)) {
      picked.push(node);
      taken.add(node);
    }
  }
  return picked.map((node) => nodes.ids[node] as string);
}

/** Throws InvalidArgumentError (argument `id`) unless `id` is one of `nodes`. */
export function requireKnownNode(nodes: CheckedNodes, id: string): void {
  if (!nodes.indexOf.has(id)) {
    throw new InvalidArgumentError('id', `No node has id ${describeValue(id)}.`);
  }
}
