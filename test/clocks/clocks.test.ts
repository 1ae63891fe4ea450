import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type CausalOrder,
  ClockEncodingError,
  compareHybridTimestamps,
  compareLamportTimestamps,
  DottedVersionVector,
  decodeHybridTimestamp,
  encodeHybridTimestamp,
  HybridLogicalClock,
  type HybridTimestamp,
  hybridTimestampFromJSON,
  hybridTimestampToJSON,
  IntervalClock,
  isClockEncodingError,
  isClockOffsetError,
  LamportClock,
  VectorClock,
} from '../../src/clocks/index.js';
import { isInvalidArgumentError, ManualClock, SeededRandom } from '../../src/core/index.js';

const nodes = ['a', 'b', 'c', 'd'];
const arbitraryClock = fc
  .array(fc.tuple(fc.constantFrom(...nodes), fc.integer({ min: 0, max: 4 })), { maxLength: 6 })
  .map((pairs) => {
    const counters: Record<string, number> = {};
    for (const [node, counter] of pairs) {
      counters[node] = counter;
    }
    return VectorClock.from(counters);
  });

const converse: Record<CausalOrder, CausalOrder> = {
  before: 'after',
  after: 'before',
  equal: 'equal',
  concurrent: 'concurrent',
};

describe('LamportClock', () => {
  it('orders a receive after the send and breaks ties by node', () => {
    const a = new LamportClock({ node: 'a' });
    const b = new LamportClock({ node: 'b', time: 10 });
    const sent = a.tick();
    assert.deepEqual(sent, { time: 1, node: 'a' });
    assert.deepEqual(b.observe(sent.time), { time: 11, node: 'b' });
    assert.deepEqual(a.observe(20), { time: 21, node: 'a' });
    assert.ok(compareLamportTimestamps({ time: 3, node: 'a' }, { time: 3, node: 'b' }) < 0);
    assert.ok(compareLamportTimestamps({ time: 4, node: 'a' }, { time: 3, node: 'b' }) > 0);
    assert.throws(() => a.observe(-1), isInvalidArgumentError);
    assert.throws(() => new LamportClock({ node: '' }), isInvalidArgumentError);
  });
});

describe('VectorClock', () => {
  it('tells before, after, equal and concurrent apart', () => {
    const base = VectorClock.empty.increment('a');
    const left = base.increment('a');
    const right = base.increment('b');
    assert.equal(base.compare(left), 'before');
    assert.equal(left.compare(base), 'after');
    assert.equal(left.compare(VectorClock.from({ a: 2 })), 'equal');
    assert.equal(left.compare(right), 'concurrent');
    const joined = left.merge(right);
    assert.equal(joined.toString(), '{a:2, b:1}');
    assert.equal(joined.compare(left), 'after');
    assert.ok(joined.descends(right));
    assert.ok(joined.covers('b', 1));
    assert.ok(!joined.covers('b', 2));
  });

  it('compares as a partial order (property)', () => {
    fc.assert(
      fc.property(arbitraryClock, arbitraryClock, arbitraryClock, (x, y, z) => {
        assert.equal(x.compare(x), 'equal');
        assert.equal(y.compare(x), converse[x.compare(y)]);
        if (x.descends(y) && y.descends(z)) {
          assert.ok(x.descends(z), `${x} >= ${y} >= ${z}`);
        }
        if (x.descends(y) && y.descends(x)) {
          assert.equal(x.compare(y), 'equal');
        }
      }),
    );
  });

  it('merges as a join: commutative, associative, idempotent, an upper bound (property)', () => {
    fc.assert(
      fc.property(arbitraryClock, arbitraryClock, arbitraryClock, (x, y, z) => {
        assert.equal(x.merge(y).compare(y.merge(x)), 'equal');
        assert.equal(
          x
            .merge(y)
            .merge(z)
            .compare(x.merge(y.merge(z))),
          'equal',
        );
        assert.equal(x.merge(x).compare(x), 'equal');
        assert.ok(x.merge(y).descends(x) && x.merge(y).descends(y));
        if (z.descends(x) && z.descends(y)) {
          assert.ok(z.descends(x.merge(y)), 'least upper bound');
        }
      }),
    );
  });

  it('increments strictly after (property)', () => {
    fc.assert(
      fc.property(arbitraryClock, fc.constantFrom(...nodes), (x, node) => {
        assert.equal(x.increment(node).compare(x), 'after');
      }),
    );
  });

  it('prunes the least recently updated entries, and only those old enough', () => {
    const clock = VectorClock.empty
      .increment('a', 100)
      .increment('b', 300)
      .increment('c', 200)
      .increment('d', 400);
    assert.deepEqual(
      clock
        .prune({ entryCountMax: 2 })
        .entries()
        .map((entry) => entry.node),
      ['b', 'd'],
    );
    assert.deepEqual(
      clock
        .prune({ entryCountMax: 1, updatedBeforeMs: 250 })
        .entries()
        .map((entry) => entry.node),
      ['b', 'd'],
    );
    assert.equal(clock.prune({ entryCountMax: 10 }), clock);
    assert.throws(() => clock.prune({ entryCountMax: -1 }), isInvalidArgumentError);
  });

  it('pruning can turn "before" into "concurrent" — the documented price', () => {
    const older = VectorClock.empty.increment('a', 1).increment('b', 2);
    const newer = older.increment('b', 3);
    const pruned = newer.prune({ entryCountMax: 1 });
    assert.equal(older.compare(newer), 'before');
    assert.equal(older.compare(pruned), 'concurrent');
  });

  it('round-trips through JSON and bytes (property) and rejects malformed encodings', () => {
    fc.assert(
      fc.property(arbitraryClock, (x) => {
        assert.equal(VectorClock.fromJSON(JSON.parse(JSON.stringify(x))).compare(x), 'equal');
        assert.deepEqual(VectorClock.decode(x.encode()).entries(), x.entries());
      }),
    );
    const encoded = VectorClock.from({ a: 300, b: 1 }).encode();
    for (const bad of [
      encoded.slice(0, encoded.length - 1),
      new Uint8Array([...encoded, 0]),
      new Uint8Array([1, 0, 1, 0]),
      new Uint8Array([0x80]),
      new Uint8Array([1, 1, 0xff, 1, 0]),
    ]) {
      assert.throws(() => VectorClock.decode(bad), isClockEncodingError);
    }
    for (const bad of [
      {},
      [['a', 0, 0]],
      [
        ['b', 1, 0],
        ['a', 1, 0],
      ],
      [['a', 1]],
      [['', 1, 0]],
    ]) {
      assert.throws(() => VectorClock.fromJSON(bad), ClockEncodingError);
    }
  });

  it('rejects bad entries', () => {
    assert.throws(() => VectorClock.from({ a: -1 }), isInvalidArgumentError);
    assert.throws(() => VectorClock.from({ a: 1.5 }), isInvalidArgumentError);
    assert.throws(() => VectorClock.empty.increment(''), isInvalidArgumentError);
    assert.throws(() => VectorClock.empty.merge({} as never), isInvalidArgumentError);
  });
});

describe('DottedVersionVector', () => {
  it('keeps concurrent writes as siblings and replaces exactly what the writer had seen', () => {
    let key = DottedVersionVector.empty<string>();
    key = key.write('r1', 'v1', VectorClock.empty);
    const afterFirst = key.read();
    key = key.write('r1', 'v2', VectorClock.empty);
    assert.deepEqual(key.read().values, ['v1', 'v2']);
    // Client A writes again with the context of its first read: it replaces v1 only.
    key = key.write('r1', 'v3', afterFirst.context);
    assert.deepEqual(key.read().values, ['v2', 'v3']);
    key = key.write('r1', 'v4', key.read().context);
    assert.deepEqual(key.read().values, ['v4']);
  });

  it('a single vector clock per key in its place loses the concurrent write', () => {
    // The same history with one replica-side vector clock for the key: each write gets
    // the key clock incremented, so v3 (context {r1:1}) gets {r1:3}, which dominates
    // v2's {r1:2}: v2 is silently discarded, although A never saw it.
    const v2Clock = VectorClock.from({ r1: 2 });
    const v3Clock = VectorClock.from({ r1: 1 }).merge(v2Clock).increment('r1');
    assert.equal(v3Clock.compare(v2Clock), 'after');
  });

  it('merges replicas: commutative, associative, idempotent (property)', () => {
    const operation = fc.record({
      replica: fc.constantFrom('r1', 'r2', 'r3'),
      value: fc.integer({ min: 0, max: 9 }),
      readFrom: fc.constantFrom('r1', 'r2', 'r3'),
      blind: fc.boolean(),
      sync: fc.option(
        fc.tuple(fc.constantFrom('r1', 'r2', 'r3'), fc.constantFrom('r1', 'r2', 'r3')),
      ),
    });
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 25 }), (operations) => {
        const state = new Map(
          ['r1', 'r2', 'r3'].map((replica) => [replica, DottedVersionVector.empty<number>()]),
        );
        const at = (replica: string): DottedVersionVector<number> =>
          state.get(replica) as DottedVersionVector<number>;
        for (const step of operations) {
          const context = step.blind ? VectorClock.empty : at(step.readFrom).context;
          state.set(
            step.replica,
            at(step.replica).merge(at(step.readFrom)).write(step.replica, step.value, context),
          );
          if (step.sync !== null) {
            const [from, to] = step.sync;
            state.set(to, at(to).merge(at(from)));
          }
        }
        const [x, y, z] = [at('r1'), at('r2'), at('r3')];
        const same = (p: DottedVersionVector<number>, q: DottedVersionVector<number>): void => {
          assert.deepEqual(p.siblings, q.siblings);
          assert.equal(p.context.compare(q.context), 'equal');
        };
        same(x.merge(y), y.merge(x));
        same(x.merge(y).merge(z), x.merge(y.merge(z)));
        same(x.merge(x), x);
        const all = x.merge(y).merge(z);
        for (const sibling of all.siblings) {
          assert.ok(all.context.covers(sibling.dot.replica, sibling.dot.counter));
        }
      }),
    );
  });

  it('round-trips through bytes and rejects a dot its context does not cover', () => {
    const encoder = new TextEncoder();
    const decoder = new TextDecoder();
    let key = DottedVersionVector.empty<string>();
    key = key.write('r1', 'v1', VectorClock.empty).write('r2', 'v2', VectorClock.empty);
    const bytes = key.encode((value) => encoder.encode(value));
    const decoded = DottedVersionVector.decode(bytes, (value) => decoder.decode(value));
    assert.deepEqual(decoded.siblings, key.siblings);
    assert.equal(decoded.context.compare(key.context), 'equal');
    const lying = DottedVersionVector.empty<string>().write('r1', 'x', VectorClock.empty);
    const tampered = lying.encode((value) => encoder.encode(value));
    tampered[tampered.length - 3] = 9; // the sibling's counter: 9, beyond the context's 1
    assert.throws(
      () => DottedVersionVector.decode(tampered, (value) => decoder.decode(value)),
      isClockEncodingError,
    );
    assert.throws(() => key.write('r1', 'v', {} as never), isInvalidArgumentError);
    const viaJson = DottedVersionVector.fromJSON<string>(JSON.parse(JSON.stringify(key)));
    assert.deepEqual(viaJson.siblings, key.siblings);
    assert.equal(viaJson.context.compare(key.context), 'equal');
    for (const bad of [
      null,
      { context: [], siblings: [['r1', 1, 'x']] },
      {
        context: [['r1', 1, 0]],
        siblings: [
          ['r1', 1, 'x'],
          ['r1', 1, 'y'],
        ],
      },
      { context: [['r1', 1, 0]], siblings: [['r1', 0, 'x']] },
    ]) {
      assert.throws(() => DottedVersionVector.fromJSON(bad), isClockEncodingError);
    }
  });
});

describe('HybridLogicalClock', () => {
  it('follows physical time and counts logically when it stands still', () => {
    const clock = new ManualClock({ wallMs: 1000 });
    const hlc = new HybridLogicalClock({ clock, maxOffsetMs: 100 });
    assert.deepEqual(hlc.now(), { wallMs: 1000, logical: 0 });
    assert.deepEqual(hlc.now(), { wallMs: 1000, logical: 1 });
    clock.advanceMs(5);
    assert.deepEqual(hlc.now(), { wallMs: 1005, logical: 0 });
    clock.setWallMs(900); // the wall clock steps back: the HLC does not
    assert.deepEqual(hlc.now(), { wallMs: 1005, logical: 1 });
  });

  it('takes in remote timestamps within the bound and rejects ones too far ahead', () => {
    const clock = new ManualClock({ wallMs: 1000 });
    const hlc = new HybridLogicalClock({ clock, maxOffsetMs: 100 });
    assert.deepEqual(hlc.update({ wallMs: 1050, logical: 7 }), { wallMs: 1050, logical: 8 });
    assert.throws(
      () => hlc.update({ wallMs: 1101, logical: 0 }),
      (error: unknown) =>
        isClockOffsetError(error) &&
        error.physicalMs === 1000 &&
        /101 ms ahead/.test(error.message),
    );
    assert.deepEqual(
      hlc.last,
      { wallMs: 1050, logical: 8 },
      'a rejected timestamp changes nothing',
    );
    assert.throws(() => hlc.update({ wallMs: -1, logical: 0 }), isInvalidArgumentError);
    assert.throws(() => hlc.update({ wallMs: 1, logical: 2 ** 32 }), isInvalidArgumentError);
  });

  it('is monotonic and respects causality across random message exchanges (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.array(fc.tuple(fc.nat(3), fc.nat(3), fc.integer({ min: 0, max: 30 })), {
          maxLength: 60,
        }),
        (seed, steps) => {
          const random = new SeededRandom({ seed });
          const clocks = Array.from(
            { length: 4 },
            () => new ManualClock({ wallMs: 10_000 + random.integer(-20, 20) }),
          );
          const hlcs = clocks.map((clock) => new HybridLogicalClock({ clock, maxOffsetMs: 1000 }));
          const lastOf = hlcs.map((hlc) => hlc.last);
          for (const [from, to, advanceMs] of steps) {
            for (const clock of clocks) {
              clock.advanceMs(random.integer(0, advanceMs));
            }
            const sender = hlcs[from] as HybridLogicalClock;
            const receiver = hlcs[to] as HybridLogicalClock;
            const sent = sender.now();
            assert.ok(
              compareHybridTimestamps(sent, lastOf[from] as HybridTimestamp) > 0,
              'monotonic send',
            );
            lastOf[from] = sent;
            const received = receiver.update(sent);
            assert.ok(compareHybridTimestamps(received, sent) > 0, 'receive after send');
            assert.ok(
              compareHybridTimestamps(received, lastOf[to] as HybridTimestamp) > 0,
              'monotonic receive',
            );
            lastOf[to] = received;
            const physical = Math.max(...clocks.map((clock) => clock.wallMs()));
            assert.ok(received.wallMs <= physical, 'never ahead of the fastest physical clock');
          }
        },
      ),
    );
  });

  it('encodes to 12 bytes whose byte order is the timestamp order (property)', () => {
    const timestamp = fc.record({
      wallMs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      logical: fc.integer({ min: 0, max: 0xffff_ffff }),
    });
    fc.assert(
      fc.property(timestamp, timestamp, (x, y) => {
        const ex = encodeHybridTimestamp(x);
        const ey = encodeHybridTimestamp(y);
        assert.deepEqual(decodeHybridTimestamp(ex), { ...x });
        assert.deepEqual(hybridTimestampFromJSON(hybridTimestampToJSON(x)), { ...x });
        assert.equal(Math.sign(Buffer.compare(ex, ey)), Math.sign(compareHybridTimestamps(x, y)));
      }),
    );
    assert.throws(() => decodeHybridTimestamp(new Uint8Array(11)), isClockEncodingError);
    const beyond = new Uint8Array(12).fill(0xff);
    assert.throws(() => decodeHybridTimestamp(beyond), isClockEncodingError);
    for (const bad of ['1.2.3', '01.1', '1.-1', 12, `1.${2 ** 32}`]) {
      assert.throws(() => hybridTimestampFromJSON(bad), isClockEncodingError);
    }
  });
});

describe('IntervalClock', () => {
  it('widens with drift since the last synchronisation and narrows when synchronised', () => {
    const clock = new ManualClock({ wallMs: 1_000_000 });
    const interval = new IntervalClock({ clock, uncertaintyMs: 4, driftPpm: 1000 });
    assert.deepEqual(interval.now(), { earliestMs: 999_996, latestMs: 1_000_004 });
    clock.advanceMs(10_000);
    assert.equal(interval.errorBoundMs(), 14);
    interval.synchronized();
    assert.equal(interval.errorBoundMs(), 4);
  });

  it('commit wait: after waiting, the timestamp has certainly passed', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 50, noNaN: true }),
        fc.double({ min: 0, max: 500, noNaN: true }),
        fc.double({ min: -100, max: 100, noNaN: true }),
        (uncertaintyMs, driftPpm, offsetMs) => {
          const clock = new ManualClock({ wallMs: 1_000_000 });
          const interval = new IntervalClock({ clock, uncertaintyMs, driftPpm });
          const commitMs = interval.now().latestMs + offsetMs;
          const waitMs = interval.commitWaitMs(commitMs);
          assert.ok(waitMs >= 0);
          clock.advanceMs(waitMs);
          assert.ok(
            interval.hasPassed(commitMs) || (waitMs === 0 && interval.now().earliestMs > commitMs),
          );
        },
      ),
    );
    const clock = new ManualClock({ wallMs: 0 });
    assert.throws(() => new IntervalClock({ clock, uncertaintyMs: -1 }), isInvalidArgumentError);
    assert.throws(
      () => new IntervalClock({ clock: {} as never, uncertaintyMs: 1 }),
      isInvalidArgumentError,
    );
  });
});
