/** Shared fixtures of the partition tests. */

/** `count` distinct keys, the same on every run. */
export function sampleKeys(count: number, prefix = 'key'): string[] {
  return Array.from({ length: count }, (_, index) => `${prefix}:${index}`);
}

/** Node ids node-0 … node-(count - 1). */
export function nodeIds(count: number): string[] {
  return Array.from({ length: count }, (_, index) => `node-${index}`);
}

/** How many of `keys` each node gets. */
export function loadByNode(
  keys: readonly string[],
  place: (key: string) => string,
): Map<string, number> {
  const loads = new Map<string, number>();
  for (const key of keys) {
    const node = place(key);
    loads.set(node, (loads.get(node) ?? 0) + 1);
  }
  return loads;
}

/** max load / mean load over `nodeCount` nodes. */
export function spread(loads: ReadonlyMap<string, number>, nodeCount: number): number {
  let total = 0;
  let max = 0;
  for (const load of loads.values()) {
    total += load;
    max = Math.max(max, load);
  }
  return max / (total / nodeCount);
}

/** The keys whose node differs between two placements, with both nodes. */
export function movedKeys(
  keys: readonly string[],
  before: (key: string) => string,
  after: (key: string) => string,
): { key: string; from: string; to: string }[] {
  const moved: { key: string; from: string; to: string }[] = [];
  for (const key of keys) {
    const from = before(key);
    const to = after(key);
    if (from !== to) {
      moved.push({ key, from, to });
    }
  }
  return moved;
}
