import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Operation } from '../../src/check/index.js';
import { isInvalidArgumentError, ManualClock, SeededRandom } from '../../src/core/index.js';
import { ConsistentHashRing } from '../../src/partition/index.js';
import {
  type LeaderlessDurableState,
  type LeaderlessOptions,
  LeaderlessReplica,
  type LeaderlessVersion,
  leaderless,
  mergeLeaderlessVersions,
} from '../../src/replication/leaderless.js';
import { merkleDifference } from '../../src/replication/merkle-tree.js';
import type { ReplicaRequest } from '../../src/replication/protocol.js';
import type { FaultPlanOptions } from '../../src/sim/index.js';
import {
  diverged,
  fiveReplicas,
  linearizabilityViolation,
  type Measured,
  simulate,
} from './leaderless-scenario.js';
import { HandDrivenGroup } from './support.js';

/** What a test looks at in a peer message. */
type PeerMessage = { readonly type?: string; readonly entries?: unknown };

/** Cores driven by hand: messages queue until delivered; a down replica neither sends nor receives. */
class Cluster extends HandDrivenGroup<LeaderlessReplica, PeerMessage> {
  readonly down = new Set<string>();

  constructor(
    readonly options: LeaderlessOptions,
    ids: readonly string[] = fiveReplicas,
    states: ReadonlyMap<string, LeaderlessDurableState> = new Map(),
  ) {
    super({
      factory: leaderless(options),
      ids,
      clock: new ManualClock({ nowMs: 0, wallMs: 1_700_000_000_000 }),
      seedOf: (id) => ids.indexOf(id) + 1,
      client: 'client',
      durableStates: states,
    });
  }

  /** Sends a request to `to`; returns its id. */
  request(
    to: string,
    operation: ReplicaRequest['operation'],
    extra: Partial<ReplicaRequest> = {},
  ): string {
    const id = this.send(to, operation, extra);
    this.collect(to);
    return id;
  }

  /** Delivers queued messages (and what they cause) until none is left; down replicas drop theirs. */
  deliverAll(): void {
    this.flush((next) => this.down.has(next.from) || this.down.has(next.to));
  }

  /** `count` ticks of 10 ms on every live replica, delivering after each. */
  tick(count = 1): void {
    for (let index = 0; index < count; index += 1) {
      this.tickEach(this.ids.filter((id) => !this.down.has(id)));
      this.deliverAll();
    }
  }

  /** A key whose preference list starts with the given replicas (in any order). */
  keyOwnedBy(owners: readonly string[]): string {
    for (let index = 0; index < 100_000; index += 1) {
      const key = `key-${index}`;
      const list = this.core(this.ids[0] as string).preferenceList(key);
      if (owners.every((owner) => list.includes(owner))) {
        return key;
      }
    }
    throw new Error('no such key');
  }
}

function version(value: string, wallMs: number, writer = 'r1', logical = 0): LeaderlessVersion {
  return { value, wallMs, logical, writer };
}

describe('leaderless: options', () => {
  it('rejects bad options with InvalidArgumentError naming the option', () => {
    const cases: [LeaderlessOptions, string][] = [
      [{ replicationFactor: 0 }, 'leaderless options.replicationFactor'],
      [{ replicationFactor: 2.5 }, 'leaderless options.replicationFactor'],
      [{ writeQuorum: 4 }, 'leaderless options.writeQuorum'],
      [{ readQuorum: 0 }, 'leaderless options.readQuorum'],
      [{ replicationFactor: 2, readQuorum: 3 }, 'leaderless options.readQuorum'],
      [{ sloppyQuorum: 'yes' as unknown as boolean }, 'leaderless options.sloppyQuorum'],
      [{ antiEntropyEveryTicks: -1 }, 'leaderless options.antiEntropyEveryTicks'],
      [{ requestTimeoutTicks: 0 }, 'leaderless options.requestTimeoutTicks'],
      [{ inflightCountMax: 0 }, 'leaderless options.inflightCountMax'],
    ];
    for (const [options, argument] of cases) {
      assert.throws(
        () => leaderless(options),
        (error: unknown) => isInvalidArgumentError(error) && error.argument === argument,
        argument,
      );
    }
    assert.throws(() => leaderless(null as unknown as LeaderlessOptions), isInvalidArgumentError);
  });

  it('rejects N above the replica count when a replica is built', () => {
    const factory = leaderless({ replicationFactor: 4 });
    assert.throws(
      () =>
        factory({
          id: 'a',
          replicas: ['a', 'b', 'c'],
          clock: new ManualClock(),
          random: new SeededRandom({ seed: 1 }),
          tickMs: 10,
        }),
      (error: unknown) =>
        isInvalidArgumentError(error) && error.argument === 'leaderless options.replicationFactor',
    );
  });

  it('rejects a durable state of another shape', () => {
    assert.throws(
      () =>
        new Cluster(
          {},
          ['a', 'b', 'c'],
          new Map([['a', { format: 'other' } as unknown as LeaderlessDurableState]]),
        ),
      (error: unknown) =>
        isInvalidArgumentError(error) && error.argument === 'options.durableState',
    );
  });
});

describe('leaderless: preference lists', () => {
  it('are the first N distinct replicas clockwise on the ring, the same on every replica', () => {
    const cluster = new Cluster({ replicationFactor: 3 });
    const ring = new ConsistentHashRing({ nodes: fiveReplicas, virtualNodeCount: 160 });
    for (let index = 0; index < 200; index += 1) {
      const key = `user:${index}`;
      const expected = ring.replicasFor(key, 3);
      assert.equal(new Set(expected).size, 3);
      for (const id of fiveReplicas) {
        assert.deepEqual(cluster.core(id).preferenceList(key), expected);
      }
    }
  });
});

describe('leaderless: quorums', () => {
  it('a write is ok after W acknowledgements, the coordinator counting itself', () => {
    const cluster = new Cluster({ writeQuorum: 2 });
    const key = cluster.keyOwnedBy(['r1']);
    const [, second, third] = cluster.core('r1').preferenceList(key) as [string, string, string];
    const coordinator = cluster.core('r1').preferenceList(key)[0] as string;
    cluster.down.add(second);
    const id = cluster.request(coordinator, { kind: 'write', key, value: 'a' });
    assert.equal(cluster.replies.get(id), undefined, 'one acknowledgement is not enough');
    cluster.deliverAll();
    // The coordinator and `third` stored it.
    assert.equal(cluster.replies.get(id)?.status, 'ok');
    assert.equal(cluster.core(third).storedVersion(key)?.value, 'a');
    assert.equal(cluster.core(second).storedVersion(key), null);
    assert.ok(typeof (cluster.replies.get(id) as { session?: string }).session === 'string');
  });

  it('a write without W acknowledgements in time replies unknown (it may be stored)', () => {
    const cluster = new Cluster({ writeQuorum: 2, requestTimeoutTicks: 5 });
    const key = cluster.keyOwnedBy(['r1']);
    for (const owner of cluster.core('r1').preferenceList(key)) {
      if (owner !== 'r1') {
        cluster.down.add(owner);
      }
    }
    const id = cluster.request('r1', { kind: 'write', key, value: 'a' });
    cluster.tick(4);
    assert.equal(cluster.replies.get(id), undefined);
    cluster.tick(1);
    const reply = cluster.replies.get(id);
    assert.equal(reply?.status, 'unknown');
    assert.equal(cluster.core('r1').storedVersion(key)?.value, 'a', 'stored on the coordinator');
  });

  it('per-request W: W=3 needs every owner; a bad W is refused', () => {
    const cluster = new Cluster({ requestTimeoutTicks: 5 });
    const key = cluster.keyOwnedBy(['r1']);
    const owners = cluster.core('r1').preferenceList(key);
    cluster.down.add(owners.find((owner) => owner !== 'r1') as string);
    const id = cluster.request(
      'r1',
      { kind: 'write', key, value: 'a' },
      { settings: { writeQuorum: 3 } },
    );
    cluster.tick(5);
    assert.equal(cluster.replies.get(id)?.status, 'unknown');
    const bad = cluster.request(
      'r1',
      { kind: 'write', key, value: 'b' },
      { settings: { writeQuorum: 4 } },
    );
    assert.deepEqual(cluster.replies.get(bad), {
      id: bad,
      status: 'unavailable',
      reason: 'invalid-request',
    });
  });

  it('a read returns the newest of R answers; without R in time it is unavailable', () => {
    const cluster = new Cluster({ readQuorum: 2, writeQuorum: 1, requestTimeoutTicks: 5 });
    const key = cluster.keyOwnedBy(['r1']);
    const owners = cluster.core('r1').preferenceList(key);
    const others = owners.filter((owner) => owner !== 'r1');
    // Write 'old' everywhere, then 'new' on one other owner only.
    cluster.request('r1', { kind: 'write', key, value: 'old' });
    cluster.deliverAll();
    cluster.clock.advanceMs(5);
    cluster.down.add('r1');
    cluster.down.add(others[1] as string);
    cluster.request(others[0] as string, { kind: 'write', key, value: 'new' });
    cluster.deliverAll();
    cluster.down.clear();
    // A read at r1 with R=2: r1 answers 'old', others[0] answers 'new'.
    cluster.down.add(others[1] as string);
    const read = cluster.request('r1', { kind: 'read', key });
    cluster.deliverAll();
    assert.equal(cluster.replies.get(read)?.status, 'ok');
    assert.equal((cluster.replies.get(read) as { value?: string }).value, 'new');
    // Two owners down: R=2 cannot be met.
    cluster.down.add(others[0] as string);
    const failed = cluster.request('r1', { kind: 'read', key });
    cluster.tick(5);
    assert.deepEqual(cluster.replies.get(failed), {
      id: failed,
      status: 'unavailable',
      reason: 'timeout',
    });
  });

  it('refuses requests beyond inflightCountMax', () => {
    const cluster = new Cluster({ inflightCountMax: 2 });
    const key = cluster.keyOwnedBy(['r1']);
    const ids = [0, 1, 2].map((index) =>
      cluster.request('r1', { kind: 'write', key, value: String(index) }),
    );
    assert.deepEqual(cluster.replies.get(ids[2] as string), {
      id: ids[2],
      status: 'unavailable',
      reason: 'overloaded',
    });
    cluster.deliverAll();
    assert.equal(cluster.replies.get(ids[0] as string)?.status, 'ok');
  });
});

describe('leaderless: sessions', () => {
  it('a read whose answers are all older than the session replies behind-session, never older data', () => {
    const cluster = new Cluster({ readQuorum: 1, writeQuorum: 1, requestTimeoutTicks: 6 });
    const key = cluster.keyOwnedBy(['r1']);
    const owners = cluster.core('r1').preferenceList(key);
    const other = owners.find((owner) => owner !== 'r1') as string;
    // Only r1 gets the write; its session token names the new version.
    for (const owner of owners) {
      if (owner !== 'r1') {
        cluster.down.add(owner);
      }
    }
    const write = cluster.request('r1', { kind: 'write', key, value: 'mine' });
    const session = (cluster.replies.get(write) as { session?: string }).session as string;
    cluster.down.clear();
    cluster.down.add('r1');
    cluster.inFlight.length = 0;
    const read = cluster.request(other, { kind: 'read', key }, { session });
    cluster.tick(6);
    assert.deepEqual(cluster.replies.get(read), {
      id: read,
      status: 'unavailable',
      reason: 'behind-session',
    });
    assert.equal(cluster.core(other).metrics().behindSessionReads, 1);
    // Once r1 is back, the same read finds the version (asking beyond R while behind).
    cluster.down.clear();
    const again = cluster.request(other, { kind: 'read', key }, { session });
    cluster.tick(6);
    assert.equal((cluster.replies.get(again) as { value?: string }).value, 'mine');
    const invalid = cluster.request(other, { kind: 'read', key }, { session: '{nope' });
    assert.equal((cluster.replies.get(invalid) as { reason?: string }).reason, 'invalid-session');
  });
});

describe('leaderless: sloppy quorum and hinted handoff', () => {
  it('stores the write on the next replica with a hint, then hands it off to the owner', () => {
    const cluster = new Cluster({
      writeQuorum: 2,
      sloppyQuorum: true,
      retryEveryTicks: 2,
      hintRetryEveryTicks: 3,
      antiEntropyEveryTicks: 0,
    });
    const key = cluster.keyOwnedBy(['r1']);
    const owners = cluster.core('r1').preferenceList(key);
    const missing = owners.filter((owner) => owner !== 'r1');
    for (const owner of missing) {
      cluster.down.add(owner);
    }
    const id = cluster.request('r1', { kind: 'write', key, value: 'hinted' });
    cluster.deliverAll();
    assert.equal(cluster.replies.get(id), undefined);
    cluster.tick(2);
    assert.equal(cluster.replies.get(id)?.status, 'ok', 'a fallback acknowledged');
    const holders = fiveReplicas.filter((replica) => cluster.core(replica).hints().length > 0);
    assert.ok(holders.length >= 1);
    for (const holder of holders) {
      assert.ok(!owners.includes(holder), 'hints live outside the preference list');
      for (const hint of cluster.core(holder).hints()) {
        assert.equal(hint.key, key);
        assert.ok(missing.includes(hint.owner));
        assert.equal(hint.version.value, 'hinted');
      }
      assert.ok((cluster.core(holder).metrics().hintsStored as number) >= 1);
    }
    // The hint survives a restart of its holder.
    const holder = holders[0] as string;
    const restarted = new Cluster(
      {},
      fiveReplicas,
      new Map([[holder, cluster.core(holder).durableState()]]),
    );
    assert.deepEqual(restarted.core(holder).hints(), cluster.core(holder).hints());
    // The owners come back: the hints are handed off and dropped.
    cluster.down.clear();
    cluster.tick(3);
    const delivered = holders.reduce(
      (sum, h) => sum + (cluster.core(h).metrics().hintsDelivered as number),
      0,
    );
    assert.ok(delivered >= 1);
    for (const h of holders) {
      assert.equal(cluster.core(h).hints().length, 0);
    }
    const named = new Set(
      cluster.delivered.filter((m) => m.message.type === 'handoff').map((m) => m.to),
    );
    for (const owner of named) {
      assert.equal(cluster.core(owner).storedVersion(key)?.value, 'hinted');
    }
  });

  it('without a sloppy quorum the same write replies unknown', () => {
    const cluster = new Cluster({ writeQuorum: 2, requestTimeoutTicks: 6 });
    const key = cluster.keyOwnedBy(['r1']);
    for (const owner of cluster.core('r1').preferenceList(key)) {
      if (owner !== 'r1') {
        cluster.down.add(owner);
      }
    }
    const id = cluster.request('r1', { kind: 'write', key, value: 'x' });
    cluster.tick(6);
    assert.equal(cluster.replies.get(id)?.status, 'unknown');
    assert.equal(
      fiveReplicas.reduce((sum, r) => sum + cluster.core(r).hints().length, 0),
      0,
    );
  });
});

describe('leaderless: read repair', () => {
  it('sends the newest version to owners that answered older or nothing', () => {
    const cluster = new Cluster({ writeQuorum: 1, readQuorum: 3, antiEntropyEveryTicks: 0 });
    const key = cluster.keyOwnedBy(['r1']);
    const owners = cluster.core('r1').preferenceList(key);
    const others = owners.filter((owner) => owner !== 'r1');
    cluster.down.add(others[0] as string);
    cluster.request('r1', { kind: 'write', key, value: 'old' });
    cluster.deliverAll();
    cluster.clock.advanceMs(5);
    cluster.down.clear();
    cluster.down.add(others[0] as string);
    cluster.down.add(others[1] as string);
    cluster.request('r1', { kind: 'write', key, value: 'new' });
    cluster.deliverAll();
    cluster.down.clear();
    // r1: new, others[1]: old, others[0]: none.
    const read = cluster.request(others[1] as string, { kind: 'read', key });
    cluster.deliverAll();
    assert.equal((cluster.replies.get(read) as { value?: string }).value, 'new');
    assert.equal(cluster.core(others[1] as string).metrics().readRepairs, 2);
    for (const owner of owners) {
      assert.equal(cluster.core(owner).storedVersion(key)?.value, 'new');
    }
    // Off: nothing is repaired.
    const off = new Cluster({ writeQuorum: 1, readQuorum: 3, readRepair: false });
    off.down.add(others[0] as string);
    off.request('r1', { kind: 'write', key, value: 'v' });
    off.deliverAll();
    off.down.clear();
    off.request('r1', { kind: 'read', key });
    off.deliverAll();
    assert.equal(off.core(others[0] as string).storedVersion(key), null);
  });
});

describe('leaderless: anti-entropy', () => {
  function stateOf(entries: [string, LeaderlessVersion][]): LeaderlessDurableState {
    return {
      format: 'leaderless/1',
      clock: { wallMs: 0, logical: 0 },
      entries: entries.map(([key, v]) => [key, v.value, v.wallMs, v.logical, v.writer] as const),
      hints: [],
    };
  }

  it('a Merkle-tree exchange transfers exactly the differing keys', () => {
    const base: [string, LeaderlessVersion][] = Array.from({ length: 300 }, (_, index) => [
      `k${index}`,
      version(`v${index}`, 1_000 + index, 'a'),
    ]);
    const mine = new Map(base);
    const theirs = new Map(base);
    mine.set('k3', version('newer-on-a', 5_000, 'a'));
    theirs.set('k17', version('newer-on-b', 5_000, 'b'));
    mine.delete('k40');
    theirs.delete('k41');
    theirs.set('only-on-b', version('x', 6_000, 'b'));
    const cluster = new Cluster(
      { replicationFactor: 2, antiEntropyEveryTicks: 1 },
      ['a', 'b'],
      new Map([
        ['a', stateOf([...mine])],
        ['b', stateOf([...theirs])],
      ]),
    );
    cluster.clock.advanceMs(10);
    cluster.core('a').tick(); // a starts a round with b (its only peer)
    cluster.collect('a');
    cluster.deliverAll();
    const transferred = cluster.delivered
      .filter((message) => message.message.type === 'ae-push')
      .flatMap((message) =>
        (message.message.entries as [string, LeaderlessVersion][]).map(([key]) => key),
      )
      .sort();
    assert.deepEqual(transferred, ['k17', 'k3', 'k40', 'k41', 'only-on-b'].sort());
    for (const key of ['k3', 'k17', 'k40', 'k41', 'only-on-b', 'k100']) {
      assert.deepEqual(cluster.core('a').storedVersion(key), cluster.core('b').storedVersion(key));
    }
    assert.equal(cluster.core('a').storedVersion('k3')?.value, 'newer-on-a');
    assert.equal(cluster.core('b').storedVersion('k17')?.value, 'newer-on-b');
    const repairs =
      (cluster.core('a').metrics().antiEntropyRepairs as number) +
      (cluster.core('b').metrics().antiEntropyRepairs as number);
    assert.equal(repairs, 5);
    // A second round finds equal roots and sends nothing more.
    cluster.delivered.length = 0;
    cluster.clock.advanceMs(10);
    cluster.core('a').tick();
    cluster.collect('a');
    cluster.deliverAll();
    assert.deepEqual(
      cluster.delivered.map((message) => message.message.type),
      ['ae-root'],
    );
  });

  it('bounded messages: many differing keys converge over several rounds', () => {
    const mine: [string, LeaderlessVersion][] = [];
    const theirs: [string, LeaderlessVersion][] = [];
    for (let index = 0; index < 2_000; index += 1) {
      const key = `k${index}`;
      mine.push([key, version('same', 1_000, 'a')]);
      if (index % 3 === 0) {
        theirs.push([key, version('newer', 2_000, 'b')]); // 667 keys newer on b
      } else if (index % 3 === 1) {
        theirs.push([key, version('same', 1_000, 'a')]);
      } // and 666 keys missing on b
    }
    const cluster = new Cluster(
      { replicationFactor: 2, antiEntropyEveryTicks: 1, entriesPerMessageMax: 40 },
      ['a', 'b'],
      new Map([
        ['a', stateOf(mine)],
        ['b', stateOf(theirs)],
      ]),
    );
    let rounds = 0;
    const converged = (): boolean =>
      mine.every(
        ([key]) =>
          JSON.stringify(cluster.core('a').storedVersion(key)) ===
          JSON.stringify(cluster.core('b').storedVersion(key)),
      );
    while (!converged()) {
      assert.ok(rounds < 400, 'converges');
      cluster.tick(1);
      rounds += 1;
      for (const message of cluster.delivered) {
        assert.ok(((message.message.entries as unknown[] | undefined)?.length ?? 0) <= 40);
      }
      cluster.delivered.length = 0;
    }
    assert.equal(cluster.core('b').storedVersion('k1')?.value, 'same');
    assert.equal(cluster.core('a').storedVersion('k0')?.value, 'newer');
    assert.equal(cluster.core('b').storedVersion('k2')?.value, 'same');
  });

  it('merkleDifference finds exactly the keys that differ between two random stores', () => {
    const store = fc.dictionary(
      fc.string({ minLength: 1, maxLength: 6 }),
      fc.constantFrom('1', '2', '3'),
      { maxKeys: 60, noNullPrototype: true },
    );
    fc.assert(
      fc.property(store, store, (left, right) => {
        const a = new Map(Object.entries(left));
        const b = new Map(Object.entries(right));
        const expected = [...new Set([...a.keys(), ...b.keys()])]
          .filter((key) => a.get(key) !== b.get(key))
          .sort();
        assert.deepEqual(merkleDifference(a, b), expected);
      }),
    );
  });
});

describe('leaderless: last-writer-wins merge', () => {
  const arbitraryVersion = fc.option(
    fc.record(
      {
        value: fc.constantFrom('a', 'b', 'c'),
        wallMs: fc.integer({ min: 0, max: 3 }),
        logical: fc.integer({ min: 0, max: 2 }),
        writer: fc.constantFrom('r1', 'r2'),
      },
      { noNullPrototype: true },
    ),
    { nil: null },
  );

  it('is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(arbitraryVersion, arbitraryVersion, arbitraryVersion, (a, b, c) => {
        assert.deepEqual(mergeLeaderlessVersions(a, b), mergeLeaderlessVersions(b, a));
        assert.deepEqual(
          mergeLeaderlessVersions(mergeLeaderlessVersions(a, b), c),
          mergeLeaderlessVersions(a, mergeLeaderlessVersions(b, c)),
        );
        assert.deepEqual(mergeLeaderlessVersions(a, a), a);
      }),
    );
  });
});

describe('leaderless: robustness', () => {
  it('ignores malformed peer messages and requests without throwing', () => {
    const cluster = new Cluster({});
    const core = cluster.core('r1');
    const junk: unknown[] = [
      null,
      42,
      'x',
      [],
      {},
      { type: 'write' },
      { type: 'write', rid: 'x', key: 'k', version: { value: 1 } },
      { type: 'write', rid: 'x', key: '', version: version('v', 1) },
      { type: 'write', rid: 'x', key: 'k', version: version('v', 1, 'stranger') },
      { type: 'read-reply', rid: 'nope', version: 'v' },
      { type: 'ae-root', root: 'x' },
      { type: 'ae-branches', branches: [1, 2] },
      { type: 'ae-leaves', branches: [{ branch: 99, leaves: [] }] },
      { type: 'ae-summary', leaves: [1], entries: [[1, 2, 3, 4]] },
      { type: 'ae-push', entries: [['k', null]] },
      { type: 'ae-pull', keys: [7] },
      { type: 'handoff-ack', key: 1 },
      { type: 'unknown' },
    ];
    for (const message of junk) {
      core.step('r2', message);
    }
    core.step('stranger', { type: 'read', rid: 'a', key: 'k' });
    core.request({ id: 'q', client: 'c', operation: { kind: 'write', key: 'k' } } as never);
    core.request({ id: 'q2', client: 'c', operation: { kind: 'delete', key: 'k' } } as never);
    core.request({ id: 'q3', client: 'c', operation: { kind: 'read', key: '\ud800' } });
    core.request(null as never);
    const output = core.drain();
    assert.equal(output.messages.length, 0);
    assert.deepEqual(
      output.replies.map(({ reply }) => reply.status),
      ['unavailable', 'unavailable', 'unavailable'],
    );
    assert.equal(core.metrics().malformedMessages, junk.length + 1); // and the stranger's
    assert.equal(core.metrics().storedKeys, 0);
  });

  it('never throws on random peer messages (fast-check)', () => {
    const types = [
      'write',
      'write-ack',
      'read',
      'read-reply',
      'repair',
      'handoff',
      'handoff-ack',
      'ae-root',
      'ae-branches',
      'ae-leaves',
      'ae-summary',
      'ae-push',
      'ae-pull',
    ];
    const field = fc.oneof(
      fc.anything(),
      fc.constantFrom('k', 'r2', 'r9', '\ud800', ''),
      fc.record({
        value: fc.oneof(fc.string(), fc.anything()),
        wallMs: fc.oneof(fc.integer(), fc.double()),
        logical: fc.integer(),
        writer: fc.constantFrom('r1', 'r2', 'x'),
      }),
      fc.array(fc.oneof(fc.integer(), fc.anything()), { maxLength: 20 }),
    );
    const message = fc.oneof(
      fc.anything(),
      fc.record(
        {
          type: fc.constantFrom(...types),
          rid: field,
          key: field,
          version: field,
          hintFor: field,
          root: field,
          branches: field,
          leaves: field,
          entries: field,
          keys: field,
          complete: field,
        },
        { requiredKeys: ['type'] },
      ),
    );
    fc.assert(
      fc.property(fc.array(message, { maxLength: 20 }), (messages) => {
        const cluster = new Cluster({ sloppyQuorum: true, antiEntropyEveryTicks: 1 });
        const core = cluster.core('r1');
        for (const item of messages) {
          core.step('r2', item);
        }
        core.tick();
        core.drain();
      }),
      { numRuns: 200 },
    );
  });

  it('a restarted replica keeps its stored versions and never stamps older', () => {
    const cluster = new Cluster({ writeQuorum: 1 });
    const key = cluster.keyOwnedBy(['r1']);
    cluster.request('r1', { kind: 'write', key, value: 'kept' });
    const state = cluster.core('r1').durableState();
    const restarted = new Cluster({ writeQuorum: 1 }, fiveReplicas, new Map([['r1', state]]));
    assert.deepEqual(
      restarted.core('r1').storedVersion(key),
      cluster.core('r1').storedVersion(key),
    );
    restarted.clock.setWallMs(1_000); // the clock went far back
    restarted.request('r1', { kind: 'write', key, value: 'later' });
    assert.equal(restarted.core('r1').storedVersion(key)?.value, 'later');
    assert.ok(LeaderlessReplica !== undefined);
  });
});

// ---- simulations ------------------------------------------------------------------

/** Crashes, partitions and latency spikes (reorderings that expose partial writes). */
const spikyFaults: FaultPlanOptions = {
  nodeIds: fiveReplicas,
  faultPhaseMs: 4_000,
  weights: { split: 1, crash: 1, 'latency-spike': 4 },
  intervalMsMean: 300,
  spikeLatency: { kind: 'uniform', delayMsMin: 1, delayMsMax: 60 },
};

/** Partitions and crashes only. */
const partitionFaults: FaultPlanOptions = {
  nodeIds: fiveReplicas,
  faultPhaseMs: 4_000,
  weights: { split: 1, isolate: 1, crash: 1 },
  intervalMsMean: 500,
};

/** Long partitions, one at a time. */
const longPartitions: FaultPlanOptions = {
  nodeIds: fiveReplicas,
  faultPhaseMs: 4_000,
  weights: { split: 2, isolate: 1 },
  intervalMsMean: 400,
  durationMsMin: 500,
  durationMsMax: 2_000,
  concurrentFaultCountMax: 1,
};

/** Operations invoked while a fault was in effect. */
function duringFaults(measured: Measured): Operation[] {
  const started = new Map<unknown, number>();
  const windows: [number, number][] = [];
  for (const entry of measured.result.nemesis?.log ?? []) {
    if (entry.event === 'start') {
      started.set(entry.fault, entry.timeMs);
    } else if (entry.event === 'end' && started.has(entry.fault)) {
      windows.push([started.get(entry.fault) as number, entry.timeMs]);
    }
  }
  return measured.operations.filter((operation) =>
    windows.some(([start, end]) => operation.invokeTime >= start && operation.invokeTime < end),
  );
}

const replay = (seed: number): string =>
  `seed ${seed}: node --import tsx --test test/replication/leaderless.test.ts`;

describe('leaderless: simulations (5 replicas, N=3)', () => {
  it('(a) W=R=2: no read misses a write acknowledged before it began, yet the history is not linearizable', () => {
    const seeds = [17, 18, 19, 20, 21, 22, 23, 24];
    const violations: number[] = [];
    let ok = 0;
    for (const seed of seeds) {
      const measured = simulate(
        seed,
        { writeQuorum: 2, readQuorum: 2 },
        { clientCount: 8, keyCount: 1, operationCountMax: 600, faults: spikyFaults },
      );
      ok += measured.result.workload.statistics.okCount;
      assert.deepEqual(
        measured.stale.map(
          (read) => `${read.kind} -> ${String(read.output)} at ${read.invokeTime}`,
        ),
        [],
        `stale reads with W+R>N, ${replay(seed)}`,
      );
      const violation = linearizabilityViolation(measured.operations);
      if (violation !== undefined) {
        violations.push(seed);
        console.log(`(a) W=R=2, seed ${seed}: not linearizable: ${violation}`);
      }
    }
    console.log(
      `(a) W=R=2: ${ok} ok operations over seeds ${seeds.join(', ')}; no stale read; linearizability violations in seeds ${violations.join(', ')}`,
    );
    assert.ok(violations.length > 0, 'a partial write seen by one read and missed by a later one');
  });

  it('(b) W=R=1: reads miss acknowledged writes', () => {
    const seeds = [1, 2, 3, 4, 5, 6];
    const found: string[] = [];
    let total = 0;
    for (const seed of seeds) {
      const measured = simulate(
        seed,
        { writeQuorum: 1, readQuorum: 1 },
        { operationCountMax: 300, faults: partitionFaults },
      );
      total += measured.stale.length;
      if (measured.stale.length > 0) {
        found.push(`seed ${seed}: ${measured.stale.length}`);
      }
    }
    console.log(`(b) W=R=1: stale reads ${total} (${found.join('; ')})`);
    assert.ok(found.length > 0);
  });

  it('(c) a sloppy quorum keeps more operations succeeding during partitions, and serves stale reads', () => {
    const seeds = [1, 2, 3, 4, 5, 6];
    let strictOk = 0;
    let sloppyOk = 0;
    let sloppyStale = 0;
    let hintsStored = 0;
    let hintsDelivered = 0;
    const rows: string[] = [];
    for (const seed of seeds) {
      const strict = simulate(seed, {}, { operationCountMax: 400, faults: longPartitions });
      const sloppy = simulate(
        seed,
        { sloppyQuorum: true },
        { operationCountMax: 400, faults: longPartitions },
      );
      const strictDuring = duringFaults(strict).filter((op) => op.status === 'ok').length;
      const sloppyDuring = duringFaults(sloppy).filter((op) => op.status === 'ok').length;
      strictOk += strictDuring;
      sloppyOk += sloppyDuring;
      sloppyStale += sloppy.stale.length;
      for (const program of sloppy.result.programs.values()) {
        hintsStored += (program.core as LeaderlessReplica).metrics().hintsStored;
        hintsDelivered += (program.core as LeaderlessReplica).metrics().hintsDelivered;
      }
      rows.push(
        `seed ${seed}: ok during partitions strict ${strictDuring}, sloppy ${sloppyDuring}; stale reads strict ${strict.stale.length}, sloppy ${sloppy.stale.length}`,
      );
    }
    console.log(
      `(c) ${rows.join('\n    ')}\n    total ok during partitions: strict ${strictOk}, sloppy ${sloppyOk}; sloppy stale reads ${sloppyStale}; hints stored ${hintsStored}, delivered ${hintsDelivered} (live incarnations)`,
    );
    assert.ok(sloppyOk > strictOk, `sloppy ${sloppyOk} > strict ${strictOk}`);
    assert.ok(sloppyStale > 0, 'stale reads with a sloppy quorum');
  });

  it('(d) after healing, anti-entropy makes every replica of every key converge', () => {
    const seeds = [1, 2, 3, 4];
    const withoutAntiEntropy: number[] = [];
    for (const seed of seeds) {
      for (const [sloppyQuorum, antiEntropyEveryTicks] of [
        [false, 20],
        [true, 20],
        [false, 0],
      ] as const) {
        const measured = simulate(
          seed,
          { sloppyQuorum, antiEntropyEveryTicks },
          // The workload ends inside the fault phase: its last writes miss some owners.
          { operationCountMax: 150, keyCount: 10, faults: partitionFaults },
        );
        measured.result.simulation.runForMs(5_000); // quiet: no requests, only ticks
        const problems = diverged(measured);
        if (antiEntropyEveryTicks > 0) {
          assert.deepEqual(problems, [], `not converged, ${replay(seed)}`);
        } else if (problems.length > 0) {
          withoutAntiEntropy.push(seed);
        }
      }
    }
    console.log(
      `(d) converged with anti-entropy in seeds ${seeds.join(', ')}; without it (read repair and handoff only) diverged in seeds ${withoutAntiEntropy.join(', ') || 'none'}`,
    );
  });
});
