/**
 * A node of a simulation: the program it runs, the ports it is given (clock, scheduler,
 * random, disk, network), and the faults it can suffer: crash, restart, pause and resume,
 * clock drift and jumps.
 *
 * @module
 */

import {
  type Clock,
  type Random,
  requireNumber,
  type Scheduler,
  type SeededRandom,
} from '../core/index.js';
import { SimDisk, type SimDiskOptions } from './disk.js';
import type { SimEvent } from './event-queue.js';
import { type Kernel, type SimClock, SimScheduler, type TimerEvent, TraceKind } from './kernel.js';
import type { LinkState, MessageEvent } from './network.js';

/**
 * The code a node runs. The simulator builds one with the node's
 * {@link NodeProgramFactory} each time the node starts (first boot and every restart), so
 * everything the program keeps in memory is lost in a crash; what must survive goes to
 * {@link NodeHost.disk}.
 */
export interface NodeProgram {
  /** A message from `from` arrived. */
  onMessage(from: string, message: unknown): void;
}

/**
 * Builds a node's program for one incarnation. Recovery code (reading the disk) goes
 * here or in the program's constructor.
 */
export type NodeProgramFactory<P extends NodeProgram = NodeProgram> = (host: NodeHost) => P;

/**
 * The ports a node's program is given for one incarnation. After a crash the old host
 * is dead: its sends go nowhere and its timers never run, so a stray callback of a
 * crashed incarnation cannot act.
 */
export interface NodeHost {
  /** This node's id. */
  readonly id: string;
  /** 1 on first boot, then one more at each restart. */
  readonly incarnation: number;
  /** The node's own clock: it may be offset, drift or jump relative to the others. */
  readonly clock: Clock;
  /** Timers on the node's clock; they wait while the node is paused and die with it. */
  readonly scheduler: Scheduler;
  /** The node's own seeded random stream. */
  readonly random: Random;
  /** The node's disk; it survives crashes (see {@link SimDisk} for what unsynced writes suffer). */
  readonly disk: SimDisk;
  /** The ids of every server node in the simulation (clients excluded), this one included. */
  readonly nodeIds: readonly string[];
  /** Sends `message` to the node or client `to`; the network may delay, drop or duplicate it. */
  send(to: string, message: unknown): void;
  /** Adds a note to the simulation's trace (and its hash), for reading a failure. */
  record(note: string): void;
}

/** Where a node is in its life. */
export type NodeStatus = 'down' | 'up' | 'paused';

/** What a node is for: `'server'` nodes run the system, `'client'` nodes drive it. */
export type NodeRole = 'server' | 'client';

/** Options for a node's clock. */
export interface NodeClockOptions {
  /** How far the node's wall clock is ahead of true wall time (negative: behind). Default 0. */
  readonly wallOffsetMs?: number;
  /**
   * How fast the node's clock runs relative to true time: 1 is exact, 1.0001 gains
   * 100 µs per second. Default 1.
   */
  readonly rate?: number;
}

/**
 * A node's clock. Monotonic time runs at `rate` times true time from the node's boot of
 * the simulation; wall time is monotonic time plus an offset that can jump either way.
 */
export class SimNodeClock implements SimClock {
  readonly #kernel: Kernel;
  #anchorTrueMs = 0;
  #anchorClockMs = 0;
  #rate: number;
  #wallOffsetMs: number;

  /** @param kernel - the simulation state the clock reads true time from. */
  constructor(kernel: Kernel, options: NodeClockOptions = {}) {
    this.#kernel = kernel;
    this.#rate = requireRate(options.rate ?? 1);
    this.#wallOffsetMs = requireNumber('node clock wallOffsetMs', options.wallOffsetMs ?? 0);
  }

  nowMs(): number {
    return this.#anchorClockMs + (this.#kernel.nowMs - this.#anchorTrueMs) * this.#rate;
  }

  wallMs(): number {
    return this.#kernel.wallEpochMs + this.nowMs() + this.#wallOffsetMs;
  }

  trueTimeAt(clockMs: number): number {
    return this.#anchorTrueMs + (clockMs - this.#anchorClockMs) / this.#rate;
  }

  /** How fast the clock runs relative to true time. */
  get rate(): number {
    return this.#rate;
  }

  /**
   * Changes how fast the clock runs from now on. Timers already set keep the true
   * instant they were given (a real timer does not notice drift either).
   */
  setRate(rate: number): void {
    requireRate(rate);
    this.#anchorClockMs = this.nowMs();
    this.#anchorTrueMs = this.#kernel.nowMs;
    this.#rate = rate;
  }

  /** How far the wall clock is from true wall time now. */
  get wallOffsetMs(): number {
    return this.wallMs() - (this.#kernel.wallEpochMs + this.#kernel.nowMs);
  }

  /** Makes the wall clock jump by `deltaMs` (either way); monotonic time does not move. */
  jumpWallMs(deltaMs: number): void {
    this.#wallOffsetMs += requireNumber('SimNodeClock.jumpWallMs deltaMs', deltaMs);
  }

  /** Sets the wall clock to true wall time plus `offsetMs`; monotonic time does not move. */
  setWallOffsetMs(offsetMs: number): void {
    requireNumber('SimNodeClock.setWallOffsetMs offsetMs', offsetMs);
    this.#wallOffsetMs += offsetMs - this.wallOffsetMs;
  }
}

function requireRate(rate: number): number {
  return requireNumber('node clock rate', rate, { min: 0.5, max: 2 });
}

/** The options a node is created with; see `Simulation.addNode`. */
export interface SimNodeSettings<P extends NodeProgram> {
  readonly id: string;
  readonly role: NodeRole;
  readonly program: NodeProgramFactory<P>;
  readonly disk?: SimDiskOptions;
  readonly clock?: NodeClockOptions;
}

class IncarnationHost implements NodeHost {
  readonly scheduler: SimScheduler;

  constructor(
    readonly node: SimNode<NodeProgram>,
    readonly incarnation: number,
  ) {
    this.scheduler = new SimScheduler(node.kernel, node.clock, node, incarnation, node.index + 1);
  }

  get id(): string {
    return this.node.id;
  }

  get clock(): SimNodeClock {
    return this.node.clock;
  }

  get random(): SeededRandom {
    return this.node.random;
  }

  get disk(): SimDisk {
    return this.node.disk;
  }

  get nodeIds(): readonly string[] {
    return this.node.serverIds;
  }

  send(to: string, message: unknown): void {
    const node = this.node;
    if (node.incarnation === this.incarnation && node.status === 'up') {
      node.transmit(node, to, message);
    }
  }

  record(note: string): void {
    const node = this.node;
    if (node.incarnation === this.incarnation) {
      node.traceNote(note);
    }
  }
}

/**
 * A node (server or client) of a simulation, as the harness sees it: its status, its
 * current program, and the faults it can be put through. Get one from
 * `Simulation.addNode` or `Simulation.addClient`.
 */
export class SimNode<P extends NodeProgram = NodeProgram> {
  /** The node's id, unique in the simulation. */
  readonly id: string;
  /** Server or client. */
  readonly role: NodeRole;
  /** The node's clock (offset, drift and jumps are set here). */
  readonly clock: SimNodeClock;
  /** The node's disk; it survives crashes. */
  readonly disk: SimDisk;
  /** The node's seeded random stream. */
  readonly random: SeededRandom;
  /** @internal The simulation state. */
  readonly kernel: Kernel;
  /** @internal Position among the simulation's nodes (stable, from 0). */
  readonly index: number;
  /** @internal Outgoing link state by destination index; filled on first use. */
  readonly outLinks: (LinkState | undefined)[] = [];
  /** @internal The server ids, shared by every node. */
  readonly serverIds: readonly string[];
  /** @internal Sends through the network. */
  readonly transmit: (from: SimNode<NodeProgram>, to: string, message: unknown) => void;
  readonly #factory: NodeProgramFactory<P>;
  readonly #stashCountMax: number;
  #stash: SimEvent[] = [];
  #status: NodeStatus = 'down';
  #incarnation = 0;
  #program: P | undefined;
  #crashCount = 0;

  /** @internal Built by the simulation. */
  constructor(
    kernel: Kernel,
    index: number,
    settings: SimNodeSettings<P>,
    serverIds: readonly string[],
    transmit: (from: SimNode<NodeProgram>, to: string, message: unknown) => void,
    stashCountMax: number,
  ) {
    this.kernel = kernel;
    this.index = index;
    this.id = settings.id;
    this.role = settings.role;
    this.#factory = settings.program;
    this.serverIds = serverIds;
    this.transmit = transmit;
    this.#stashCountMax = stashCountMax;
    this.clock = new SimNodeClock(kernel, settings.clock);
    this.random = kernel.random.fork(`node:${settings.id}`);
    this.disk = new SimDisk(this.random.fork('disk'), settings.disk);
  }

  /** `'up'`, `'down'` (crashed, or not booted yet) or `'paused'`. */
  get status(): NodeStatus {
    return this.#status;
  }

  /** How many times the node has started; 0 before its first boot. */
  get incarnation(): number {
    return this.#incarnation;
  }

  /** How many times the node has crashed. */
  get crashCount(): number {
    return this.#crashCount;
  }

  /** The running program; `undefined` while the node is down. */
  get program(): P | undefined {
    return this.#program;
  }

  /**
   * Starts the node if it is down: a new incarnation builds its program from the factory
   * (which recovers from the disk). Returns false when the node was not down.
   */
  restart(): boolean {
    if (this.#status !== 'down') {
      return false;
    }
    this.#incarnation += 1;
    this.#status = 'up';
    this.#traceFault(TraceKind.start, 'start');
    const host = new IncarnationHost(this as SimNode<NodeProgram>, this.#incarnation);
    this.#program = this.#factory(host);
    return true;
  }

  /**
   * Crashes the node: its program and timers are gone, messages to it are dropped until
   * it restarts, and its disk suffers the fate of unsynced writes. Returns false when it
   * was already down.
   */
  crash(): boolean {
    if (this.#status === 'down') {
      return false;
    }
    this.#status = 'down';
    this.#crashCount += 1;
    this.#program = undefined;
    this.#stash = [];
    this.disk.crash();
    this.#traceFault(TraceKind.crash, 'crash');
    return true;
  }

  /**
   * Stops the node without losing anything, as a long GC pause or a SIGSTOP does:
   * messages and timers due while it is paused wait and run, in order, on
   * {@link SimNode.resume}. Returns false when the node was not up.
   */
  pause(): boolean {
    if (this.#status !== 'up') {
      return false;
    }
    this.#status = 'paused';
    this.#traceFault(TraceKind.pause, 'pause');
    return true;
  }

  /** Ends a pause: what waited runs now, in the order it fell due. False when not paused. */
  resume(): boolean {
    if (this.#status !== 'paused') {
      return false;
    }
    this.#status = 'up';
    this.#traceFault(TraceKind.resume, 'resume');
    const stash = this.#stash;
    this.#stash = [];
    const kernel = this.kernel;
    for (const event of stash) {
      kernel.enqueue(event, kernel.nowMs);
    }
    return true;
  }

  /** @internal Decides what a due timer of `incarnation` does. */
  admitTimer(event: TimerEvent, incarnation: number): 'run' | 'stash' | 'discard' {
    if (incarnation !== this.#incarnation || this.#status === 'down') {
      return 'discard';
    }
    if (this.#status === 'paused') {
      this.#stash.push(event);
      return 'stash';
    }
    return 'run';
  }

  /** @internal A message reached this node. */
  receive(event: MessageEvent): void {
    const kernel = this.kernel;
    const status = this.#status;
    if (status === 'up') {
      kernel.counters.messagesDelivered += 1;
      const hash = kernel.trace.hash;
      hash.word(TraceKind.deliver);
      hash.number(kernel.nowMs);
      hash.word(event.from.index);
      hash.word(this.index);
      if (kernel.trace.hashPayloads) {
        hash.text(JSON.stringify(event.payload) ?? 'undefined');
      }
      if (kernel.trace.keepsLines) {
        kernel.trace.line(
          `${kernel.nowMs.toFixed(3)} deliver ${event.from.id} -> ${this.id} ${JSON.stringify(event.payload)}`,
        );
      }
      (this.#program as P).onMessage(event.from.id, event.payload);
      return;
    }
    if (status === 'paused' && this.#stash.length < this.#stashCountMax) {
      this.#stash.push(event);
      return;
    }
    kernel.counters.messagesDropped += 1;
    const hash = kernel.trace.hash;
    hash.word(TraceKind.drop);
    hash.number(kernel.nowMs);
    hash.word(event.from.index);
    hash.word(this.index);
    if (kernel.trace.keepsLines) {
      kernel.trace.line(
        `${kernel.nowMs.toFixed(3)} drop ${event.from.id} -> ${this.id} (receiver ${status})`,
      );
    }
  }

  /** @internal Adds a program's note to the trace. */
  traceNote(note: string): void {
    const kernel = this.kernel;
    kernel.trace.hash.word(TraceKind.record);
    kernel.trace.hash.word(this.index);
    kernel.trace.hash.text(note);
    if (kernel.trace.keepsLines) {
      kernel.trace.line(`${kernel.nowMs.toFixed(3)} ${this.id}: ${note}`);
    }
  }

  #traceFault(kind: number, label: string): void {
    const kernel = this.kernel;
    kernel.trace.hash.word(kind);
    kernel.trace.hash.word(this.index);
    kernel.trace.hash.number(kernel.nowMs);
    if (kernel.trace.keepsLines) {
      kernel.trace.line(`${kernel.nowMs.toFixed(3)} ${label} ${this.id}`);
    }
  }
}
