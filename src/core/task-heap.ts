/**
 * The priority queue behind both schedulers: a binary min-heap of tasks ordered by
 * (due time, scheduling sequence), where each task remembers its slot so that
 * cancelling is O(log n) and leaves nothing behind.
 *
 * Internal to `src/core`; not exported from `distkit/core`.
 *
 * @module
 */

import { type HeapEntry, IndexedHeap } from './indexed-heap.js';

/** What a task calls back into when it is cancelled: the scheduler that owns it. */
export interface TaskOwner {
  cancelTask(task: HeapTask): boolean;
}

/**
 * A callback waiting in a {@link TaskHeap}. It is also the handle the scheduler returns,
 * so scheduling allocates one object.
 */
export class HeapTask implements HeapEntry {
  /** Slot in the heap's array; -1 once the task has run or been cancelled. */
  slot = -1;

  constructor(
    readonly dueMs: number,
    readonly sequence: number,
    readonly callback: () => void,
    readonly owner: TaskOwner,
  ) {}

  /** True until the task runs or is cancelled. */
  get pending(): boolean {
    return this.slot >= 0;
  }

  /** Cancels the task; returns false when it had already run or been cancelled. */
  cancel(): boolean {
    return this.owner.cancelTask(this);
  }
}

/** Min-heap of {@link HeapTask} by (dueMs, sequence). */
export class TaskHeap extends IndexedHeap<HeapTask> {
  before(a: HeapTask, b: HeapTask): boolean {
    return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.sequence < b.sequence);
  }
}
