/**
 * Geographic partitioning with data residency: every key has a rule naming the regions it
 * may live in (personal data of EU users stays in the EU), and placement never leaves
 * them.
 *
 * Among the nodes of the allowed regions, a key goes to the one with the highest
 * rendezvous score ({@link RendezvousHash}), so adding a node in one region moves keys only
 * onto it, and only keys allowed there. When no node is in any allowed region the answer
 * is a typed {@link NoAllowedRegionError}, never a node elsewhere. Replicas come from the
 * allowed regions only, spread over them first.
 *
 * @module
 */

import {
  describeValue,
  InvalidArgumentError,
  requireFunction,
  requireInteger,
  requireOptions,
} from '../core/index.js';
import { NoAllowedRegionError } from './errors.js';
import { hashKeyNamed } from './hash.js';
import { nodeIdLengthMax, type PartitionNode } from './nodes.js';
import { RendezvousHash, rendezvousScores } from './rendezvous.js';

/** A node with the region it runs in. */
export interface GeoNode extends PartitionNode {
  /** The region, for example 'eu-west'. */
  readonly region: string;
}

/** The regions a key may live in: a non-empty list of region names. */
export type ResidencyRule = (key: string) => readonly string[];

/** Options for {@link GeoPlacement}. */
export interface GeoPlacementOptions {
  /** The nodes, each with its region (and optionally a weight). Unique ids. */
  readonly nodes: readonly GeoNode[];
  /** The residency rule: the regions each key may live in. */
  readonly residencyOf: ResidencyRule;
}

/** One rule of {@link prefixResidency}: keys starting with `prefix` live in `regions`. */
export interface PrefixResidencyRule {
  /** The key prefix. */
  readonly prefix: string;
  /** The regions those keys may live in. */
  readonly regions: readonly string[];
}

/**
 * A residency rule from key prefixes: the longest matching prefix wins; keys matching no
 * prefix may live in `defaultRegions`.
 *
 * @example
 * ```ts
 * const residencyOf = prefixResidency(
 *   [{ prefix: 'eu:', regions: ['eu-west', 'eu-central'] }, { prefix: 'us:', regions: ['us-east'] }],
 *   ['eu-west', 'us-east'],
 * );
 * residencyOf('eu:user:7'); // ['eu-west', 'eu-central']
 * ```
 */
export function prefixResidency(
  rules: readonly PrefixResidencyRule[],
  defaultRegions: readonly string[],
): ResidencyRule {
  if (!Array.isArray(rules)) {
    throw new InvalidArgumentError('rules', `rules must be an array; got ${describeValue(rules)}.`);
  }
  const sorted = rules
    .map((rule, index) => {
      if (typeof rule !== 'object' || rule === null || typeof rule.prefix !== 'string') {
        throw new InvalidArgumentError(
          `rules[${index}]`,
          `rules[${index}] must be a { prefix, regions } object.`,
        );
      }
      return {
        prefix: rule.prefix,
        regions: checkRegions(`rules[${index}].regions`, rule.regions),
      };
    })
    .sort((left, right) => right.prefix.length - left.prefix.length);
  const fallback = checkRegions('defaultRegions', defaultRegions);
  return (key) => sorted.find((rule) => key.startsWith(rule.prefix))?.regions ?? fallback;
}

function checkRegions(name: string, regions: unknown): readonly string[] {
  if (!Array.isArray(regions)) {
    throw new InvalidArgumentError(
      name,
      `${name} must be an array of region names; got ${describeValue(regions)}.`,
    );
  }
  regions.forEach((region: unknown, index) => {
    if (typeof region !== 'string' || region.length === 0 || region.length > nodeIdLengthMax) {
      throw new InvalidArgumentError(
        `${name}[${index}]`,
        `${name}[${index}] must be a non-empty region name; got ${describeValue(region)}.`,
      );
    }
  });
  return [...regions] as string[];
}

/**
 * Residency-respecting placement.
 *
 * @example
 * ```ts
 * const geo = new GeoPlacement({
 *   nodes: [
 *     { id: 'fra-1', region: 'eu-central' },
 *     { id: 'dub-1', region: 'eu-west' },
 *     { id: 'iad-1', region: 'us-east' },
 *   ],
 *   residencyOf: (key) => (key.startsWith('eu:') ? ['eu-central', 'eu-west'] : ['us-east']),
 * });
 * geo.nodeFor('eu:user:7'); // 'fra-1' or 'dub-1', never 'iad-1'
 * ```
 */
export class GeoPlacement {
  /** The node ids, in the order given. */
  readonly nodeIds: readonly string[];
  readonly #regions: readonly string[];
  readonly #residencyOf: ResidencyRule;
  readonly #hrw: RendezvousHash;
  readonly #scores: Float64Array;

  constructor(options: GeoPlacementOptions) {
    const checked = requireOptions('GeoPlacement options', options);
    const nodes: unknown = checked.nodes;
    if (!Array.isArray(nodes) || nodes.length === 0) {
      throw new InvalidArgumentError(
        'options.nodes',
        `options.nodes must be a non-empty array of { id, region, weight? } objects; got ${describeValue(nodes)}.`,
      );
    }
    const regions = nodes.map((node: unknown, index) => {
      const region =
        typeof node === 'object' && node !== null
          ? (node as { region?: unknown }).region
          : undefined;
      if (typeof region !== 'string' || region.length === 0 || region.length > nodeIdLengthMax) {
        throw new InvalidArgumentError(
          `options.nodes[${index}].region`,
          `options.nodes[${index}].region must be a non-empty region name; got ${describeValue(region)}.`,
        );
      }
      return region;
    });
    // The region doubles as the zone, so replicas spread across allowed regions first.
    this.#hrw = new RendezvousHash({
      nodes: (nodes as GeoNode[]).map((node, index) => ({
        ...node,
        zone: regions[index] as string,
      })),
    });
    this.#residencyOf = requireFunction('options.residencyOf', checked.residencyOf);
    this.#regions = regions;
    this.nodeIds = this.#hrw.nodeIds;
    this.#scores = new Float64Array(this.nodeIds.length);
  }

  /** The regions `key` may live in, validated. */
  allowedRegionsOf(key: string): readonly string[] {
    hashKeyNamed(key, 'key');
    return checkRegions('options.residencyOf(key)', this.#residencyOf(key));
  }

  /** Node indices in allowed regions, best score first. */
  #ranked(key: string): { allowed: readonly string[]; order: number[] } {
    const allowed = this.allowedRegionsOf(key);
    const keyHash = hashKeyNamed(key, 'key');
    rendezvousScores(this.#hrw, keyHash, this.#scores);
    const allowedSet = new Set(allowed);
    const order: number[] = [];
    this.#regions.forEach((region, index) => {
      if (allowedSet.has(region)) {
        order.push(index);
      }
    });
    if (order.length === 0) {
      throw new NoAllowedRegionError(key, allowed);
    }
    const scores = this.#scores;
    order.sort(
      (left, right) => (scores[right] as number) - (scores[left] as number) || left - right,
    );
    return { allowed, order };
  }

  /**
   * The node for `key`: the best-scoring node in a region its rule allows. Throws
   * {@link NoAllowedRegionError} when no node is in any allowed region.
   */
  nodeFor(key: string): string {
    return this.nodeIds[this.#ranked(key).order[0] as number] as string;
  }

  /** The region of node `nodeId`, or undefined for an unknown node. */
  regionOf(nodeId: string): string | undefined {
    const index = this.nodeIds.indexOf(nodeId);
    return index < 0 ? undefined : this.#regions[index];
  }

  /**
   * `count` distinct nodes for `key`, all in allowed regions, one per allowed region first,
   * best first. Throws {@link NoAllowedRegionError} when no node is in an allowed region,
   * and InvalidArgumentError when the allowed regions hold fewer than `count` nodes.
   */
  replicasFor(key: string, count: number): string[] {
    requireInteger('count', count, { min: 1, max: this.nodeIds.length });
    const { order } = this.#ranked(key);
    if (order.length < count) {
      throw new InvalidArgumentError(
        'count',
        `Only ${order.length} nodes are in the regions key ${describeValue(key)} may live in; asked for ${count}.`,
      );
    }
    const picked: number[] = [];
    const usedRegions = new Set<string>();
    for (const index of order) {
      if (picked.length < count && !usedRegions.has(this.#regions[index] as string)) {
        usedRegions.add(this.#regions[index] as string);
        picked.push(index);
      }
    }
    for (const index of order) {
      if (picked.length < count && !picked.includes(index)) {
        picked.push(index);
      }
    }
    return picked.map((index) => this.nodeIds[index] as string);
  }
}
