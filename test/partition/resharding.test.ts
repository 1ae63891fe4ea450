import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isInvalidArgumentError } from '../../src/core/index.js';
import {
  ConsistentHashRing,
  diffHashOwnership,
  diffRangeOwnership,
  type HashRangeMove,
  hashKey,
  isInvalidMigrationTransitionError,
  type KeyRangeMove,
  MigrationPlan,
  RangeLayout,
} from '../../src/partition/index.js';

function moveForHash(moves: readonly HashRangeMove[], hash: number): HashRangeMove | undefined {
  return moves.find((move) => move.firstHash <= hash && hash <= move.lastHash);
}

function moveForKey(moves: readonly KeyRangeMove[], key: string): KeyRangeMove | undefined {
  return moves.find(
    (move) => move.startKey <= key && (move.endKey === undefined || key < move.endKey),
  );
}

const nodeSet = fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), {
  minLength: 1,
  maxLength: 8,
});
const nodeInputs = nodeSet.chain((ids) =>
  fc.tuple(
    ...ids.map((id) => fc.record({ id: fc.constant(id), weight: fc.constantFrom(0.5, 1, 2, 3) })),
  ),
);
const sampledKeys = fc.array(fc.string({ maxLength: 8 }), { minLength: 1, maxLength: 200 });

describe('diffHashOwnership: the plan moves exactly the keys whose owner changed', () => {
  it('holds for random pairs of rings (property)', () => {
    fc.assert(
      fc.property(
        nodeInputs,
        nodeInputs,
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        sampledKeys,
        (oldNodes, newNodes, oldVirtual, newVirtual, keys) => {
          const before = new ConsistentHashRing({ nodes: oldNodes, virtualNodeCount: oldVirtual });
          const after = new ConsistentHashRing({ nodes: newNodes, virtualNodeCount: newVirtual });
          const moves = diffHashOwnership(before, after);
          for (const move of moves) {
            assert.notEqual(move.from, move.to);
            // Both ends of every move really change owner that way.
            for (const hash of [move.firstHash, move.lastHash]) {
              assert.equal(before.nodeForHash(hash), move.from);
              assert.equal(after.nodeForHash(hash), move.to);
            }
          }
          for (const key of keys) {
            const from = before.nodeFor(key);
            const to = after.nodeFor(key);
            const move = moveForHash(moves, hashKey(key));
            if (from === to) {
              assert.equal(move, undefined, `${key} stays on ${from} but the plan moves it`);
            } else {
              assert.deepEqual([move?.from, move?.to], [from, to], `${key}: ${from} → ${to}`);
            }
          }
        },
      ),
    );
  });

  it('also at range boundaries: every arc end of both rings', () => {
    const before = new ConsistentHashRing({ nodes: ['a', 'b', 'c'], virtualNodeCount: 20 });
    const after = before.withoutNode('b').withNode({ id: 'd', weight: 2 });
    const moves = diffHashOwnership(before, after);
    const edges = [...before.ownership(), ...after.ownership()].flatMap((range) => [
      range.firstHash,
      range.lastHash,
      Math.max(0, range.firstHash - 1),
      Math.min(0xffff_ffff, range.lastHash + 1),
    ]);
    for (const hash of edges) {
      const from = before.nodeForHash(hash);
      const to = after.nodeForHash(hash);
      const move = moveForHash(moves, hash);
      assert.deepEqual(
        from === to ? undefined : [from, to],
        move === undefined ? undefined : [move.from, move.to],
      );
    }
    // Adding a node to a ring: every move goes to it.
    assert.ok(diffHashOwnership(before, before.withNode('z')).every((move) => move.to === 'z'));
    assert.deepEqual(diffHashOwnership(before, before), []);
  });

  it('rejects layouts without a well-formed ownership list', () => {
    const ring = new ConsistentHashRing({ nodes: ['a'] });
    assert.throws(() => diffHashOwnership(ring, {} as never), isInvalidArgumentError);
    assert.throws(
      () =>
        diffHashOwnership(ring, {
          ownership: () => [{ firstHash: 1, lastHash: 0xffff_ffff, owner: 'a' }],
        }),
      isInvalidArgumentError,
    );
    assert.throws(
      () =>
        diffHashOwnership(ring, { ownership: () => [{ firstHash: 0, lastHash: 5, owner: 'a' }] }),
      isInvalidArgumentError,
    );
  });
});

const rangeLayouts = fc
  .uniqueArray(fc.string({ minLength: 1, maxLength: 3 }), { maxLength: 12 })
  .chain((splits) =>
    fc.tuple(
      fc.constant(['', ...splits.sort()]),
      fc.array(fc.constantFrom('a', 'b', 'c', 'd'), {
        minLength: splits.length + 1,
        maxLength: splits.length + 1,
      }),
    ),
  )
  .map(
    ([starts, owners]) =>
      new RangeLayout({
        ranges: starts.map((startKey, index) => ({ startKey, owner: owners[index] as string })),
      }),
  );

describe('diffRangeOwnership: the plan moves exactly the keys whose owner changed', () => {
  it('holds for random pairs of range layouts (property)', () => {
    fc.assert(
      fc.property(rangeLayouts, rangeLayouts, sampledKeys, (before, after, keys) => {
        const moves = diffRangeOwnership(before, after);
        const boundaryKeys = [...before.ranges(), ...after.ranges()].flatMap((range) =>
          range.endKey === undefined
            ? [range.startKey]
            : [range.startKey, range.endKey, `${range.startKey}\u0000`],
        );
        for (const key of [...keys, ...boundaryKeys]) {
          const from = before.ownerFor(key);
          const to = after.ownerFor(key);
          const move = moveForKey(moves, key);
          if (from === to) {
            assert.equal(move, undefined, `${JSON.stringify(key)} stays on ${from}`);
          } else {
            assert.deepEqual([move?.from, move?.to], [from, to], JSON.stringify(key));
          }
        }
        for (let index = 1; index < moves.length; index += 1) {
          const previous = moves[index - 1] as KeyRangeMove;
          assert.ok(
            previous.endKey !== undefined &&
              previous.endKey <= (moves[index] as KeyRangeMove).startKey,
          );
        }
      }),
    );
  });

  it('a split handed to a new owner moves exactly the upper part', () => {
    const before = RangeLayout.single('a').split('m', { owner: 'b' });
    const after = before.split('t', { owner: 'c' });
    assert.deepEqual(diffRangeOwnership(before, after), [
      { startKey: 't', endKey: undefined, from: 'b', to: 'c' },
    ]);
    assert.deepEqual(diffRangeOwnership(after, after.merge('t')), [
      { startKey: 't', endKey: undefined, from: 'c', to: 'b' },
    ]);
  });
});

describe('MigrationPlan', () => {
  const moves: KeyRangeMove[] = [
    { startKey: 'a', endKey: 'f', from: 'x', to: 'y' },
    { startKey: 'm', endKey: undefined, from: 'x', to: 'z' },
  ];

  it('walks double-write → backfill → verify → cut-over → clean-up → done with the routing of each phase', () => {
    const plan = new MigrationPlan({ moves });
    const steps: [() => unknown, string, string, string][] = [
      [() => plan.startDoubleWrite(), 'double-write', 'old', 'old-and-new'],
      [() => plan.startBackfill(), 'backfill', 'old', 'old-and-new'],
    ];
    assert.deepEqual(plan.routing(), { readFrom: 'old', writeTo: 'old' });
    for (const [step, phase, readFrom, writeTo] of steps) {
      assert.deepEqual(step(), { ok: true, phase });
      assert.deepEqual(plan.routing(), { readFrom, writeTo });
    }
    assert.equal(plan.startVerify().ok, false, 'nothing backfilled yet');
    assert.deepEqual(plan.markBackfilled(0), { ok: true, phase: 'backfill' });
    assert.deepEqual(plan.markBackfilled(1), { ok: true, phase: 'backfill' });
    assert.deepEqual(plan.startVerify(), { ok: true, phase: 'verify' });
    assert.equal(plan.cutOver().ok, false, 'not verified yet');
    assert.deepEqual(plan.recordVerification([1]), { ok: true, phase: 'backfill' });
    assert.equal(plan.isBackfilled(1), false, 'a mismatched move is copied again');
    assert.equal(plan.backfilledCount, 1);
    plan.markBackfilled(1);
    plan.startVerify();
    assert.deepEqual(plan.recordVerification([]), { ok: true, phase: 'verify' });
    assert.deepEqual(plan.cutOver(), { ok: true, phase: 'cut-over' });
    assert.deepEqual(plan.routing(), { readFrom: 'new', writeTo: 'old-and-new' });
    assert.equal(plan.abort().ok, false, 'no abort after cut-over');
    assert.deepEqual(plan.startCleanUp(), { ok: true, phase: 'clean-up' });
    assert.deepEqual(plan.routing(), { readFrom: 'new', writeTo: 'new' });
    assert.deepEqual(plan.finish(), { ok: true, phase: 'done' });
  });

  it('refuses every out-of-order transition with a typed error and stays put (property)', () => {
    const transitions = [
      'startDoubleWrite',
      'startBackfill',
      'markBackfilled',
      'startVerify',
      'recordVerification',
      'cutOver',
      'startCleanUp',
      'finish',
      'abort',
    ] as const;
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...transitions), { maxLength: 40 }),
        fc.array(fc.boolean(), { maxLength: 40 }),
        (calls, flags) => {
          const plan = new MigrationPlan({ moves });
          calls.forEach((call, index) => {
            const before = plan.phase;
            const routing = plan.routing();
            const result =
              call === 'markBackfilled'
                ? plan.markBackfilled(index % 2)
                : call === 'recordVerification'
                  ? plan.recordVerification(flags[index] === true ? [0] : [])
                  : plan[call]();
            if (!result.ok) {
              assert.ok(isInvalidMigrationTransitionError(result.error));
              assert.equal(result.error.phase, before);
              assert.equal(plan.phase, before);
              assert.deepEqual(plan.routing(), routing);
            } else {
              assert.equal(result.phase, plan.phase);
            }
            // Reads never reach the new owner before a clean verification.
            if (plan.routing().readFrom === 'new') {
              assert.ok(['cut-over', 'clean-up', 'done'].includes(plan.phase));
            }
          });
        },
      ),
    );
  });

  it('an empty plan goes straight through; bad indexes are refused', () => {
    const plan = new MigrationPlan<KeyRangeMove>({ moves: [] });
    plan.startDoubleWrite();
    plan.startBackfill();
    assert.equal(plan.markBackfilled(0).ok, false);
    assert.equal(plan.startVerify().ok, true);
    assert.equal(plan.recordVerification([3]).ok, false);
    assert.equal(plan.recordVerification([]).ok, true);
    assert.equal(plan.cutOver().ok, true);
    assert.throws(() => new MigrationPlan({ moves: 'x' as never }), isInvalidArgumentError);
  });
});
