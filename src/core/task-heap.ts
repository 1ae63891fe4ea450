/**
 * The priority queue behind both schedulers: a binary min-heap of tasks ordered by
 * (due time, scheduling sequence), where each task remembers its slot so that
 * cancelling is O(log n) and leaves nothing behind.
 *
 * Internal to `src/core`; not exported from `distkit/core`.
 *
 * @module
 */

import { assert } from './errors.js';

/** What a task calls back into when it is cancelled: the scheduler that owns it. */
export interface TaskOwner {
  cancelTask(task: HeapTask): boolean;
}

/**
 * A callback waiting in a {@link TaskHeap}. It is also the handle the scheduler returns,
 * so scheduling allocates one object.
 */
export class HeapTask {
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

function before(a: HeapTask, b: HeapTask): boolean {
  return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.sequence < b.sequence);
}

/** Min-heap of {@link HeapTask} by (dueMs, sequence). */
export class TaskHeap {
  readonly #tasks: HeapTask[] = [];

  get size(): number {
    return this.#tasks.length;
  }

  peek(): HeapTask | undefined {
    return this.#tasks[0];
  }

  push(task: HeapTask): void {
    assert(task.slot === -1, 'a task is pushed at most once');
    task.slot = this.#tasks.length;
    this.#tasks.push(task);
    this.#siftUp(task.slot);
  }

  /** Removes and returns the earliest task. */
  pop(): HeapTask | undefined {
    const first = this.#tasks[0];
    if (first !== undefined) {
      this.remove(first);
    }
    return first;
  }

  /** Removes `task` if it is in the heap; returns whether it was. */
  remove(task: HeapTask): boolean {
    const slot = task.slot;
    if (slot < 0) {
      return false;
    }
    assert(this.#tasks[slot] === task, 'a task belongs to the heap it was pushed on');
    const last = this.#tasks.pop();
    task.slot = -1;
    if (last !== undefined && last !== task) {
      this.#tasks[slot] = last;
      last.slot = slot;
      this.#siftDown(slot);
      this.#siftUp(last.slot);
    }
    return true;
  }

  /** Removes every task. */
  clear(): void {
    for (const task of this.#tasks) {
      task.slot = -1;
    }
    this.#tasks.length = 0;
  }

  #siftUp(start: number): void {
    const tasks = this.#tasks;
    let slot = start;
    const task = tasks[slot] as HeapTask;
    while (slot > 0) {
      const parentSlot = (slot - 1) >>> 1;
      const parent = tasks[parentSlot] as HeapTask;
      if (!before(task, parent)) {
        break;
      }
      tasks[slot] = parent;
      parent.slot = slot;
      slot = parentSlot;
    }
    tasks[slot] = task;
    task.slot = slot;
  }

  #siftDown(start: number): void {
    const tasks = this.#tasks;
    const count = tasks.length;
    let slot = start;
    const task = tasks[slot] as HeapTask;
    for (;;) {
      const leftSlot = 2 * slot + 1;
      if (leftSlot >= count) {
        break;
      }
      const rightSlot = leftSlot + 1;
      let childSlot = leftSlot;
      if (rightSlot < count && before(tasks[rightSlot] as HeapTask, tasks[leftSlot] as HeapTask)) {
        childSlot = rightSlot;
      }
      const child = tasks[childSlot] as HeapTask;
      if (!before(child, task)) {
        break;
      }
      tasks[slot] = child;
      child.slot = slot;
      slot = childSlot;
    }
    tasks[slot] = task;
    task.slot = slot;
  }
}
