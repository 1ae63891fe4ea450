/**
 * The incremental durability port of every replication mode: at every step of a seeded
 * run (client writes and reads, ticks, messages delivered out of order or lost, crashes),
 * folding every change a replica reported onto its keyed state at boot gives exactly
 * its keyed state now, and a replica restarted from that folded state is the replica a
 * restart from the plain durable state gives.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isInvalidArgumentError, ManualClock } from '../../src/core/index.js';
import {
  applyDurableChanges,
  consensus,
  type DurableChanges,
  type KeyedDurableState,
  leaderFollower,
  leaderless,
  multiLeader,
  type ReplicaCore,
  type ReplicaCoreFactory,
} from '../../src/replication/index.js';
import { HandDrivenGroup } from './support.js';

type Action =
  | {
      readonly kind: 'write';
      readonly replica: number;
      readonly key: number;
      readonly value: number;
    }
  | { readonly kind: 'read'; readonly replica: number; readonly key: number }
  | { readonly kind: 'tick'; readonly count: number }
  | { readonly kind: 'flush' }
  | { readonly kind: 'deliver'; readonly pick: number }
  | { readonly kind: 'drop'; readonly pick: number }
  | { readonly kind: 'crash'; readonly replica: number };

const actionArbitrary: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      replica: fc.nat(2),
      key: fc.nat(5),
      value: fc.nat(1_000),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      replica: fc.nat(2),
      key: fc.nat(5),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('tick' as const),
      count: fc.integer({ min: 1, max: 12 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('flush' as const) }) },
  {
    weight: 8,
    arbitrary: fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat(1_000) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), pick: fc.nat(1_000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const), replica: fc.nat(2) }) },
);

/** The records sorted by id, so two keyed states compare regardless of order. */
function normalized(state: KeyedDurableState): unknown {
  return {
    format: state.format,
    meta: state.meta,
    records: [...state.records].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  };
}

function records(core: ReplicaCore): KeyedDurableState {
  assert.ok(core.durableRecords !== undefined, 'the mode implements durableRecords');
  return core.durableRecords();
}

function take(core: ReplicaCore): DurableChanges | undefined {
  assert.ok(core.takeDurableChanges !== undefined, 'the mode implements takeDurableChanges');
  return core.takeDurableChanges();
}

/**
 * Runs `actions` on three replicas of `factory`; after each action, each replica's
 * changes are taken and folded (as a driver appending them to a log would) and checked
 * against `durableRecords()`. Returns how many changes and restarts it saw.
 */
function runFolded(
  factory: ReplicaCoreFactory,
  actions: readonly Action[],
  ids: readonly string[],
): { changes: number; restarts: number; upserts: number } {
  const group = new HandDrivenGroup({
    factory,
    ids,
    clock: new ManualClock(),
    seedOf: (id) => ids.indexOf(id) + 7,
    client: 'c',
  });
  // What a driver holds: the keyed state at boot and the changes since.
  const folded = new Map<string, KeyedDurableState>();
  for (const id of ids) {
    folded.set(id, structuredClone(records(group.core(id))));
  }
  let changes = 0;
  let upserts = 0;
  let restarts = 0;
  const check = (): void => {
    for (const id of ids) {
      const core = group.core(id);
      const change = take(core);
      if (change !== undefined) {
        changes += 1;
        upserts += change.upserts.length;
        const ids = new Set(change.upserts.map(([recordId]) => recordId));
        assert.ok(
          change.deletes.every((recordId) => !ids.has(recordId)),
          'no id both upserted and deleted',
        );
        folded.set(
          id,
          applyDurableChanges(folded.get(id) as KeyedDurableState, [structuredClone(change)]),
        );
      }
      assert.deepEqual(
        normalized(folded.get(id) as KeyedDurableState),
        normalized(records(core)),
        `replica ${id}: the folded changes differ from durableRecords()`,
      );
      assert.equal(take(core), undefined, 'nothing changed since the last take');
    }
  };
  check();
  // A calm start, so that the leader-based modes elect a leader before the faults.
  const settle: Action[] = [];
  for (let round = 0; round < 30; round += 1) {
    settle.push({ kind: 'tick', count: 1 }, { kind: 'flush' });
  }
  for (const action of [...settle, ...actions]) {
    switch (action.kind) {
      case 'write':
        group.send(ids[action.replica] as string, {
          kind: 'write',
          key: `k${action.key}`,
          value: `v${action.value}`,
        });
        group.collect(ids[action.replica] as string);
        break;
      case 'read':
        group.send(ids[action.replica] as string, { kind: 'read', key: `k${action.key}` });
        group.collect(ids[action.replica] as string);
        break;
      case 'tick':
        for (let count = 0; count < action.count; count += 1) {
          group.tickEach();
        }
        break;
      case 'flush':
        for (let count = 0; count < 200 && group.inFlight.length > 0; count += 1) {
          group.deliver(group.inFlight.shift() as (typeof group.inFlight)[number]);
        }
        break;
      case 'deliver':
      case 'drop':
        if (group.inFlight.length > 0) {
          const [message] = group.inFlight.splice(action.pick % group.inFlight.length, 1);
          if (action.kind === 'deliver' && message !== undefined) {
            group.deliver(message);
          }
        }
        break;
      case 'crash': {
        const id = ids[action.replica] as string;
        const plain = group.core(id).durableState();
        group.inFlight = group.inFlight.filter((message) => message.to !== id);
        const fromPlain = group.start(id, plain);
        const fromKeyed = group.start(id, folded.get(id));
        assert.deepEqual(
          fromKeyed.durableState(),
          fromPlain.durableState(),
          `replica ${id}: restarted from the folded records, it differs from a restart from durableState()`,
        );
        folded.set(id, structuredClone(records(fromKeyed)));
        restarts += 1;
        break;
      }
    }
    check();
  }
  return { changes, restarts, upserts };
}

const three = ['r1', 'r2', 'r3'];
const four = ['r1', 'r2', 'r3', 'r4'];

const modes: readonly (readonly [string, ReplicaCoreFactory, readonly string[]])[] = [
  ['consensus', consensus({ snapshotEveryEntries: 4 }), three],
  ['leader-follower sync', leaderFollower({ replication: 'sync', logEntryCountMax: 8 }), three],
  ['leader-follower async', leaderFollower({ replication: 'async', logEntryCountMax: 8 }), three],
  ['multi-leader lww', multiLeader({ conflicts: 'lww' }), three],
  ['multi-leader siblings', multiLeader({ conflicts: 'siblings' }), three],
  ['leaderless', leaderless(), three],
  // Four replicas for N 3, so that a sloppy quorum stores (and later hands off) hints.
  ['leaderless sloppy', leaderless({ sloppyQuorum: true, hintCountMax: 4 }), four],
];

describe('takeDurableChanges and durableRecords', () => {
  for (const [name, factory, ids] of modes) {
    it(`${name}: folding the changes gives durableRecords() at every step, across restarts`, () => {
      let totals = { changes: 0, restarts: 0, upserts: 0 };
      fc.assert(
        fc.property(fc.array(actionArbitrary, { minLength: 20, maxLength: 250 }), (actions) => {
          const run = runFolded(factory, actions, ids);
          totals = {
            changes: totals.changes + run.changes,
            restarts: totals.restarts + run.restarts,
            upserts: totals.upserts + run.upserts,
          };
        }),
        { numRuns: 60, seed: 0x5eed },
      );
      // The runs did change durable state, and crashed replicas.
      assert.ok(totals.changes > 100, `changes taken: ${totals.changes}`);
      assert.ok(totals.restarts > 10, `restarts: ${totals.restarts}`);
      assert.ok(totals.upserts > 200, `records upserted: ${totals.upserts}`);
    });
  }

  it('a change costs its size: one write to a long log reports a few records', () => {
    const group = new HandDrivenGroup({
      factory: leaderFollower({ replication: 'async' }),
      ids: ['r1', 'r2'],
      clock: new ManualClock(),
      seedOf: () => 1,
      client: 'c',
    });
    const leader = group.core('r1');
    for (let index = 0; index < 500; index += 1) {
      group.send('r1', { kind: 'write', key: `k${index}`, value: 'v' });
    }
    take(leader);
    group.send('r1', { kind: 'write', key: 'k-last', value: 'v' });
    const change = take(leader);
    assert.ok(change !== undefined, 'the write changed durable state');
    assert.equal(change.upserts.length, 1);
    assert.deepEqual(change.deletes, []);
    assert.ok(records(leader).records.length >= 501, 'the log holds every write');
  });

  it('applyDurableChanges refuses what is not a keyed state or a change', () => {
    assert.throws(
      () => applyDurableChanges({ format: 'x' } as unknown as KeyedDurableState, []),
      (error) => isInvalidArgumentError(error) && error.argument === 'state',
    );
    assert.throws(
      () =>
        applyDurableChanges({ format: 'x', meta: 1, records: [] }, [
          { meta: 2 } as unknown as DurableChanges,
        ]),
      (error) => isInvalidArgumentError(error) && error.argument === 'changes[0]',
    );
    const state = { format: 'x', meta: 1, records: [['a', 1] as const, ['b', 2] as const] };
    assert.deepEqual(
      applyDurableChanges(state, [
        { meta: 2, upserts: [['c', 3]], deletes: ['a'] },
        { meta: 3, upserts: [['a', 4]], deletes: ['b'] },
      ]),
      {
        format: 'x',
        meta: 3,
        records: [
          ['c', 3],
          ['a', 4],
        ],
      },
    );
    assert.deepEqual(
      state.records,
      [
        ['a', 1],
        ['b', 2],
      ],
      'the state is not modified',
    );
  });
});
