/**
 * The simulated network between the nodes and clients of a simulation: per-link latency,
 * loss, duplication and ordering, and the partitions, one-way blocks and clogs a nemesis
 * uses. Every decision is drawn from the simulation's seed.
 *
 * A link is directed: `a -> b` and `b -> a` are configured, blocked and clogged
 * separately, so one-way faults are as easy to express as two-way ones.
 *
 * @module
 */

import {
  InvalidArgumentError,
  requireBoolean,
  requireNumber,
  requireOptions,
  requireString,
  type SeededRandom,
} from '../core/index.js';
import { SimEvent } from './event-queue.js';
import { type Kernel, TraceKind } from './kernel.js';
import { type DelayDistribution, requireDelayDistribution, sampleDelayMs } from './latency.js';
import type { NodeProgram, SimNode } from './node.js';

/** How a link behaves; every field is optional when changing some of them. */
export interface LinkOptions {
  /** How long a message takes. Default: uniform between 1 and 5 ms. */
  readonly latency?: DelayDistribution;
  /** Probability that a message is lost. Default 0. */
  readonly lossProbability?: number;
  /** Probability that a message is delivered twice (the copy with its own latency). Default 0. */
  readonly duplicateProbability?: number;
  /**
   * Deliver in the order sent (as over one TCP connection). Default false: each message's
   * latency is drawn on its own, so later messages may overtake earlier ones.
   */
  readonly ordered?: boolean;
}

/** Which links a change applies to: every link from any of `from` to any of `to`. */
export interface LinkSelection {
  /** Senders; default every node and client. */
  readonly from?: string | readonly string[];
  /** Receivers; default every node and client. */
  readonly to?: string | readonly string[];
}

/** The network's counters. */
export interface NetworkStatistics {
  /** Messages handed to the network. */
  readonly messagesSent: number;
  /** Messages a receiver's program got. */
  readonly messagesDelivered: number;
  /** Messages lost: to loss, to a partition, or to a receiver that was down. */
  readonly messagesDropped: number;
  /** Extra copies the network made. */
  readonly messagesDuplicated: number;
}

const defaultLatency: DelayDistribution = { kind: 'uniform', delayMsMin: 1, delayMsMax: 5 };

/** @internal The state of one directed link. */
export class LinkState {
  latency: DelayDistribution;
  lossProbability: number;
  duplicateProbability: number;
  ordered: boolean;
  blocked = false;
  clogUntilMs = 0;
  lastDeliveryMs = 0;
  /** Messages a clog holds back, released early if the network heals. */
  held: MessageEvent[] = [];

  constructor(defaults: LinkSettings) {
    this.latency = defaults.latency;
    this.lossProbability = defaults.lossProbability;
    this.duplicateProbability = defaults.duplicateProbability;
    this.ordered = defaults.ordered;
  }

  apply(options: LinkOptions): void {
    if (options.latency !== undefined) {
      this.latency = options.latency;
    }
    if (options.lossProbability !== undefined) {
      this.lossProbability = options.lossProbability;
    }
    if (options.duplicateProbability !== undefined) {
      this.duplicateProbability = options.duplicateProbability;
    }
    if (options.ordered !== undefined) {
      this.ordered = options.ordered;
    }
  }
}

interface LinkSettings {
  latency: DelayDistribution;
  lossProbability: number;
  duplicateProbability: number;
  ordered: boolean;
}

/** @internal A message on its way. */
export class MessageEvent extends SimEvent {
  /** Set once the message has crossed the link; a paused receiver replays it from there. */
  arrived = false;

  constructor(
    readonly from: SimNode<NodeProgram>,
    readonly to: SimNode<NodeProgram>,
    readonly link: LinkState,
    readonly payload: unknown,
    /** When it would have arrived without a clog. */
    readonly unclogged: number,
  ) {
    super();
  }

  run(): void {
    if (!this.arrived) {
      if (this.link.blocked) {
        traceDrop(this.to.kernel, this.from, this.to, 'partitioned in flight');
        return;
      }
      this.arrived = true;
    }
    this.to.receive(this);
  }
}

/**
 * The network of a simulation (`simulation.network`). Configure links, then break and
 * heal them while the simulation runs.
 *
 * @example
 * ```ts
 * const simulation = new Simulation({ seed: 7 });
 * simulation.network.configure({ latency: { kind: 'exponential', delayMsMin: 1, extraMsMean: 2 } });
 * simulation.network.configure({ lossProbability: 0.01 }, { from: 'n1' });
 * ```
 */
export class SimNetwork {
  readonly #kernel: Kernel;
  readonly #random: SeededRandom;
  readonly #nodes: readonly SimNode<NodeProgram>[];
  readonly #byId: ReadonlyMap<string, SimNode<NodeProgram>>;
  readonly #defaults: LinkSettings = {
    latency: defaultLatency,
    lossProbability: 0,
    duplicateProbability: 0,
    ordered: false,
  };

  /** @internal Built by the simulation. */
  constructor(
    kernel: Kernel,
    nodes: readonly SimNode<NodeProgram>[],
    byId: ReadonlyMap<string, SimNode<NodeProgram>>,
    options: LinkOptions | undefined,
  ) {
    this.#kernel = kernel;
    this.#random = kernel.random.fork('network');
    this.#nodes = nodes;
    this.#byId = byId;
    if (options !== undefined) {
      this.configure(options);
    }
  }

  /**
   * Changes how the selected links behave (all of them when `selection` is absent; then
   * the change also becomes the default for nodes added later).
   */
  configure(options: LinkOptions, selection?: LinkSelection): void {
    const checked = requireLinkOptions(options);
    if (selection === undefined) {
      Object.assign(
        this.#defaults,
        Object.fromEntries(Object.entries(checked).filter(([, value]) => value !== undefined)),
      );
    }
    this.#forEachLink(selection, 'SimNetwork.configure', (link) => {
      link.apply(checked);
    });
  }

  /**
   * Splits the network into `groups`: a node in one group cannot reach a node in another,
   * either way. Nodes named in no group keep reaching everyone. Adds to any block already
   * in place; {@link SimNetwork.heal} removes them all.
   */
  partition(groups: readonly (readonly string[])[]): void {
    if (!Array.isArray(groups)) {
      throw new InvalidArgumentError(
        'SimNetwork.partition groups',
        'SimNetwork.partition groups must be an array of arrays of node ids.',
      );
    }
    const groupOf = new Map<string, number>();
    groups.forEach((group, groupIndex) => {
      for (const id of this.#ids(group, 'SimNetwork.partition groups')) {
        if (groupOf.has(id)) {
          throw new InvalidArgumentError(
            'SimNetwork.partition groups',
            `SimNetwork.partition: ${JSON.stringify(id)} is in two groups; a node belongs to one side.`,
          );
        }
        groupOf.set(id, groupIndex);
      }
    });
    this.#traceFault(`partition ${JSON.stringify(groups)}`);
    for (const from of this.#nodes) {
      const fromGroup = groupOf.get(from.id);
      if (fromGroup === undefined) {
        continue;
      }
      for (const to of this.#nodes) {
        const toGroup = groupOf.get(to.id);
        if (toGroup !== undefined && toGroup !== fromGroup) {
          this.#link(from, to).blocked = true;
        }
      }
    }
  }

  /** Cuts `id` off from every other node and client, both ways. */
  isolate(id: string): void {
    const node = this.#node(id, 'SimNetwork.isolate id');
    this.#traceFault(`isolate ${id}`);
    for (const other of this.#nodes) {
      if (other !== node) {
        this.#link(node, other).blocked = true;
        this.#link(other, node).blocked = true;
      }
    }
  }

  /** Blocks the links from `from` to `to` (one way: replies still flow back). */
  block(selection: LinkSelection): void {
    this.#traceFault(`block ${JSON.stringify(selection)}`);
    this.#forEachLink(
      requireOptions('SimNetwork.block selection', selection),
      'SimNetwork.block',
      (link) => {
        link.blocked = true;
      },
    );
  }

  /** Unblocks the selected links (partitions included); clogs stay. */
  unblock(selection: LinkSelection): void {
    this.#traceFault(`unblock ${JSON.stringify(selection)}`);
    this.#forEachLink(
      requireOptions('SimNetwork.unblock selection', selection),
      'SimNetwork.unblock',
      (link) => {
        link.blocked = false;
      },
    );
  }

  /**
   * A bridge partition: `sideA` and `sideB` cannot reach each other, but `bridge` reaches
   * both, so each side sees a majority through it and two leaders may each believe
   * themselves legitimate.
   */
  bridge(sideA: readonly string[], sideB: readonly string[], bridge: string): void {
    const a = this.#ids(sideA, 'SimNetwork.bridge sideA');
    const b = this.#ids(sideB, 'SimNetwork.bridge sideB');
    requireString('SimNetwork.bridge bridge', bridge);
    this.#node(bridge, 'SimNetwork.bridge bridge');
    if (a.includes(bridge) || b.includes(bridge)) {
      throw new InvalidArgumentError(
        'SimNetwork.bridge bridge',
        `SimNetwork.bridge: the bridge ${JSON.stringify(bridge)} must be on neither side.`,
      );
    }
    this.#traceFault(`bridge ${JSON.stringify(a)} ${JSON.stringify(b)} via ${bridge}`);
    for (const x of a) {
      for (const y of b) {
        this.#link(this.#node(x, ''), this.#node(y, '')).blocked = true;
        this.#link(this.#node(y, ''), this.#node(x, '')).blocked = true;
      }
    }
  }

  /**
   * A ring partition over `ids` (in that order): each node reaches only its two
   * neighbours, so every node sees a majority of a five-node ring but no two majorities
   * agree.
   */
  ring(ids: readonly string[]): void {
    const ring = this.#ids(ids, 'SimNetwork.ring ids');
    this.#traceFault(`ring ${JSON.stringify(ring)}`);
    const count = ring.length;
    ring.forEach((id, position) => {
      const node = this.#node(id, '');
      ring.forEach((otherId, otherPosition) => {
        const distance = Math.abs(position - otherPosition);
        if (distance > 1 && distance < count - 1) {
          this.#link(node, this.#node(otherId, '')).blocked = true;
        }
      });
    });
  }

  /**
   * Clogs the selected links for `durationMs`: messages sent meanwhile are held and
   * delivered when the clog clears, as a saturated link or a full buffer would.
   */
  clog(selection: LinkSelection, durationMs: number): void {
    requireNumber('SimNetwork.clog durationMs', durationMs, { min: 0 });
    const untilMs = this.#kernel.nowMs + durationMs;
    this.#traceFault(`clog ${JSON.stringify(selection)} for ${durationMs} ms`);
    this.#forEachLink(
      requireOptions('SimNetwork.clog selection', selection),
      'SimNetwork.clog',
      (link) => {
        if (link.clogUntilMs < untilMs) {
          link.clogUntilMs = untilMs;
        }
      },
    );
  }

  /** Removes every partition, block and clog. Latency, loss and duplication stay as set. */
  heal(): void {
    this.#traceFault('heal');
    const kernel = this.#kernel;
    const now = kernel.nowMs;
    for (const node of this.#nodes) {
      for (const link of node.outLinks) {
        if (link === undefined) {
          continue;
        }
        link.blocked = false;
        if (link.clogUntilMs > now) {
          link.clogUntilMs = now;
        }
        // Release what the clog held, in the order it was sent, at its unclogged time
        // or now, whichever is later; an ordered link keeps that order.
        let lastMs = now;
        for (const event of link.held) {
          if (kernel.queue.remove(event)) {
            const arrivalMs = Math.max(event.unclogged, link.ordered ? lastMs : now);
            lastMs = arrivalMs;
            kernel.enqueue(event, arrivalMs);
          }
        }
        link.held = [];
        if (link.lastDeliveryMs > lastMs) {
          link.lastDeliveryMs = lastMs;
        }
      }
    }
  }

  /** How the link from `from` to `to` behaves now (its latency, loss, duplication, order). */
  linkOptions(from: string, to: string): Required<LinkOptions> {
    const sender = this.#node(from, 'SimNetwork.linkOptions from');
    const receiver = this.#node(to, 'SimNetwork.linkOptions to');
    const link = sender.outLinks[receiver.index] ?? this.#defaults;
    return {
      latency: link.latency,
      lossProbability: link.lossProbability,
      duplicateProbability: link.duplicateProbability,
      ordered: link.ordered,
    };
  }

  /** Whether messages from `from` to `to` are blocked now. */
  isBlocked(from: string, to: string): boolean {
    const sender = this.#node(from, 'SimNetwork.isBlocked from');
    const receiver = this.#node(to, 'SimNetwork.isBlocked to');
    return sender.outLinks[receiver.index]?.blocked ?? false;
  }

  /** The network's counters. */
  get statistics(): NetworkStatistics {
    const counters = this.#kernel.counters;
    return {
      messagesSent: counters.messagesSent,
      messagesDelivered: counters.messagesDelivered,
      messagesDropped: counters.messagesDropped,
      messagesDuplicated: counters.messagesDuplicated,
    };
  }

  /** @internal Sends a message from a node's program. */
  transmit(from: SimNode<NodeProgram>, toId: string, payload: unknown): void {
    const to = this.#byId.get(toId);
    if (to === undefined) {
      throw new InvalidArgumentError(
        'NodeHost.send to',
        `${from.id} sent a message to ${JSON.stringify(toId)}, which is no node or client of this simulation.`,
      );
    }
    const kernel = this.#kernel;
    kernel.counters.messagesSent += 1;
    const link = from.outLinks[to.index] ?? this.#link(from, to);
    if (link.blocked) {
      traceDrop(kernel, from, to, 'link blocked');
      return;
    }
    if (link.lossProbability > 0 && this.#random.float() < link.lossProbability) {
      traceDrop(kernel, from, to, 'lost');
      return;
    }
    this.#dispatch(from, to, link, payload);
    if (link.duplicateProbability > 0 && this.#random.float() < link.duplicateProbability) {
      kernel.counters.messagesDuplicated += 1;
      kernel.trace.hash.word(TraceKind.duplicate);
      this.#dispatch(from, to, link, payload);
    }
  }

  #dispatch(
    from: SimNode<NodeProgram>,
    to: SimNode<NodeProgram>,
    link: LinkState,
    payload: unknown,
  ): void {
    const kernel = this.#kernel;
    const unclogged = kernel.nowMs + sampleDelayMs(link.latency, this.#random);
    let arrivalMs = unclogged;
    const clogged = arrivalMs < link.clogUntilMs;
    if (clogged) {
      arrivalMs = link.clogUntilMs;
    }
    if (link.ordered) {
      if (arrivalMs < link.lastDeliveryMs) {
        arrivalMs = link.lastDeliveryMs;
      }
      link.lastDeliveryMs = arrivalMs;
    }
    const event = new MessageEvent(from, to, link, payload, unclogged);
    kernel.enqueue(event, arrivalMs);
    if (clogged) {
      if (link.held.length > 0 && link.held[0]?.slot === -1) {
        // The clog has been delivered since; start a fresh list.
        link.held = link.held.filter((waiting) => waiting.slot >= 0);
      }
      link.held.push(event);
    }
  }

  #link(from: SimNode<NodeProgram>, to: SimNode<NodeProgram>): LinkState {
    let link = from.outLinks[to.index];
    if (link === undefined) {
      link = new LinkState(this.#defaults);
      from.outLinks[to.index] = link;
    }
    return link;
  }

  #node(id: string, name: string): SimNode<NodeProgram> {
    const node = this.#byId.get(id);
    if (node === undefined) {
      throw new InvalidArgumentError(
        name,
        `${name}: ${JSON.stringify(id)} is no node or client of this simulation.`,
      );
    }
    return node;
  }

  #ids(value: string | readonly string[] | undefined, name: string): string[] {
    if (value === undefined) {
      return this.#nodes.map((node) => node.id);
    }
    const ids = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(ids)) {
      throw new InvalidArgumentError(name, `${name} must be a node id or an array of node ids.`);
    }
    for (const id of ids) {
      this.#node(id, name);
    }
    return [...ids];
  }

  #forEachLink(
    selection: LinkSelection | undefined,
    name: string,
    change: (link: LinkState) => void,
  ): void {
    const senders = this.#ids(selection?.from, `${name} selection.from`);
    const receivers = this.#ids(selection?.to, `${name} selection.to`);
    for (const fromId of senders) {
      const from = this.#node(fromId, name);
      for (const toId of receivers) {
        change(this.#link(from, this.#node(toId, name)));
      }
    }
  }

  #traceFault(description: string): void {
    const trace = this.#kernel.trace;
    trace.hash.word(TraceKind.fault);
    trace.hash.text(description);
    if (trace.keepsLines) {
      trace.line(`${this.#kernel.nowMs.toFixed(3)} network: ${description}`);
    }
  }
}

/** Counts and traces a message the network dropped. */
function traceDrop(
  kernel: Kernel,
  from: SimNode<NodeProgram>,
  to: SimNode<NodeProgram>,
  reason: string,
): void {
  kernel.counters.messagesDropped += 1;
  const hash = kernel.trace.hash;
  hash.word(TraceKind.drop);
  hash.number(kernel.nowMs);
  hash.word(from.index);
  hash.word(to.index);
  if (kernel.trace.keepsLines) {
    kernel.trace.line(`${kernel.nowMs.toFixed(3)} drop ${from.id} -> ${to.id} (${reason})`);
  }
}

function requireLinkOptions(options: LinkOptions): LinkOptions {
  requireOptions('SimNetwork.configure options', options);
  if (options.latency !== undefined) {
    requireDelayDistribution('SimNetwork.configure options.latency', options.latency);
  }
  if (options.lossProbability !== undefined) {
    requireNumber('SimNetwork.configure options.lossProbability', options.lossProbability, {
      min: 0,
      max: 1,
    });
  }
  if (options.duplicateProbability !== undefined) {
    requireNumber(
      'SimNetwork.configure options.duplicateProbability',
      options.duplicateProbability,
      { min: 0, max: 1 },
    );
  }
  if (options.ordered !== undefined) {
    requireBoolean('SimNetwork.configure options.ordered', options.ordered);
  }
  return options;
}
