import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isInvalidArgumentError } from '../../src/core/index.js';
import { HotRangeDetector, RangeLayout } from '../../src/partition/index.js';

describe('RangeLayout', () => {
  it('routes keys by binary search and lists the ranges a scan touches', () => {
    const layout = RangeLayout.single('a').split('g', { owner: 'b' }).split('p', { owner: 'c' });
    assert.deepEqual(layout.ranges(), [
      { startKey: '', endKey: 'g', owner: 'a' },
      { startKey: 'g', endKey: 'p', owner: 'b' },
      { startKey: 'p', endKey: undefined, owner: 'c' },
    ]);
    assert.equal(layout.ownerFor(''), 'a');
    assert.equal(layout.ownerFor('f~'), 'a');
    assert.equal(layout.ownerFor('g'), 'b');
    assert.equal(layout.ownerFor('zzz'), 'c');
    assert.deepEqual(
      layout.rangesBetween('a', 'g').map((range) => range.owner),
      ['a'],
    );
    assert.deepEqual(
      layout.rangesBetween('a', 'g\u0000').map((range) => range.owner),
      ['a', 'b'],
    );
    assert.deepEqual(
      layout.rangesBetween('h').map((range) => range.owner),
      ['b', 'c'],
    );
    assert.deepEqual(layout.rangesBetween('h', 'h'), []);
  });

  it('split then merge restores the layout; merge may reassign the owner', () => {
    const base = RangeLayout.single('a').split('m', { owner: 'b' });
    const split = base.split('f');
    assert.equal(split.rangeCount, 3);
    assert.equal(split.ownerFor('g'), 'a', 'the upper part keeps the owner by default');
    assert.deepEqual(split.merge('f').ranges(), base.ranges());
    assert.deepEqual(base.merge('m', 'z').ranges(), [
      { startKey: '', endKey: undefined, owner: 'z' },
    ]);
    assert.equal(base.withOwner('m', 'c').ownerFor('q'), 'c');
  });

  it('agrees with a linear scan on random layouts and keys', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { maxLength: 30 }),
        fc.array(fc.string({ maxLength: 5 }), { maxLength: 50 }),
        (splits, keys) => {
          const starts = ['', ...splits.sort()];
          const layout = new RangeLayout({
            ranges: starts.map((startKey, index) => ({ startKey, owner: `n${index}` })),
          });
          for (const key of keys) {
            let expected = 0;
            starts.forEach((start, index) => {
              if (start <= key) {
                expected = index;
              }
            });
            assert.equal(layout.rangeIndexOf(key), expected);
          }
        },
      ),
    );
  });

  it('rejects bad layouts and bad splits with InvalidArgumentError, leaving the layout intact', () => {
    const bad: unknown[] = [
      undefined,
      { ranges: [] },
      { ranges: [{ startKey: 'a', owner: 'x' }] },
      { ranges: [{ startKey: '', owner: '' }] },
      {
        ranges: [
          { startKey: '', owner: 'x' },
          { startKey: 'b', owner: 'y' },
          { startKey: 'b', owner: 'z' },
        ],
      },
      {
        ranges: [
          { startKey: '', owner: 'x' },
          { startKey: 'c', owner: 'y' },
          { startKey: 'b', owner: 'z' },
        ],
      },
      {
        ranges: [
          { startKey: '', owner: 'x' },
          { startKey: '\ud800', owner: 'y' },
        ],
      },
      { ranges: [null] },
    ];
    for (const options of bad) {
      assert.throws(
        () => new RangeLayout(options as never),
        isInvalidArgumentError,
        JSON.stringify(options),
      );
    }
    const layout = RangeLayout.single('a').split('m');
    assert.throws(() => layout.split('m'), isInvalidArgumentError);
    assert.throws(() => layout.split(''), isInvalidArgumentError);
    assert.throws(() => layout.merge(''), isInvalidArgumentError);
    assert.throws(() => layout.merge('n'), isInvalidArgumentError);
    assert.throws(() => layout.withOwner('n', 'b'), isInvalidArgumentError);
    assert.throws(() => layout.split('q', { owner: '' }), isInvalidArgumentError);
    assert.equal(layout.rangeCount, 2);
  });
});

describe('HotRangeDetector', () => {
  it('proposes a split of a hot range at the weighted median key', () => {
    const layout = RangeLayout.single('a').split('n', { owner: 'b' });
    const detector = new HotRangeDetector({ layout, loadThreshold: 100 });
    // Range ['', 'n'): keys c, d, e, f with loads 10, 30, 30, 40; range ['n', ∞): 5 requests.
    detector.record('c', 10);
    detector.record('d', 30);
    detector.record('e', 30);
    detector.record('f', 40);
    for (let index = 0; index < 5; index += 1) {
      detector.record('x');
    }
    const report = detector.closeWindow();
    assert.deepEqual(report.loads, [110, 5]);
    assert.deepEqual(report.proposals, [
      { kind: 'split', rangeIndex: 0, startKey: '', splitKey: 'f', load: 110 },
    ]);
    // Below 'f': 70 of 110; the median (cumulative ≥ 55) is 'e', so the split goes just above it.
    const next = detector.closeWindow();
    assert.deepEqual(next.loads, [0, 0], 'a new window starts empty');
    assert.deepEqual(next.proposals, []);
  });

  it('reports a single hot key instead of a useless split', () => {
    const detector = new HotRangeDetector({ layout: RangeLayout.single('a'), loadThreshold: 10 });
    detector.record('celebrity', 95);
    detector.record('a', 2);
    detector.record('z', 3);
    assert.deepEqual(detector.closeWindow().proposals, [
      { kind: 'hot-key', rangeIndex: 0, key: 'celebrity', load: 100 },
    ]);
  });

  it('splitting where it proposes halves the load of a uniformly hot range', () => {
    const layout = RangeLayout.single('a');
    const detector = new HotRangeDetector({ layout, loadThreshold: 1 });
    const keys = Array.from({ length: 1_000 }, (_, index) => `k${String(index).padStart(4, '0')}`);
    for (const key of keys) {
      detector.record(key);
    }
    const [proposal] = detector.closeWindow().proposals;
    assert.equal(proposal?.kind, 'split');
    const split = layout.split(proposal?.kind === 'split' ? proposal.splitKey : '', { owner: 'b' });
    const onB = keys.filter((key) => split.ownerFor(key) === 'b').length;
    assert.ok(Math.abs(onB - 500) <= 1, `${onB} of 1,000 keys on the new range`);
  });

  it('keeps at most distinctKeyCountMax keys and says how much it left out', () => {
    const detector = new HotRangeDetector({
      layout: RangeLayout.single('a'),
      loadThreshold: 1,
      distinctKeyCountMax: 3,
    });
    for (const key of ['a', 'b', 'c', 'd', 'e', 'a']) {
      detector.record(key);
    }
    const report = detector.closeWindow();
    assert.deepEqual(report.loads, [6]);
    assert.equal(report.unsampledCount, 2);
  });

  it('rejects bad options and records', () => {
    const layout = RangeLayout.single('a');
    assert.throws(() => new HotRangeDetector({ layout, loadThreshold: 0 }), isInvalidArgumentError);
    assert.throws(
      () => new HotRangeDetector({ layout: {} as never, loadThreshold: 1 }),
      isInvalidArgumentError,
    );
    const detector = new HotRangeDetector({ layout, loadThreshold: 1 });
    assert.throws(() => detector.record('k', 0), isInvalidArgumentError);
    assert.throws(() => detector.record('k', 1.5), isInvalidArgumentError);
    assert.throws(() => detector.record(5 as never), isInvalidArgumentError);
    assert.deepEqual(detector.closeWindow().loads, [0]);
  });
});
