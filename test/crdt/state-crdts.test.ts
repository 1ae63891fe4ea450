import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isInvalidArgumentError, SeededRandom } from '../../src/core/index.js';
import {
  counterKind,
  flagKind,
  GCounter,
  GSet,
  isCrdtEncodingError,
  isTwoPhaseSetError,
  LWWRegister,
  MVRegister,
  ORMap,
  ORSet,
  PNCounter,
  registerKind,
  type SetOperation,
  setKind,
  TwoPhaseSet,
} from '../../src/crdt/index.js';

/** What the convergence harness needs of a CRDT type. */
interface Subject<T> {
  readonly name: string;
  create(): T;
  /** Applies a random update at `replica`; returns the delta to ship. */
  update(state: T, replica: string, random: SeededRandom): T;
  merge(into: T, from: T): void;
  clone(state: T): T;
  equals(a: T, b: T): boolean;
  /** A representation that must round-trip through JSON. */
  roundTrip(state: T): T;
}

const replicas = ['r1', 'r2', 'r3'];
const elements = ['apple', 'pear', 'plum', 'fig'];

const subjects: Subject<unknown>[] = [
  {
    name: 'GCounter',
    create: () => new GCounter(),
    update: (state, replica, random) =>
      (state as GCounter).increment(replica, random.integer(1, 5)),
    merge: (into, from) => (into as GCounter).merge(from as GCounter),
    clone: (state) => (state as GCounter).clone(),
    equals: (a, b) => (a as GCounter).equals(b as GCounter),
    roundTrip: (state) => GCounter.fromJSON(JSON.parse(JSON.stringify(state))),
  },
  {
    name: 'PNCounter',
    create: () => new PNCounter(),
    update: (state, replica, random) =>
      random.boolean()
        ? (state as PNCounter).increment(replica, random.integer(1, 5))
        : (state as PNCounter).decrement(replica, random.integer(1, 5)),
    merge: (into, from) => (into as PNCounter).merge(from as PNCounter),
    clone: (state) => (state as PNCounter).clone(),
    equals: (a, b) => (a as PNCounter).equals(b as PNCounter),
    roundTrip: (state) => PNCounter.fromJSON(JSON.parse(JSON.stringify(state))),
  },
  {
    name: 'GSet',
    create: () => new GSet<string>(),
    update: (state, _replica, random) => (state as GSet<string>).add(random.pick(elements)),
    merge: (into, from) => (into as GSet<string>).merge(from as GSet<string>),
    clone: (state) => (state as GSet<string>).clone(),
    equals: (a, b) => (a as GSet<string>).equals(b as GSet<string>),
    roundTrip: (state) => GSet.fromJSON<string>(JSON.parse(JSON.stringify(state))),
  },
  {
    name: 'TwoPhaseSet',
    create: () => new TwoPhaseSet<string>(),
    update: (state, _replica, random) => {
      const set = state as TwoPhaseSet<string>;
      const element = random.pick(elements);
      try {
        return set.has(element) ? set.remove(element) : set.add(element);
      } catch (error) {
        assert.ok(isTwoPhaseSetError(error));
        return new TwoPhaseSet<string>();
      }
    },
    merge: (into, from) => (into as TwoPhaseSet<string>).merge(from as TwoPhaseSet<string>),
    clone: (state) => (state as TwoPhaseSet<string>).clone(),
    equals: (a, b) => (a as TwoPhaseSet<string>).equals(b as TwoPhaseSet<string>),
    roundTrip: (state) => TwoPhaseSet.fromJSON<string>(JSON.parse(JSON.stringify(state))),
  },
  {
    name: 'ORSet',
    create: () => new ORSet<string>(),
    update: (state, replica, random) => {
      const set = state as ORSet<string>;
      const element = random.pick(elements);
      return random.boolean() ? set.add(replica, element) : set.remove(element);
    },
    merge: (into, from) => (into as ORSet<string>).merge(from as ORSet<string>),
    clone: (state) => (state as ORSet<string>).clone(),
    equals: (a, b) => (a as ORSet<string>).equals(b as ORSet<string>),
    roundTrip: (state) => ORSet.fromJSON<string>(JSON.parse(JSON.stringify(state))),
  },
  {
    name: 'LWWRegister',
    create: () => new LWWRegister<number>(),
    update: (state, replica, random) =>
      (state as LWWRegister<number>).assign(
        random.integer(0, 99),
        { wallMs: random.integer(0, 20), logical: random.integer(0, 2) },
        replica,
      ),
    merge: (into, from) => (into as LWWRegister<number>).merge(from as LWWRegister<number>),
    clone: (state) => (state as LWWRegister<number>).clone(),
    equals: (a, b) => (a as LWWRegister<number>).equals(b as LWWRegister<number>),
    roundTrip: (state) => LWWRegister.fromJSON<number>(JSON.parse(JSON.stringify(state))),
  },
  {
    name: 'MVRegister',
    create: () => new MVRegister<number>(),
    update: (state, replica, random) =>
      (state as MVRegister<number>).assign(replica, random.integer(0, 99)),
    merge: (into, from) => (into as MVRegister<number>).merge(from as MVRegister<number>),
    clone: (state) => (state as MVRegister<number>).clone(),
    equals: (a, b) => (a as MVRegister<number>).equals(b as MVRegister<number>),
    roundTrip: (state) => MVRegister.fromJSON<number>(JSON.parse(JSON.stringify(state))),
  },
  {
    name: 'ORMap of counters',
    create: () => new ORMap<string, number, number>(counterKind),
    update: (state, replica, random) => {
      const map = state as ORMap<string, number, number>;
      const key = random.pick(elements);
      return random.integer(0, 3) === 0
        ? map.remove(key)
        : map.update(key, replica, random.integer(1, 4) * (random.boolean() ? 1 : -1));
    },
    merge: (into, from) =>
      (into as ORMap<string, number, number>).merge(from as ORMap<string, number, number>),
    clone: (state) => (state as ORMap<string, number, number>).clone(),
    equals: (a, b) =>
      (a as ORMap<string, number, number>).equals(b as ORMap<string, number, number>),
    roundTrip: (state) =>
      ORMap.fromJSON<string, number, number>(JSON.parse(JSON.stringify(state)), counterKind),
  },
  {
    name: 'ORMap of sets',
    create: () => new ORMap<string, string[], SetOperation<string>>(setKind<string>()),
    update: (state, replica, random) => {
      const map = state as ORMap<string, string[], SetOperation<string>>;
      const key = random.pick(['x', 'y']);
      const roll = random.integer(0, 4);
      return roll === 0
        ? map.remove(key)
        : map.update(
            key,
            replica,
            roll < 3 ? { add: random.pick(elements) } : { remove: random.pick(elements) },
          );
    },
    merge: (into, from) =>
      (into as ORMap<string, string[], SetOperation<string>>).merge(
        from as ORMap<string, string[], SetOperation<string>>,
      ),
    clone: (state) => (state as ORMap<string, string[], SetOperation<string>>).clone(),
    equals: (a, b) =>
      (a as ORMap<string, string[], SetOperation<string>>).equals(
        b as ORMap<string, string[], SetOperation<string>>,
      ),
    roundTrip: (state) => ORMap.fromJSON(JSON.parse(JSON.stringify(state)), setKind<string>()),
  },
  {
    name: 'ORMap of flags',
    create: () => new ORMap<string, boolean, boolean>(flagKind),
    update: (state, replica, random) =>
      (state as ORMap<string, boolean, boolean>).update(
        random.pick(['a', 'b']),
        replica,
        random.boolean(),
      ),
    merge: (into, from) =>
      (into as ORMap<string, boolean, boolean>).merge(from as ORMap<string, boolean, boolean>),
    clone: (state) => (state as ORMap<string, boolean, boolean>).clone(),
    equals: (a, b) =>
      (a as ORMap<string, boolean, boolean>).equals(b as ORMap<string, boolean, boolean>),
    roundTrip: (state) => ORMap.fromJSON(JSON.parse(JSON.stringify(state)), flagKind),
  },
];

/**
 * Runs random updates on three replicas, shipping deltas over a network that reorders,
 * duplicates and loses them (a lost delta is retransmitted later); returns the replicas
 * after everything has been delivered, and the deltas in the order they were made.
 */
function run<T>(
  subject: Subject<T>,
  seed: number,
  stepCount: number,
): { states: T[]; deltas: T[] } {
  const random = new SeededRandom({ seed });
  const states = replicas.map(() => subject.create());
  const inFlight: { to: number; delta: T }[] = [];
  const deltas: T[] = [];
  for (let step = 0; step < stepCount; step += 1) {
    const at = random.integer(0, replicas.length - 1);
    const delta = subject.update(states[at] as T, replicas[at] as string, random);
    deltas.push(delta);
    for (let to = 0; to < replicas.length; to += 1) {
      if (to !== at) {
        inFlight.push({ to, delta: subject.clone(delta) });
      }
    }
    const deliveries = random.integer(0, inFlight.length);
    for (let count = 0; count < deliveries && inFlight.length > 0; count += 1) {
      const index = random.integer(0, inFlight.length - 1);
      const message = inFlight[index] as { to: number; delta: T };
      const fate = random.integer(0, 9);
      if (fate === 0) {
        continue; // lost this time; stays queued for retransmission
      }
      subject.merge(states[message.to] as T, message.delta);
      if (fate !== 1) {
        inFlight.splice(index, 1); // fate 1 delivers a duplicate later
      }
    }
  }
  random.shuffle(inFlight);
  for (const message of inFlight) {
    subject.merge(states[message.to] as T, message.delta);
  }
  return { states, deltas };
}

describe('state-based CRDTs', () => {
  for (const subject of subjects) {
    describe(subject.name, () => {
      it('replicas converge under reordering, duplication and loss with retransmission (property)', () => {
        fc.assert(
          fc.property(
            fc.integer({ min: 1, max: 2 ** 31 - 1 }),
            fc.integer({ min: 1, max: 40 }),
            (seed, steps) => {
              const { states, deltas } = run(subject, seed, steps);
              const [first, ...rest] = states;
              for (const other of rest) {
                assert.ok(subject.equals(first, other), `seed ${seed}: replicas differ`);
              }
              // The join of every delta equals the converged state.
              const joined = subject.create();
              for (const delta of deltas) {
                subject.merge(joined, delta);
              }
              assert.ok(subject.equals(joined, first), `seed ${seed}: join of deltas differs`);
              assert.ok(
                subject.equals(subject.roundTrip(first), first),
                `seed ${seed}: JSON round trip`,
              );
            },
          ),
          { numRuns: 60 },
        );
      });

      it('merge is commutative, associative and idempotent (property)', () => {
        fc.assert(
          fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
            // Three diverged replicas: no deliveries at all.
            const random = new SeededRandom({ seed });
            const [x, y, z] = replicas.map((replica) => {
              const state = subject.create();
              for (let step = random.integer(0, 6); step > 0; step -= 1) {
                subject.update(state, replica, random);
              }
              return state;
            }) as [unknown, unknown, unknown];
            const join = (a: unknown, b: unknown): unknown => {
              const copy = subject.clone(a);
              subject.merge(copy, b);
              return copy;
            };
            assert.ok(subject.equals(join(x, y), join(y, x)), 'commutative');
            assert.ok(subject.equals(join(join(x, y), z), join(x, join(y, z))), 'associative');
            assert.ok(subject.equals(join(x, x), x), 'idempotent');
          }),
          { numRuns: 80 },
        );
      });
    });
  }
});

describe('CRDT semantics', () => {
  it('counters count', () => {
    const a = new PNCounter();
    const b = new PNCounter();
    b.merge(a.increment('a', 5));
    b.merge(b.decrement('b', 2));
    a.merge(b);
    assert.equal(a.value(), 3);
    assert.equal(b.value(), 3);
    assert.throws(() => a.increment('a', 0), isInvalidArgumentError);
    assert.throws(() => a.increment('a', 1.5), isInvalidArgumentError);
    assert.throws(() => a.increment('', 1), isInvalidArgumentError);
  });

  it('OR-Set: a concurrent add wins over a remove; a seen add is removed', () => {
    const a = new ORSet<string>();
    const b = new ORSet<string>();
    b.merge(a.add('a', 'milk'));
    const removal = b.remove('milk');
    const readd = a.add('a', 'milk');
    a.merge(removal);
    b.merge(readd);
    assert.ok(a.has('milk') && b.has('milk'));
    const again = a.remove('milk');
    b.merge(again);
    assert.ok(!a.has('milk') && !b.has('milk'));
    assert.equal(a.contextCloudSize, 0, 'no tombstones: the context is a plain version vector');
  });

  it('OR-Set keeps no tombstones: adding and removing many elements leaves an empty state', () => {
    const set = new ORSet<number>();
    for (let element = 0; element < 1000; element += 1) {
      set.add('a', element);
      set.remove(element);
    }
    assert.deepEqual(set.toJSON(), { entries: [], context: { vector: [['a', 1000]], cloud: [] } });
  });

  it('MV-Register keeps concurrent writes and a later write replaces them', () => {
    const a = new MVRegister<string>();
    const b = new MVRegister<string>();
    const x = a.assign('a', 'blue');
    const y = b.assign('b', 'green');
    a.merge(y);
    b.merge(x);
    assert.deepEqual(a.values(), ['blue', 'green']);
    assert.deepEqual(b.values(), ['blue', 'green']);
    b.merge(a.assign('a', 'teal'));
    assert.deepEqual(b.values(), ['teal']);
  });

  it('LWW-Register: the greatest (timestamp, replica) wins everywhere', () => {
    const a = new LWWRegister<string>();
    const b = new LWWRegister<string>();
    const first = a.assign('x', { wallMs: 10, logical: 0 }, 'b');
    const second = b.assign('y', { wallMs: 10, logical: 0 }, 'a');
    a.merge(second);
    b.merge(first);
    assert.equal(a.value(), 'x');
    assert.equal(b.value(), 'x');
    assert.throws(() => a.assign('z', { wallMs: -1, logical: 0 }, 'a'), isInvalidArgumentError);
  });

  it('two-phase set: removals are final', () => {
    const set = new TwoPhaseSet<string>();
    set.add('t');
    set.remove('t');
    assert.throws(
      () => set.add('t'),
      (error: unknown) => isTwoPhaseSetError(error) && error.problem === 'already-removed',
    );
    assert.throws(
      () => set.remove('u'),
      (error: unknown) => isTwoPhaseSetError(error) && error.problem === 'not-present',
    );
  });

  it('OR-Map: a removal resets the value it observed; a concurrent update survives', () => {
    const a = new ORMap<string, number, number>(counterKind);
    const b = new ORMap<string, number, number>(counterKind);
    b.merge(a.update('phone', 'a', 2));
    const removal = b.remove('phone');
    a.merge(removal);
    assert.equal(a.has('phone'), false);
    a.merge(a.update('phone', 'a', 1));
    assert.equal(a.get('phone'), 1, 'removed then re-added: the old count is gone');

    const c = new ORMap<string, string[], SetOperation<string>>(setKind<string>());
    const d = c.clone();
    d.merge(c.update('tags', 'c', { add: 'red' }));
    const cut = d.remove('tags');
    const concurrent = c.update('tags', 'c', { add: 'blue' });
    c.merge(cut);
    d.merge(concurrent);
    assert.deepEqual(c.get('tags'), ['blue']);
    assert.deepEqual(d.get('tags'), ['blue']);
  });

  it('OR-Map counters keep one entry per replica however many updates they take', () => {
    const map = new ORMap<string, number, number>(counterKind);
    for (let step = 0; step < 100; step += 1) {
      map.update('visits', step % 2 === 0 ? 'a' : 'b', 1);
    }
    assert.equal(map.get('visits'), 100);
    const [, entries] = map.toJSON().keys[0] as [string, unknown[]];
    assert.equal(entries.length, 2);
  });

  it('OR-Map of registers and flags', () => {
    const profile = new ORMap<string, string[], string>(registerKind<string>());
    profile.update('name', 'a', 'Ada');
    profile.update('name', 'a', 'Ada L.');
    assert.deepEqual(profile.entries(), [['name', ['Ada L.']]]);
    const flags = new ORMap<string, boolean, boolean>(flagKind);
    flags.update('beta', 'a', true);
    assert.equal(flags.get('beta'), true);
    flags.update('beta', 'a', false);
    assert.equal(flags.get('beta'), undefined, 'a disabled flag is absent');
    assert.throws(() => flags.update('beta', 'a', 'yes' as never), isInvalidArgumentError);
    assert.throws(() => flags.merge(profile as never), isInvalidArgumentError);
  });

  it('rejects elements without an identity and malformed encodings', () => {
    assert.throws(() => new ORSet<object>().add('a', {}), isInvalidArgumentError);
    const keyed = new ORSet<{ id: string }>({ keyOf: (item) => item.id });
    keyed.add('a', { id: 'x' });
    assert.ok(keyed.has({ id: 'x' }));
    const bad: [() => unknown][] = [
      [() => GCounter.fromJSON([['a', -1]])],
      [
        () =>
          GCounter.fromJSON([
            ['a', 1],
            ['a', 2],
          ]),
      ],
      [() => PNCounter.fromJSON(null)],
      [
        () =>
          ORSet.fromJSON({
            entries: [['x', [['a', 5]]]],
            context: { vector: [['a', 1]], cloud: [] },
          }),
      ],
      [() => ORSet.fromJSON({ entries: [], context: { vector: [['a', 0]], cloud: [] } })],
      [
        () =>
          MVRegister.fromJSON({ values: [[['a', 1], 'v']], context: { vector: [], cloud: [] } }),
      ],
      [() => LWWRegister.fromJSON({ write: { value: 1, wallMs: -5, logical: 0, replica: 'a' } })],
      [
        () =>
          ORMap.fromJSON(
            { kind: 'flag', keys: [], context: { vector: [], cloud: [] } },
            counterKind,
          ),
      ],
      [
        () =>
          ORMap.fromJSON(
            { kind: 'counter', keys: [['k', []]], context: { vector: [], cloud: [] } },
            counterKind,
          ),
      ],
    ];
    for (const [call] of bad) {
      assert.throws(call, isCrdtEncodingError);
    }
  });
});
