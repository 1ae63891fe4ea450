/**
 * Doubly linked lists over slot indices, kept in two `Int32Array`s so that moving an entry
 * allocates nothing. Each list is circular around a sentinel slot: slots below
 * {@link slotBase} are never given to entries, so every policy can use them as list
 * heads, and no operation needs a branch for an empty list or an end.
 *
 * In every list the least recently used entry is `next[sentinel]` and the most recently
 * used one is `prev[sentinel]`.
 *
 * @module
 */

/** The first slot index the cache gives to an entry; the ones below are list sentinels. */
export const slotBase = 8;

/** Makes `sentinel` an empty list. */
export function resetList(prev: Int32Array, next: Int32Array, sentinel: number): void {
  prev[sentinel] = sentinel;
  next[sentinel] = sentinel;
}

/** Links `slot` as the most recently used entry of the list headed by `sentinel`. */
export function pushMru(prev: Int32Array, next: Int32Array, sentinel: number, slot: number): void {
  const last = prev[sentinel] as number;
  prev[slot] = last;
  next[slot] = sentinel;
  next[last] = slot;
  prev[sentinel] = slot;
}

/** Links `slot` right after `at` (towards the most recently used end). */
export function linkAfter(prev: Int32Array, next: Int32Array, at: number, slot: number): void {
  const following = next[at] as number;
  prev[slot] = at;
  next[slot] = following;
  prev[following] = slot;
  next[at] = slot;
}

/** Unlinks `slot` from whatever list holds it. */
export function unlink(prev: Int32Array, next: Int32Array, slot: number): void {
  const before = prev[slot] as number;
  const after = next[slot] as number;
  next[before] = after;
  prev[after] = before;
}

/** Copies `source` into a new array of `length` (filled with `fill` beyond the copy). */
export function grownInt32(source: Int32Array, length: number, fill = 0): Int32Array {
  const grown = new Int32Array(length);
  if (fill !== 0) {
    grown.fill(fill);
  }
  grown.set(source);
  return grown;
}

/** Copies `source` into a new array of `length`. */
export function grownFloat64(source: Float64Array, length: number): Float64Array {
  const grown = new Float64Array(length);
  grown.set(source);
  return grown;
}
