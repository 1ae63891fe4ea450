/**
 * distkit/sim: how many messages per second of wall time the simulator delivers for a
 * five-node gossip workload (the issue asks for at least 1,000,000), side by side with
 * what a Node.js team would write instead for an in-process multi-node test.
 *
 * No deterministic cluster simulator exists on npm to compare with, so the peers are:
 *
 * - an in-process cluster whose nodes pass messages through `queueMicrotask`, and one
 *   whose nodes are EventEmitters reached through `setImmediate`: no time model, and the
 *   order of deliveries is whatever the event loop makes of it;
 * - a hand-rolled discrete-event loop over an array kept sorted on insert (binary search
 *   and `splice`, `shift` to take the next event), and one that pushes and calls
 *   `Array.prototype.sort` before every step, as a quick simulator is first written.
 *
 * Every case runs the same gossip: five nodes, 500 rumours started at once (100 per
 * node), and each node that receives a rumour forwards it to one peer drawn at random,
 * until 200,000 messages have been sent in all; so 500 messages are in flight all along.
 * Every node draws its peers from a distkit `SeededRandom` stream, and the hand-rolled
 * loops draw latency (uniform 1-5 ms, distkit's default) and loss from a stream derived
 * exactly as the simulator derives its own, in the same order: they replay the same run
 * as distkit, delivery for delivery, which the checks before measuring confirm through a
 * checksum of the delivery order. The node code is written out once per case, so no two
 * cases share JIT type feedback through it.
 *
 * Variants: heartbeat timers with 1% loss (distkit against the sorted-array loop, which
 * replays the same run), payload hashing in the trace (distkit against itself without it),
 * and the plain gossip with a forced full garbage collection before every run.
 *
 * One iteration is one whole run from an empty simulation; the unit is a delivered
 * message. Run with `npm run bench sim`; see bench/README.md for what the figures mean.
 */

import { strict as assert } from 'node:assert';
import { EventEmitter } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { SeededRandom } from 'distkit/core';
import { Simulation, type TraceOptions } from 'distkit/sim';
import { runBenchmarks } from './harness.js';

const seed = 1;
const nodeIds: readonly string[] = ['n1', 'n2', 'n3', 'n4', 'n5'];
/** Rumours started at time 0, spread round robin over the nodes. */
const rumourCount = 500;
/** Messages sent per run, rumours and heartbeats alike. */
const messageCount = 200_000;
/** distkit's default link latency: uniform between 1 and 5 ms. */
const latencyMsMin = 1;
const latencyMsMax = 5;
/** The heartbeat variant: every node ticks every millisecond of its clock... */
const heartbeatEveryMs = 1;
/** ...sends a heartbeat to every peer, and starts a new rumour with this probability... */
const newRumourProbability = 0.2;
/** ...and every link loses this share of messages. */
const lossProbability = 0.01;
/** The requirement, in delivered messages per second of wall time. */
const targetMessagesPerSecond = 1_000_000;

interface GossipMessage {
  readonly kind: 'rumour' | 'heartbeat';
  /** The rumour's id, or the sender's tick number for a heartbeat. */
  readonly id: number;
  /** How many times the rumour was forwarded; 0 for a heartbeat. */
  readonly hops: number;
}

/** What a run returns: the deliveries, and a checksum of their order. */
interface RunResult {
  readonly delivered: number;
  readonly checksum: number;
}

/**
 * Folds one delivery into the order checksum: which rumour (or tick), its hop count and
 * the receiver. Every case does exactly this per delivery.
 */
function fold(checksum: number, message: GossipMessage, receiverIndex: number): number {
  return (Math.imul(checksum ^ message.hops, 31) + message.id * 8 + receiverIndex) | 0;
}

function peersOf(id: string): string[] {
  return nodeIds.filter((other) => other !== id);
}

/** The streams the simulator derives from its seed, derived here the same way. */
function kernelRandom(): SeededRandom {
  return new SeededRandom({ seed }).fork('kernel');
}

// ---------------------------------------------------------------------------------------
// distkit

/** Plain gossip on distkit's simulator; `trace` as in the simulation options. */
function distkitGossip(trace: TraceOptions | undefined): RunResult {
  const simulation = new Simulation(trace === undefined ? { seed } : { seed, trace });
  let sendsLeft = messageCount;
  let checksum = 0;
  nodeIds.forEach((id, index) => {
    simulation.addNode({
      id,
      program: (host) => {
        const peers = peersOf(host.id);
        const random = host.random;
        for (let rumour = index; rumour < rumourCount; rumour += nodeIds.length) {
          sendsLeft -= 1;
          host.send(peers[random.integer(0, peers.length - 1)] as string, {
            kind: 'rumour',
            id: rumour,
            hops: 0,
          } satisfies GossipMessage);
        }
        return {
          onMessage(_from: string, message: unknown): void {
            const rumour = message as GossipMessage;
            checksum = fold(checksum, rumour, index);
            if (sendsLeft > 0) {
              sendsLeft -= 1;
              host.send(peers[random.integer(0, peers.length - 1)] as string, {
                kind: 'rumour',
                id: rumour.id,
                hops: rumour.hops + 1,
              } satisfies GossipMessage);
            }
          },
        };
      },
    });
  });
  simulation.runUntilIdle();
  return { delivered: simulation.statistics.messagesDelivered, checksum };
}

/** Gossip plus a heartbeat timer per node, new rumours on ticks, and 1% loss. */
function distkitHeartbeats(): RunResult {
  const simulation = new Simulation({ seed, network: { lossProbability } });
  let sendsLeft = messageCount;
  let checksum = 0;
  nodeIds.forEach((id, index) => {
    simulation.addNode({
      id,
      program: (host) => {
        const peers = peersOf(host.id);
        const random = host.random;
        const lastHeardMs = new Map<string, number>();
        let nextRumour = rumourCount + index;
        let tick = 0;
        for (let rumour = index; rumour < rumourCount; rumour += nodeIds.length) {
          sendsLeft -= 1;
          host.send(peers[random.integer(0, peers.length - 1)] as string, {
            kind: 'rumour',
            id: rumour,
            hops: 0,
          } satisfies GossipMessage);
        }
        const beat = (): void => {
          tick += 1;
          for (const peer of peers) {
            if (sendsLeft <= 0) {
              return;
            }
            sendsLeft -= 1;
            host.send(peer, { kind: 'heartbeat', id: tick, hops: 0 } satisfies GossipMessage);
          }
          if (random.float() < newRumourProbability && sendsLeft > 0) {
            sendsLeft -= 1;
            host.send(peers[random.integer(0, peers.length - 1)] as string, {
              kind: 'rumour',
              id: nextRumour,
              hops: 0,
            } satisfies GossipMessage);
            nextRumour += nodeIds.length;
          }
          host.scheduler.schedule(heartbeatEveryMs, beat);
        };
        host.scheduler.schedule(heartbeatEveryMs, beat);
        return {
          onMessage(from: string, message: unknown): void {
            const gossip = message as GossipMessage;
            checksum = fold(checksum, gossip, index);
            if (gossip.kind === 'heartbeat') {
              lastHeardMs.set(from, host.clock.nowMs());
              return;
            }
            if (sendsLeft > 0) {
              sendsLeft -= 1;
              host.send(peers[random.integer(0, peers.length - 1)] as string, {
                kind: 'rumour',
                id: gossip.id,
                hops: gossip.hops + 1,
              } satisfies GossipMessage);
            }
          },
        };
      },
    });
  });
  simulation.runUntilIdle();
  return { delivered: simulation.statistics.messagesDelivered, checksum };
}

// ---------------------------------------------------------------------------------------
// Peers: an in-process cluster without a time model

interface ClusterNode {
  onMessage(from: string, message: GossipMessage): void;
}

/** Nodes call each other through `queueMicrotask`; resolves when every message arrived. */
function microtaskCluster(): Promise<RunResult> {
  return new Promise((resolve) => {
    const root = kernelRandom();
    const nodes = new Map<string, ClusterNode>();
    let sendsLeft = messageCount;
    let delivered = 0;
    let checksum = 0;
    const send = (from: string, to: string, message: GossipMessage): void => {
      queueMicrotask(() => {
        (nodes.get(to) as ClusterNode).onMessage(from, message);
      });
    };
    nodeIds.forEach((id, index) => {
      const peers = peersOf(id);
      const random = root.fork(`node:${id}`);
      nodes.set(id, {
        onMessage(_from: string, message: GossipMessage): void {
          delivered += 1;
          checksum = fold(checksum, message, index);
          if (sendsLeft > 0) {
            sendsLeft -= 1;
            send(id, peers[random.integer(0, peers.length - 1)] as string, {
              kind: 'rumour',
              id: message.id,
              hops: message.hops + 1,
            });
          } else if (delivered === messageCount) {
            resolve({ delivered, checksum });
          }
        },
      });
    });
    nodeIds.forEach((id, index) => {
      const peers = peersOf(id);
      const random = root.fork(`node:${id}`);
      for (let rumour = index; rumour < rumourCount; rumour += nodeIds.length) {
        sendsLeft -= 1;
        send(id, peers[random.integer(0, peers.length - 1)] as string, {
          kind: 'rumour',
          id: rumour,
          hops: 0,
        });
      }
    });
  });
}

/** Each node is an EventEmitter; a send emits 'message' on the receiver in `setImmediate`. */
function immediateEmitterCluster(): Promise<RunResult> {
  return new Promise((resolve) => {
    const root = kernelRandom();
    const nodes = new Map<string, EventEmitter>();
    let sendsLeft = messageCount;
    let delivered = 0;
    let checksum = 0;
    const send = (from: string, to: string, message: GossipMessage): void => {
      setImmediate(() => {
        (nodes.get(to) as EventEmitter).emit('message', from, message);
      });
    };
    const randoms = nodeIds.map((id) => root.fork(`node:${id}`));
    nodeIds.forEach((id, index) => {
      const peers = peersOf(id);
      const random = randoms[index] as SeededRandom;
      const node = new EventEmitter();
      node.on('message', (_from: string, message: GossipMessage) => {
        delivered += 1;
        checksum = fold(checksum, message, index);
        if (sendsLeft > 0) {
          sendsLeft -= 1;
          send(id, peers[random.integer(0, peers.length - 1)] as string, {
            kind: 'rumour',
            id: message.id,
            hops: message.hops + 1,
          });
        } else if (delivered === messageCount) {
          resolve({ delivered, checksum });
        }
      });
      nodes.set(id, node);
    });
    nodeIds.forEach((id, index) => {
      const peers = peersOf(id);
      const random = randoms[index] as SeededRandom;
      for (let rumour = index; rumour < rumourCount; rumour += nodeIds.length) {
        sendsLeft -= 1;
        send(id, peers[random.integer(0, peers.length - 1)] as string, {
          kind: 'rumour',
          id: rumour,
          hops: 0,
        });
      }
    });
  });
}

// ---------------------------------------------------------------------------------------
// Peers: hand-rolled discrete-event loops

interface LoopEvent {
  readonly timeMs: number;
  readonly sequence: number;
  readonly run: () => void;
}

/** Events in an array sorted by (time, sequence): binary search and splice in, shift out. */
class SortedArrayLoop {
  nowMs = 0;
  #sequence = 0;
  readonly #events: LoopEvent[] = [];

  schedule(delayMs: number, run: () => void): void {
    const event: LoopEvent = { timeMs: this.nowMs + delayMs, sequence: this.#sequence, run };
    this.#sequence += 1;
    const events = this.#events;
    // Upper bound on time: an event goes behind every event due at the same instant.
    let low = 0;
    let high = events.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((events[middle] as LoopEvent).timeMs <= event.timeMs) {
        low = middle + 1;
      } else {
        high = middle;
      }
    }
    events.splice(low, 0, event);
  }

  runUntilIdle(): void {
    const events = this.#events;
    while (events.length > 0) {
      const event = events.shift() as LoopEvent;
      this.nowMs = event.timeMs;
      event.run();
    }
  }
}

/** Events pushed, then the array sorted by (time, sequence) before every step. */
class SortEachStepLoop {
  nowMs = 0;
  #sequence = 0;
  readonly #events: LoopEvent[] = [];

  schedule(delayMs: number, run: () => void): void {
    this.#events.push({ timeMs: this.nowMs + delayMs, sequence: this.#sequence, run });
    this.#sequence += 1;
  }

  runUntilIdle(): void {
    const events = this.#events;
    while (events.length > 0) {
      events.sort((a, b) => a.timeMs - b.timeMs || a.sequence - b.sequence);
      const event = events.shift() as LoopEvent;
      this.nowMs = event.timeMs;
      event.run();
    }
  }
}

/** A hand-rolled event loop: what a quick simulator of one's own looks like. */
interface HandRolledLoop {
  readonly nowMs: number;
  schedule(delayMs: number, run: () => void): void;
  runUntilIdle(): void;
}

/**
 * Gossip on a hand-rolled `loop`, plain or with heartbeats and loss: the same run as
 * distkit's, drawing latency and loss in the simulator's order.
 */
function handRolledGossip(loop: HandRolledLoop, heartbeats: boolean): RunResult {
  const root = kernelRandom();
  const network = root.fork('network');
  const nodes = new Map<string, ClusterNode>();
  let sendsLeft = messageCount;
  let delivered = 0;
  let checksum = 0;
  const send = (from: string, to: string, message: GossipMessage): void => {
    // The simulator's order of draws: loss first (only when there is loss), then latency.
    if (heartbeats && network.float() < lossProbability) {
      return;
    }
    loop.schedule(latencyMsMin + network.float() * (latencyMsMax - latencyMsMin), () => {
      delivered += 1;
      (nodes.get(to) as ClusterNode).onMessage(from, message);
    });
  };
  const randoms = nodeIds.map((id) => root.fork(`node:${id}`));
  const beats: (() => void)[] = [];
  nodeIds.forEach((id, index) => {
    const peers = peersOf(id);
    const random = randoms[index] as SeededRandom;
    const lastHeardMs = new Map<string, number>();
    let nextRumour = rumourCount + index;
    let tick = 0;
    const beat = (): void => {
      tick += 1;
      for (const peer of peers) {
        if (sendsLeft <= 0) {
          return;
        }
        sendsLeft -= 1;
        send(id, peer, { kind: 'heartbeat', id: tick, hops: 0 });
      }
      if (random.float() < newRumourProbability && sendsLeft > 0) {
        sendsLeft -= 1;
        send(id, peers[random.integer(0, peers.length - 1)] as string, {
          kind: 'rumour',
          id: nextRumour,
          hops: 0,
        });
        nextRumour += nodeIds.length;
      }
      loop.schedule(heartbeatEveryMs, beat);
    };
    beats.push(beat);
    nodes.set(id, {
      onMessage(from: string, message: GossipMessage): void {
        checksum = fold(checksum, message, index);
        if (message.kind === 'heartbeat') {
          lastHeardMs.set(from, loop.nowMs);
          return;
        }
        if (sendsLeft > 0) {
          sendsLeft -= 1;
          send(id, peers[random.integer(0, peers.length - 1)] as string, {
            kind: 'rumour',
            id: message.id,
            hops: message.hops + 1,
          });
        }
      },
    });
  });
  nodeIds.forEach((id, index) => {
    const peers = peersOf(id);
    const random = randoms[index] as SeededRandom;
    for (let rumour = index; rumour < rumourCount; rumour += nodeIds.length) {
      sendsLeft -= 1;
      send(id, peers[random.integer(0, peers.length - 1)] as string, {
        kind: 'rumour',
        id: rumour,
        hops: 0,
      });
    }
    if (heartbeats) {
      loop.schedule(heartbeatEveryMs, beats[index] as () => void);
    }
  });
  loop.runUntilIdle();
  return { delivered, checksum };
}

const sortedArrayGossip = (): RunResult => handRolledGossip(new SortedArrayLoop(), false);
const sortEachStepGossip = (): RunResult => handRolledGossip(new SortEachStepLoop(), false);
const sortedArrayHeartbeats = (): RunResult => handRolledGossip(new SortedArrayLoop(), true);

// ---------------------------------------------------------------------------------------
// Checks before measuring: every case does the whole workload, and the hand-rolled loops
// replay distkit's run exactly.

const plain = distkitGossip(undefined);
assert.equal(plain.delivered, messageCount, 'distkit delivers every message sent');
assert.deepEqual(distkitGossip({ hashPayloads: true }), plain, 'payload hashing changes no run');
assert.deepEqual(sortedArrayGossip(), plain, 'the sorted-array loop replays the same run');
assert.deepEqual(sortEachStepGossip(), plain, 'the sort-each-step loop replays the same run');
assert.equal((await microtaskCluster()).delivered, messageCount);
assert.equal((await immediateEmitterCluster()).delivered, messageCount);
const lossy = distkitHeartbeats();
assert.ok(
  lossy.delivered < messageCount && lossy.delivered > messageCount * 0.97,
  `about 1% of the heartbeat variant's messages are lost (delivered ${lossy.delivered})`,
);
assert.deepEqual(sortedArrayHeartbeats(), lossy, 'the sorted-array loop replays the same run');

const deliveredUnit = (count: number) => ({ name: 'message', countPerIteration: count });

const titles = {
  gossip: `Gossip: 5 nodes, ${rumourCount} rumours in flight, forward each to a random peer, ${messageCount.toLocaleString('en-US')} messages, latency uniform 1-5 ms`,
  heartbeats: `Gossip + heartbeats: as above, plus a ${heartbeatEveryMs} ms heartbeat timer per node (heartbeat to every peer, a new rumour with p=${newRumourProbability}), ${lossProbability * 100}% loss; ${lossy.delivered.toLocaleString('en-US')} of ${messageCount.toLocaleString('en-US')} delivered`,
  hashPayloads:
    'Gossip with trace: { hashPayloads: true } (every payload JSON-serialised into the trace hash)',
  fullGc:
    'Gossip as in the first comparison, with a full garbage collection (untimed) before every run',
};

const report = await runBenchmarks({
  module: 'sim',
  comparisons: [
    {
      title: titles.gossip,
      distkit: { name: 'distkit Simulation', run: () => distkitGossip(undefined) },
      peers: [
        { name: 'in-process cluster, queueMicrotask', run: microtaskCluster },
        { name: 'in-process cluster, EventEmitter + setImmediate', run: immediateEmitterCluster },
        { name: 'hand-rolled loop, sorted array (splice in, shift out)', run: sortedArrayGossip },
        { name: 'hand-rolled loop, Array.prototype.sort per step', run: sortEachStepGossip },
      ],
      unit: deliveredUnit(messageCount),
      timeBudgetMs: 2_400,
      sampleCountMin: 6,
    },
    {
      title: titles.heartbeats,
      distkit: { name: 'distkit Simulation', run: distkitHeartbeats },
      peers: [
        {
          name: 'hand-rolled loop, sorted array (splice in, shift out)',
          run: sortedArrayHeartbeats,
        },
      ],
      unit: deliveredUnit(lossy.delivered),
      timeBudgetMs: 2_400,
      sampleCountMin: 6,
    },
    {
      title: titles.hashPayloads,
      distkit: {
        name: 'distkit Simulation, hashPayloads: true',
        run: () => distkitGossip({ hashPayloads: true }),
      },
      peers: [{ name: 'distkit Simulation, default trace', run: () => distkitGossip(undefined) }],
      unit: deliveredUnit(messageCount),
      timeBudgetMs: 2_400,
      sampleCountMin: 6,
    },
    {
      // A forced full collection between runs, while no simulation is alive, lets V8 free
      // the hidden classes of the previous run's events, and with them the optimised code
      // that depends on them: each run then starts by re-optimising the kernel. This
      // comparison shows what that costs; the ones above let V8 collect when it likes.
      title: titles.fullGc,
      distkit: { name: 'distkit Simulation', run: () => distkitGossip(undefined) },
      peers: [
        { name: 'hand-rolled loop, sorted array (splice in, shift out)', run: sortedArrayGossip },
      ],
      unit: deliveredUnit(messageCount),
      timeBudgetMs: 1_500,
      sampleCountMin: 6,
      gcBeforeEachSample: true,
    },
  ],
});

const targets = report.comparisons.map((comparison) => {
  const distkit = comparison.cases[0];
  const messagesPerSecond = 1e9 / (distkit?.meanNsPerUnit ?? Number.NaN);
  return {
    title: comparison.title,
    case: distkit?.name ?? '',
    messagesPerSecond: Number(messagesPerSecond.toPrecision(4)),
    targetMessagesPerSecond,
    overTarget: Number((messagesPerSecond / targetMessagesPerSecond).toPrecision(4)),
  };
});

console.log(
  `\nAgainst the issue's target of ${targetMessagesPerSecond.toLocaleString('en-US')} delivered messages per second of wall time:`,
);
for (const target of targets) {
  console.log(
    `  ${target.case}: ${target.messagesPerSecond.toLocaleString('en-US')} messages/s = ` +
      `${target.overTarget}x the target (${target.title.split(':')[0]})`,
  );
}

// The harness has written the results file; add the figures against the target to it.
const resultsPath = new URL('./results/sim.json', import.meta.url);
const written = JSON.parse(readFileSync(resultsPath, 'utf8')) as Record<string, unknown>;
written['target'] = {
  note: 'The issue asks for at least 1,000,000 delivered messages per second of wall time on a five-node gossip workload. messagesPerSecond = 1e9 / meanNsPerUnit of the distkit case (unit: a delivered message); overTarget = messagesPerSecond / 1,000,000.',
  comparisons: targets,
};
writeFileSync(resultsPath, `${JSON.stringify(written, null, 2)}\n`);
