import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isInvalidArgumentError, SeededRandom } from '../../src/core/index.js';
import {
  type DelayDistribution,
  requireDelayDistribution,
  Simulation,
  sampleDelayMs,
} from '../../src/sim/index.js';
import { blockedPairs, loggingCluster } from './support.js';

const cluster = loggingCluster;

const five = ['n1', 'n2', 'n3', 'n4', 'n5'];

describe('SimNetwork', () => {
  it('delivers after the link latency', () => {
    const { simulation, deliveries, send } = cluster(['a', 'b']);
    simulation.at(5, () => send('a', 'b', 'x'));
    simulation.runForMs(100);
    assert.deepEqual(deliveries, [{ from: 'a', to: 'b', message: 'x', atMs: 15 }]);
  });

  it('reorders messages on an unordered link and keeps FIFO order on an ordered one', () => {
    const latency: DelayDistribution = { kind: 'uniform', delayMsMin: 1, delayMsMax: 50 };
    const orders = [false, true].map((ordered) => {
      const { simulation, deliveries, send } = cluster(['a', 'b'], { latency, ordered }, 3);
      simulation.at(0, () => {
        for (let index = 0; index < 50; index += 1) {
          send('a', 'b', index);
        }
      });
      simulation.runForMs(1000);
      assert.equal(deliveries.length, 50);
      return deliveries.map((delivery) => delivery.message as number);
    });
    const [unordered, ordered] = orders as [number[], number[]];
    assert.notDeepEqual(
      unordered,
      [...unordered].sort((x, y) => x - y),
      'some overtaking',
    );
    assert.deepEqual(
      ordered,
      [...ordered].sort((x, y) => x - y),
    );
  });

  it('loses every message at loss probability 1 and duplicates every one at duplication 1', () => {
    const lossy = cluster(['a', 'b'], { lossProbability: 1 });
    lossy.simulation.at(0, () => lossy.send('a', 'b', 'gone'));
    lossy.simulation.runForMs(100);
    assert.deepEqual(lossy.deliveries, []);
    assert.equal(lossy.simulation.statistics.messagesDropped, 1);

    const doubling = cluster(['a', 'b'], { duplicateProbability: 1 });
    doubling.simulation.at(0, () => doubling.send('a', 'b', 'twice'));
    doubling.simulation.runForMs(100);
    assert.deepEqual(
      doubling.deliveries.map((delivery) => delivery.message),
      ['twice', 'twice'],
    );
    assert.equal(doubling.simulation.network.statistics.messagesDuplicated, 1);
  });

  it('traces every dropped message with its endpoints and reason', () => {
    const simulation = new Simulation({
      seed: 1,
      trace: { lineCountMax: 50 },
      network: { lossProbability: 1 },
    });
    simulation.addNode({
      id: 'a',
      program: (host) => {
        host.send('b', 'hello');
        return { onMessage() {} };
      },
    });
    simulation.addNode({ id: 'b', program: () => ({ onMessage() {} }) });
    simulation.runUntilIdle();
    assert.ok(
      simulation.traceLines().some((line) => /drop a -> b \(lost\)/.test(line)),
      simulation.traceLines().join('\n'),
    );
  });

  it('loses about the configured share of messages', () => {
    const { simulation, deliveries, send } = cluster(['a', 'b'], { lossProbability: 0.25 }, 7);
    simulation.at(0, () => {
      for (let index = 0; index < 4000; index += 1) {
        send('a', 'b', index);
      }
    });
    simulation.runForMs(100);
    const share = 1 - deliveries.length / 4000;
    assert.ok(share > 0.2 && share < 0.3, `lost ${share}`);
  });

  it('configures one direction of one link without touching the others', () => {
    const { simulation, deliveries, send } = cluster(['a', 'b']);
    simulation.network.configure(
      { latency: { kind: 'constant', delayMs: 100 } },
      { from: 'a', to: 'b' },
    );
    simulation.at(0, () => {
      send('a', 'b', 'slow');
      send('b', 'a', 'fast');
    });
    simulation.runForMs(200);
    assert.deepEqual(
      deliveries.map((delivery) => [delivery.message, delivery.atMs]),
      [
        ['fast', 10],
        ['slow', 100],
      ],
    );
  });

  it('splits into groups both ways; nodes named in no group reach everyone', () => {
    const { simulation } = cluster([...five, 'observer']);
    simulation.network.partition([
      ['n1', 'n2'],
      ['n3', 'n4', 'n5'],
    ]);
    assert.deepEqual(blockedPairs(simulation, [...five, 'observer']).sort(), [
      'n1>n3',
      'n1>n4',
      'n1>n5',
      'n2>n3',
      'n2>n4',
      'n2>n5',
      'n3>n1',
      'n3>n2',
      'n4>n1',
      'n4>n2',
      'n5>n1',
      'n5>n2',
    ]);
    simulation.network.heal();
    assert.deepEqual(blockedPairs(simulation, five), []);
  });

  it('isolates one node from everyone, both ways', () => {
    const { simulation } = cluster(five);
    simulation.network.isolate('n3');
    assert.deepEqual(blockedPairs(simulation, five).sort(), [
      'n1>n3',
      'n2>n3',
      'n3>n1',
      'n3>n2',
      'n3>n4',
      'n3>n5',
      'n4>n3',
      'n5>n3',
    ]);
  });

  it('blocks one way only: requests are lost, the other direction flows', () => {
    const { simulation, deliveries, send } = cluster(['a', 'b']);
    simulation.network.block({ from: 'a', to: 'b' });
    simulation.at(0, () => {
      send('a', 'b', 'request');
      send('b', 'a', 'notice');
    });
    simulation.runForMs(100);
    assert.deepEqual(
      deliveries.map((delivery) => delivery.message),
      ['notice'],
    );
    simulation.network.unblock({ from: 'a', to: 'b' });
    assert.equal(simulation.network.isBlocked('a', 'b'), false);
  });

  it('builds a bridge: the sides cannot talk, the bridge talks to both', () => {
    const { simulation } = cluster(five);
    simulation.network.bridge(['n1', 'n2'], ['n4', 'n5'], 'n3');
    const blocked = blockedPairs(simulation, five);
    assert.equal(blocked.length, 8);
    for (const pair of blocked) {
      assert.ok(!pair.includes('n3'), pair);
    }
    assert.ok(simulation.network.isBlocked('n1', 'n5'));
    assert.ok(!simulation.network.isBlocked('n1', 'n2'));
  });

  it('builds a ring: each node reaches only its two neighbours', () => {
    const { simulation } = cluster(five);
    simulation.network.ring(five);
    for (const [index, id] of five.entries()) {
      const reachable = five.filter(
        (other) => other !== id && !simulation.network.isBlocked(id, other),
      );
      const neighbours = [five[(index + 4) % 5], five[(index + 1) % 5]].sort();
      assert.deepEqual(reachable.sort(), neighbours, id);
    }
  });

  it('drops a message in flight when a partition starts before it arrives', () => {
    const { simulation, deliveries, send } = cluster(['a', 'b']);
    simulation.at(0, () => send('a', 'b', 'in flight'));
    simulation.at(5, () => simulation.network.partition([['a'], ['b']]));
    simulation.runForMs(100);
    assert.deepEqual(deliveries, []);
  });

  it('holds messages on a clogged link and delivers them when the clog clears', () => {
    const { simulation, deliveries, send } = cluster(['a', 'b']);
    simulation.at(0, () => simulation.network.clog({ from: 'a', to: 'b' }, 500));
    simulation.at(100, () => {
      send('a', 'b', 'held');
      send('b', 'a', 'free');
    });
    simulation.runForMs(1000);
    assert.deepEqual(
      deliveries.map((delivery) => [delivery.message, delivery.atMs]),
      [
        ['free', 110],
        ['held', 500],
      ],
    );
  });

  it('heal releases what a clog held and lets later messages through at once, ordered or not', () => {
    for (const ordered of [false, true]) {
      const { simulation, deliveries, send } = cluster(['a', 'b'], {
        latency: { kind: 'constant', delayMs: 10 },
        ordered,
      });
      simulation.network.clog({ from: 'a', to: 'b' }, 1_000);
      simulation.at(10, () => send('a', 'b', 'during clog'));
      simulation.at(100, () => simulation.network.heal());
      simulation.at(110, () => send('a', 'b', 'after heal'));
      simulation.runUntilIdle();
      assert.deepEqual(
        deliveries.map((delivery) => [delivery.message, delivery.atMs]),
        [
          ['during clog', 100],
          ['after heal', 120],
        ],
        `ordered: ${ordered}`,
      );
    }
  });

  it('delivers a message a paused node received even if the link was cut before it resumed', () => {
    const { simulation, deliveries, send } = cluster(['a', 'b']);
    simulation.at(1, () => simulation.node('b').pause());
    simulation.at(5, () => send('a', 'b', 'x'));
    simulation.at(20, () => simulation.network.block({ from: 'a', to: 'b' }));
    simulation.at(30, () => simulation.node('b').resume());
    simulation.runUntilIdle();
    assert.deepEqual(
      deliveries.map((delivery) => [delivery.message, delivery.atMs]),
      [['x', 30]],
    );
  });

  it('heal clears clogs early', () => {
    const { simulation, deliveries, send } = cluster(['a', 'b']);
    simulation.at(0, () => simulation.network.clog({ from: 'a' }, 500));
    simulation.at(50, () => simulation.network.heal());
    simulation.at(60, () => send('a', 'b', 'after heal'));
    simulation.runForMs(1000);
    assert.deepEqual(
      deliveries.map((delivery) => delivery.atMs),
      [70],
    );
  });

  it('rejects unknown node ids and malformed shapes with InvalidArgumentError', () => {
    const { simulation } = cluster(['a', 'b', 'c']);
    const network = simulation.network;
    const cases: [() => unknown, RegExp][] = [
      [() => network.partition([['a'], ['zz']]), /"zz"/],
      [() => network.partition([['a'], ['a', 'b']]), /two groups/],
      [() => network.partition('a' as never), /array of arrays/],
      [() => network.isolate('zz'), /"zz"/],
      [() => network.bridge(['a'], ['b'], 'a'), /neither side/],
      [() => network.clog({ from: 'a' }, -1), /durationMs/],
      [() => network.block({ from: 'nobody' }), /"nobody"/],
      [() => network.configure({ duplicateProbability: -0.1 }), /duplicateProbability/],
      [() => network.configure({ ordered: 'yes' as never }), /ordered/],
      [() => network.isBlocked('a', 'zz'), /"zz"/],
    ];
    for (const [call, pattern] of cases) {
      assert.throws(
        call,
        (error: unknown) => isInvalidArgumentError(error) && pattern.test(error.message),
      );
    }
  });
});

describe('delay distributions', () => {
  const random = new SeededRandom({ seed: 5 });
  const draws = (distribution: DelayDistribution, count = 20_000): number[] =>
    Array.from({ length: count }, () => sampleDelayMs(distribution, random));

  it('stay within their bounds', () => {
    for (const value of draws({ kind: 'uniform', delayMsMin: 2, delayMsMax: 4 })) {
      assert.ok(value >= 2 && value <= 4);
    }
    for (const value of draws({
      kind: 'long-tailed',
      delayMsMin: 1,
      shape: 1.2,
      delayMsMax: 1000,
    })) {
      assert.ok(value >= 1 && value <= 1000);
    }
    for (const value of draws({ kind: 'exponential', delayMsMin: 3, extraMsMean: 1 })) {
      assert.ok(value >= 3);
    }
    assert.deepEqual(draws({ kind: 'constant', delayMs: 7 }, 3), [7, 7, 7]);
  });

  it('have the means their parameters promise', () => {
    const mean = (values: number[]): number =>
      values.reduce((sum, value) => sum + value, 0) / values.length;
    const exponential = mean(draws({ kind: 'exponential', delayMsMin: 1, extraMsMean: 4 }));
    assert.ok(Math.abs(exponential - 5) < 0.2, `exponential mean ${exponential}`);
    const uniform = mean(draws({ kind: 'uniform', delayMsMin: 0, delayMsMax: 10 }));
    assert.ok(Math.abs(uniform - 5) < 0.2, `uniform mean ${uniform}`);
  });

  it('long-tailed draws put a heavy share far above the median', () => {
    const values = draws({
      kind: 'long-tailed',
      delayMsMin: 1,
      shape: 1.1,
      delayMsMax: 10_000,
    }).sort((a, b) => a - b);
    const median = values[values.length >> 1] as number;
    const p999 = values[Math.floor(values.length * 0.999)] as number;
    assert.ok(p999 / median > 100, `p99.9 / median = ${p999 / median}`);
  });

  it('are validated field by field', () => {
    assert.throws(
      () =>
        requireDelayDistribution('latency', {
          kind: 'long-tailed',
          delayMsMin: 0,
          shape: 1,
          delayMsMax: 5,
        }),
      (error: unknown) => isInvalidArgumentError(error) && error.argument === 'latency.delayMsMin',
    );
    assert.throws(
      () => requireDelayDistribution('latency', { kind: 'exponential', extraMsMean: -1 }),
      (error: unknown) => isInvalidArgumentError(error) && error.argument === 'latency.extraMsMean',
    );
    assert.throws(
      () => requireDelayDistribution('latency', undefined),
      (error: unknown) => isInvalidArgumentError(error),
    );
  });
});
