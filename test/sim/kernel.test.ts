import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isInvalidArgumentError, isLimitExceededError } from '../../src/core/index.js';
import {
  isSimulationError,
  type NodeHost,
  type NodeProgram,
  type SimNode,
  Simulation,
} from '../../src/sim/index.js';

/** A program that logs what reaches it, with the simulated time. */
class Recorder implements NodeProgram {
  readonly received: { from: string; message: unknown; atMs: number }[] = [];
  constructor(readonly host: NodeHost) {}
  onMessage(from: string, message: unknown): void {
    this.received.push({ from, message, atMs: this.host.clock.nowMs() });
  }
}

/** Five nodes forwarding rumours to random peers: enough traffic to expose nondeterminism. */
function gossipRun(seed: number): { hash: string; delivered: number } {
  const simulation = new Simulation({
    seed,
    trace: { hashPayloads: true },
    network: { latency: { kind: 'exponential', delayMsMin: 0.5, extraMsMean: 2 } },
  });
  for (let index = 0; index < 5; index += 1) {
    simulation.addNode({
      id: `n${index}`,
      program: (host) => {
        if (host.id === 'n0') {
          for (let rumour = 0; rumour < 20; rumour += 1) {
            host.send('n1', { rumour, hops: 0 });
          }
        }
        host.scheduler.schedule(host.random.integer(1, 10), () => host.record('tick'));
        return {
          onMessage(_from: string, message: unknown) {
            const { rumour, hops } = message as { rumour: number; hops: number };
            if (hops < 200) {
              host.send(host.random.pick(host.nodeIds), { rumour, hops: hops + 1 });
            }
          },
        };
      },
    });
  }
  simulation.runUntilIdle();
  return { hash: simulation.traceHash(), delivered: simulation.statistics.messagesDelivered };
}

describe('Simulation', () => {
  it('gives the same trace hash for the same seed and a different one for another seed', () => {
    const first = gossipRun(11);
    const second = gossipRun(11);
    const other = gossipRun(12);
    assert.equal(first.hash, second.hash, 'seed 11 twice');
    assert.equal(first.delivered, second.delivered);
    assert.equal(first.delivered, 20 * 201);
    assert.notEqual(first.hash, other.hash, 'seeds 11 and 12');
  });

  it('runs events in time order, ties in the order they were scheduled', () => {
    const simulation = new Simulation({ seed: 1 });
    const order: string[] = [];
    simulation.at(5, () => order.push('a@5'));
    simulation.at(1, () => order.push('b@1'));
    simulation.at(5, () => order.push('c@5'));
    simulation.scheduler.schedule(1, () => order.push('d@1'));
    simulation.runUntilIdle();
    assert.deepEqual(order, ['b@1', 'd@1', 'a@5', 'c@5']);
    assert.equal(simulation.nowMs(), 5);
  });

  it('boots nodes when it starts running, so programs may message nodes added after them', () => {
    const simulation = new Simulation({
      seed: 2,
      network: { latency: { kind: 'constant', delayMs: 3 } },
    });
    simulation.addNode({
      id: 'first',
      program: (host) => {
        host.send('second', 'hello');
        return { onMessage: () => {} };
      },
    });
    const second = simulation.addNode({ id: 'second', program: (host) => new Recorder(host) });
    assert.equal(second.status, 'down', 'not booted before the run');
    simulation.runForMs(10);
    assert.equal(second.status, 'up');
    assert.deepEqual(second.program?.received, [{ from: 'first', message: 'hello', atMs: 3 }]);
  });

  it('runUntil stops as soon as the condition holds and reports a timeout otherwise', () => {
    const simulation = new Simulation({ seed: 3 });
    let ticks = 0;
    const tick = (): void => {
      ticks += 1;
      simulation.scheduler.schedule(10, tick);
    };
    simulation.at(10, tick);
    assert.equal(
      simulation.runUntil(() => ticks === 3, { timeoutMs: 1000 }),
      true,
    );
    assert.equal(simulation.nowMs(), 30);
    assert.equal(
      simulation.runUntil(() => ticks === 1000, { timeoutMs: 50 }),
      false,
    );
    assert.equal(simulation.nowMs(), 80);
    assert.equal(ticks, 8);
  });

  it('runUntilIdle with a timeout reports whether the queue emptied', () => {
    const simulation = new Simulation({ seed: 4 });
    const forever = (): void => {
      simulation.scheduler.schedule(1, forever);
    };
    simulation.at(0, forever);
    assert.equal(simulation.runUntilIdle({ timeoutMs: 100 }), false);
    assert.ok(simulation.nowMs() <= 100);
  });

  it('stops a run that never quiesces at eventCountMax with LimitExceededError inside a SimulationError', () => {
    const simulation = new Simulation({ seed: 5, eventCountMax: 1000 });
    const forever = (): void => {
      simulation.scheduler.schedule(0, forever);
    };
    simulation.at(0, forever);
    assert.throws(
      () => simulation.runUntilIdle(),
      (error: unknown) =>
        isSimulationError(error) && isLimitExceededError(error.cause) && error.seed === 5,
    );
  });

  it('wraps what a program throws with the seed, the time and the replay command', () => {
    const simulation = new Simulation({
      seed: 42,
      replayCommand: 'DISTKIT_SIM_SEED=42 node --import tsx --test test/sim/kernel.test.ts',
      network: { latency: { kind: 'constant', delayMs: 2 } },
    });
    simulation.addNode({
      id: 'faulty',
      program: () => ({
        onMessage() {
          throw new Error('invariant broken');
        },
      }),
    });
    simulation.addClient({
      id: 'client',
      program: (host) => {
        host.send('faulty', 'boom');
        return { onMessage: () => {} };
      },
    });
    assert.throws(
      () => simulation.runUntilIdle(),
      (error: unknown) => {
        assert.ok(isSimulationError(error));
        assert.equal(error.timeMs, 2);
        assert.match(error.message, /seed 42 failed at 2\.000 ms: invariant broken/);
        assert.match(error.message, /replay: DISTKIT_SIM_SEED=42 node/);
        return true;
      },
    );
  });

  it('keeps the last trace lines when asked, and the hash covers harness notes', () => {
    const simulation = new Simulation({ seed: 6, trace: { lineCountMax: 2 } });
    simulation.record('one');
    simulation.record('two');
    simulation.record('three');
    assert.deepEqual(
      simulation.traceLines().map((line) => line.split(' ').slice(1).join(' ')),
      ['two', 'three'],
    );
    const quiet = new Simulation({ seed: 6 });
    quiet.record('one');
    const other = new Simulation({ seed: 6 });
    other.record('uno');
    assert.notEqual(quiet.traceHash(), other.traceHash());
  });

  it('lists servers and clients apart; clients are not in nodeIds', () => {
    const simulation = new Simulation({ seed: 7 });
    simulation.addNode({ id: 'a', program: (host) => new Recorder(host) });
    simulation.addClient({ id: 'c', program: (host) => new Recorder(host) });
    simulation.addNode({ id: 'b', program: (host) => new Recorder(host) });
    assert.deepEqual(simulation.nodeIds, ['a', 'b']);
    assert.deepEqual(
      simulation.clients().map((node) => node.id),
      ['c'],
    );
    assert.equal(simulation.node('c').role, 'client');
  });

  it('rejects bad options and inputs with InvalidArgumentError naming them', () => {
    const cases: [() => unknown, string][] = [
      [() => new Simulation({ seed: 1.5 }), 'Simulation options.seed'],
      [() => new Simulation(undefined as never), 'Simulation options.seed'],
      [() => new Simulation({ seed: 1, eventCountMax: 0 }), 'Simulation options.eventCountMax'],
      [
        () => new Simulation({ seed: 1, network: { lossProbability: 2 } }),
        'SimNetwork.configure options.lossProbability',
      ],
      [
        () => new Simulation({ seed: 1, network: { latency: { kind: 'gaussian' } as never } }),
        'SimNetwork.configure options.latency.kind',
      ],
      [
        () =>
          new Simulation({
            seed: 1,
            network: { latency: { kind: 'uniform', delayMsMin: 5, delayMsMax: 1 } },
          }),
        'SimNetwork.configure options.latency.delayMsMax',
      ],
      [
        () => new Simulation({ seed: 1 }).addNode({ id: '', program: () => ({ onMessage() {} }) }),
        'Simulation.addNode options.id',
      ],
      [
        () => new Simulation({ seed: 1 }).addNode({ id: 'x', program: 'nope' as never }),
        'Simulation.addNode options.program',
      ],
      [() => new Simulation({ seed: 1 }).node('missing'), 'Simulation.node id'],
      [() => new Simulation({ seed: 1 }).runForMs(-1), 'Simulation.runForMs durationMs'],
      [
        () => new Simulation({ seed: 1 }).runUntil(() => true, { timeoutMs: Number.NaN }),
        'Simulation.runUntil options.timeoutMs',
      ],
    ];
    for (const [call, argument] of cases) {
      assert.throws(call, (error: unknown) => {
        assert.ok(isInvalidArgumentError(error), `${argument}: ${String(error)}`);
        assert.equal(error.argument, argument);
        return true;
      });
    }
    const simulation = new Simulation({ seed: 1 });
    simulation.addNode({ id: 'x', program: () => ({ onMessage() {} }) });
    assert.throws(
      () => simulation.addClient({ id: 'x', program: () => ({ onMessage() {} }) }),
      (error: unknown) => isInvalidArgumentError(error) && /already exists/.test(error.message),
    );
  });

  it('reports a send to an unknown node as a failure of the run', () => {
    const simulation = new Simulation({ seed: 8 });
    simulation.addNode({
      id: 'a',
      program: (host) => {
        host.send('nobody', 1);
        return { onMessage() {} };
      },
    });
    assert.throws(
      () => simulation.runUntilIdle(),
      (error: unknown) =>
        isSimulationError(error) &&
        isInvalidArgumentError(error.cause) &&
        /"nobody"/.test(error.message),
    );
  });
});

describe('SimNode faults', () => {
  function pair(seed = 1): { simulation: Simulation; receiver: SimNode<Recorder> } {
    const simulation = new Simulation({
      seed,
      network: { latency: { kind: 'constant', delayMs: 10 } },
    });
    const receiver = simulation.addNode({ id: 'receiver', program: (host) => new Recorder(host) });
    return { simulation, receiver };
  }

  it('a crash drops memory, timers and messages to the node; a restart is a new incarnation', () => {
    const simulation = new Simulation({
      seed: 9,
      network: { latency: { kind: 'constant', delayMs: 10 } },
    });
    const fired: string[] = [];
    const node = simulation.addNode({
      id: 'n',
      program: (host) => {
        host.scheduler.schedule(50, () => fired.push(`timer of incarnation ${host.incarnation}`));
        return new Recorder(host);
      },
    });
    let clientHost: NodeHost | undefined;
    simulation.addClient({
      id: 'c',
      program: (host) => {
        clientHost = host;
        return { onMessage() {} };
      },
    });
    simulation.runForMs(1);
    assert.equal(node.incarnation, 1);
    simulation.at(20, () => {
      assert.equal(node.crash(), true);
      assert.equal(node.crash(), false, 'already down');
    });
    // Sent at 25, it arrives at 35 while the node is down: dropped.
    simulation.at(25, () => clientHost?.send('n', 'lost'));
    simulation.runForMs(30);
    assert.equal(node.status, 'down');
    assert.equal(node.program, undefined);
    simulation.at(40, () => {
      assert.equal(node.restart(), true);
    });
    simulation.runForMs(200);
    assert.equal(simulation.statistics.messagesDropped, 1);
    assert.equal(node.incarnation, 2);
    assert.equal(node.crashCount, 1);
    assert.deepEqual(fired, ['timer of incarnation 2'], 'the first incarnation’s timer never ran');
    assert.equal((node.program as Recorder | undefined)?.received.length, 0);
  });

  it('drops messages that arrive while a node is down and delivers them after it restarts', () => {
    const { simulation, receiver } = pair();
    // Drive sends through a client program that keeps its host.
    let clientHost: NodeHost | undefined;
    simulation.addClient({
      id: 'driver',
      program: (host) => {
        clientHost = host;
        return { onMessage() {} };
      },
    });
    simulation.runForMs(0);
    simulation.at(1, () => clientHost?.send('receiver', 'before crash'));
    simulation.at(2, () => receiver.crash());
    simulation.at(3, () => clientHost?.send('receiver', 'while down'));
    simulation.at(20, () => receiver.restart());
    simulation.at(21, () => clientHost?.send('receiver', 'after restart'));
    simulation.runForMs(100);
    assert.deepEqual(
      receiver.program?.received.map((entry) => entry.message),
      ['after restart'],
    );
    assert.equal(simulation.statistics.messagesDropped, 2);
  });

  it('a stale host of a crashed incarnation can neither send nor keep timers', () => {
    const simulation = new Simulation({ seed: 10 });
    let firstHost: NodeHost | undefined;
    const node = simulation.addNode({
      id: 'n',
      program: (host) => {
        firstHost ??= host;
        return { onMessage() {} };
      },
    });
    const peer = simulation.addNode({ id: 'peer', program: (host) => new Recorder(host) });
    simulation.runForMs(1);
    node.crash();
    node.restart();
    let ran = false;
    firstHost?.scheduler.schedule(1, () => {
      ran = true;
    });
    firstHost?.send('peer', 'zombie');
    simulation.runForMs(100);
    assert.equal(ran, false);
    assert.deepEqual(peer.program?.received, []);
  });

  it('a pause holds timers and messages, which run in order on resume', () => {
    const simulation = new Simulation({
      seed: 11,
      network: { latency: { kind: 'constant', delayMs: 5 } },
    });
    const log: string[] = [];
    let clientHost: NodeHost | undefined;
    const node = simulation.addNode({
      id: 'n',
      program: (host) => {
        host.scheduler.schedule(20, () => log.push(`timer at ${simulation.nowMs()}`));
        return {
          onMessage: (_from: string, message: unknown) =>
            log.push(`${String(message)} at ${simulation.nowMs()}`),
        };
      },
    });
    simulation.addClient({
      id: 'c',
      program: (host) => {
        clientHost = host;
        return { onMessage() {} };
      },
    });
    simulation.at(10, () => {
      assert.equal(node.pause(), true);
      assert.equal(node.pause(), false);
    });
    simulation.at(12, () => clientHost?.send('n', 'm1'));
    simulation.at(30, () => clientHost?.send('n', 'm2'));
    simulation.at(100, () => {
      assert.equal(node.resume(), true);
    });
    simulation.runForMs(200);
    assert.deepEqual(log, ['m1 at 100', 'timer at 100', 'm2 at 100']);
  });

  it('a cancelled timer stays cancelled across a pause', () => {
    const simulation = new Simulation({ seed: 12 });
    let ran = false;
    let cancel: (() => boolean) | undefined;
    const node = simulation.addNode({
      id: 'n',
      program: (host) => {
        const task = host.scheduler.schedule(10, () => {
          ran = true;
        });
        cancel = () => task.cancel();
        return { onMessage() {} };
      },
    });
    simulation.at(5, () => node.pause());
    simulation.at(20, () => {
      assert.equal(cancel?.(), true, 'still pending while stashed');
      node.resume();
    });
    simulation.runForMs(100);
    assert.equal(ran, false);
  });

  it('runs a node’s timers on its own clock: a fast clock fires early in true time', () => {
    const simulation = new Simulation({ seed: 13 });
    const firedAt: number[] = [];
    const node = simulation.addNode({
      id: 'fast',
      clock: { rate: 2 },
      program: (host) => {
        host.scheduler.schedule(100, () => firedAt.push(simulation.nowMs(), host.clock.nowMs()));
        return { onMessage() {} };
      },
    });
    simulation.runForMs(200);
    assert.deepEqual(firedAt, [50, 100]);
    assert.equal(node.clock.nowMs(), 400);
  });

  it('changes a clock’s rate from now on and jumps the wall clock alone', () => {
    const simulation = new Simulation({ seed: 14, wallEpochMs: 1_000_000 });
    const node = simulation.addNode({
      id: 'n',
      clock: { wallOffsetMs: 250 },
      program: () => ({ onMessage() {} }),
    });
    simulation.runForMs(100);
    assert.equal(node.clock.nowMs(), 100);
    assert.equal(node.clock.wallMs(), 1_000_350);
    node.clock.setRate(1.5);
    simulation.runForMs(100);
    assert.equal(node.clock.nowMs(), 250);
    node.clock.jumpWallMs(-10_000);
    assert.equal(node.clock.nowMs(), 250, 'monotonic time does not jump');
    assert.equal(node.clock.wallOffsetMs, 250 + 50 - 10_000);
    node.clock.setWallOffsetMs(0);
    assert.equal(node.clock.wallMs(), simulation.clock.wallMs());
    assert.throws(() => node.clock.setRate(3), isInvalidArgumentError);
  });
});
