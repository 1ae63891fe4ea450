import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isInvalidArgumentError, ManualClock, SeededRandom } from '../../src/core/index.js';
import {
  type ConsensusMetrics,
  type ConsensusOptions,
  consensus,
  type ReplicaRequest,
} from '../../src/replication/index.js';
import { type FaultPlanOptions, runSeeds, seedsFromEnvironment } from '../../src/sim/index.js';
import { type ConsensusRun, measure } from './consensus-scenario.js';
import { runReplicationScenario } from './sim-harness.js';
import { assertLinearizableRuns, keyLinearizability, LinkedGroup } from './support.js';

/** A few cores whose messages a test passes by hand (or drops); every tick delivers. */
class Cluster extends LinkedGroup {
  constructor(options: ConsensusOptions = {}, ids: readonly string[] = ['r1', 'r2', 'r3']) {
    super({
      factory: consensus(options),
      ids,
      clock: new ManualClock(),
      seedOf: (id) => ids.indexOf(id) + 1,
      client: 'c',
    });
  }

  override exchange(roundsMax = 100): void {
    super.exchange(roundsMax);
  }

  /** Ticks the given replicas `count` times, delivering after each tick. */
  tick(ids: readonly string[] = [...this.cores.keys()], count = 1): void {
    for (let index = 0; index < count; index += 1) {
      this.clock.advanceMs(10);
      for (const id of ids) {
        this.cores.get(id)?.tick();
      }
      this.exchange();
    }
  }

  /** Ticks `ids` until one of `among` leads (at most 100 ticks); returns it. */
  elect(ids: readonly string[] = [...this.cores.keys()], among: readonly string[] = ids): string {
    for (let index = 0; index < 100; index += 1) {
      const leader = among.find((id) => this.metric(id, 'isLeader') === 1);
      if (leader !== undefined) {
        this.tick(ids, 2); // its first entry commits, so it serves reads
        return leader;
      }
      this.tick(ids);
    }
    throw new Error('no leader elected in 100 ticks');
  }

  metric(id: string, name: keyof ConsensusMetrics): number {
    return this.core(id).metrics()[name] as number;
  }
}

describe('consensus: a group driven by hand', () => {
  it('elects one leader, writes through it and reads linearizably at every replica', () => {
    const cluster = new Cluster();
    const leader = cluster.elect();
    assert.equal(
      cluster.ids.filter((id) => cluster.metric(id, 'isLeader') === 1).length,
      1,
      'one leader',
    );
    const write = cluster.write(leader, 'colour', 'blue');
    cluster.exchange();
    const answer = cluster.reply(write);
    assert.equal(answer?.status, 'ok');
    assert.equal(cluster.metric(leader, 'writesAcknowledged'), 1);
    for (const id of cluster.ids) {
      const read = cluster.read(id, 'colour');
      cluster.exchange();
      const reply = cluster.reply(read);
      assert.equal(reply?.status === 'ok' && reply.value, 'blue', `read at ${id}`);
    }
    const absent = cluster.read(leader, 'nothing');
    cluster.exchange();
    const none = cluster.reply(absent);
    assert.equal(none?.status === 'ok' && none.value, null);
    for (const id of cluster.ids) {
      assert.ok(cluster.metric(id, 'leaderChanges') >= 1, `${id} saw a leader`);
      assert.ok(cluster.metric(id, 'term') >= 1);
    }
  });

  it('a follower forwards a write to the leader and relays the answer', () => {
    const cluster = new Cluster();
    const leader = cluster.elect();
    const follower = cluster.ids.find((id) => id !== leader) as string;
    const write = cluster.write(follower, 'k', 'v1');
    cluster.exchange();
    const reply = cluster.reply(write);
    assert.equal(reply?.status, 'ok');
    assert.equal(cluster.metric(leader, 'writesAcknowledged'), 1);
    assert.equal(cluster.metric(follower, 'writesAcknowledged'), 0);
  });

  it('a replica with no leader refuses writes and reads unavailable', () => {
    const cluster = new Cluster();
    const write = cluster.write('r1', 'k', 'v');
    const read = cluster.read('r2', 'k');
    assert.equal(cluster.reply(write)?.status, 'unavailable');
    assert.equal(cluster.reply(read)?.status, 'unavailable');
  });

  it('a duplicated request applies once and is answered once', () => {
    const cluster = new Cluster();
    const leader = cluster.elect();
    const request: ReplicaRequest = {
      id: 'c:1:7',
      client: 'c',
      operation: { kind: 'write', key: 'k', value: 'v' },
    };
    cluster.core(leader).request(request);
    cluster.core(leader).request(request);
    cluster.exchange();
    assert.equal(cluster.replyLog.filter((envelope) => envelope.reply.id === 'c:1:7').length, 1);
    assert.equal(cluster.metric(leader, 'writesAcknowledged'), 1);
  });

  it('the minority side answers unavailable or unknown while the majority elects and serves', () => {
    const cluster = new Cluster({ requestTimeoutTicks: 20 }, ['r1', 'r2', 'r3', 'r4', 'r5']);
    const leader = cluster.elect();
    const ok = cluster.write(leader, 'k', 'before');
    cluster.exchange();
    assert.equal(cluster.reply(ok)?.status, 'ok');
    // The old leader and one follower on the minority side.
    const minority = [leader, cluster.ids.find((id) => id !== leader) as string];
    const majority = cluster.ids.filter((id) => !minority.includes(id));
    for (const left of minority) {
      for (const right of majority) {
        cluster.blocked.add(`${left}>${right}`);
        cluster.blocked.add(`${right}>${left}`);
      }
    }
    const stuck = cluster.write(leader, 'k', 'lost-or-not');
    const stuckRead = cluster.read(minority[1] as string, 'k');
    const newLeader = cluster.elect(cluster.ids, majority);
    assert.ok(majority.includes(newLeader), `the new leader ${newLeader} is on the majority side`);
    cluster.tick(cluster.ids, 20);
    assert.equal(cluster.reply(stuck)?.status, 'unknown', 'the old leader cannot know');
    assert.equal(cluster.reply(stuckRead)?.status, 'unavailable');
    for (const id of minority) {
      assert.equal(cluster.metric(id, 'isLeader'), 0, `${id} stepped down (check quorum)`);
      const write = cluster.write(id, 'k', `from ${id}`);
      const read = cluster.read(id, 'k');
      cluster.tick(cluster.ids, 21);
      assert.ok(
        ['unavailable', 'unknown'].includes(cluster.reply(write)?.status as string),
        `write at ${id}`,
      );
      assert.equal(cluster.reply(read)?.status, 'unavailable', `read at ${id}`);
    }
    for (const id of majority) {
      const write = cluster.write(id, 'k', `from ${id}`);
      cluster.exchange();
      assert.equal(cluster.reply(write)?.status, 'ok', `write at ${id}`);
      const read = cluster.read(id, 'k');
      cluster.exchange();
      const reply = cluster.reply(read);
      assert.equal(reply?.status === 'ok' && reply.value, `from ${id}`, `read at ${id}`);
    }
    // After the heal the old leader's unreplicated entry is replaced; everyone converges.
    cluster.heal();
    cluster.tick(cluster.ids, 5);
    const last = `from ${majority[majority.length - 1]}`;
    for (const id of cluster.ids) {
      const read = cluster.read(id, 'k');
      cluster.exchange();
      const reply = cluster.reply(read);
      assert.equal(reply?.status === 'ok' && reply.value, last, `read at ${id} after the heal`);
    }
  });

  it("a proposal whose position another leader's entry took is answered unavailable", () => {
    const cluster = new Cluster({ requestTimeoutTicks: 1_000 });
    const leader = cluster.elect();
    cluster.isolate(leader);
    const doomed = cluster.write(leader, 'k', 'doomed');
    const others = cluster.ids.filter((id) => id !== leader);
    const newLeader = cluster.elect(others);
    const kept = cluster.write(newLeader, 'k', 'kept');
    cluster.exchange();
    assert.equal(cluster.reply(kept)?.status, 'ok');
    assert.equal(cluster.reply(doomed), undefined, 'still waiting');
    cluster.heal();
    cluster.tick(cluster.ids, 5);
    const reply = cluster.reply(doomed);
    assert.equal(reply?.status, 'unavailable');
    assert.match((reply as { reason: string }).reason, /^overwritten/);
  });

  it('local reads report staleness, and refuse to go behind the session token', () => {
    const cluster = new Cluster();
    const leader = cluster.elect();
    const lagging = cluster.ids.find((id) => id !== leader) as string;
    cluster.isolate(lagging);
    const write = cluster.write(leader, 'k', 'v1');
    cluster.exchange();
    const written = cluster.reply(write);
    assert.equal(written?.status, 'ok');
    const session = (written as { session: string }).session;
    cluster.tick(
      cluster.ids.filter((id) => id !== lagging),
      3,
    );
    const behind = cluster.read(lagging, 'k', { settings: { localRead: true }, session });
    const refused = cluster.reply(behind);
    assert.equal(refused?.status, 'unavailable');
    assert.match((refused as { reason: string }).reason, /^behind-session/);
    const stale = cluster.read(lagging, 'k', { settings: { localRead: true } });
    const staleReply = cluster.reply(stale);
    assert.equal(staleReply?.status === 'ok' && staleReply.value, null);
    assert.equal(staleReply?.status === 'ok' && staleReply.stalenessMs, 30);
    cluster.heal();
    cluster.tick(cluster.ids, 2);
    const fresh = cluster.read(lagging, 'k', { settings: { localRead: true }, session });
    const freshReply = cluster.reply(fresh);
    assert.equal(freshReply?.status === 'ok' && freshReply.value, 'v1');
    assert.equal(freshReply?.status === 'ok' && freshReply.stalenessMs, 0);
    const atLeader = cluster.read(leader, 'k', { settings: { localRead: true }, session });
    const leaderReply = cluster.reply(atLeader);
    assert.equal(leaderReply?.status === 'ok' && leaderReply.stalenessMs, 0);
  });

  it('snapshots every snapshotEveryEntries, compacts, and restarts from the durable state', () => {
    const cluster = new Cluster({ snapshotEveryEntries: 5 });
    const leader = cluster.elect();
    for (let value = 1; value <= 12; value += 1) {
      cluster.write(leader, `k${value % 3}`, `v${value}`);
      cluster.exchange();
    }
    cluster.tick(cluster.ids, 2);
    for (const id of cluster.ids) {
      assert.ok(cluster.metric(id, 'snapshotsTaken') >= 2, `${id} took snapshots`);
      const state = cluster.core(id).durableState() as {
        snapshot: { metadata: { index: number } };
        entries: { index: number }[];
      };
      assert.ok(state.snapshot.metadata.index >= 10, `${id} snapshot index`);
      assert.ok((state.entries[0]?.index ?? 0) > 1, `${id} compacted its log`);
      assert.ok(state.entries.length <= 10, `${id} keeps at most two snapshots' worth`);
    }
    // Crash every replica at once; each restarts from its durable state alone.
    const saved = new Map(cluster.ids.map((id) => [id, cluster.core(id).durableState()]));
    cluster.inFlight = [];
    for (const id of cluster.ids) {
      const restarted = cluster.start(id, saved.get(id));
      assert.equal((restarted.metrics() as unknown as ConsensusMetrics).isLeader, 0);
    }
    const newLeader = cluster.elect();
    for (const id of cluster.ids) {
      const read = cluster.read(id, 'k0');
      cluster.exchange();
      const reply = cluster.reply(read);
      assert.equal(reply?.status === 'ok' && reply.value, 'v12', `read at ${id}`);
    }
    const write = cluster.write(newLeader, 'k1', 'after');
    cluster.exchange();
    assert.equal(cluster.reply(write)?.status, 'ok');
  });

  it('a replica far behind catches up by the leader sending its snapshot', () => {
    const cluster = new Cluster({ snapshotEveryEntries: 3 });
    const leader = cluster.elect();
    const behind = cluster.ids.find((id) => id !== leader) as string;
    cluster.isolate(behind);
    for (let value = 1; value <= 10; value += 1) {
      cluster.write(leader, 'k', `v${value}`);
      cluster.exchange();
    }
    cluster.heal();
    cluster.tick(cluster.ids, 5);
    assert.ok(cluster.metric(behind, 'appliedIndex') >= 11);
    assert.equal(cluster.metric(behind, 'snapshotsInstalled'), 1);
    const read = cluster.read(behind, 'k', { settings: { localRead: true } });
    const reply = cluster.reply(read);
    assert.equal(reply?.status === 'ok' && reply.value, 'v10');
  });

  it('past pendingRequestCountMax a request is refused overloaded', () => {
    const cluster = new Cluster({ pendingRequestCountMax: 2 });
    const leader = cluster.elect();
    cluster.isolate(leader);
    const ids = [1, 2, 3].map((value) => cluster.write(leader, 'k', `v${value}`));
    const third = cluster.reply(ids[2] as string);
    assert.equal(third?.status, 'unavailable');
    assert.match((third as { reason: string }).reason, /^overloaded/);
    assert.equal(cluster.reply(ids[0] as string), undefined);
  });

  it('ignores malformed peer messages and answers a bad request unavailable', () => {
    const cluster = new Cluster();
    const leader = cluster.elect();
    const follower = cluster.ids.find((id) => id !== leader) as string;
    const junk: unknown[] = [
      null,
      7,
      'raft',
      {},
      { kind: 'raft' },
      { kind: 'raft', raft: { type: 'append', from: leader, to: follower, term: 99 } },
      {
        kind: 'raft',
        raft: {
          type: 'heartbeat',
          from: 'someone-else',
          to: follower,
          term: 99,
          commitIndex: 0,
          context: null,
          sentAtTick: 0,
        },
      },
      { kind: 'forward', requestKey: 'x', client: 'c', id: 'y', key: 'k', value: 'v' },
      { kind: 'forward', requestKey: 'c|y', client: 'c', id: 'y', key: 5, value: 'v' },
      { kind: 'forward-reply', requestKey: 'c|y', reply: { status: 'ok', session: 'x' } },
      { kind: 'forward-reply', requestKey: 3, reply: { status: 'unknown', reason: 'r' } },
      { kind: 'mystery' },
    ];
    const termBefore = cluster.metric(follower, 'term');
    for (const message of junk) {
      cluster.core(follower).step(leader, message);
      cluster.core(leader).step(follower, message);
    }
    cluster.core(follower).step('stranger', { kind: 'raft', raft: {} });
    assert.equal(cluster.metric(follower, 'term'), termBefore);
    assert.ok(cluster.metric(follower, 'messagesIgnored') >= junk.length - 1);
    cluster.core(leader).request(null as unknown as ReplicaRequest);
    const bad = cluster.request(leader, { kind: 'write', key: 'k' } as ReplicaRequest['operation']);
    assert.equal(cluster.reply(bad)?.status, 'unavailable');
    const write = cluster.write(follower, 'k', 'v');
    cluster.exchange();
    assert.equal(cluster.reply(write)?.status, 'ok', 'the group still works');
  });

  it('names the wrong option and rejects a foreign durable state', () => {
    const cases: [unknown, string][] = [
      [{ electionTicks: 1 }, 'options.electionTicks'],
      [{ electionTicks: 5, heartbeatTicks: 5 }, 'options.heartbeatTicks'],
      [{ requestTimeoutTicks: 0 }, 'options.requestTimeoutTicks'],
      [{ snapshotEveryEntries: 1.5 }, 'options.snapshotEveryEntries'],
      [{ pendingRequestCountMax: -1 }, 'options.pendingRequestCountMax'],
    ];
    for (const [options, argument] of cases) {
      assert.throws(
        () => consensus(options as ConsensusOptions),
        (error: unknown) => isInvalidArgumentError(error) && error.argument === argument,
        argument,
      );
    }
    const base = { clock: new ManualClock(), random: new SeededRandom({ seed: 1 }), tickMs: 10 };
    assert.throws(
      () => consensus()({ ...base, id: 'a', replicas: ['b', 'c'] }),
      (error: unknown) => isInvalidArgumentError(error) && error.argument === 'options.replicas',
    );
    assert.throws(
      () => consensus()({ ...base, id: 'a', replicas: ['a', 'b'], durableState: { format: 'x' } }),
      (error: unknown) =>
        isInvalidArgumentError(error) && error.argument === 'options.durableState',
    );
  });
});

// ------------------------------------------------------------------ simulation

/** What one seeded run measured. */
interface Measured extends ConsensusRun {
  /**
   * Operations invoked, after the first ok, once every replica has had time to hear the
   * new leader (`leaderNewsMs`), that did not end ok.
   */
  readonly notOkAfterFirstLeader: number;
}

/**
 * How long after the first ok answer a follower may still not know the leader: the first
 * ok can come from the leader before its next heartbeat (every 10 ms tick) has reached the
 * other replicas, and a request a follower gets meanwhile is refused (seed 65 of the wide
 * sweep: a write to a follower 1.9 ms after the first ok). Five heartbeat intervals.
 */
const leaderNewsMs = 50;

const replayCommand = (seed: number): string =>
  `DISTKIT_SIM_SEED=${seed} node --import tsx --import ./scripts/fast-check-setup.mjs --test test/replication/consensus.test.ts`;

function measureConsensus(
  seed: number,
  faults: FaultPlanOptions | undefined,
  options: { replicaCount?: number; consensus?: ConsensusOptions } = {},
): Measured {
  // Every replica catches up for a second, then each one's whole state is read.
  const run = measure(
    seed,
    options.consensus ?? {},
    {
      ...(options.replicaCount === undefined ? {} : { replicaCount: options.replicaCount }),
      ...(faults === undefined ? {} : { faults }),
    },
    1_000,
  );
  const operations = run.result.workload.history.operations();
  const firstOkMs = Math.min(
    ...operations.filter((operation) => operation.status === 'ok').map((o) => o.invokeTime),
  );
  const notOkAfterFirstLeader = operations.filter(
    (operation) => operation.invokeTime > firstOkMs + leaderNewsMs && operation.status !== 'ok',
  ).length;
  return { ...run, notOkAfterFirstLeader };
}

function sweepConsensus(
  title: string,
  seeds: readonly number[],
  faults: FaultPlanOptions | undefined,
  options: { replicaCount?: number; consensus?: ConsensusOptions } = {},
): Measured[] {
  const runs = runSeeds({
    seeds: seedsFromEnvironment(process.env, seeds),
    replayCommand,
    scenario: (seed) => measureConsensus(seed, faults, options),
  }).map((run) => run.result);
  const total = (
    name: 'ok' | 'fail' | 'unknown' | 'lost' | 'leaderChanges' | 'snapshots' | 'snapshotsInstalled',
  ) => runs.reduce((sum, run) => sum + run[name], 0);
  console.log(
    `${title} (seeds ${runs.map((run) => run.seed).join(',')}): ok ${total('ok')} fail ${total('fail')} unknown ${total('unknown')} lost ${total('lost')} leader changes ${total('leaderChanges')} snapshots ${total('snapshots')} (installed ${total('snapshotsInstalled')}) keys not linearizable ${runs.reduce((sum, run) => sum + run.violations.length, 0)}`,
  );
  return runs;
}

/** Fails with the seed and the checker's explanation when a run is not linearizable or lost a write. */
function assertSafe(runs: readonly Measured[]): void {
  assertLinearizableRuns(runs, replayCommand);
  for (const run of runs) {
    assert.equal(
      run.lost,
      0,
      `seed ${run.seed} lost acknowledged writes; replay: ${replayCommand(run.seed)}`,
    );
  }
}

const replicaIds = ['r1', 'r2', 'r3'];

/** Partitions of every shape: a minority always stays cut off from a majority. */
const partitionFaults: FaultPlanOptions = {
  nodeIds: replicaIds,
  faultPhaseMs: 4_000,
  weights: { isolate: 2, split: 2, bridge: 1, 'block-one-way': 1 },
  intervalMsMean: 600,
  durationMsMin: 300,
  durationMsMax: 1_500,
};

/** Crashes (restart from the durable state), pauses and lossy or slow links. */
const nodeFaults: FaultPlanOptions = {
  nodeIds: replicaIds,
  faultPhaseMs: 4_000,
  weights: { crash: 2, pause: 2, loss: 1, clog: 1, 'latency-spike': 1 },
  crashCountMax: 1,
  intervalMsMean: 500,
  durationMsMin: 200,
  durationMsMax: 1_200,
};

/** Clock jumps, offsets and drift, with a partition now and then. */
const clockFaults: FaultPlanOptions = {
  nodeIds: replicaIds,
  faultPhaseMs: 4_000,
  weights: { 'clock-jump': 2, 'clock-offset': 1, 'clock-rate': 2, isolate: 1 },
  clockRateDeviationMax: 0.3,
  intervalMsMean: 400,
  durationMsMax: 1_500,
};

describe('consensus in the simulator', () => {
  it('healthy: every operation after the first election succeeds, and every history is linearizable', () => {
    const runs = sweepConsensus('healthy', [1, 2, 3], undefined);
    assertSafe(runs);
    for (const run of runs) {
      assert.equal(
        run.notOkAfterFirstLeader,
        0,
        `seed ${run.seed}: replay: ${replayCommand(run.seed)}`,
      );
    }
  });

  it('partitions: linearizable, no acknowledged write lost, and the majority keeps serving', () => {
    const runs = sweepConsensus('partitions', [1, 2, 3, 4, 5, 6], partitionFaults);
    assertSafe(runs);
    if (runs.length > 1) {
      assert.ok(
        runs.some((run) => run.fail + run.unknown > 0),
        'the minority side refused',
      );
      assert.ok(
        runs.some((run) => run.leaderChanges > 3),
        'leaders changed',
      );
    }
  });

  it('crashes, pauses, loss and slow links: linearizable, nothing acknowledged lost', () => {
    const runs = sweepConsensus('node faults', [1, 2, 3, 4, 5, 6], nodeFaults, {
      consensus: { snapshotEveryEntries: 5 },
    });
    assertSafe(runs);
    if (runs.length > 1) {
      assert.ok(
        runs.some((run) => run.snapshots > 0),
        'snapshots were taken',
      );
    }
  });

  it('clock faults: reads by read index stay linearizable whatever the clocks do', () => {
    const runs = sweepConsensus('clock faults', [1, 2, 3, 4], clockFaults);
    assertSafe(runs);
  });
});

describe('consensus availability in the simulator', () => {
  it('under a split the minority side serves nothing and the majority side keeps serving', () => {
    const splitAtMs = 500;
    const healAtMs = 3_500;
    const minority = ['r1', 'r2'];
    const majority = ['r3', 'r4', 'r5'];
    const clientCount = 6;
    /** Clients 0 and 3 talk to the minority side, the others to the majority side. */
    const sideOf = (process: number | string): 'minority' | 'majority' =>
      (Number(process) % clientCount) % 3 === 0 ? 'minority' : 'majority';
    const summaries = runSeeds({
      seeds: seedsFromEnvironment(process.env, [1, 2, 3, 4]),
      replayCommand,
      scenario: (seed) => {
        const result = runReplicationScenario({
          seed,
          factory: consensus(),
          replicaCount: 5,
          clientCount,
          operationCountMax: 400,
          client: {
            target: (operation, random) =>
              random.pick(sideOf(operation.process) === 'minority' ? minority : majority),
          },
          script: [
            {
              atMs: splitAtMs,
              fault: { kind: 'split', minority, durationMs: healAtMs - splitAtMs },
            },
          ],
          faultPhaseMs: 4_000,
        });
        const operations = result.workload.history.operations();
        const { violations } = keyLinearizability(operations);
        assert.deepEqual(violations, [], `seed ${seed}; replay: ${replayCommand(seed)}`);
        // Invoked after the split and answered (500 ms at most) before the heal.
        const during = operations.filter(
          (operation) => operation.invokeTime >= splitAtMs && operation.invokeTime < healAtMs - 500,
        );
        const count = (side: 'minority' | 'majority', ok: boolean, afterMs = splitAtMs) =>
          during.filter(
            (operation) =>
              sideOf(operation.process) === side &&
              (operation.status === 'ok') === ok &&
              operation.invokeTime >= afterMs,
          ).length;
        // An election takes up to two election timeouts after the last heartbeat.
        const electedByMs = splitAtMs + 500;
        return {
          seed,
          minorityOk: count('minority', true),
          minorityNotOk: count('minority', false),
          majorityOk: count('majority', true, electedByMs),
          majorityNotOk: count('majority', false, electedByMs),
        };
      },
    }).map((run) => run.result);
    console.log(`split 2 of 5 for 3 s: ${JSON.stringify(summaries)}`);
    for (const summary of summaries) {
      assert.equal(summary.minorityOk, 0, `seed ${summary.seed}: the minority served a request`);
      assert.ok(summary.minorityNotOk > 0, `seed ${summary.seed}: the minority side was asked`);
      assert.ok(summary.majorityOk > 0, `seed ${summary.seed}`);
      assert.equal(
        summary.majorityNotOk,
        0,
        `seed ${summary.seed}: the majority side refused once it had a leader; replay: ${replayCommand(summary.seed)}`,
      );
    }
  });
});
