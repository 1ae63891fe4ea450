/**
 * Multi-leader replication: cores driven by hand (replication, duplicates and reordering,
 * LWW tie-breaks, siblings and their supersession, the CRDT mode's merge, session
 * refusals, restarts, anti-entropy, malformed messages, options), fast-check properties
 * (any delivery order with duplicates converges, in every mode), and seeded simulations
 * (convergence after partitions and crashes, the lab's lost updates under LWW and none
 * under siblings, and a linearizability violation found by distkit/check).
 *
 * Replay a simulation seed with `DISTKIT_SIM_SEED=<seed> node scripts/run-tests.mjs
 * test/replication/multi-leader.test.ts`.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkLinearizability, type Operation, registerModel } from '../../src/check/index.js';
import { isInvalidArgumentError, ManualClock, SeededRandom } from '../../src/core/index.js';
import {
  type MultiLeaderOptions,
  multiLeader,
  type ReplicaReply,
  type ReplicaRequest,
} from '../../src/replication/index.js';
import { runSeeds, seedRange, seedsFromEnvironment } from '../../src/sim/index.js';
import {
  type AppliedWrite,
  concurrentWriters,
  finalRead,
  modes,
  parseToken,
  partitionedWriters,
  recording,
  stateOf,
  statesOf,
  sum,
  survivingValues,
  totals,
} from './multi-leader-scenario.js';
import { type ReplicationScenarioResult, runReplicationScenario } from './sim-harness.js';
import { HandDrivenGroup, type InFlight } from './support.js';

/** Replicas driven by hand: messages wait in `inFlight` until the test delivers them. */
class Group extends HandDrivenGroup {
  constructor(
    readonly options: MultiLeaderOptions,
    ids: readonly string[] = ['r1', 'r2', 'r3'],
  ) {
    super({
      factory: multiLeader(options),
      ids,
      clock: new ManualClock({ nowMs: 0, wallMs: 1_700_000_000_000 }),
      seedOf: (id) => ids.indexOf(id) + 1,
      client: 'client',
    });
  }

  request(id: string, operation: ReplicaRequest['operation'], session?: string): ReplicaReply {
    const requestId = this.send(id, operation, session === undefined ? {} : { session });
    this.collect(id);
    return this.replies.get(requestId) as ReplicaReply;
  }

  write(id: string, key: string, value: string, session?: string): ReplicaReply {
    return this.request(id, { kind: 'write', key, value }, session);
  }

  read(id: string, key: string, session?: string): ReplicaReply {
    return this.request(id, { kind: 'read', key }, session);
  }

  /** Delivers everything in flight (and what that produces) in order; `drop` loses some. */
  override flush(drop: (message: InFlight) => boolean = () => false, limit = 10_000): void {
    super.flush(drop, limit);
  }

  /** `count` ticks of 10 ms on every replica, delivering after each. */
  tick(count: number, drop: (message: InFlight) => boolean = () => false): void {
    for (let index = 0; index < count; index += 1) {
      this.tickEach();
      this.flush(drop);
    }
  }

  /** Each replica's keys and versions, sorted: equal strings mean equal states. */
  states(): string[] {
    return this.ids.map((id) => stateOf(this.core(id)));
  }
}

function okReply(reply: ReplicaReply): Extract<ReplicaReply, { status: 'ok' }> {
  assert.equal(reply.status, 'ok', JSON.stringify(reply));
  return reply as Extract<ReplicaReply, { status: 'ok' }>;
}

describe('multiLeader: replication driven by hand', () => {
  for (const conflicts of modes) {
    it(`${conflicts}: a write is ok at once and reaches every replica`, () => {
      const group = new Group({ conflicts });
      const written = okReply(group.write('r1', 'k', 'v1'));
      assert.equal(written.session, 'r1:1');
      // Nothing delivered yet: the other replicas still read nothing.
      assert.equal(okReply(group.read('r2', 'k')).value, null);
      group.flush();
      for (const id of group.ids) {
        assert.equal(okReply(group.read(id, 'k')).value, 'v1');
      }
      assert.equal(new Set(group.states()).size, 1);
      assert.equal(group.core('r1').metrics()['writesAccepted'], 1);
    });

    it(`${conflicts}: duplicated and reordered pushes converge to one state`, () => {
      const group = new Group({ conflicts });
      group.write('r1', 'a', '1');
      group.write('r2', 'a', '2');
      group.write('r3', 'b', '3');
      group.write('r1', 'b', '4');
      const messages = [...group.inFlight];
      group.inFlight = [];
      // Reverse order, each twice.
      for (const message of [...messages].reverse()) {
        group.deliver(message);
        group.deliver(message);
      }
      group.inFlight = []; // acknowledgements; retransmissions would be harmless too
      assert.equal(new Set(group.states()).size, 1, group.states().join('\n'));
    });

    it(`${conflicts}: a lost push is retransmitted until acknowledged`, () => {
      const group = new Group({ conflicts });
      group.write('r1', 'k', 'v');
      group.inFlight = []; // the first push to each peer is lost
      group.tick(6);
      assert.equal(okReply(group.read('r3', 'k')).value, 'v');
      assert.ok((group.core('r1').metrics()['pushRetransmissions'] ?? 0) >= 1);
      const sent = group.core('r1').metrics()['pushesSent'];
      group.tick(20);
      assert.equal(group.core('r1').metrics()['pushesSent'], sent, 'acknowledged: no more pushes');
    });
  }

  it('lww: equal timestamps are broken by replica id, the same way everywhere', () => {
    const group = new Group({ conflicts: 'lww' }, ['r1', 'r2']);
    // The same wall clock and no messages between: both writes get {wallMs, logical 0}.
    group.write('r1', 'k', 'from-r1');
    group.write('r2', 'k', 'from-r2');
    group.flush();
    assert.equal(okReply(group.read('r1', 'k')).value, 'from-r2');
    assert.equal(okReply(group.read('r2', 'k')).value, 'from-r2');
    assert.equal(okReply(group.read('r1', 'k')).siblings, undefined);
    // r1's write was concurrent with the winner and is lost: counted once, by r1.
    assert.equal(group.core('r1').metrics()['concurrentWritesOverwritten'], 1);
    assert.equal(group.core('r2').metrics()['concurrentWritesOverwritten'], 0);
  });

  it('lww: a later timestamp wins, and a write that saw the winner is not counted as lost', () => {
    const group = new Group({ conflicts: 'lww' }, ['r1', 'r2']);
    group.write('r2', 'k', 'first');
    group.flush();
    group.clock.advanceMs(5);
    group.write('r1', 'k', 'second'); // r1 had seen 'first'
    group.flush();
    assert.equal(okReply(group.read('r2', 'k')).value, 'second');
    assert.equal(sum(group.cores.values(), 'concurrentWritesOverwritten'), 0);
  });

  it('lww: a write made after seeing a value from a clock far ahead still wins over it', () => {
    const group = new Group({ conflicts: 'lww', clockOffsetMsMax: 100 }, ['r1', 'r2']);
    const ahead = new ManualClock({ nowMs: 0, wallMs: 1_700_000_060_000 });
    const fast = multiLeader({ conflicts: 'lww', clockOffsetMsMax: 100 })({
      id: 'r2',
      replicas: ['r1', 'r2'],
      clock: ahead,
      random: new SeededRandom({ seed: 9 }),
      tickMs: 10,
    });
    group.cores.set('r2', fast);
    group.write('r2', 'k', 'from-the-future');
    group.flush();
    assert.equal(group.core('r1').metrics()['clockOffsetsRejected'], 1);
    group.write('r1', 'k', 'after-it');
    group.flush();
    assert.equal(okReply(group.read('r1', 'k')).value, 'after-it');
    assert.equal(okReply(group.read('r2', 'k')).value, 'after-it');
  });

  it('siblings: concurrent writes become siblings; a write with the session replaces them', () => {
    const group = new Group({ conflicts: 'siblings' }, ['r1', 'r2']);
    group.write('r1', 'k', 'a');
    group.write('r2', 'k', 'b');
    group.flush();
    const read = okReply(group.read('r1', 'k'));
    assert.deepEqual(read.siblings, ['a', 'b']);
    assert.equal(read.value, 'b', 'the greatest sibling');
    assert.ok((group.core('r1').metrics()['conflictsSurfaced'] ?? 0) >= 1);
    okReply(group.write('r1', 'k', 'c', read.session));
    group.flush();
    assert.deepEqual(okReply(group.read('r2', 'k')).siblings, ['c']);
    assert.equal(sum(group.cores.values(), 'concurrentWritesOverwritten'), 0);
  });

  it('siblings: a write replaces exactly what its session covers', () => {
    const group = new Group({ conflicts: 'siblings' }, ['r1', 'r2']);
    const first = okReply(group.write('r1', 'k', 'a'));
    group.write('r2', 'k', 'b'); // concurrent, not yet seen by anyone at r1
    group.flush();
    // The client saw only 'a' (its own write): 'b' stays as a sibling of 'c'.
    okReply(group.write('r1', 'k', 'c', first.session));
    group.flush();
    // Siblings come ordered by dot: r1's 'c' before r2's 'b'.
    assert.deepEqual(okReply(group.read('r1', 'k')).siblings, ['c', 'b']);
    assert.deepEqual(okReply(group.read('r2', 'k')).siblings, ['c', 'b']);
    // Two blind writes through one replica are siblings too.
    group.write('r2', 'x', '1');
    group.write('r2', 'x', '2');
    assert.deepEqual(okReply(group.read('r2', 'x')).siblings, ['1', '2']);
  });

  it('siblings: a write beyond siblingCountMax is refused', () => {
    const group = new Group({ conflicts: 'siblings', siblingCountMax: 2 }, ['r1', 'r2']);
    okReply(group.write('r1', 'k', '1'));
    okReply(group.write('r1', 'k', '2'));
    const refused = group.write('r1', 'k', '3');
    assert.deepEqual(refused, { id: refused.id, status: 'unavailable', reason: 'sibling-limit' });
    const read = okReply(group.read('r1', 'k'));
    okReply(group.write('r1', 'k', '3', read.session));
    assert.deepEqual(okReply(group.read('r1', 'k')).siblings, ['3']);
  });

  it('crdt: concurrent writes through different replicas are kept; a write replaces what its replica holds', () => {
    const group = new Group({ conflicts: 'crdt' }, ['r1', 'r2']);
    group.write('r1', 'k', 'a');
    group.write('r2', 'k', 'b');
    group.flush();
    assert.deepEqual(okReply(group.read('r1', 'k')).siblings, ['a', 'b']);
    group.write('r1', 'k', 'c'); // no session needed: r1 holds both
    group.flush();
    assert.deepEqual(okReply(group.read('r2', 'k')).siblings, ['c']);
    assert.equal(sum(group.cores.values(), 'concurrentWritesOverwritten'), 0);
  });

  it('refuses a request whose session the replica has not caught up with', () => {
    const group = new Group({ conflicts: 'lww' });
    const written = okReply(group.write('r1', 'k', 'v'));
    const pending = [...group.inFlight];
    group.inFlight = [];
    const refused = group.read('r2', 'k', written.session);
    assert.deepEqual(refused, { id: refused.id, status: 'unavailable', reason: 'behind-session' });
    assert.equal(group.write('r2', 'k', 'w', written.session).status, 'unavailable');
    assert.equal(group.core('r2').metrics()['sessionRefusals'], 2);
    group.inFlight = pending;
    group.flush();
    const read = okReply(group.read('r2', 'k', written.session));
    assert.equal(read.value, 'v');
    assert.equal(read.session, 'r1:1');
    const invalid = group.read('r2', 'k', 'nobody:3');
    assert.deepEqual(invalid, { id: invalid.id, status: 'unavailable', reason: 'invalid-session' });
  });

  it('reports staleness while it knows of writes it has not applied', () => {
    const group = new Group({ conflicts: 'lww' }, ['r1', 'r2']);
    group.write('r1', 'k', 'v1');
    group.flush();
    assert.equal(okReply(group.read('r2', 'k')).stalenessMs, 0);
    group.write('r1', 'k', 'v2');
    group.inFlight = []; // the push is lost
    // A message from r1 that carries its write count (an anti-entropy request) arrives.
    group.clock.advanceMs(300);
    group.core('r1').tick();
    for (let index = 0; index < 40; index += 1) {
      group.core('r1').tick();
    }
    const fromR1 = group
      .core('r1')
      .drain()
      .messages.filter((envelope) => envelope.to === 'r2');
    const syncRequest = fromR1.find(
      (envelope) => (envelope.message as { type: string }).type === 'multi-leader/sync-request',
    );
    assert.ok(syncRequest !== undefined);
    group.core('r2').step('r1', syncRequest.message);
    group.core('r2').drain();
    group.clock.advanceMs(120);
    const stale = okReply(group.read('r2', 'k'));
    assert.equal(stale.value, 'v1');
    assert.equal(stale.stalenessMs, 120);
    group.tick(10);
    const current = okReply(group.read('r2', 'k'));
    assert.equal(current.value, 'v2');
    assert.equal(current.stalenessMs, 0);
  });

  it('anti-entropy relays writes between replicas that cannot reach each other', () => {
    for (const conflicts of modes) {
      const group = new Group({ conflicts });
      const cut = (message: InFlight): boolean =>
        (message.from === 'r1' && message.to === 'r3') ||
        (message.from === 'r3' && message.to === 'r1');
      group.write('r1', 'k', 'from-r1');
      group.write('r3', 'j', 'from-r3');
      group.flush(cut);
      group.tick(100, cut);
      assert.equal(okReply(group.read('r3', 'k')).value, 'from-r1', conflicts);
      assert.equal(okReply(group.read('r1', 'j')).value, 'from-r3', conflicts);
      assert.equal(new Set(group.states()).size, 1, conflicts);
      assert.ok(sum(group.cores.values(), 'antiEntropyRepairs') > 0, conflicts);
    }
  });

  it('a peer queue that overflows is dropped and the peer caught up by anti-entropy', () => {
    const group = new Group({ conflicts: 'siblings', pushQueueLengthMax: 3 }, ['r1', 'r2']);
    const down = (message: InFlight): boolean => message.to === 'r2' || message.from === 'r2';
    for (let index = 0; index < 10; index += 1) {
      okReply(group.write('r1', `k${index}`, `v${index}`));
    }
    group.tick(5, down);
    assert.ok((group.core('r1').metrics()['pushQueueOverflows'] ?? 0) >= 1);
    group.tick(60);
    assert.equal(new Set(group.states()).size, 1);
    assert.equal(okReply(group.read('r2', 'k9')).value, 'v9');
  });

  it('anti-entropy pages through many keys, messageKeyCountMax at a time', () => {
    const group = new Group({ conflicts: 'lww', messageKeyCountMax: 2, pushQueueLengthMax: 1 }, [
      'r1',
      'r2',
    ]);
    const down = (message: InFlight): boolean => message.to === 'r2' || message.from === 'r2';
    for (let index = 0; index < 9; index += 1) {
      okReply(group.write('r1', `k${index}`, `v${index}`));
    }
    group.tick(5, down);
    let largest = 0;
    group.tick(100, (message) => {
      const entries = (message.message as { entries?: unknown[] }).entries;
      largest = Math.max(largest, entries?.length ?? 0);
      return false;
    });
    assert.equal(new Set(group.states()).size, 1);
    assert.equal(okReply(group.read('r2', 'k8')).value, 'v8');
    assert.ok(largest <= 2, `a message held ${largest} keys`);
    assert.ok((group.core('r2').metrics()['antiEntropyRepairs'] ?? 0) >= 8);
  });

  for (const conflicts of modes) {
    it(`${conflicts}: a restart keeps every acknowledged write and sends what peers lack`, () => {
      const group = new Group({ conflicts });
      group.write('r1', 'k', 'v1');
      group.flush();
      group.write('r1', 'k', 'v2');
      group.write('r1', 'j', 'w');
      group.inFlight = []; // lost, and r1 crashes before retransmitting
      const durable = group.core('r1').durableState();
      JSON.stringify(durable); // plain data
      group.start('r1', durable);
      assert.equal(okReply(group.read('r1', 'k')).value, 'v2');
      const written = okReply(group.write('r1', 'k', 'v3'));
      assert.equal(parseToken(written.session).get('r1'), 4, 'seq continues after a restart');
      group.tick(30);
      assert.equal(new Set(group.states()).size, 1);
      assert.equal(okReply(group.read('r3', 'j')).value, 'w');
      assert.equal(okReply(group.read('r2', 'k')).value, 'v3');
    });
  }

  it('ignores malformed peer messages and requests without throwing', () => {
    const group = new Group({ conflicts: 'siblings' });
    group.write('r1', 'k', 'v');
    const before = stateOf(group.core('r2'));
    const garbage: unknown[] = [
      null,
      42,
      'text',
      [],
      { type: 'multi-leader/push' },
      {
        type: 'multi-leader/push',
        seq: 1,
        applied: [],
        entries: [{ k: 'k', n: [1], s: {}, g: [] }],
      },
      { type: 'multi-leader/push', seq: 1, applied: [['zz', 1]], entries: [] },
      { type: 'multi-leader/push', seq: 1, applied: [], entries: 'x' },
      { type: 'multi-leader/ack', seq: 1, applied: [], entries: [[1, 2]] },
      { type: 'multi-leader/sync-request', seq: 1, applied: [], id: 'x', cursor: null },
      { type: 'multi-leader/sync-response', seq: 1, applied: [], id: 1, cursor: 5, next: null },
      { type: 'nope', seq: 1, applied: [] },
    ];
    // A push whose state is well-formed but claims a write its state does not hold.
    const push = group.inFlight.find((message) => message.to === 'r2') as InFlight;
    const forged = structuredClone(push.message) as { entries: { n: number[] }[] };
    (forged.entries[0] as { n: number[] }).n = [7];
    garbage.push(forged);
    for (const message of garbage) {
      group.core('r2').step('r1', message);
    }
    group.core('r2').step('stranger', push.message);
    group.core('r2').step('r2', push.message);
    assert.equal(stateOf(group.core('r2')), before);
    assert.equal(group.core('r2').metrics()['messagesIgnored'], garbage.length + 2);
    // Requests: a malformed one with an id gets a refusal; one without is ignored.
    group.core('r2').request({ id: 'x', client: 'c', operation: { kind: 'nope' } } as never);
    group.core('r2').request(null as never);
    const replies = group.core('r2').drain().replies;
    assert.equal(replies.length, 1);
    assert.equal(replies[0]?.reply.status, 'unavailable');
  });

  it('refuses writes to new keys beyond keyCountMax and over-long values', () => {
    const group = new Group({ conflicts: 'lww', keyCountMax: 1, valueLengthMax: 4 }, ['r1']);
    okReply(group.write('r1', 'a', '1'));
    okReply(group.write('r1', 'a', '2'));
    const refused = group.write('r1', 'b', '1');
    assert.deepEqual(refused, { id: refused.id, status: 'unavailable', reason: 'key-limit' });
    assert.equal(group.write('r1', 'a', 'too long').status, 'unavailable');
  });

  it('validates its options and names the one at fault', () => {
    const cases: [unknown, string][] = [
      [undefined, 'multiLeader options'],
      [{}, 'multiLeader options.conflicts'],
      [{ conflicts: 'last-writer' }, 'multiLeader options.conflicts'],
      [{ conflicts: 'lww', retransmitIntervalMs: 0 }, 'multiLeader options.retransmitIntervalMs'],
      [
        { conflicts: 'lww', antiEntropyIntervalMs: 1.5 },
        'multiLeader options.antiEntropyIntervalMs',
      ],
      [{ conflicts: 'lww', pushQueueLengthMax: -1 }, 'multiLeader options.pushQueueLengthMax'],
      [{ conflicts: 'lww', messageKeyCountMax: 0 }, 'multiLeader options.messageKeyCountMax'],
      [{ conflicts: 'lww', keyCountMax: '10' }, 'multiLeader options.keyCountMax'],
      [{ conflicts: 'lww', siblingCountMax: 0 }, 'multiLeader options.siblingCountMax'],
      [{ conflicts: 'lww', clockOffsetMsMax: -5 }, 'multiLeader options.clockOffsetMsMax'],
    ];
    for (const [options, argument] of cases) {
      assert.throws(
        () => multiLeader(options as MultiLeaderOptions),
        (error: unknown) => isInvalidArgumentError(error) && error.argument === argument,
        JSON.stringify(options),
      );
    }
    const factory = multiLeader({ conflicts: 'lww' });
    const base = {
      id: 'r1',
      replicas: ['r1', 'r2'],
      clock: new ManualClock(),
      random: new SeededRandom({ seed: 1 }),
      tickMs: 10,
    };
    const bad: [Record<string, unknown>, string][] = [
      [{ id: 'r9' }, 'options.id'],
      [{ replicas: ['r1', 'r1'] }, 'options.replicas'],
      [{ tickMs: 0 }, 'options.tickMs'],
      [{ clock: {} }, 'options.clock'],
      [{ durableState: { format: 'other' } }, 'options.durableState'],
    ];
    for (const [patch, argument] of bad) {
      assert.throws(
        () => factory({ ...base, ...patch } as never),
        (error: unknown) => isInvalidArgumentError(error) && error.argument === argument,
        argument,
      );
    }
    const siblings = multiLeader({ conflicts: 'siblings' })(base);
    assert.throws(
      () => factory({ ...base, durableState: siblings.durableState() }),
      (error: unknown) =>
        isInvalidArgumentError(error) && error.argument === 'options.durableState',
    );
  });
});

describe('multiLeader: convergence properties', () => {
  type Command =
    | { kind: 'write'; replica: number; key: number; useSession: boolean }
    | { kind: 'deliver'; pick: number; duplicate: boolean }
    | { kind: 'advance'; deltaMs: number };

  const command: fc.Arbitrary<Command> = fc.oneof(
    fc.record({
      kind: fc.constant('write' as const),
      replica: fc.nat({ max: 2 }),
      key: fc.nat({ max: 2 }),
      useSession: fc.boolean(),
    }),
    fc.record({
      kind: fc.constant('deliver' as const),
      pick: fc.nat(),
      duplicate: fc.boolean(),
    }),
    fc.record({ kind: fc.constant('advance' as const), deltaMs: fc.nat({ max: 3 }) }),
  );

  for (const conflicts of modes) {
    it(`${conflicts}: any delivery order, with duplicates, of the same writes converges`, () => {
      fc.assert(
        fc.property(
          fc.array(command, { maxLength: 40 }),
          fc.array(fc.nat(), { maxLength: 200 }),
          (commands, finalOrder) => {
            const group = new Group({ conflicts, siblingCountMax: 64 });
            const sessions = new Map<string, string>();
            let counter = 0;
            for (const step of commands) {
              if (step.kind === 'write') {
                const id = group.ids[step.replica] as string;
                counter += 1;
                const reply = group.write(
                  id,
                  `k${step.key}`,
                  `v${counter}`,
                  step.useSession ? sessions.get(id) : undefined,
                );
                assert.equal(reply.status, 'ok');
                sessions.set(id, (reply as { session: string }).session);
              } else if (step.kind === 'deliver' && group.inFlight.length > 0) {
                const index = step.pick % group.inFlight.length;
                const message = group.inFlight[index] as InFlight;
                if (!step.duplicate) {
                  group.inFlight.splice(index, 1);
                }
                group.deliver(message);
              } else if (step.kind === 'advance') {
                group.clock.advanceMs(step.deltaMs);
              }
            }
            // Deliver what is left in an arbitrary order (acknowledgements included).
            for (let index = 0; group.inFlight.length > 0; index += 1) {
              const pick =
                (finalOrder[index % Math.max(1, finalOrder.length)] ?? 0) % group.inFlight.length;
              const [message] = group.inFlight.splice(pick, 1);
              group.deliver(message as InFlight);
            }
            const states = group.states();
            assert.equal(new Set(states).size, 1, states.join('\n'));
            for (const key of ['k0', 'k1', 'k2']) {
              const reads = group.ids.map((id) =>
                JSON.stringify(
                  okReply(group.read(id, key)).siblings ?? okReply(group.read(id, key)).value,
                ),
              );
              assert.equal(new Set(reads).size, 1, `${key}: ${reads.join(' ')}`);
            }
            if (conflicts === 'siblings') {
              assert.equal(sum(group.cores.values(), 'concurrentWritesOverwritten'), 0);
            }
          },
        ),
      );
    });
  }

  type FaultCommand =
    | { kind: 'write'; replica: number; key: number }
    | { kind: 'deliver'; pick: number; lose: boolean }
    | { kind: 'tick' }
    | { kind: 'restart'; replica: number };

  const faultCommand: fc.Arbitrary<FaultCommand> = fc.oneof(
    fc.record({
      kind: fc.constant('write' as const),
      replica: fc.nat({ max: 2 }),
      key: fc.nat({ max: 3 }),
    }),
    fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat(), lose: fc.boolean() }),
    fc.record({ kind: fc.constant('tick' as const) }),
    fc.record({ kind: fc.constant('restart' as const), replica: fc.nat({ max: 2 }) }),
  );

  for (const conflicts of modes) {
    it(`${conflicts}: lost messages and restarts, then a quiet network: the replicas converge`, () => {
      fc.assert(
        fc.property(fc.array(faultCommand, { maxLength: 60 }), (commands) => {
          const group = new Group({ conflicts, siblingCountMax: 64 });
          let counter = 0;
          for (const step of commands) {
            if (step.kind === 'write') {
              counter += 1;
              okReply(
                group.write(group.ids[step.replica] as string, `k${step.key}`, `v${counter}`),
              );
            } else if (step.kind === 'deliver' && group.inFlight.length > 0) {
              const [message] = group.inFlight.splice(step.pick % group.inFlight.length, 1);
              if (!step.lose) {
                group.deliver(message as InFlight);
              }
            } else if (step.kind === 'tick') {
              group.clock.advanceMs(10);
              for (const id of group.ids) {
                group.core(id).tick();
                const output = group.core(id).drain();
                for (const { to, message } of output.messages) {
                  group.inFlight.push({ from: id, to, message: structuredClone(message) });
                }
              }
            } else if (step.kind === 'restart') {
              // A crash: what was in flight to or from it may be lost; its disk is kept.
              const id = group.ids[step.replica] as string;
              group.inFlight = group.inFlight.filter((message) => message.to !== id);
              group.start(id, group.core(id).durableState());
            }
          }
          group.tick(80);
          const states = group.states();
          assert.equal(new Set(states).size, 1, states.join('\n'));
        }),
        { numRuns: 60 },
      );
    });
  }

  it('lww: the winner is the write with the greatest (timestamp, replica) on every replica', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: 2 }), fc.nat({ max: 2 })), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 50 }),
        (writes, order) => {
          const group = new Group({ conflicts: 'lww' });
          const written: { value: string; wallMs: number; replica: string }[] = [];
          writes.forEach(([replica, deltaMs], index) => {
            group.clock.advanceMs(deltaMs);
            const id = group.ids[replica] as string;
            group.write(id, 'k', `v${index}`);
            written.push({ value: `v${index}`, wallMs: group.clock.wallMs(), replica: id });
          });
          for (let index = 0; group.inFlight.length > 0; index += 1) {
            const pick = (order[index % Math.max(1, order.length)] ?? 0) % group.inFlight.length;
            const [message] = group.inFlight.splice(pick, 1);
            group.deliver(message as InFlight);
          }
          // No replica heard from another before the end, so each write's timestamp is
          // its wall time and, within one replica and millisecond, a logical count.
          const logical = new Map<string, number>();
          const stamped = written.map((write) => {
            const slot = `${write.wallMs}/${write.replica}`;
            const count = logical.has(slot) ? (logical.get(slot) as number) + 1 : 0;
            logical.set(slot, count);
            return { ...write, logical: count };
          });
          const winner = stamped
            .sort(
              (a, b) =>
                a.wallMs - b.wallMs ||
                a.logical - b.logical ||
                (a.replica < b.replica ? -1 : a.replica > b.replica ? 1 : 0),
            )
            .at(-1);
          for (const id of group.ids) {
            assert.equal(okReply(group.read(id, 'k')).value, winner?.value);
          }
        },
      ),
    );
  });
});

// ---- simulations ----

const replicaIds = ['r1', 'r2', 'r3'];
const replay = (seed: number): string =>
  `DISTKIT_SIM_SEED=${seed} node scripts/run-tests.mjs test/replication/multi-leader.test.ts`;

/** Runs until everything settles after the workload, then compares every replica's state. */
function settle(result: ReplicationScenarioResult): string[] {
  result.simulation.runForMs(3_000);
  return statesOf(result);
}

const faults = {
  nodeIds: replicaIds,
  faultPhaseMs: 4_000,
  intervalMsMean: 300,
  durationMsMax: 1_000,
  weights: { isolate: 1, split: 1, crash: 2, loss: 1, clog: 1, 'clock-jump': 1 },
};

describe('multiLeader under simulation', () => {
  for (const conflicts of modes) {
    it(`${conflicts}: after partitions and crashes heal, every replica holds the same state`, () => {
      const runs = runSeeds({
        seeds: seedsFromEnvironment(process.env, seedRange(1, 4)),
        replayCommand: replay,
        scenario: (seed) => {
          const result = runReplicationScenario({
            seed,
            factory: multiLeader({ conflicts }),
            faults,
          });
          const states = settle(result);
          assert.equal(new Set(states).size, 1, `seed ${seed}: ${states.join('\n')}`);
          const crashes = (result.nemesis?.log ?? []).filter(
            (entry) => entry.event === 'start' && entry.fault?.kind === 'crash',
          ).length;
          // From the history: a replica's counters start again at 0 when it restarts, so
          // the replicas' own writesAccepted is 0 on seeds where every replica crashed.
          const writes = result.workload.history
            .operations()
            .filter((operation) => operation.kind === 'write' && operation.status === 'ok').length;
          return { crashes, writes };
        },
      });
      assert.ok(
        runs.some((run) => run.result.crashes > 0),
        'some replica crashed',
      );
      assert.ok(
        runs.every((run) => run.result.writes > 0),
        `seeds without an acknowledged write: ${runs
          .filter((run) => run.result.writes === 0)
          .map((run) => run.seed)
          .join(', ')}`,
      );
    });
  }

  const labSeeds = seedsFromEnvironment(process.env, seedRange(1, 6));

  it('lww loses concurrent updates: concurrentWritesOverwritten > 0 in some seed', () => {
    const counts = labSeeds.map((seed) => {
      const result = concurrentWriters(multiLeader({ conflicts: 'lww' }), seed);
      assert.equal(new Set(settle(result)).size, 1, `seed ${seed}`);
      return [seed, totals(result, 'concurrentWritesOverwritten')] as const;
    });
    console.log(
      `lww, concurrent writers of one key: overwritten per seed ${JSON.stringify(counts)}`,
    );
    assert.ok(
      counts.some(([, count]) => count > 0),
      JSON.stringify(counts),
    );
  });

  it('siblings keeps them: none overwritten, and every write no session covered is a sibling', () => {
    const report: [number, number, number][] = [];
    for (const seed of labSeeds) {
      const log: AppliedWrite[] = [];
      const result = concurrentWriters(
        recording(multiLeader({ conflicts: 'siblings' }), log),
        seed,
      );
      const states = settle(result);
      assert.equal(new Set(states).size, 1, `seed ${seed}`);
      assert.equal(totals(result, 'concurrentWritesOverwritten'), 0, `seed ${seed}`);
      // A write survives unless a later write's session had seen it.
      const expected = survivingValues(log);
      for (const program of result.programs.values()) {
        const reply = finalRead(program.core);
        assert.deepEqual(
          [...(okReply(reply as ReplicaReply).siblings ?? [])].sort(),
          expected,
          `seed ${seed}`,
        );
      }
      report.push([seed, log.length, expected.length]);
    }
    console.log(
      `siblings, concurrent writers of one key: [seed, writes, final siblings] ${JSON.stringify(report)}`,
    );
    assert.ok(
      report.some(([, , siblings]) => siblings >= 2),
      'some seed ended with siblings',
    );
  });

  it('is not linearizable: distkit/check finds a violation in some seed', () => {
    const found: number[] = [];
    for (const seed of labSeeds) {
      const result = partitionedWriters(seed);
      const operations: Operation[] = result.workload.history.operations();
      const check = checkLinearizability(registerModel(), operations);
      if (check.verdict === 'violation') {
        found.push(seed);
        if (found.length === 1) {
          console.log(`seed ${seed}: not linearizable: ${check.explanation.message}`);
        }
      }
    }
    console.log(
      `linearizability violations in seeds ${JSON.stringify(found)} of ${JSON.stringify(labSeeds)}`,
    );
    assert.ok(found.length > 0, 'expected a violation in some seed');
  });
});
