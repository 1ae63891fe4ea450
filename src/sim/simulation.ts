/**
 * `Simulation`: many nodes in one thread on one event queue ordered by (time, sequence),
 * every delay and fault drawn from one seed, so a seed reproduces a whole run, trace hash
 * and all.
 *
 * @module
 */

import {
  DistkitError,
  type DistkitErrorOptions,
  errorGuard,
  InvalidArgumentError,
  LimitExceededError,
  requireFunction,
  requireInteger,
  requireNumber,
  requireOptions,
  requireString,
  type ScheduledTask,
  type Scheduler,
  SeededRandom,
} from '../core/index.js';
import type { SimDiskOptions } from './disk.js';
import { Kernel, KernelClock, SimScheduler } from './kernel.js';
import { type LinkOptions, SimNetwork } from './network.js';
import {
  type NodeClockOptions,
  type NodeProgram,
  type NodeProgramFactory,
  type NodeRole,
  SimNode,
} from './node.js';
import type { TraceOptions } from './trace.js';

/** Options for {@link Simulation}. */
export interface SimulationOptions {
  /** The seed every delay, loss, fault and node random stream derives from. */
  readonly seed: number;
  /** How every link behaves at first; see {@link SimNetwork.configure}. */
  readonly network?: LinkOptions;
  /** What to keep of the trace beyond its hash. */
  readonly trace?: TraceOptions;
  /**
   * Most events one call to a `run*` method may process before it stops with
   * {@link LimitExceededError}: a guard against a run that never quiesces. Default 100,000,000.
   */
  readonly eventCountMax?: number;
  /** Most messages a paused node holds for later; beyond it they are dropped. Default 100,000. */
  readonly pausedMessageCountMax?: number;
  /** True wall-clock time at simulated time 0. Default 2026-01-01T00:00:00Z. */
  readonly wallEpochMs?: number;
  /**
   * The command that replays this run, put in every {@link SimulationError}, for example
   * `DISTKIT_SIM_SEED=42 node --import tsx --test test/sim/register.test.ts`.
   */
  readonly replayCommand?: string;
}

/** Options for {@link Simulation.addNode} and {@link Simulation.addClient}. */
export interface AddNodeOptions<P extends NodeProgram> {
  /** The node's id, unique in the simulation. */
  readonly id: string;
  /** Builds the node's program at each start. */
  readonly program: NodeProgramFactory<P>;
  /** The node's disk faults. */
  readonly disk?: SimDiskOptions;
  /** The node's clock offset and rate. */
  readonly clock?: NodeClockOptions;
  /** Boot the node as soon as the simulation runs. Default true. */
  readonly start?: boolean;
}

/** Counters of a run so far. */
export interface SimulationStatistics {
  /** Events processed (deliveries, timers, harness tasks). */
  readonly eventCount: number;
  /** Simulated time now. */
  readonly nowMs: number;
  /** Messages handed to the network. */
  readonly messagesSent: number;
  /** Messages delivered to a program. */
  readonly messagesDelivered: number;
  /** Messages lost to loss, partitions or a receiver that was down. */
  readonly messagesDropped: number;
  /** Extra copies the network made. */
  readonly messagesDuplicated: number;
  /** Node timers that ran. */
  readonly timersFired: number;
}

/**
 * Something in a simulated run threw. The message names the seed, the simulated time and
 * the replay command; `cause` is what was thrown.
 */
export class SimulationError extends DistkitError {
  /** The seed of the failed run. */
  readonly seed: number;
  /** Simulated time of the failure. */
  readonly timeMs: number;
  /** The command that replays the run, when the simulation was given one. */
  readonly replayCommand: string | undefined;

  constructor(
    seed: number,
    timeMs: number,
    replayCommand: string | undefined,
    message: string,
    options?: DistkitErrorOptions,
  ) {
    super(
      'SIMULATION_FAILED',
      `simulation seed ${seed} failed at ${timeMs.toFixed(3)} ms: ${message}` +
        (replayCommand === undefined ? '' : `\n  replay: ${replayCommand}`),
      options,
    );
    this.seed = seed;
    this.timeMs = timeMs;
    this.replayCommand = replayCommand;
  }
}

/** Brand guard for {@link SimulationError}. */
export const isSimulationError = errorGuard<SimulationError>('SIMULATION_FAILED');

/** Options for {@link Simulation.runUntil}. */
export interface RunUntilOptions {
  /** Give up when this much simulated time has passed. */
  readonly timeoutMs: number;
}

/**
 * A deterministic simulation of a cluster. Add nodes (each a program over simulated
 * ports), configure the network, schedule faults, run, then inspect.
 *
 * @example
 * ```ts
 * class Echo implements NodeProgram {
 *   constructor(readonly host: NodeHost) {}
 *   onMessage(from: string, message: unknown): void {
 *     this.host.send(from, message);
 *   }
 * }
 * const simulation = new Simulation({ seed: 1 });
 * simulation.addNode({ id: 'echo', program: (host) => new Echo(host) });
 * const replies: unknown[] = [];
 * simulation.addClient({
 *   id: 'client',
 *   program: (host) => {
 *     host.send('echo', 'hello');
 *     return { onMessage: (_from, message) => replies.push(message) };
 *   },
 * });
 * simulation.runUntilIdle();
 * console.log(replies, simulation.traceHash());
 * ```
 */
export class Simulation {
  /** The seed of this run. */
  readonly seed: number;
  /** The network between the nodes. */
  readonly network: SimNetwork;
  /** A random stream for the harness (workloads, nemesis), separate from the nodes'. */
  readonly random: SeededRandom;
  /** Simulated true time: what no node's clock is guaranteed to read. */
  readonly clock: KernelClock;
  /** Runs harness callbacks in simulated true time. */
  readonly scheduler: Scheduler;
  /** The replay command given in the options. */
  readonly replayCommand: string | undefined;
  readonly #kernel: Kernel;
  readonly #nodes: SimNode<NodeProgram>[] = [];
  readonly #byId = new Map<string, SimNode<NodeProgram>>();
  readonly #serverIds: string[] = [];
  readonly #eventCountMax: number;
  readonly #pausedMessageCountMax: number;

  constructor(options: SimulationOptions) {
    const settings = requireOptions('Simulation options', options);
    this.seed = requireInteger('Simulation options.seed', settings.seed);
    const wallEpochMs = requireNumber(
      'Simulation options.wallEpochMs',
      settings.wallEpochMs ?? Date.UTC(2026, 0, 1),
    );
    this.#eventCountMax = requireInteger(
      'Simulation options.eventCountMax',
      settings.eventCountMax ?? 100_000_000,
      { min: 1 },
    );
    this.#pausedMessageCountMax = requireInteger(
      'Simulation options.pausedMessageCountMax',
      settings.pausedMessageCountMax ?? 100_000,
      { min: 0 },
    );
    this.replayCommand =
      settings.replayCommand === undefined
        ? undefined
        : requireString('Simulation options.replayCommand', settings.replayCommand);
    const root = new SeededRandom({ seed: this.seed });
    this.#kernel = new Kernel(this.seed, root.fork('kernel'), wallEpochMs, settings.trace ?? {});
    this.random = root.fork('harness');
    this.clock = new KernelClock(this.#kernel);
    this.scheduler = new SimScheduler(this.#kernel, this.clock, undefined, 0, 0);
    this.network = new SimNetwork(this.#kernel, this.#nodes, this.#byId, settings.network);
  }

  /** Simulated true time in milliseconds. */
  nowMs(): number {
    return this.#kernel.nowMs;
  }

  /** Adds a server node; it boots at the current instant once the simulation runs. */
  addNode<P extends NodeProgram>(options: AddNodeOptions<P>): SimNode<P> {
    return this.#add(options, 'server', 'Simulation.addNode');
  }

  /**
   * Adds a client: a node that drives the system (a workload's process). Clients are on
   * the network like servers but are not in {@link NodeHost.nodeIds}.
   */
  addClient<P extends NodeProgram>(options: AddNodeOptions<P>): SimNode<P> {
    return this.#add(options, 'client', 'Simulation.addClient');
  }

  #add<P extends NodeProgram>(
    options: AddNodeOptions<P>,
    role: NodeRole,
    name: string,
  ): SimNode<P> {
    requireOptions(`${name} options`, options);
    const id = requireString(`${name} options.id`, options.id);
    if (this.#byId.has(id)) {
      throw new InvalidArgumentError(
        `${name} options.id`,
        `${name}: a node or client named ${JSON.stringify(id)} already exists.`,
      );
    }
    requireFunction(`${name} options.program`, options.program);
    const network = this.network;
    const node = new SimNode<P>(
      this.#kernel,
      this.#nodes.length,
      {
        id,
        role,
        program: options.program,
        ...(options.disk === undefined ? {} : { disk: options.disk }),
        ...(options.clock === undefined ? {} : { clock: options.clock }),
      },
      this.#serverIds,
      (from, to, message) => network.transmit(from, to, message),
      this.#pausedMessageCountMax,
    );
    this.#nodes.push(node as SimNode<NodeProgram>);
    this.#byId.set(id, node as SimNode<NodeProgram>);
    if (role === 'server') {
      this.#serverIds.push(id);
    }
    if (options.start ?? true) {
      this.scheduler.schedule(0, () => {
        node.restart();
      });
    }
    return node;
  }

  /** The node or client called `id`; throws {@link InvalidArgumentError} when there is none. */
  node(id: string): SimNode<NodeProgram> {
    const node = this.#byId.get(id);
    if (node === undefined) {
      throw new InvalidArgumentError(
        'Simulation.node id',
        `Simulation.node: no node or client is called ${JSON.stringify(id)}.`,
      );
    }
    return node;
  }

  /** The server nodes, in the order they were added. */
  nodes(): SimNode<NodeProgram>[] {
    return this.#nodes.filter((node) => node.role === 'server');
  }

  /** The clients, in the order they were added. */
  clients(): SimNode<NodeProgram>[] {
    return this.#nodes.filter((node) => node.role === 'client');
  }

  /** The ids of the server nodes. */
  get nodeIds(): readonly string[] {
    return this.#serverIds;
  }

  /** Processes the next event, if any; returns false when the queue is empty. */
  step(): boolean {
    return this.#run(Number.POSITIVE_INFINITY, undefined, 1) > 0;
  }

  /** Runs every event due in the next `durationMs`, then sets time to that instant. */
  runForMs(durationMs: number): void {
    requireNumber('Simulation.runForMs durationMs', durationMs, { min: 0 });
    this.runUntilMs(this.#kernel.nowMs + durationMs);
  }

  /** Runs every event due by `timeMs`, then sets time to `timeMs`. */
  runUntilMs(timeMs: number): void {
    requireNumber('Simulation.runUntilMs timeMs', timeMs, { min: this.#kernel.nowMs });
    this.#run(timeMs, undefined, this.#eventCountMax);
    this.#kernel.nowMs = timeMs;
  }

  /**
   * Runs until `condition()` holds (checked before the first event and after each one)
   * or `options.timeoutMs` of simulated time pass. Returns whether the condition held.
   */
  runUntil(condition: () => boolean, options: RunUntilOptions): boolean {
    requireFunction('Simulation.runUntil condition', condition);
    requireOptions('Simulation.runUntil options', options);
    const timeoutMs = requireNumber('Simulation.runUntil options.timeoutMs', options.timeoutMs, {
      min: 0,
    });
    const deadlineMs = this.#kernel.nowMs + timeoutMs;
    if (condition()) {
      return true;
    }
    this.#run(deadlineMs, condition, this.#eventCountMax);
    if (condition()) {
      return true;
    }
    this.#kernel.nowMs = deadlineMs;
    return false;
  }

  /**
   * Runs until no event is left (the system is quiescent) or, with `timeoutMs`, until
   * that much simulated time has passed. Returns whether the queue emptied.
   */
  runUntilIdle(options: { readonly timeoutMs?: number } = {}): boolean {
    const timeoutMs = requireNumber(
      'Simulation.runUntilIdle options.timeoutMs',
      options.timeoutMs ?? Number.MAX_VALUE,
      { min: 0 },
    );
    this.#run(this.#kernel.nowMs + timeoutMs, undefined, this.#eventCountMax);
    return this.#kernel.queue.size === 0;
  }

  /** Events waiting in the queue (including ones a crash made void, until they fall due). */
  get pendingEventCount(): number {
    return this.#kernel.queue.size;
  }

  /** Counters of the run so far. */
  get statistics(): SimulationStatistics {
    const counters = this.#kernel.counters;
    return { ...counters, nowMs: this.#kernel.nowMs };
  }

  /** The trace hash so far: equal for two runs of one seed, byte for byte. */
  traceHash(): string {
    return this.#kernel.trace.hash.digest();
  }

  /** The readable trace lines kept (see {@link TraceOptions.lineCountMax}), oldest first. */
  traceLines(): string[] {
    return this.#kernel.trace.lines();
  }

  /**
   * Adds a note to the trace from the harness (a workload or a nemesis), so a failure's
   * trace reads as a story.
   */
  record(note: string): void {
    requireString('Simulation.record note', note);
    const trace = this.#kernel.trace;
    trace.hash.text(note);
    if (trace.keepsLines) {
      trace.line(`${this.#kernel.nowMs.toFixed(3)} ${note}`);
    }
  }

  /**
   * Runs `callback` at simulated time `timeMs` (now, if that has passed); a shorthand for
   * `simulation.scheduler.scheduleAt`.
   */
  at(timeMs: number, callback: () => void): ScheduledTask {
    return this.scheduler.scheduleAt(timeMs, callback);
  }

  #run(untilMs: number, condition: (() => boolean) | undefined, eventCountMax: number): number {
    const kernel = this.#kernel;
    const queue = kernel.queue;
    const counters = kernel.counters;
    let processed = 0;
    try {
      for (let event = queue.peek(); event !== undefined && event.timeMs <= untilMs; ) {
        if (processed >= eventCountMax) {
          throw new LimitExceededError(
            eventCountMax,
            `the simulation processed ${eventCountMax} events in one run call without reaching its stop condition; raise options.eventCountMax if the run is meant to be this long.`,
          );
        }
        queue.pop();
        kernel.nowMs = event.timeMs;
        counters.eventCount += 1;
        processed += 1;
        event.run();
        if (condition?.() === true) {
          break;
        }
        event = queue.peek();
      }
    } catch (error) {
      throw new SimulationError(
        this.seed,
        kernel.nowMs,
        this.replayCommand,
        error instanceof Error ? error.message : String(error),
        { cause: error },
      );
    }
    return processed;
  }
}
