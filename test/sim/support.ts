/**
 * Test support for the simulator's tests: a cluster of nodes that log what reaches them,
 * and the links a network blocks.
 */

import { type LinkOptions, type NodeHost, Simulation } from '../../src/sim/index.js';

/** One message as a node received it. */
export interface Delivery {
  readonly from: string;
  readonly to: string;
  readonly message: unknown;
  readonly atMs: number;
}

/** A booted cluster of logging nodes. */
export interface LoggingCluster {
  readonly simulation: Simulation;
  readonly deliveries: Delivery[];
  /** Sends from any node at the current instant. */
  send(from: string, to: string, message: unknown): void;
}

/** Nodes `ids` that log deliveries, on links configured by `network`, booted at time 0. */
export function loggingCluster(
  ids: readonly string[],
  network: LinkOptions = { latency: { kind: 'constant', delayMs: 10 } },
  seed = 1,
): LoggingCluster {
  const simulation = new Simulation({ seed, network });
  const deliveries: Delivery[] = [];
  const hosts = new Map<string, NodeHost>();
  for (const id of ids) {
    simulation.addNode({
      id,
      program: (host) => {
        hosts.set(id, host);
        return {
          onMessage: (from: string, message: unknown) =>
            deliveries.push({ from, to: id, message, atMs: simulation.nowMs() }),
        };
      },
    });
  }
  simulation.runForMs(0);
  return {
    simulation,
    deliveries,
    send: (from, to, message) => hosts.get(from)?.send(to, message),
  };
}

/** The directed pairs among `ids` whose link is blocked, as `from>to`. */
export function blockedPairs(simulation: Simulation, ids: readonly string[]): string[] {
  const pairs: string[] = [];
  for (const from of ids) {
    for (const to of ids) {
      if (from !== to && simulation.network.isBlocked(from, to)) {
        pairs.push(`${from}>${to}`);
      }
    }
  }
  return pairs;
}
