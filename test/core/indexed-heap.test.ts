import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type HeapEntry, IndexedHeap } from '../../src/core/index.js';

class Item implements HeapEntry {
  slot = -1;
  constructor(
    readonly key: number,
    readonly order: number,
  ) {}
}

class ItemHeap extends IndexedHeap<Item> {
  before(a: Item, b: Item): boolean {
    return a.key < b.key || (a.key === b.key && a.order < b.order);
  }
}

describe('IndexedHeap', () => {
  it('pops in order after any mix of pushes, removals and pops (property)', () => {
    const operation = fc.oneof(
      fc.record({ push: fc.integer({ min: 0, max: 20 }) }),
      fc.record({ remove: fc.nat() }),
      fc.constant({ pop: true }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 200 }), (operations) => {
        const heap = new ItemHeap();
        const model: Item[] = [];
        let order = 0;
        const earliest = (): Item | undefined =>
          [...model].sort((a, b) => a.key - b.key || a.order - b.order)[0];
        for (const step of operations) {
          if ('push' in step) {
            const item = new Item(step.push, order);
            order += 1;
            heap.push(item);
            model.push(item);
          } else if ('remove' in step) {
            if (model.length > 0) {
              const item = model.splice(step.remove % model.length, 1)[0] as Item;
              assert.equal(heap.remove(item), true);
              assert.equal(heap.remove(item), false, 'a removed item is gone');
              assert.equal(item.slot, -1);
            }
          } else {
            const expected = earliest();
            assert.equal(heap.pop(), expected);
            if (expected !== undefined) {
              model.splice(model.indexOf(expected), 1);
            }
          }
          assert.equal(heap.size, model.length);
          assert.equal(heap.peek(), earliest());
        }
        heap.clear();
        assert.equal(heap.size, 0);
        for (const item of model) {
          assert.equal(item.slot, -1);
        }
      }),
    );
  });
});
