/**
 * A small Merkle tree over a key-value store's entries, for anti-entropy: two replicas
 * compare roots, then the branches that differ, then the leaves of those branches, and
 * transfer only the entries of the leaves that still differ.
 *
 * The shape is fixed, so its size is bounded whatever the store holds: a root over
 * {@link merkleBranchCount} branches over {@link merkleLeavesPerBranch} leaves each
 * ({@link merkleLeafCount} leaves). A key belongs to the leaf given by the top bits of its
 * hash (`hashKey` of `distkit/partition`); a leaf's digest is the sum, modulo 2^32, of
 * its entries' hashes, so adding and removing an entry are O(1) and the digest does not
 * depend on the order entries arrived in. Branch and root digests are MurmurHash3 of
 * their children's digests, recomputed lazily.
 *
 * @module
 */

import { hashKey, murmur3 } from '../partition/index.js';

/** Branches under the root. */
export const merkleBranchCount = 16;

/** Leaves under each branch. */
export const merkleLeavesPerBranch = 16;

/** Leaves of the tree: {@link merkleBranchCount} × {@link merkleLeavesPerBranch}. */
export const merkleLeafCount = merkleBranchCount * merkleLeavesPerBranch;

/** The leaf (0 to {@link merkleLeafCount} - 1) that `key` belongs to: the top 8 bits of its hash. */
export function merkleLeafOf(key: string): number {
  return hashKey(key) >>> 24;
}

/**
 * The hash of one entry: a key and a version label (anything that changes whenever the
 * entry's content does, such as a timestamp and writer).
 */
export function merkleEntryHash(key: string, version: string): number {
  return murmur3(`${key}\u0000${version}`);
}

function digestOf(values: ArrayLike<number>): number {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let index = 0; index < values.length; index += 1) {
    view.setUint32(index * 4, values[index] as number);
  }
  return murmur3(bytes);
}

/**
 * The tree of one store (or of the part of a store two replicas share). Maintained
 * incrementally: call {@link MerkleTree.add} when an entry appears and
 * {@link MerkleTree.remove} with the same arguments when it goes or is replaced.
 *
 * @example
 * ```ts
 * const a = new MerkleTree();
 * const b = new MerkleTree();
 * a.add('k1', 'v1');
 * b.add('k1', 'v2');
 * a.root() !== b.root(); // true: compare branches, then leaves, to find k1's leaf
 * ```
 */
export class MerkleTree {
  readonly #leaves = new Uint32Array(merkleLeafCount);
  readonly #branches = new Uint32Array(merkleBranchCount);
  readonly #dirtyBranches = new Uint8Array(merkleBranchCount).fill(1);
  #root = 0;
  #rootDirty = true;
  #entryCount = 0;

  /** Entries added and not removed. */
  get entryCount(): number {
    return this.#entryCount;
  }

  /** Adds the entry `(key, version)`. */
  add(key: string, version: string): void {
    this.#change(key, merkleEntryHash(key, version));
    this.#entryCount += 1;
  }

  /** Removes the entry `(key, version)`, added before with the same arguments. */
  remove(key: string, version: string): void {
    this.#change(key, -merkleEntryHash(key, version));
    this.#entryCount -= 1;
  }

  #change(key: string, delta: number): void {
    const leaf = merkleLeafOf(key);
    this.#leaves[leaf] = ((this.#leaves[leaf] as number) + delta) >>> 0;
    this.#dirtyBranches[Math.floor(leaf / merkleLeavesPerBranch)] = 1;
    this.#rootDirty = true;
  }

  /** The root digest: equal roots mean (but for a 2^-32 chance) equal entries. */
  root(): number {
    if (this.#rootDirty) {
      this.#root = digestOf(this.branches());
      this.#rootDirty = false;
    }
    return this.#root;
  }

  /** The digests of the {@link merkleBranchCount} branches, in order. */
  branches(): number[] {
    for (let branch = 0; branch < merkleBranchCount; branch += 1) {
      if (this.#dirtyBranches[branch] === 1) {
        this.#branches[branch] = digestOf(this.leavesOf(branch));
        this.#dirtyBranches[branch] = 0;
      }
    }
    return Array.from(this.#branches);
  }

  /** The digests of the leaves of `branch`, in order. */
  leavesOf(branch: number): number[] {
    const start = branch * merkleLeavesPerBranch;
    return Array.from(this.#leaves.subarray(start, start + merkleLeavesPerBranch));
  }
}

/** The indices at which two digest lists differ (a missing digest counts as different). */
export function differingIndices(
  mine: readonly number[],
  theirs: readonly number[],
  count: number,
): number[] {
  const found: number[] = [];
  for (let index = 0; index < count; index += 1) {
    if (mine[index] !== theirs[index]) {
      found.push(index);
    }
  }
  return found;
}

/**
 * The leaves whose digests differ between two trees, found the way two replicas find
 * them over the network: roots first, then the branches that differ, then their leaves.
 */
export function differingLeaves(a: MerkleTree, b: MerkleTree): number[] {
  if (a.root() === b.root()) {
    return [];
  }
  const leaves: number[] = [];
  for (const branch of differingIndices(a.branches(), b.branches(), merkleBranchCount)) {
    for (const leaf of differingIndices(
      a.leavesOf(branch),
      b.leavesOf(branch),
      merkleLeavesPerBranch,
    )) {
      leaves.push(branch * merkleLeavesPerBranch + leaf);
    }
  }
  return leaves;
}

/**
 * The keys whose entries differ between two stores (maps from key to version label):
 * builds both trees, finds the differing leaves, and compares the entries of those leaves
 * only. Equal stores cost two root digests.
 *
 * @example
 * ```ts
 * merkleDifference(new Map([['a', '1'], ['b', '1']]), new Map([['a', '1'], ['b', '2']])); // ['b']
 * ```
 */
export function merkleDifference(
  a: ReadonlyMap<string, string>,
  b: ReadonlyMap<string, string>,
): string[] {
  const treeOf = (store: ReadonlyMap<string, string>): MerkleTree => {
    const tree = new MerkleTree();
    for (const [key, version] of store) {
      tree.add(key, version);
    }
    return tree;
  };
  const leaves = new Set(differingLeaves(treeOf(a), treeOf(b)));
  if (leaves.size === 0) {
    return [];
  }
  const differing = new Set<string>();
  for (const [key, version] of a) {
    if (leaves.has(merkleLeafOf(key)) && b.get(key) !== version) {
      differing.add(key);
    }
  }
  for (const [key, version] of b) {
    if (leaves.has(merkleLeafOf(key)) && a.get(key) !== version) {
      differing.add(key);
    }
  }
  return [...differing].sort();
}
