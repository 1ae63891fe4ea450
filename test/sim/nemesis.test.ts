import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isInvalidArgumentError, SeededRandom } from '../../src/core/index.js';
import {
  checkLiveness,
  type FaultPlanOptions,
  type LinkBaseline,
  Nemesis,
  type NemesisOptions,
  type NodeHost,
  type NodeProgram,
  planFaults,
  type ScheduledFault,
  Simulation,
} from '../../src/sim/index.js';
import {
  blockedPairs as blockedPairsAmong,
  type LoggingCluster,
  loggingCluster,
} from './support.js';

const five = ['n1', 'n2', 'n3', 'n4', 'n5'];
const latencyMs = 10;

/** Replies to every message with the same message. */
class Echo implements NodeProgram {
  constructor(readonly host: NodeHost) {}
  onMessage(from: string, message: unknown): void {
    this.host.send(from, message);
  }
}

/** A client that pings every server every `periodMs` and counts the replies. */
class Pinger implements NodeProgram {
  replyCount = 0;

  constructor(
    readonly host: NodeHost,
    periodMs: number,
  ) {
    const tick = (): void => {
      for (const id of host.nodeIds) {
        host.send(id, 'ping');
      }
      host.scheduler.schedule(periodMs, tick);
    };
    tick();
  }

  onMessage(): void {
    this.replyCount += 1;
  }
}

type Cluster = LoggingCluster;

/** Nodes that log what reaches them; links take a constant 10 ms. */
function cluster(ids: readonly string[], seed = 1): Cluster {
  return loggingCluster(ids, { latency: { kind: 'constant', delayMs: latencyMs } }, seed);
}

const baseline: LinkBaseline = {
  latency: { kind: 'constant', delayMs: latencyMs },
};

function blockedPairs(simulation: Simulation, ids: readonly string[] = five): string[] {
  return blockedPairsAmong(simulation, ids);
}

/** Every directed pair between the two sides, both ways, sorted like {@link blockedPairs}. */
function cut(sideA: readonly string[], sideB: readonly string[], ids = five): string[] {
  const pairs = new Set<string>();
  for (const a of sideA) {
    for (const b of sideB) {
      pairs.add(`${a}>${b}`);
      pairs.add(`${b}>${a}`);
    }
  }
  return ids.flatMap((from) => ids.map((to) => `${from}>${to}`)).filter((pair) => pairs.has(pair));
}

function runScript(
  ids: readonly string[],
  script: readonly ScheduledFault[],
  faultPhaseMs = 10_000,
): { cluster: Cluster; nemesis: Nemesis } {
  const built = cluster(ids);
  // No linkBaseline: links return to the settings they had before their faults.
  const nemesis = new Nemesis(built.simulation, { faultPhaseMs, script });
  return { cluster: built, nemesis };
}

function throwsNaming(action: () => unknown, argument: string): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(isInvalidArgumentError(error), `expected InvalidArgumentError, got ${error}`);
    assert.equal(error.argument, argument);
    return true;
  });
}

/** A pinged cluster under a plan drawn from `seed`; returns the trace hash, log and plan. */
function plannedRun(seed: number): { hash: string; log: string[]; schedule: string } {
  const simulation = new Simulation({
    seed,
    network: { latency: { kind: 'uniform', delayMsMin: 1, delayMsMax: 20 } },
  });
  for (const id of five) {
    simulation.addNode({ id, program: (host) => new Echo(host) });
  }
  simulation.addClient({ id: 'pinger', program: (host) => new Pinger(host, 25) });
  const nemesis = new Nemesis(simulation, {
    faultPhaseMs: 5_000,
    plan: { intervalMsMean: 200, durationMsMax: 800, concurrentFaultCountMax: 3 },
    linkBaseline: { latency: { kind: 'uniform', delayMsMin: 1, delayMsMax: 20 } },
  });
  nemesis.runUntilHealed();
  simulation.runForMs(500);
  return {
    hash: simulation.traceHash(),
    log: nemesis.formatLog(),
    schedule: JSON.stringify(nemesis.schedule),
  };
}

describe('planFaults', () => {
  const options: FaultPlanOptions = { nodeIds: five, faultPhaseMs: 20_000, intervalMsMean: 300 };

  it('draws the same plan from the same random state, and plain JSON data', () => {
    const first = planFaults(new SeededRandom({ seed: 11 }), options);
    const second = planFaults(new SeededRandom({ seed: 11 }), options);
    const other = planFaults(new SeededRandom({ seed: 12 }), options);
    assert.ok(first.length > 20);
    assert.deepEqual(first, second);
    assert.notDeepEqual(first, other);
    assert.deepEqual(JSON.parse(JSON.stringify(first)), first);
    const kinds = new Set(first.map((entry) => entry.fault.kind));
    assert.ok(kinds.size >= 10, `many kinds drawn: ${[...kinds].join(', ')}`);
  });

  it('keeps to the weights, the phase and the concurrency limit', () => {
    const plan = planFaults(new SeededRandom({ seed: 4 }), {
      ...options,
      weights: { split: 1, 'clock-jump': 1 },
      concurrentFaultCountMax: 1,
    });
    assert.ok(plan.length > 0);
    for (const [index, entry] of plan.entries()) {
      assert.ok(['split', 'clock-jump'].includes(entry.fault.kind));
      assert.ok(entry.atMs >= 0 && entry.atMs < options.faultPhaseMs);
      assert.ok(index === 0 || entry.atMs > (plan[index - 1] as ScheduledFault).atMs);
    }
    const splits = plan.filter((entry) => entry.fault.kind === 'split');
    for (let index = 1; index < splits.length; index += 1) {
      const previous = splits[index - 1] as ScheduledFault;
      const durationMs = (previous.fault as { durationMs: number }).durationMs;
      assert.ok((splits[index] as ScheduledFault).atMs > previous.atMs + durationMs);
    }
  });

  it('validates its options, naming the option', () => {
    const random = new SeededRandom({ seed: 1 });
    throwsNaming(
      () => planFaults(random, { nodeIds: [], faultPhaseMs: 1 }),
      'planFaults options.nodeIds',
    );
    throwsNaming(
      () => planFaults(random, { nodeIds: ['a', 'a'], faultPhaseMs: 1 }),
      'planFaults options.nodeIds',
    );
    throwsNaming(
      () => planFaults(random, { nodeIds: five, faultPhaseMs: -1 }),
      'planFaults options.faultPhaseMs',
    );
    throwsNaming(
      () => planFaults(random, { nodeIds: five, faultPhaseMs: 1, weights: { crash: -1 } }),
      'planFaults options.weights.crash',
    );
    throwsNaming(
      () => planFaults(random, { nodeIds: five, faultPhaseMs: 1, weights: { crash: 0 } }),
      'planFaults options.weights',
    );
    throwsNaming(
      () =>
        planFaults(random, {
          nodeIds: five,
          faultPhaseMs: 1,
          weights: { meteor: 1 } as NonNullable<FaultPlanOptions['weights']>,
        }),
      'planFaults options.weights.meteor',
    );
    throwsNaming(
      () => planFaults(random, { nodeIds: ['a', 'b'], faultPhaseMs: 1, weights: { bridge: 1 } }),
      'planFaults options.weights.bridge',
    );
    throwsNaming(
      () =>
        planFaults(random, {
          nodeIds: five,
          faultPhaseMs: 1,
          crashCountMax: 0,
          weights: { crash: 1 },
        }),
      'planFaults options.weights.crash',
    );
    throwsNaming(
      () =>
        planFaults(random, { nodeIds: five, faultPhaseMs: 1, durationMsMin: 10, durationMsMax: 5 }),
      'planFaults options.durationMsMax',
    );
    throwsNaming(
      () => planFaults(random, { nodeIds: five, faultPhaseMs: 1, crashCountMax: 6 }),
      'planFaults options.crashCountMax',
    );
    throwsNaming(
      () => planFaults(random, { nodeIds: five, faultPhaseMs: 1, clockRateDeviationMax: 0.9 }),
      'planFaults options.clockRateDeviationMax',
    );
    throwsNaming(() => planFaults(undefined as never, options), 'planFaults random');
  });
});

describe('Nemesis', () => {
  it('gives the same schedule, log and trace hash for the same seed', () => {
    const first = plannedRun(21);
    const second = plannedRun(21);
    const other = plannedRun(22);
    assert.equal(first.hash, second.hash);
    assert.deepEqual(first.log, second.log);
    assert.equal(first.schedule, second.schedule);
    assert.notEqual(first.hash, other.hash);
    assert.notEqual(first.schedule, other.schedule);
  });

  it('applies exactly the scripted faults at the scripted times', () => {
    const { cluster: built, nemesis } = runScript(five, [
      { atMs: 100, fault: { kind: 'isolate', node: 'n1', durationMs: 200 } },
      { atMs: 150, fault: { kind: 'crash', node: 'n2', durationMs: 100 } },
      { atMs: 200, fault: { kind: 'clock-rate', node: 'n3', rate: 1.5, durationMs: 100 } },
      { atMs: 320, fault: { kind: 'pause', node: 'n4', durationMs: 50 } },
      { atMs: 400, fault: { kind: 'block-one-way', from: 'n4', to: 'n5' } },
      { atMs: 500, fault: { kind: 'clock-jump', node: 'n5', deltaMs: 5_000 } },
      { atMs: 600, fault: { kind: 'clock-offset', node: 'n5', offsetMs: -250 } },
    ]);
    const { simulation } = built;
    const n2 = simulation.node('n2');
    const statuses = (): string => five.map((id) => simulation.node(id).status).join(' ');

    simulation.runUntilMs(99.9);
    assert.deepEqual(blockedPairs(simulation), []);
    simulation.runUntilMs(100);
    assert.deepEqual(blockedPairs(simulation), cut(['n1'], ['n2', 'n3', 'n4', 'n5']));
    simulation.runUntilMs(149.9);
    assert.equal(n2.status, 'up');
    simulation.runUntilMs(150);
    assert.equal(statuses(), 'up down up up up');
    simulation.runUntilMs(199.9);
    assert.equal(simulation.node('n3').clock.rate, 1);
    simulation.runUntilMs(200);
    assert.equal(simulation.node('n3').clock.rate, 1.5);
    simulation.runUntilMs(250);
    assert.equal(statuses(), 'up up up up up');
    assert.equal(n2.incarnation, 2);
    simulation.runUntilMs(299.9);
    assert.equal(simulation.node('n3').clock.rate, 1.5);
    assert.equal(blockedPairs(simulation).length, 8);
    simulation.runUntilMs(300);
    assert.equal(simulation.node('n3').clock.rate, 1);
    assert.deepEqual(blockedPairs(simulation), []);
    simulation.runUntilMs(320);
    assert.equal(statuses(), 'up up up paused up');
    simulation.runUntilMs(370);
    assert.equal(statuses(), 'up up up up up');
    simulation.runUntilMs(400);
    assert.deepEqual(blockedPairs(simulation), ['n4>n5']);
    const n5 = simulation.node('n5').clock;
    simulation.runUntilMs(499.9);
    assert.equal(n5.wallOffsetMs, 0);
    simulation.runUntilMs(500);
    assert.equal(n5.wallOffsetMs, 5_000);
    simulation.runUntilMs(600);
    assert.equal(n5.wallOffsetMs, -250);
    assert.deepEqual(nemesis.activeFaults(), [{ kind: 'block-one-way', from: 'n4', to: 'n5' }]);

    nemesis.runUntilHealed();
    assert.deepEqual(blockedPairs(simulation), []);
    assert.equal(n5.wallOffsetMs, -250, 'the heal phase keeps wall-clock offsets');
    assert.deepEqual(nemesis.formatLog(), [
      '100.000 start isolate n1 for 200 ms',
      '150.000 start crash n2 for 100 ms',
      '200.000 start clock-rate n3 at 1.5 for 100 ms',
      '250.000 end crash n2 for 100 ms',
      '300.000 end isolate n1 for 200 ms',
      '300.000 end clock-rate n3 at 1.5 for 100 ms',
      '320.000 start pause n4 for 50 ms',
      '370.000 end pause n4 for 50 ms',
      '400.000 start block-one-way n4 -> n5 until healed',
      '500.000 start clock-jump n5 by 5000 ms',
      '600.000 start clock-offset n5 to -250 ms',
      '10000.000 heal heal phase: undoing 1 active faults',
      '10000.000 end block-one-way n4 -> n5 until healed (heal phase)',
    ]);
    assert.ok(simulation.traceLines().length === 0, 'no lines kept unless asked');
  });

  it('writes each fault into the trace', () => {
    const simulation = new Simulation({ seed: 3, trace: { lineCountMax: 100 } });
    simulation.addNode({ id: 'a', program: (host) => new Echo(host) });
    const nemesis = new Nemesis(simulation, {
      faultPhaseMs: 50,
      script: [{ atMs: 10, fault: { kind: 'crash', node: 'a', durationMs: 5 } }],
    });
    nemesis.runUntilHealed();
    const lines = simulation.traceLines();
    assert.ok(lines.includes('10.000 nemesis: start crash a for 5 ms'), lines.join('\n'));
    assert.ok(lines.includes('10.000 crash a'));
    assert.ok(lines.includes('15.000 nemesis: end crash a for 5 ms'));
    assert.ok(lines.includes('15.000 start a'));
    assert.ok(
      lines.indexOf('10.000 nemesis: start crash a for 5 ms') < lines.indexOf('10.000 crash a'),
      'the note comes first, so the trace reads as cause then effect',
    );
    assert.ok(
      lines.indexOf('15.000 nemesis: end crash a for 5 ms') < lines.indexOf('15.000 start a'),
    );
  });

  it('cuts exactly the links of each partition shape', () => {
    const shapes: [ScheduledFault['fault'], string[]][] = [
      [{ kind: 'isolate', node: 'n3' }, cut(['n3'], ['n1', 'n2', 'n4', 'n5'])],
      [{ kind: 'split', minority: ['n1', 'n2'] }, cut(['n1', 'n2'], ['n3', 'n4', 'n5'])],
      [
        { kind: 'bridge', sideA: ['n1', 'n2'], sideB: ['n4', 'n5'], bridge: 'n3' },
        cut(['n1', 'n2'], ['n4', 'n5']),
      ],
      [
        { kind: 'ring', order: ['n1', 'n2', 'n3', 'n4', 'n5'] },
        // Each node keeps its two ring neighbours and loses the two others.
        [...cut(['n1'], ['n3', 'n4']), ...cut(['n2'], ['n4', 'n5']), ...cut(['n3'], ['n5'])].sort(),
      ],
      [{ kind: 'block-one-way', from: 'n2', to: 'n1' }, ['n2>n1']],
    ];
    for (const [fault, expected] of shapes) {
      const { cluster: built } = runScript(five, [{ atMs: 10, fault }]);
      built.simulation.runUntilMs(10);
      assert.deepEqual(blockedPairs(built.simulation).sort(), [...expected].sort(), fault.kind);
    }
  });

  it('keeps a link cut while another fault still cuts it', () => {
    const { cluster: built } = runScript(five, [
      { atMs: 10, fault: { kind: 'split', minority: ['n1', 'n2'], durationMs: 100 } },
      { atMs: 20, fault: { kind: 'isolate', node: 'n1', durationMs: 30 } },
    ]);
    const { simulation } = built;
    simulation.runUntilMs(20);
    assert.equal(blockedPairs(simulation).length, 14);
    simulation.runUntilMs(50);
    assert.deepEqual(blockedPairs(simulation), cut(['n1', 'n2'], ['n3', 'n4', 'n5']));
    simulation.runUntilMs(110);
    assert.deepEqual(blockedPairs(simulation), []);
  });

  it('clogs a link, loses messages and slows links for a while', () => {
    const { cluster: built } = runScript(
      ['a', 'b'],
      [
        { atMs: 0, fault: { kind: 'clog', from: 'a', to: 'b', durationMs: 100 } },
        {
          atMs: 200,
          fault: { kind: 'loss', from: ['a'], to: ['b'], lossProbability: 1, durationMs: 100 },
        },
        {
          atMs: 400,
          fault: {
            kind: 'latency-spike',
            from: ['a'],
            to: ['a', 'b'],
            latency: { kind: 'constant', delayMs: 70 },
            durationMs: 100,
          },
        },
      ],
    );
    const { simulation, deliveries, send } = built;
    for (const atMs of [10, 150, 210, 310, 410, 510]) {
      simulation.at(atMs, () => send('a', 'b', atMs));
    }
    simulation.runUntilMs(1_000);
    assert.deepEqual(
      deliveries.map((delivery) => [delivery.message, delivery.atMs]),
      [
        [10, 100],
        [150, 160],
        [310, 320],
        [410, 480],
        [510, 520],
      ],
    );
  });

  it('crashes a node and restarts it with a new incarnation', () => {
    const simulation = new Simulation({ seed: 2 });
    const node = simulation.addNode({ id: 'a', program: (host) => new Echo(host) });
    const incarnations: number[] = [];
    simulation.addNode({
      id: 'b',
      program: (host) => {
        incarnations.push(host.incarnation);
        return new Echo(host);
      },
    });
    new Nemesis(simulation, {
      faultPhaseMs: 1_000,
      script: [
        { atMs: 100, fault: { kind: 'crash', node: 'b', durationMs: 300 } },
        { atMs: 200, fault: { kind: 'crash', node: 'b', durationMs: 10 } },
      ],
    });
    simulation.runUntilMs(399);
    assert.equal(simulation.node('b').status, 'down');
    simulation.runUntilMs(400);
    assert.equal(simulation.node('b').status, 'up');
    assert.deepEqual(incarnations, [1, 2]);
    assert.equal(simulation.node('b').crashCount, 1);
    assert.equal(node.incarnation, 1);
  });

  it('logs a crash of a node that is already down as skipped', () => {
    const { cluster: built, nemesis } = runScript(
      ['a'],
      [
        { atMs: 10, fault: { kind: 'crash', node: 'a', durationMs: 50 } },
        { atMs: 20, fault: { kind: 'crash', node: 'a', durationMs: 10 } },
        { atMs: 30, fault: { kind: 'pause', node: 'a', durationMs: 10 } },
      ],
    );
    nemesis.runUntilHealed();
    assert.deepEqual(nemesis.formatLog().slice(0, 4), [
      '10.000 start crash a for 50 ms',
      '20.000 skip crash a for 10 ms: the node is down',
      '30.000 skip pause a for 10 ms: the node is down',
      '60.000 end crash a for 50 ms',
    ]);
    assert.equal(built.simulation.node('a').incarnation, 2);
  });

  it('stalls a paused node: timers and messages wait and run on resume', () => {
    const simulation = new Simulation({
      seed: 5,
      network: { latency: { kind: 'constant', delayMs: 10 } },
    });
    const ticks: number[] = [];
    const received: number[] = [];
    simulation.addNode({
      id: 'stalled',
      program: (host) => {
        const tick = (): void => {
          ticks.push(simulation.nowMs());
          host.scheduler.schedule(50, tick);
        };
        host.scheduler.schedule(50, tick);
        return { onMessage: () => received.push(simulation.nowMs()) };
      },
    });
    simulation.addClient({
      id: 'sender',
      program: (host) => {
        host.scheduler.schedule(140, () => host.send('stalled', 'hello'));
        return { onMessage: () => {} };
      },
    });
    new Nemesis(simulation, {
      faultPhaseMs: 1_000,
      script: [{ atMs: 120, fault: { kind: 'pause', node: 'stalled', durationMs: 200 } }],
    });
    simulation.runUntilMs(319);
    assert.deepEqual(ticks, [50, 100]);
    assert.deepEqual(received, []);
    simulation.runUntilMs(320);
    assert.deepEqual(ticks, [50, 100, 320]);
    assert.deepEqual(received, [320]);
    simulation.runUntilMs(400);
    assert.deepEqual(ticks, [50, 100, 320, 370]);
  });

  it('heals everything at the end of the fault phase, and starts no fault after', () => {
    const { cluster: built, nemesis } = runScript(
      five,
      [
        { atMs: 10, fault: { kind: 'ring', order: five } },
        { atMs: 20, fault: { kind: 'crash', node: 'n1' } },
        { atMs: 30, fault: { kind: 'pause', node: 'n2' } },
        { atMs: 40, fault: { kind: 'clock-rate', node: 'n3', rate: 0.5 } },
        { atMs: 50, fault: { kind: 'loss', from: five, to: five, lossProbability: 1 } },
        {
          atMs: 60,
          fault: {
            kind: 'latency-spike',
            from: five,
            to: five,
            latency: { kind: 'constant', delayMs: 1_000 },
          },
        },
        { atMs: 70, fault: { kind: 'clog', from: 'n4', to: 'n5' } },
        { atMs: 80, fault: { kind: 'block-one-way', from: 'n5', to: 'n4' } },
      ],
      100,
    );
    const { simulation, deliveries, send } = built;
    simulation.runUntilMs(99);
    assert.equal(nemesis.activeFaults().length, 8);
    assert.equal(nemesis.healed, false);
    nemesis.runUntilHealed();
    assert.equal(nemesis.healed, true);
    assert.deepEqual(nemesis.activeFaults(), []);
    assert.deepEqual(
      simulation.nodes().map((node) => node.status),
      ['up', 'up', 'up', 'up', 'up'],
    );
    assert.deepEqual(blockedPairs(simulation), []);
    assert.equal(simulation.node('n3').clock.rate, 1);
    const healedAtMs = simulation.nowMs();
    for (const from of five) {
      for (const to of five) {
        if (from !== to) {
          send(from, to, 'after heal');
        }
      }
    }
    simulation.runForMs(100);
    const afterHeal = deliveries.filter((delivery) => delivery.message === 'after heal');
    assert.equal(afterHeal.length, 20);
    assert.ok(afterHeal.every((delivery) => delivery.atMs === healedAtMs + latencyMs));
  });

  it('puts a drifted clock back at the rate it had before, overlaps included', () => {
    const simulation = new Simulation({ seed: 4 });
    const node = simulation.addNode({
      id: 'a',
      program: (host) => new Echo(host),
      clock: { rate: 1.01 },
    });
    const nemesis = new Nemesis(simulation, {
      faultPhaseMs: 1_000,
      script: [
        { atMs: 100, fault: { kind: 'clock-rate', node: 'a', rate: 1.5, durationMs: 300 } },
        { atMs: 200, fault: { kind: 'clock-rate', node: 'a', rate: 0.7, durationMs: 100 } },
        { atMs: 500, fault: { kind: 'clock-rate', node: 'a', rate: 2 } },
      ],
    });
    const rates: number[] = [];
    for (const atMs of [150, 250, 350, 450, 600]) {
      simulation.at(atMs, () => rates.push(node.clock.rate));
    }
    nemesis.runUntilHealed();
    assert.deepEqual(rates, [1.5, 0.7, 1.5, 1.01, 2]);
    assert.equal(node.clock.rate, 1.01);
  });

  it('validates its options, naming the option', () => {
    const { simulation } = cluster(five);
    const script = (fault: unknown, atMs = 0): NemesisOptions => ({
      faultPhaseMs: 100,
      script: [{ atMs, fault: fault as ScheduledFault['fault'] }],
    });
    throwsNaming(() => new Nemesis(simulation, undefined as never), 'Nemesis options');
    throwsNaming(
      () => new Nemesis(simulation, { faultPhaseMs: -1 }),
      'Nemesis options.faultPhaseMs',
    );
    throwsNaming(
      () => new Nemesis(simulation, script({ kind: 'crash', node: 'n9' })),
      'Nemesis options.script[0].fault.node',
    );
    throwsNaming(
      () => new Nemesis(simulation, script({ kind: 'crash', node: 'n1', durationMs: -5 })),
      'Nemesis options.script[0].fault.durationMs',
    );
    throwsNaming(
      () => new Nemesis(simulation, script({ kind: 'crash', node: 'n1' }, 100)),
      'Nemesis options.script[0].atMs',
    );
    throwsNaming(
      () => new Nemesis(simulation, script({ kind: 'meteor' })),
      'Nemesis options.script[0].fault.kind',
    );
    throwsNaming(
      () => new Nemesis(simulation, script({ kind: 'clock-rate', node: 'n1', rate: 3 })),
      'Nemesis options.script[0].fault.rate',
    );
    throwsNaming(
      () => new Nemesis(simulation, script({ kind: 'split', minority: ['n1', 'n1'] })),
      'Nemesis options.script[0].fault.minority',
    );
    throwsNaming(
      () =>
        new Nemesis(
          simulation,
          script({ kind: 'bridge', sideA: ['n1'], sideB: ['n2'], bridge: 'n2' }),
        ),
      'Nemesis options.script[0].fault.bridge',
    );
    throwsNaming(
      () => new Nemesis(simulation, script({ kind: 'block-one-way', from: 'n1', to: 'n1' })),
      'Nemesis options.script[0].fault.to',
    );
    throwsNaming(
      () =>
        new Nemesis(
          simulation,
          script({ kind: 'loss', from: ['n1'], to: ['n2'], lossProbability: 1.5 }),
        ),
      'Nemesis options.script[0].fault.lossProbability',
    );
    throwsNaming(
      () => new Nemesis(simulation, { faultPhaseMs: 10, script: [], plan: {} }),
      'Nemesis options.script',
    );
    throwsNaming(
      () => new Nemesis(simulation, { faultPhaseMs: 10, plan: { nodeIds: ['zz'] } }),
      'Nemesis options.plan.nodeIds',
    );
    throwsNaming(
      () => new Nemesis(simulation, { faultPhaseMs: 10, plan: { intervalMsMean: 0 } }),
      'planFaults options.intervalMsMean',
    );
    throwsNaming(
      () =>
        new Nemesis(simulation, {
          faultPhaseMs: 10,
          linkBaseline: { lossProbability: -1 },
        }),
      'Nemesis options.linkBaseline.lossProbability',
    );
    throwsNaming(() => new Nemesis(null as never, { faultPhaseMs: 1 }), 'Nemesis simulation');
  });
});

/** A server that answers only once configured; the configuration lives in memory only. */
class Forgetful implements NodeProgram {
  configured = false;
  constructor(readonly host: NodeHost) {}
  onMessage(from: string, message: unknown): void {
    if (message === 'configure') {
      this.configured = true;
    } else if (this.configured) {
      this.host.send(from, message);
    }
  }
}

describe('checkLiveness', () => {
  it('passes when a pinged cluster answers again after the heal phase', () => {
    const simulation = new Simulation({ seed: 8 });
    for (const id of five) {
      simulation.addNode({ id, program: (host) => new Echo(host) });
    }
    const pinger = simulation.addClient({
      id: 'pinger',
      program: (host) => new Pinger(host, 20),
    });
    const nemesis = new Nemesis(simulation, {
      faultPhaseMs: 3_000,
      plan: { intervalMsMean: 100, concurrentFaultCountMax: 4 },
    });
    nemesis.runUntilHealed();
    assert.ok(nemesis.log.length > 10);
    const verdict = checkLiveness(simulation, {
      progress: () => pinger.program?.replyCount ?? 0,
      withinMs: 1_000,
      progressCountMin: 5,
    });
    assert.equal(verdict.live, true, JSON.stringify(verdict));
    assert.ok(verdict.live && verdict.progressAfter >= verdict.progressBefore + 5);
    assert.ok(verdict.live && verdict.afterMs <= 1_000);
  });

  it('reports live: false, with an explanation, for a node that forgets its state in a crash', () => {
    const simulation = new Simulation({ seed: 9 });
    simulation.addNode({ id: 'server', program: (host) => new Forgetful(host) });
    const client = simulation.addClient({
      id: 'client',
      program: (host) => {
        host.send('server', 'configure');
        return new Pinger(host, 20);
      },
    });
    const replies = (): number => client.program?.replyCount ?? 0;
    const nemesis = new Nemesis(simulation, {
      faultPhaseMs: 500,
      script: [{ atMs: 200, fault: { kind: 'crash', node: 'server', durationMs: 50 } }],
    });
    simulation.runUntilMs(199);
    assert.ok(replies() > 5, 'it worked before the crash');
    nemesis.runUntilHealed();
    const startMs = simulation.nowMs();
    const verdict = checkLiveness(simulation, { progress: replies, withinMs: 2_000 });
    assert.equal(verdict.live, false);
    assert.ok(!verdict.live);
    assert.equal(verdict.waitedMs, 2_000);
    assert.equal(simulation.nowMs(), startMs + 2_000);
    assert.equal(verdict.progressAfter, verdict.progressBefore);
    assert.match(verdict.explanation, /no progress within 2000 ms/);
    assert.match(verdict.explanation, /server up \(incarnation 2\)/);
    assert.match(verdict.explanation, /No link is blocked/);
  });

  it('names the blocked links when the system is still cut off', () => {
    const { simulation } = cluster(['a', 'b']);
    simulation.network.block({ from: 'a', to: 'b' });
    const verdict = checkLiveness(simulation, { progress: () => 0, withinMs: 100 });
    assert.ok(!verdict.live);
    assert.match(verdict.explanation, /1 links blocked: a -> b\./);
  });

  it('validates its options, naming the option', () => {
    const { simulation } = cluster(['a']);
    throwsNaming(
      () => checkLiveness(simulation, { progress: () => 0, withinMs: -1 }),
      'checkLiveness options.withinMs',
    );
    throwsNaming(
      () => checkLiveness(simulation, { progress: 3 as never, withinMs: 1 }),
      'checkLiveness options.progress',
    );
    throwsNaming(
      () => checkLiveness(simulation, { progress: () => Number.NaN, withinMs: 1 }),
      'checkLiveness options.progress()',
    );
    throwsNaming(
      () => checkLiveness(simulation, { progress: () => 0, withinMs: 1, progressCountMin: 0 }),
      'checkLiveness options.progressCountMin',
    );
    throwsNaming(
      () => checkLiveness(undefined as never, { progress: () => 0, withinMs: 1 }),
      'checkLiveness simulation',
    );
  });
});

const planArbitrary = fc.record({
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  nodeCount: fc.integer({ min: 1, max: 7 }),
  crashCountSeed: fc.nat({ max: 7 }),
  intervalMsMean: fc.integer({ min: 10, max: 400 }),
  durationMsMin: fc.integer({ min: 1, max: 300 }),
  durationMsExtra: fc.integer({ min: 0, max: 2_000 }),
  concurrentFaultCountMax: fc.integer({ min: 1, max: 6 }),
  faultPhaseMs: fc.integer({ min: 500, max: 5_000 }),
  crashHeavy: fc.boolean(),
});

type PlanCase = typeof planArbitrary extends fc.Arbitrary<infer T> ? T : never;

function planOptions(input: PlanCase): FaultPlanOptions {
  const nodeIds = Array.from({ length: input.nodeCount }, (_, index) => `n${index + 1}`);
  const crashCountMax = input.crashCountSeed % (input.nodeCount + 1);
  return {
    nodeIds,
    faultPhaseMs: input.faultPhaseMs,
    crashCountMax,
    // Mostly crashes, to press on the limit; otherwise every kind the node count allows.
    ...(input.crashHeavy
      ? { weights: { crash: crashCountMax > 0 ? 8 : 0, pause: 1, 'clock-rate': 1 } }
      : {}),
    intervalMsMean: input.intervalMsMean,
    durationMsMin: input.durationMsMin,
    durationMsMax: input.durationMsMin + input.durationMsExtra,
    concurrentFaultCountMax: input.concurrentFaultCountMax,
  };
}

describe('nemesis properties', () => {
  it('never plans more than crashCountMax nodes down at once', () => {
    fc.assert(
      fc.property(planArbitrary, (input) => {
        const options = planOptions(input);
        const plan = planFaults(new SeededRandom({ seed: input.seed }), options);
        // Down over [atMs, end] where the heal phase ends what is still down.
        const spans = plan
          .filter((entry) => entry.fault.kind === 'crash')
          .map((entry) => ({
            startMs: entry.atMs,
            endMs: Math.min(
              entry.atMs + ((entry.fault as { durationMs: number }).durationMs ?? 0),
              options.faultPhaseMs,
            ),
          }));
        for (const span of spans) {
          const down = spans.filter(
            (other) => other.startMs <= span.startMs && other.endMs >= span.startMs,
          ).length;
          assert.ok(down <= (options.crashCountMax as number), `${down} down at ${span.startMs}`);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keeps at most crashCountMax nodes down in a run, and undoes every fault by the heal phase', () => {
    fc.assert(
      fc.property(planArbitrary, (input) => {
        const options = planOptions(input);
        const { simulation, deliveries, send } = cluster(options.nodeIds, input.seed);
        const nemesis = new Nemesis(simulation, {
          faultPhaseMs: options.faultPhaseMs,
          plan: options,
          linkBaseline: baseline,
        });
        let downMax = 0;
        // Faults fall on whole milliseconds: look in between.
        for (let atMs = 0.5; atMs < options.faultPhaseMs; atMs += 1) {
          simulation.at(atMs, () => {
            const down = simulation.nodes().filter((node) => node.status === 'down').length;
            downMax = Math.max(downMax, down);
          });
        }
        nemesis.runUntilHealed();
        assert.ok(downMax <= (options.crashCountMax as number));
        assert.ok(nemesis.log.filter((entry) => entry.event === 'skip').length === 0);
        assert.deepEqual(nemesis.activeFaults(), []);
        assert.ok(simulation.nodes().every((node) => node.status === 'up'));
        assert.ok(simulation.nodes().every((node) => node.clock.rate === 1));
        assert.deepEqual(blockedPairs(simulation, options.nodeIds), []);
        const healedAtMs = simulation.nowMs();
        let sent = 0;
        for (const from of options.nodeIds) {
          for (const to of options.nodeIds) {
            if (from !== to) {
              send(from, to, 'probe');
              sent += 1;
            }
          }
        }
        simulation.runForMs(latencyMs);
        const probes = deliveries.filter(
          (delivery) => delivery.message === 'probe' && delivery.atMs === healedAtMs + latencyMs,
        );
        assert.equal(probes.length, sent, 'no loss, baseline latency, no clog after the heal');
      }),
      { numRuns: 60 },
    );
  });
});
