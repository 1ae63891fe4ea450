import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isAbortedError, isInvalidArgumentError } from '../../src/core/index.js';
import {
  isReplicaClosedError,
  isReplicaUnavailableError,
  isRequestTimeoutError,
  RaftReplica,
  type RaftReplicaOptions,
  type ReplicaEvent,
} from '../../src/store/index.js';
import { TestCluster, temporaryFolder, testSecret, waitFor } from './support.js';

/** A cluster under a fresh folder; closed and removed whatever `body` does. */
async function withCluster(
  size: number,
  options: Partial<RaftReplicaOptions>,
  body: (cluster: TestCluster) => Promise<void>,
  nodeOptions: Record<string, Partial<RaftReplicaOptions>> = {},
): Promise<void> {
  const folder = temporaryFolder();
  let cluster: TestCluster | undefined;
  try {
    cluster = await TestCluster.start(folder.path, size, options, nodeOptions);
    await body(cluster);
  } finally {
    await cluster?.close();
    folder.remove();
  }
}

/** A one-node replica (it elects itself at once) under a fresh folder. */
async function withSingleReplica(
  options: Partial<RaftReplicaOptions>,
  body: (replica: RaftReplica, directory: string) => Promise<void>,
): Promise<void> {
  const folder = temporaryFolder();
  let replica: RaftReplica | undefined;
  try {
    const directory = join(folder.path, 'n1');
    replica = await RaftReplica.open({
      id: 'n1',
      peers: { n1: { host: '127.0.0.1', port: 0 } },
      directory,
      secret: testSecret,
      tickMs: 10,
      ...options,
    });
    await body(replica, directory);
  } finally {
    await replica?.close();
    folder.remove();
  }
}

/**
 * Runs `call` (which may throw at once or reject) and returns what it failed with;
 * fails the test if it succeeds.
 */
async function failureOf(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  assert.fail('expected a failure, got a result');
}

/** `promise`'s outcome, or 'pending' if it has not settled within `timeoutMs`. */
async function settledWithin<T>(
  promise: Promise<T>,
  timeoutMs: number,
): Promise<{ value: T } | { error: unknown } | 'pending'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending = new Promise<'pending'>((resolve) => {
    timer = setTimeout(() => resolve('pending'), timeoutMs);
  });
  try {
    return await Promise.race([
      promise.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      pending,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Retries `call` while the replica answers "unavailable" (a leader that has not committed
 * an entry of its term yet, an election under way), bounded by `timeoutMs`.
 */
async function whenAvailable<T>(call: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (!isReplicaUnavailableError(error) || Date.now() >= deadline) {
        throw error;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * The leader once it serves linearizable reads. A new leader drops reads until an entry
 * of its term commits, and drops a read a follower forwarded without an answer (the
 * follower's read then waits for its whole timeout): read on the leader first.
 */
async function readyLeader(cluster: TestCluster): Promise<RaftReplica> {
  const leader = await cluster.leader();
  await whenAvailable(() => leader.get('readiness-probe'));
  return leader;
}

function followersOf(cluster: TestCluster, leader: RaftReplica): RaftReplica[] {
  return [...cluster.replicas.values()].filter((replica) => replica !== leader);
}

function replica(cluster: TestCluster, id: string): RaftReplica {
  const found = cluster.replicas.get(id);
  assert.ok(found, `replica ${id} is not running`);
  return found;
}

/** The leader once its membership holds `voters` and `learners` and is not joint. */
async function membershipSettled(
  cluster: TestCluster,
  voters: readonly string[],
  learners: readonly string[],
): Promise<RaftReplica> {
  return waitFor(`membership voters ${voters} learners ${learners}`, async () => {
    const leader = await cluster.leader();
    const { membership } = leader.status();
    const same = (actual: readonly string[], expected: readonly string[]): boolean =>
      [...actual].sort().join() === [...expected].sort().join();
    return membership.votersOutgoing.length === 0 &&
      same(membership.voters, voters) &&
      same(membership.learners, learners)
      ? leader
      : undefined;
  });
}

const keyCount = 8;

describe('RaftReplica: a 3-node cluster', () => {
  it('answers every one of many linearizable reads waiting at once, on the leader and a follower', async () => {
    await withCluster(3, {}, async (cluster) => {
      const leader = await cluster.leader();
      await leader.put('shared', 'value');
      for (const replica of [leader, followersOf(cluster, leader)[0] as RaftReplica]) {
        for (const consistency of ['linearizable', 'lease'] as const) {
          const reads = await Promise.all(
            Array.from({ length: 8 }, () =>
              replica.get('shared', { consistency, timeoutMs: 5_000 }),
            ),
          );
          assert.deepEqual(
            reads.map((read) => read.value),
            Array.from({ length: 8 }, () => 'value'),
            `${replica.id} ${consistency}`,
          );
        }
      }
    });
  });

  it('elects one leader; writes through the leader and a follower read back linearizable, lease and local on every replica', async () => {
    await withCluster(3, {}, async (cluster) => {
      const leader = await cluster.leader();
      const running = [...cluster.replicas.values()];
      assert.equal(running.filter((each) => each.status().role === 'leader').length, 1);
      for (const each of running) {
        assert.equal(each.leader, leader.id);
      }
      const follower = followersOf(cluster, leader)[0] as RaftReplica;

      const throughLeader = await leader.put('through-leader', 'L');
      assert.deepEqual(throughLeader.previous, null);
      const throughFollower = await follower.put('through-follower', 'F');
      assert.equal(throughFollower.previous, null);
      assert.ok(throughFollower.index > throughLeader.index);

      for (const each of running) {
        for (const [key, value, index] of [
          ['through-leader', 'L', throughLeader.index],
          ['through-follower', 'F', throughFollower.index],
        ] as const) {
          const linearizable = await each.get(key, { consistency: 'linearizable' });
          assert.equal(linearizable.value, value, `${each.id} linearizable ${key}`);
          assert.ok(linearizable.index >= index);
          const lease = await each.get(key, { consistency: 'lease' });
          assert.equal(lease.value, value, `${each.id} lease ${key}`);
          // The linearizable read made this replica apply past the write: local sees it.
          const local = await each.get(key, { consistency: 'local' });
          assert.equal(local.value, value, `${each.id} local ${key}`);
          assert.ok(local.index >= index);
        }
        // The default consistency is linearizable.
        assert.equal((await each.get('through-follower')).value, 'F');
      }

      // Overwrite reports the previous value.
      assert.equal((await follower.put('through-leader', 'L2')).previous, 'L');

      // compareAndSet: create when absent, swap, refuse with the current value.
      for (const [via, key] of [
        [leader, 'cas-leader'],
        [follower, 'cas-follower'],
      ] as const) {
        const created = await via.compareAndSet(key, null, 'a');
        assert.deepEqual(
          { swapped: created.swapped, current: created.current },
          {
            swapped: true,
            current: null,
          },
        );
        const swapped = await via.compareAndSet(key, 'a', 'b');
        assert.deepEqual(
          { swapped: swapped.swapped, current: swapped.current },
          {
            swapped: true,
            current: 'a',
          },
        );
        const refused = await via.compareAndSet(key, 'a', 'c');
        assert.deepEqual(
          { swapped: refused.swapped, current: refused.current },
          {
            swapped: false,
            current: 'b',
          },
        );
        const absentExpected = await via.compareAndSet(key, null, 'd');
        assert.equal(absentExpected.swapped, false);
        assert.equal(absentExpected.current, 'b');
        assert.ok(refused.index > swapped.index);
        for (const each of running) {
          assert.equal((await each.get(key)).value, 'b', `${each.id} after cas on ${key}`);
        }
      }

      // delete returns the previous value; deleting again returns null.
      assert.equal((await follower.delete('through-leader')).previous, 'L2');
      assert.equal((await leader.delete('through-leader')).previous, null);
      for (const each of running) {
        assert.equal((await each.get('through-leader')).value, null);
        assert.equal((await each.get('through-leader', { consistency: 'local' })).value, null);
      }
      assert.equal((await leader.get('never-written')).value, null);
    });
  });

  it('acknowledged writes survive closing and reopening every replica on the same folders', async () => {
    await withCluster(3, {}, async (cluster) => {
      const leader = await cluster.leader();
      const running = [...cluster.replicas.values()];
      for (let position = 0; position < keyCount; position += 1) {
        const via = running[position % running.length] as RaftReplica;
        await via.put(`durable-${position}`, `value-${position}`);
      }
      await leader.compareAndSet('durable-0', 'value-0', 'swapped');
      await leader.delete('durable-1');
      const ids = [...cluster.replicas.keys()];
      await cluster.close();
      assert.equal(cluster.replicas.size, 0);
      await Promise.all(ids.map((id) => cluster.open(id)));
      await readyLeader(cluster);
      for (const each of cluster.replicas.values()) {
        assert.equal((await each.get('durable-0')).value, 'swapped');
        assert.equal((await each.get('durable-1')).value, null);
        for (let position = 2; position < keyCount; position += 1) {
          assert.equal((await each.get(`durable-${position}`)).value, `value-${position}`);
        }
      }
    });
  });

  it('leader failover: a new leader among the two left has every acknowledged write; the old one catches up when reopened', async () => {
    await withCluster(3, {}, async (cluster) => {
      const oldLeader = await cluster.leader();
      for (let position = 0; position < keyCount; position += 1) {
        await oldLeader.put(`before-${position}`, `${position}`);
      }
      await cluster.stop(oldLeader.id);
      const newLeader = await readyLeader(cluster);
      assert.notEqual(newLeader.id, oldLeader.id);
      for (const each of cluster.replicas.values()) {
        for (let position = 0; position < keyCount; position += 1) {
          const read = await each.get(`before-${position}`);
          assert.equal(read.value, `${position}`, `${each.id} before-${position}`);
        }
      }
      const follower = followersOf(cluster, newLeader)[0] as RaftReplica;
      await newLeader.put('after', 'through-new-leader');
      await follower.put('after-follower', 'through-follower');

      const reopened = await cluster.open(oldLeader.id);
      const caughtUp = await waitFor('the old leader applies the new writes', async () => {
        const read = await reopened.get('after-follower', { consistency: 'local' });
        return read.value === 'through-follower' ? read : undefined;
      });
      assert.ok(caughtUp.index > 0);
      assert.equal(
        (await reopened.get('after', { consistency: 'local' })).value,
        'through-new-leader',
      );
      assert.equal((await cluster.leader()).id, newLeader.id);
      assert.equal((await reopened.get('before-0')).value, '0');
    });
  });

  it('without a quorum: writes and linearizable reads fail typed, never with a value; local reads still answer', async () => {
    await withCluster(3, {}, async (cluster) => {
      const leader = await cluster.leader();
      await leader.put('kept', 'before');
      for (const follower of followersOf(cluster, leader)) {
        await cluster.stop(follower.id);
      }
      // The survivor (check quorum) steps down once it has not heard a quorum for an
      // election timeout; with pre-vote it then knows no leader and stays in its term.
      await waitFor('the survivor to know no leader', () =>
        leader.leader === null ? true : undefined,
      );
      // No leader known: Raft drops the proposal at once, so nothing was applied and the
      // error says so (ReplicaUnavailableError, not a RequestTimeoutError).
      const write = await failureOf(() => leader.put('kept', 'after', { timeoutMs: 300 }));
      assert.ok(isReplicaUnavailableError(write), `got ${String(write)}`);
      assert.equal(write.reason, 'no-leader');
      assert.equal(write.leaderId, null);
      for (const consistency of ['linearizable', 'lease'] as const) {
        const read = await failureOf(() => leader.get('kept', { consistency, timeoutMs: 300 }));
        assert.ok(isReplicaUnavailableError(read), `${consistency}: got ${String(read)}`);
        assert.equal(read.reason, 'no-leader');
      }
      const cas = await failureOf(() => leader.compareAndSet('kept', 'before', 'x'));
      assert.ok(isReplicaUnavailableError(cas));
      const local = await leader.get('kept', { consistency: 'local' });
      assert.equal(local.value, 'before');
      assert.equal(local.index, leader.status().appliedIndex);
      assert.equal(leader.status().pendingRequestCount, 0);
    });
  });

  it('a leader cut off from its quorum times a write out with outcome unknown, a linearizable read with not-applied, and an AbortSignal ends a waiting read', async () => {
    // n1 has a long election timeout, so once it leads it keeps leading (check quorum
    // steps it down only after electionTicks without a quorum): proposals are appended
    // but cannot commit, and read confirmations never come.
    await withCluster(
      3,
      {},
      async (cluster) => {
        const first = await cluster.leader();
        await first.put('kept', 'before');
        const n1 = await cluster.transferLeadership('n1');
        await n1.put('kept', 'on-n1');
        await cluster.stop('n2');
        await cluster.stop('n3');

        const write = await failureOf(() => n1.put('unknown', 'maybe', { timeoutMs: 200 }));
        assert.ok(isRequestTimeoutError(write), `got ${String(write)}`);
        assert.equal(write.outcome, 'unknown');
        assert.equal(write.timeoutMs, 200);

        const read = await failureOf(() => n1.get('kept', { timeoutMs: 200 }));
        assert.ok(isRequestTimeoutError(read), `got ${String(read)}`);
        assert.equal(read.outcome, 'not-applied');
        assert.equal((await n1.get('kept', { consistency: 'local' })).value, 'on-n1');

        // An AbortSignal ends a read that waits for its confirmation.
        const controller = new AbortController();
        const reason = new Error('the caller gave up');
        const waiting = n1.get('kept', { signal: controller.signal, timeoutMs: 10_000 });
        const observed = settledWithin(waiting, 10_000);
        await waitFor('the read to wait', () =>
          n1.status().pendingRequestCount === 1 ? true : undefined,
        );
        controller.abort(reason);
        const outcome = await observed;
        assert.ok(outcome !== 'pending' && 'error' in outcome, 'the read settled with an error');
        assert.ok(isAbortedError(outcome.error), `got ${String(outcome.error)}`);
        assert.equal((outcome.error as Error).cause, reason);
        assert.equal(n1.status().pendingRequestCount, 0);

        // An already aborted signal fails the request at once.
        const aborted = AbortSignal.abort(reason);
        for (const failure of [
          await failureOf(() => n1.get('kept', { signal: aborted })),
          await failureOf(() => n1.put('kept', 'x', { signal: aborted })),
        ]) {
          assert.ok(isAbortedError(failure), `got ${String(failure)}`);
          assert.equal((failure as Error).cause, reason);
        }
        assert.equal(n1.status().pendingRequestCount, 0);

        // The timed-out write had an unknown outcome: after the others come back, it is
        // either committed or gone, and every replica agrees which.
        await cluster.open('n2');
        await cluster.open('n3');
        await readyLeader(cluster);
        const values = new Set<string | null>();
        for (const each of cluster.replicas.values()) {
          values.add((await each.get('unknown')).value);
          assert.equal((await each.get('kept')).value, 'on-n1');
        }
        assert.equal(values.size, 1, `replicas disagree: ${[...values]}`);
      },
      { n1: { electionTicks: 1_000 } },
    );
  });

  it('snapshots: a follower that missed compacted entries catches up by snapshot; a restart recovers from its own snapshot', async () => {
    const total = 100;
    await withCluster(
      3,
      { snapshotEveryEntries: 20, snapshotTrailingEntries: 5 },
      async (cluster) => {
        let leader = await cluster.leader();
        const indexOf = new Map<string, number>();
        const writeBatch = async (from: number, to: number): Promise<void> => {
          for (let start = from; start < to; start += 10) {
            const keys = Array.from(
              { length: Math.min(10, to - start) },
              (_, offset) => start + offset,
            );
            const results = await Promise.all(
              keys.map((key) => leader.put(`key-${key}`, `v${key}`)),
            );
            for (const [position, result] of results.entries()) {
              indexOf.set(`key-${keys[position]}`, result.index);
            }
          }
        };
        await writeBatch(0, total);
        const follower = followersOf(cluster, leader)[0] as RaftReplica;
        const followerId = follower.id;
        await waitFor('the follower to apply the first batch', async () =>
          (await follower.get(`key-${total - 1}`, { consistency: 'local' })).value === null
            ? undefined
            : true,
        );
        const followerLastIndex = follower.status().lastIndex;
        await cluster.stop(followerId);
        // The transport keeps messages for a peer that is down and delivers them when it
        // is back, so appends the leader sent meanwhile would let the follower catch up by
        // entries. A new leader starts the stopped follower in probe state and sends it
        // nothing more until it answers: it must then send a snapshot.
        const other = followersOf(cluster, leader)[0] as RaftReplica;
        leader = await cluster.transferLeadership(other.id);
        await writeBatch(total, 2 * total);
        const leaderStatus = leader.status();
        assert.ok(leaderStatus.snapshotIndex > 0, 'the leader took a snapshot');
        // The leader's log now starts after what the follower has: only a snapshot helps it.
        assert.ok(
          leaderStatus.snapshotIndex - 5 > followerLastIndex + 1,
          `leader snapshot ${leaderStatus.snapshotIndex}, follower last index ${followerLastIndex}`,
        );

        const reopened = await cluster.open(followerId);
        // Nothing arrives from the network before this continuation runs.
        const events: ReplicaEvent[] = [];
        reopened.onEvent((event) => {
          events.push(event);
        });
        await waitFor('the follower to catch up', async () =>
          (await reopened.get(`key-${2 * total - 1}`, { consistency: 'local' })).value === null
            ? undefined
            : true,
        );
        for (let key = 0; key < 2 * total; key += 1) {
          assert.equal(
            (await reopened.get(`key-${key}`, { consistency: 'local' })).value,
            `v${key}`,
            `key-${key} on the caught-up follower`,
          );
        }
        const installed = events.filter((event) => event.kind === 'snapshot-installed');
        assert.ok(
          installed.length >= 1,
          `no snapshot installed; events: ${JSON.stringify(events)}, follower ${JSON.stringify(reopened.status())}, before ${followerLastIndex}`,
        );
        assert.ok(reopened.status().snapshotIndex > followerLastIndex);

        // A restart recovers from its own snapshot: alone (no quorum, so nothing new is
        // committed), the replica serves locally every write its snapshot covers.
        const ids = [...cluster.replicas.keys()];
        await cluster.close();
        const alone = await cluster.open(followerId);
        const snapshotIndex = alone.status().snapshotIndex;
        assert.ok(snapshotIndex > 0);
        assert.ok(alone.status().appliedIndex >= snapshotIndex);
        let covered = 0;
        for (const [key, index] of indexOf) {
          if (index <= snapshotIndex) {
            covered += 1;
            assert.equal(
              (await alone.get(key, { consistency: 'local' })).value,
              `v${key.slice(4)}`,
            );
          }
        }
        assert.ok(covered > 0);
        await Promise.all(ids.filter((id) => id !== followerId).map((id) => cluster.open(id)));
        leader = await readyLeader(cluster);
        for (const each of cluster.replicas.values()) {
          assert.equal((await each.get('key-0')).value, 'v0');
          assert.equal((await each.get(`key-${2 * total - 1}`)).value, `v${2 * total - 1}`);
        }
      },
    );
  });

  it('membership: a joining node is added as a learner, promoted to voter, gets every key; removing a voter keeps the cluster committing', async () => {
    await withCluster(3, {}, async (cluster) => {
      let leader = await cluster.leader();
      for (let position = 0; position < keyCount; position += 1) {
        await leader.put(`member-${position}`, `${position}`);
      }
      const n4 = await cluster.join('n4');
      assert.equal(n4.status().membership.voters.length, 0, 'a joining node starts with no voters');

      const asLearner = await leader.changeMembership({
        voters: ['n1', 'n2', 'n3'],
        learners: ['n4'],
        addresses: { n4: cluster.address('n4') },
      });
      assert.ok(asLearner.index > 0);
      leader = await membershipSettled(cluster, ['n1', 'n2', 'n3'], ['n4']);
      assert.equal(leader.status().peers['n4'], cluster.address('n4'));
      await waitFor('the learner to get every key', async () =>
        (await n4.get(`member-${keyCount - 1}`, { consistency: 'local' })).value === null
          ? undefined
          : true,
      );

      await leader.changeMembership({ voters: ['n1', 'n2', 'n3', 'n4'] });
      leader = await membershipSettled(cluster, ['n1', 'n2', 'n3', 'n4'], []);
      await leader.put('after-promotion', 'yes');
      for (let position = 0; position < keyCount; position += 1) {
        assert.equal((await n4.get(`member-${position}`)).value, `${position}`);
      }
      assert.equal((await n4.get('after-promotion')).value, 'yes');
      // Every member learned n4's address through the log.
      for (const each of cluster.replicas.values()) {
        if (each.id !== 'n4') {
          assert.equal(each.status().peers['n4'], cluster.address('n4'));
        }
      }

      // Remove a voter that does not lead, stop it: three voters left, all running.
      const removed = ['n1', 'n2', 'n3'].find((id) => id !== leader.id) as string;
      const remaining = ['n1', 'n2', 'n3', 'n4'].filter((id) => id !== removed);
      await leader.changeMembership({ voters: remaining });
      leader = await membershipSettled(cluster, remaining, []);
      await cluster.stop(removed);
      leader = await cluster.leader();
      await leader.put('after-removal', 'committed');
      for (const id of remaining) {
        assert.equal(
          (await whenAvailable(() => replica(cluster, id).get('after-removal'))).value,
          'committed',
        );
      }
    });
  });

  it('transferLeadership moves the leader to the named node; refusals are typed', async () => {
    await withCluster(3, {}, async (cluster) => {
      const leader = await cluster.leader();
      await leader.put('before-transfer', '1');
      const target = followersOf(cluster, leader)[0] as RaftReplica;
      const other = followersOf(cluster, leader)[1] as RaftReplica;

      // Only the leader transfers; to itself there is nothing to do; to a non-voter it
      // refuses with a typed error that no retry can cure.
      const onFollower = await failureOf(() => other.transferLeadership(target.id));
      assert.ok(isReplicaUnavailableError(onFollower));
      assert.equal(onFollower.reason, 'no-leader');
      assert.equal(onFollower.leaderId, leader.id);
      await leader.transferLeadership(leader.id);
      assert.ok(isInvalidArgumentError(await failureOf(() => leader.transferLeadership('n9'))));
      assert.ok(isInvalidArgumentError(await failureOf(() => leader.transferLeadership(''))));

      await leader.transferLeadership(target.id);
      // (asks again if Raft dropped a transfer that did not finish in an election timeout)
      const moved = await cluster.transferLeadership(target.id);
      assert.equal(moved, target);
      assert.equal(leader.status().role, 'follower');
      const written = await whenAvailable(() => moved.put('after-transfer', '2'));
      assert.ok(written.index > 0);
      // Right after a transfer a follower's read may be refused as leader-changed
      // (nothing applied; retry is the documented answer).
      assert.equal((await whenAvailable(() => leader.get('after-transfer'))).value, '2');
      assert.equal((await whenAvailable(() => other.get('before-transfer'))).value, '1');
    });
  });

  it('a linearizable read right after an election answers (3 nodes restarted)', async () => {
    await withCluster(3, {}, async (cluster) => {
      const first = await cluster.leader();
      await first.put('k', 'v');
      const ids = [...cluster.replicas.keys()];
      await cluster.close();
      await Promise.all(ids.map((id) => cluster.open(id)));
      const leader = await cluster.leader();
      // The leader's empty entry of the new term is the last committed entry.
      await waitFor('the new leader to commit its empty entry', () =>
        leader.status().commitIndex === leader.status().lastIndex ? true : undefined,
      );
      const read = await settledWithin(
        whenAvailable(() => leader.get('k', { timeoutMs: 1_000 })),
        5_000,
      );
      assert.ok(read !== 'pending' && 'value' in read, `got ${JSON.stringify(read)}`);
      assert.equal(read.value.value, 'v');
    });
  });

  it('changeMembership refused by Raft (asked of a follower) rejects typed and leaves the replica running', async () => {
    await withCluster(3, {}, async (cluster) => {
      const leader = await cluster.leader();
      await leader.put('k', 'v');
      const follower = followersOf(cluster, leader)[0] as RaftReplica;
      const stops: unknown[] = [];
      follower.onEvent((event) => {
        if (event.kind === 'stopped') {
          stops.push(event.error);
        }
      });
      const outcome = await settledWithin(
        follower.changeMembership({ voters: ['n1', 'n2', 'n3'] }),
        3_000,
      );
      assert.notEqual(outcome, 'pending', 'changeMembership on a follower never settled');
      assert.ok(outcome !== 'pending' && 'error' in outcome);
      assert.ok(isReplicaUnavailableError(outcome.error), `got ${String(outcome.error)}`);
      assert.deepEqual(stops, [], 'the follower stopped');
      assert.equal(outcome.error.reason, 'no-leader');
      assert.equal(outcome.error.leaderId, leader.id);
      // Still serving: a linearizable read through it answers.
      assert.equal((await follower.get('k')).value, 'v');
      assert.equal(follower.status().pendingRequestCount, 0);
    });
  });

  it('the leader refuses a second membership change while the first is pending, typed, and keeps running', async () => {
    await withCluster(3, {}, async (cluster) => {
      const leader = await cluster.leader();
      await leader.put('k', 'v');
      const changes = await Promise.all([
        settledWithin(leader.changeMembership({ voters: ['n1', 'n2', 'n3'] }), 5_000),
        settledWithin(leader.changeMembership({ voters: ['n1', 'n2', 'n3'] }), 5_000),
      ]);
      const [first, second] = changes;
      assert.ok(first !== 'pending' && 'value' in first, `first: ${JSON.stringify(first)}`);
      assert.ok(second !== 'pending' && 'error' in second, `second: ${JSON.stringify(second)}`);
      assert.ok(isReplicaUnavailableError(second.error), `got ${String(second.error)}`);
      assert.equal(second.error.reason, 'config-change-pending');
      assert.equal(leader.status().pendingRequestCount, 0);
      await membershipSettled(cluster, ['n1', 'n2', 'n3'], []);
      assert.equal((await leader.put('k', 'w')).previous, 'v');
    });
  });

  it('changeMembership refused on a follower applies nothing', async () => {
    await withCluster(3, {}, async (cluster) => {
      const leader = await cluster.leader();
      await leader.put('k', 'v');
      const [follower, other] = followersOf(cluster, leader) as [RaftReplica, RaftReplica];
      const refused = await failureOf(() =>
        follower.changeMembership({ voters: [leader.id, follower.id] }),
      );
      assert.ok(isReplicaUnavailableError(refused), `got ${String(refused)}`);
      // A write through the same follower travels after anything it forwarded before,
      // on the same connection: once it is applied on the leader, so would the change be.
      await follower.put('marker', 'after');
      assert.equal((await leader.get('marker')).value, 'after');
      const { membership } = leader.status();
      assert.deepEqual(
        { voters: [...membership.voters].sort(), outgoing: membership.votersOutgoing },
        { voters: [leader.id, follower.id, other.id].sort(), outgoing: [] },
        'the refused change was applied',
      );
    });
  });
});

describe('RaftReplica: bad input and limits', () => {
  it('open rejects missing or invalid options with InvalidArgumentError', async () => {
    const folder = temporaryFolder();
    try {
      const valid: RaftReplicaOptions = {
        id: 'n1',
        peers: { n1: { host: '127.0.0.1', port: 0 } },
        directory: join(folder.path, 'n1'),
        secret: testSecret,
        tickMs: 10,
      };
      const cases: [string, unknown][] = [
        ['no options', undefined],
        ['null options', null],
        ['no id', { ...valid, id: undefined }],
        ['empty id', { ...valid, id: '' }],
        ['own id not in peers', { ...valid, id: 'n9' }],
        ['no directory', { ...valid, directory: undefined }],
        ['tickMs 0', { ...valid, tickMs: 0 }],
        ['tickMs not an integer', { ...valid, tickMs: 1.5 }],
        ['negative requestTimeoutMs', { ...valid, requestTimeoutMs: -1 }],
        ['requestTimeoutMs 0', { ...valid, requestTimeoutMs: 0 }],
        ['pendingRequestCountMax 0', { ...valid, pendingRequestCountMax: 0 }],
        ['snapshotEveryEntries 0', { ...valid, snapshotEveryEntries: 0 }],
        ['negative snapshotTrailingEntries', { ...valid, snapshotTrailingEntries: -1 }],
        ['keyBytesMax 0', { ...valid, keyBytesMax: 0 }],
        ['negative valueBytesMax', { ...valid, valueBytesMax: -1 }],
        ['no secret and no tls', { ...valid, secret: undefined }],
        ['a short secret', { ...valid, secret: 'short' }],
        ['a bad port', { ...valid, peers: { n1: { host: '127.0.0.1', port: 70_000 } } }],
        ['peers not an object', { ...valid, peers: 'n1=127.0.0.1:0' }],
        [
          'heartbeatTicks not below electionTicks',
          { ...valid, electionTicks: 5, heartbeatTicks: 5 },
        ],
        ['electionTicks 0', { ...valid, electionTicks: 0 }],
      ];
      for (const [name, options] of cases) {
        const error = await failureOf(() => RaftReplica.open(options as RaftReplicaOptions));
        assert.ok(isInvalidArgumentError(error), `${name}: got ${String(error)}`);
      }
      // The folder is still usable after all those refusals.
      const replica = await RaftReplica.open(valid);
      try {
        assert.equal((await replica.put('k', 'v')).previous, null);
      } finally {
        await replica.close();
      }
    } finally {
      folder.remove();
    }
  });

  it('open without peers rejects with InvalidArgumentError', async () => {
    const folder = temporaryFolder();
    try {
      const error = await failureOf(() =>
        RaftReplica.open({
          id: 'n1',
          directory: join(folder.path, 'n1'),
          secret: testSecret,
        } as unknown as RaftReplicaOptions),
      );
      assert.ok(isInvalidArgumentError(error), `got ${String(error)}`);
    } finally {
      folder.remove();
    }
  });

  it('an open refused for its Raft options leaves no file open', {
    skip: process.platform !== 'linux',
  }, async () => {
    const folder = temporaryFolder();
    try {
      const options: RaftReplicaOptions = {
        id: 'n1',
        peers: { n1: { host: '127.0.0.1', port: 0 } },
        directory: join(folder.path, 'n1'),
        secret: testSecret,
        electionTicks: 5,
        heartbeatTicks: 5,
      };
      const openFiles = (): number => readdirSync('/proc/self/fd').length;
      // Warm up (first open loads modules, may open lasting handles).
      await failureOf(() => RaftReplica.open(options));
      const before = openFiles();
      for (let attempt = 0; attempt < 3; attempt += 1) {
        assert.ok(isInvalidArgumentError(await failureOf(() => RaftReplica.open(options))));
      }
      assert.equal(openFiles(), before, 'file descriptors leaked by refused opens');
    } finally {
      folder.remove();
    }
  });

  it('a linearizable read on a fresh one-node replica, before any write, answers', async () => {
    await withSingleReplica({}, async (replica) => {
      await waitFor('the replica to lead and commit', () =>
        replica.status().commitIndex === 1 ? true : undefined,
      );
      const read = await settledWithin(replica.get('k', { timeoutMs: 1_000 }), 5_000);
      assert.ok(
        read !== 'pending' && 'value' in read,
        `got ${String((read as { error?: unknown }).error)}`,
      );
      assert.deepEqual(read.value, { value: null, index: 1 });
    });
  });

  it('requests with bad keys, values or consistency fail with InvalidArgumentError', async () => {
    await withSingleReplica({ keyBytesMax: 8, valueBytesMax: 16 }, async (replica) => {
      const invalid: [string, () => unknown][] = [
        ['reserved key put', () => replica.put('\u0000distkit/x', 'v')],
        ['reserved key get', () => replica.get('\u0000distkit/peer/n1', { consistency: 'local' })],
        ['reserved key delete', () => replica.delete('\u0000distkit/x')],
        ['reserved key cas', () => replica.compareAndSet('\u0000distkit/x', null, 'v')],
        ['empty key', () => replica.put('', 'v')],
        ['key over keyBytesMax', () => replica.put('123456789', 'v')],
        ['multi-byte key over keyBytesMax', () => replica.put('ééééé', 'v')],
        ['value over valueBytesMax', () => replica.put('k', 'x'.repeat(17))],
        ['multi-byte value over valueBytesMax', () => replica.put('k', 'é'.repeat(9))],
        ['non-string value', () => replica.put('k', 42 as unknown as string)],
        ['null value', () => replica.put('k', null as unknown as string)],
        ['non-string key', () => replica.put(42 as unknown as string, 'v')],
        ['cas non-string value', () => replica.compareAndSet('k', null, 7 as unknown as string)],
        ['cas non-string expected', () => replica.compareAndSet('k', 7 as unknown as string, 'v')],
        ['cas expected too long', () => replica.compareAndSet('k', 'x'.repeat(17), 'v')],
        ['unknown consistency', () => replica.get('k', { consistency: 'eventual' as 'local' })],
        ['timeoutMs 0', () => replica.put('k', 'v', { timeoutMs: 0 })],
        ['membership with no voters', () => replica.changeMembership({ voters: [] })],
        [
          'membership with learners not an array',
          () => replica.changeMembership({ voters: ['n1'], learners: 'n2' as unknown as string[] }),
        ],
        [
          'membership with a bad address',
          () => replica.changeMembership({ voters: ['n1', 'n2'], addresses: { n2: 'nowhere' } }),
        ],
        [
          'membership with an unknown member',
          () => replica.changeMembership({ voters: ['n1', 'n2'] }),
        ],
      ];
      for (const [name, call] of invalid) {
        const error = await failureOf(call);
        assert.ok(isInvalidArgumentError(error), `${name}: got ${String(error)}`);
      }
      // The limits are inclusive and count UTF-8 bytes.
      await replica.put('12345678', 'x'.repeat(16));
      await replica.put('éééé', 'é'.repeat(8));
      await replica.put('empty', '');
      assert.equal((await replica.get('12345678')).value, 'x'.repeat(16));
      assert.equal((await replica.get('éééé')).value, 'é'.repeat(8));
      assert.equal((await replica.get('empty')).value, '');
      assert.equal(replica.status().pendingRequestCount, 0);
    });
  });

  it('after close every request rejects with ReplicaClosedError', async () => {
    await withSingleReplica({}, async (replica) => {
      await replica.put('k', 'v');
      // Closing fails (or, if it committed first, answers) a request still waiting.
      const inFlight = settledWithin(replica.put('late', 'v'), 5_000);
      await replica.close();
      const late = await inFlight;
      assert.notEqual(late, 'pending');
      if (late !== 'pending' && 'error' in late) {
        assert.ok(isReplicaClosedError(late.error), `got ${String(late.error)}`);
      }
      const calls: [string, () => unknown][] = [
        ['put', () => replica.put('k', 'w')],
        ['delete', () => replica.delete('k')],
        ['compareAndSet', () => replica.compareAndSet('k', 'v', 'w')],
        ['get linearizable', () => replica.get('k')],
        ['get lease', () => replica.get('k', { consistency: 'lease' })],
        ['get local', () => replica.get('k', { consistency: 'local' })],
        ['changeMembership', () => replica.changeMembership({ voters: ['n1'] })],
      ];
      for (const [name, call] of calls) {
        const error = await failureOf(call);
        assert.ok(isReplicaClosedError(error), `${name}: got ${String(error)}`);
      }
      await replica.close(); // closing twice is harmless
    });
  });

  it('transferLeadership after close rejects with ReplicaClosedError', async () => {
    await withSingleReplica({}, async (replica) => {
      await replica.close();
      const outcome = await settledWithin(replica.transferLeadership('n2'), 1_000);
      assert.notEqual(outcome, 'pending', 'transferLeadership after close never settled');
      assert.ok(outcome !== 'pending' && 'error' in outcome && isReplicaClosedError(outcome.error));
    });
  });

  it('pendingRequestCountMax 1 refuses a second concurrent request as overloaded', async () => {
    await withSingleReplica({ pendingRequestCountMax: 1 }, async (replica) => {
      await replica.put('warm', 'up');
      const first = replica.put('a', '1');
      const second = await failureOf(() => replica.put('b', '2'));
      assert.ok(isReplicaUnavailableError(second), `got ${String(second)}`);
      assert.equal(second.reason, 'overloaded');
      const read = await failureOf(() => replica.get('a'));
      assert.ok(isReplicaUnavailableError(read));
      assert.equal(read.reason, 'overloaded');
      // Local reads do not wait, so the limit does not apply to them.
      assert.equal((await replica.get('warm', { consistency: 'local' })).value, 'up');
      assert.equal((await first).previous, null);
      // Once the first is answered the next one is taken; the refused one was not applied.
      await replica.put('c', '3');
      assert.equal((await replica.get('b')).value, null);
      assert.equal((await replica.get('a')).value, '1');
    });
  });
});
