/**
 * Workloads: concurrent simulated clients that drive a system under test with a mix of
 * operations and record what they were told as a history for `distkit/check`.
 *
 * Each client is a simulation client (`simulation.addClient`) that runs one operation at a
 * time: it waits a think time, invokes an operation through a user-supplied adapter (which
 * sends requests to the server nodes and reports the outcome), and records the invocation
 * and its completion. A client-side timeout records the outcome as unknown (`info`), and
 * the client then continues under a new process id (Jepsen's convention: the old id plus
 * the client count), because its old operation may still be in flight and take effect.
 *
 * @module
 */

import {
  describeValue,
  InvalidArgumentError,
  requireBoolean,
  requireFunction,
  requireInteger,
  requireNumber,
  requireOneOf,
  requireOptions,
  requireString,
  type ScheduledTask,
  type SeededRandom,
} from '../core/index.js';
import { HistoryRecorder } from './history.js';
import { type DelayDistribution, requireDelayDistribution, sampleDelayMs } from './latency.js';
import type { NodeHost, NodeProgram, SimNode } from './node.js';
import type { Simulation } from './simulation.js';

/**
 * Which sequential model the operations are for, named as in `distkit/check`:
 *
 * - `'register'`: `read` (output: the value, `null` before any write) and `write`
 *   (input: the value); check with `registerModel()`.
 * - `'cas-register'`: the above plus `cas` (input: `[expected, next]`; complete it `ok` when
 *   it swapped, `fail` when the register did not hold `expected`); `casRegisterModel()`.
 * - `'kv'`: `get` (output: the string value, `''` when absent), `put` (input: the new
 *   string) and `append` (input: the suffix), each with a `key`; `kvModel()`.
 * - `'counter'`: `add` (input: the amount, 1) and `read` (output: the value); `counterModel()`.
 * - `'set'`: `add` (input: the element) and `read` (output: an array of the elements);
 *   `setModel()`.
 */
export type WorkloadModel = 'register' | 'cas-register' | 'kv' | 'counter' | 'set';

/** One operation a workload client asks its adapter to perform. */
export interface WorkloadOperation {
  /** The process id the history records it under. */
  readonly process: number;
  /** The operation, as the check model names it: `'read'`, `'write'`, `'cas'`, `'put'`, ... */
  readonly kind: string;
  /**
   * The key: always present for `'kv'`; for the other models only when `keyCount` is above
   * 1 (then each key is an independent object: check each key's operations on their own).
   */
  readonly key?: string;
  /**
   * The argument: the value to write (unique in the workload: a number for registers and
   * sets, a string such as `'v17'` for `put` and `' v18'` for `append`), `[expected, next]` for
   * a `cas`, the amount for a counter's `add`; absent for reads.
   */
  readonly input?: unknown;
}

/**
 * How an operation ended, as the adapter reports it:
 * - `ok`: it took effect; `output` is the value read (or anything, for writes);
 * - `fail`: it certainly took no effect (a failed cas, a rejected request);
 * - `unknown`: it may or may not have taken effect (the adapter gave up on it).
 */
export type WorkloadOutcome =
  | { readonly status: 'ok'; readonly output?: unknown }
  | { readonly status: 'fail' }
  | { readonly status: 'unknown' };

/** Reports the outcome of one operation; calls after the first, or after a timeout, are ignored. */
export type CompleteOperation = (outcome: WorkloadOutcome) => void;

/**
 * The adapter between a workload client and the system under test, built once per client
 * incarnation with the client's {@link NodeHost}. It sends requests with `host.send`,
 * receives replies in `onMessage`, and reports each operation's outcome through `complete`.
 * A reply may arrive after the workload gave up on its operation: tag requests (with the
 * operation's process and a counter, say) so a late reply is not taken for a newer one.
 */
export interface WorkloadClient {
  /** Starts `operation`; call `complete` exactly once when its outcome is known. */
  invoke(operation: WorkloadOperation, complete: CompleteOperation): void;
  /** A message reached the client. */
  onMessage(from: string, message: unknown): void;
  /**
   * The workload gave up on `operation` after `operationTimeoutMs` and recorded its
   * outcome as unknown; a good moment to try another server next time. Optional.
   */
  onTimeout?(operation: WorkloadOperation): void;
}

/** Builds a client's adapter; `clientIndex` runs from 0 to `clientCount - 1`. */
export type WorkloadClientFactory = (host: NodeHost, clientIndex: number) => WorkloadClient;

/** How a client picks the key of each operation. */
export type KeyChoice = 'uniform' | 'zipf';

/** Options for {@link Workload}. */
export interface WorkloadOptions {
  /** Which operations to generate; see {@link WorkloadModel}. */
  readonly model: WorkloadModel;
  /** How many concurrent clients, from 1 to 10,000. */
  readonly clientCount: number;
  /** Builds each client's adapter to the system under test. */
  readonly client: WorkloadClientFactory;
  /** Client ids are this prefix and the client index. Default `'client-'`. */
  readonly clientIdPrefix?: string;
  /**
   * Total operations the workload invokes, across all clients; at least one of
   * `operationCountMax` and `endTimeMs` is required.
   */
  readonly operationCountMax?: number;
  /** No operation is invoked at or after this simulated true time. */
  readonly endTimeMs?: number;
  /**
   * How long a client waits for an outcome before it records the operation as unknown
   * (`info`) and moves on under a new process id. Default 1,000.
   */
  readonly operationTimeoutMs?: number;
  /**
   * How long a client waits before each operation (after the previous one completed, and
   * before its first). Default uniform from 0 to 10 ms.
   */
  readonly thinkTime?: DelayDistribution;
  /** How many keys the operations spread over, from 1 to 1,000,000. Default 1. */
  readonly keyCount?: number;
  /** `'uniform'` (default) or `'zipf'` (key `k0` the most popular). */
  readonly keyChoice?: KeyChoice;
  /** The Zipf exponent for `keyChoice: 'zipf'`; above 0. Default 1. */
  readonly zipfExponent?: number;
  /**
   * Relative weights of the model's operation kinds, for example
   * `{ read: 2, write: 1, cas: 1 }`; a kind left out has weight 0. Default: every kind of the
   * model equally likely.
   */
  readonly mix?: Readonly<Record<string, number>>;
  /** Most events the history keeps; see {@link HistoryRecorder}. Default 1,000,000. */
  readonly historyEventCountMax?: number;
  /** Add a note per invocation and completion to the simulation's trace. Default true. */
  readonly traceOperations?: boolean;
}

/** Counters of a workload so far. */
export interface WorkloadStatistics {
  /** Operations invoked. */
  readonly invokedCount: number;
  /** Operations completed `ok`. */
  readonly okCount: number;
  /** Operations completed `fail`. */
  readonly failCount: number;
  /** Operations whose outcome is unknown (timeouts, adapters giving up, client crashes). */
  readonly unknownCount: number;
  /** Outcomes reported after the workload had given up on the operation (ignored). */
  readonly lateCompletionCount: number;
}

const modelKinds: Readonly<Record<WorkloadModel, readonly string[]>> = {
  register: ['read', 'write'],
  'cas-register': ['read', 'write', 'cas'],
  kv: ['get', 'put', 'append'],
  counter: ['add', 'read'],
  set: ['add', 'read'],
};

const models = Object.keys(modelKinds) as WorkloadModel[];

/** Values recently written or read per key, from which a cas draws its expected value. */
const recentValueCountMax = 4;

interface InFlight {
  readonly operation: WorkloadOperation;
  readonly token: number;
  readonly timeout: ScheduledTask;
}

interface ClientState {
  readonly index: number;
  readonly random: SeededRandom;
  process: number;
  host: NodeHost | undefined;
  adapter: WorkloadClient | undefined;
  inFlight: InFlight | undefined;
  stopped: boolean;
}

/**
 * A workload: `clientCount` simulation clients that each run one operation at a time
 * against the system under test, through the adapter `options.client` builds, and record
 * every invocation and completion in {@link Workload.history}. Creating it adds the
 * clients to the simulation; they start when it runs.
 *
 * @example
 * ```ts
 * const workload = new Workload(simulation, {
 *   model: 'cas-register',
 *   clientCount: 3,
 *   operationCountMax: 100,
 *   operationTimeoutMs: 50,
 *   client: (host) => new RegisterClient(host),
 * });
 * simulation.runUntil(() => workload.done, { timeoutMs: 60_000 });
 * checkLinearizability(casRegisterModel(), workload.history.operations());
 * ```
 */
export class Workload {
  /** The history of every operation, in simulated true time. */
  readonly history: HistoryRecorder;
  /** The client nodes, in index order (crash or partition them to fault the clients). */
  readonly clients: readonly SimNode[];
  readonly #simulation: Simulation;
  readonly #model: WorkloadModel;
  readonly #factory: WorkloadClientFactory;
  readonly #clientCount: number;
  readonly #operationCountMax: number;
  readonly #endTimeMs: number;
  readonly #operationTimeoutMs: number;
  readonly #thinkTime: DelayDistribution;
  readonly #keyCount: number;
  readonly #keyChoice: KeyChoice;
  readonly #zipfExponent: number;
  readonly #kinds: readonly string[];
  readonly #cumulativeWeights: readonly number[];
  readonly #traceOperations: boolean;
  readonly #states: ClientState[] = [];
  readonly #recentValues = new Map<string, unknown[]>();
  #nextValue = 1;
  #nextToken = 1;
  #invokedCount = 0;
  #okCount = 0;
  #failCount = 0;
  #unknownCount = 0;
  #lateCompletionCount = 0;

  constructor(simulation: Simulation, options: WorkloadOptions) {
    if (typeof simulation !== 'object' || simulation === null) {
      throw new InvalidArgumentError(
        'Workload simulation',
        `Workload needs the Simulation to add its clients to; got ${describeValue(simulation)}.`,
      );
    }
    const settings = requireOptions('Workload options', options);
    this.#simulation = simulation;
    this.#model = requireOneOf('Workload options.model', settings.model, models);
    this.#clientCount = requireInteger('Workload options.clientCount', settings.clientCount, {
      min: 1,
      max: 10_000,
    });
    this.#factory = requireFunction('Workload options.client', settings.client);
    const prefix = requireString(
      'Workload options.clientIdPrefix',
      settings.clientIdPrefix ?? 'client-',
    );
    if (settings.operationCountMax === undefined && settings.endTimeMs === undefined) {
      throw new InvalidArgumentError(
        'Workload options.operationCountMax',
        'Workload options need operationCountMax, endTimeMs or both, so the workload ends.',
      );
    }
    this.#operationCountMax =
      settings.operationCountMax === undefined
        ? Number.POSITIVE_INFINITY
        : requireInteger('Workload options.operationCountMax', settings.operationCountMax, {
            min: 1,
          });
    this.#endTimeMs =
      settings.endTimeMs === undefined
        ? Number.POSITIVE_INFINITY
        : requireNumber('Workload options.endTimeMs', settings.endTimeMs, {
            min: simulation.nowMs(),
          });
    this.#operationTimeoutMs = requireNumber(
      'Workload options.operationTimeoutMs',
      settings.operationTimeoutMs ?? 1_000,
      { min: Number.MIN_VALUE },
    );
    this.#thinkTime = requireDelayDistribution(
      'Workload options.thinkTime',
      settings.thinkTime ?? { kind: 'uniform', delayMsMin: 0, delayMsMax: 10 },
    );
    this.#keyCount = requireInteger('Workload options.keyCount', settings.keyCount ?? 1, {
      min: 1,
      max: 1_000_000,
    });
    this.#keyChoice = requireOneOf('Workload options.keyChoice', settings.keyChoice ?? 'uniform', [
      'uniform',
      'zipf',
    ]);
    this.#zipfExponent = requireNumber(
      'Workload options.zipfExponent',
      settings.zipfExponent ?? 1,
      { min: Number.MIN_VALUE },
    );
    const kinds = modelKinds[this.#model];
    const mix = requireOptions('Workload options.mix', settings.mix);
    const weights: number[] = [];
    const chosenKinds: string[] = [];
    for (const name of Object.keys(mix)) {
      if (!kinds.includes(name)) {
        throw new InvalidArgumentError(
          `Workload options.mix.${name}`,
          `Workload options.mix.${name}: the ${this.#model} model has no operation ${JSON.stringify(name)}; its operations are ${kinds.join(', ')}.`,
        );
      }
    }
    let total = 0;
    for (const kind of kinds) {
      const weight =
        settings.mix === undefined
          ? 1
          : Object.hasOwn(mix, kind)
            ? requireNumber(`Workload options.mix.${kind}`, mix[kind], { min: 0 })
            : 0;
      if (weight > 0) {
        total += weight;
        chosenKinds.push(kind);
        weights.push(total);
      }
    }
    if (total === 0 || !Number.isFinite(total)) {
      throw new InvalidArgumentError(
        'Workload options.mix',
        `Workload options.mix must give at least one of ${kinds.join(', ')} a positive weight, with a finite total.`,
      );
    }
    this.#kinds = chosenKinds;
    this.#cumulativeWeights = weights.map((weight) => weight / total);
    this.#traceOperations = requireBoolean(
      'Workload options.traceOperations',
      settings.traceOperations ?? true,
    );
    this.history = new HistoryRecorder({
      clock: simulation.clock,
      ...(settings.historyEventCountMax === undefined
        ? {}
        : { eventCountMax: settings.historyEventCountMax }),
    });
    const clients: SimNode[] = [];
    for (let index = 0; index < this.#clientCount; index += 1) {
      const id = `${prefix}${index}`;
      const state: ClientState = {
        index,
        random: simulation.random.fork(`workload/${id}`),
        process: index,
        host: undefined,
        adapter: undefined,
        inFlight: undefined,
        stopped: false,
      };
      this.#states.push(state);
      clients.push(
        simulation.addClient({ id, program: (host) => this.#boot(state, host) }) as SimNode,
      );
    }
    this.clients = clients;
  }

  /**
   * True when every client has stopped invoking (the operation count or end time was
   * reached) and no operation is in flight. A crashed client that never restarts keeps
   * its operation in flight, so the workload is then never done.
   */
  get done(): boolean {
    return this.#states.every((state) => state.stopped && state.inFlight === undefined);
  }

  /** Counters of the workload so far. */
  get statistics(): WorkloadStatistics {
    return {
      invokedCount: this.#invokedCount,
      okCount: this.#okCount,
      failCount: this.#failCount,
      unknownCount: this.#unknownCount,
      lateCompletionCount: this.#lateCompletionCount,
    };
  }

  #boot(state: ClientState, host: NodeHost): NodeProgram {
    state.host = host;
    state.stopped = false;
    const adapter = this.#factory(host, state.index);
    if (
      typeof adapter !== 'object' ||
      adapter === null ||
      typeof adapter.invoke !== 'function' ||
      typeof adapter.onMessage !== 'function'
    ) {
      throw new InvalidArgumentError(
        'Workload options.client',
        `Workload options.client must return an object with invoke(operation, complete) and onMessage(from, message); got ${describeValue(adapter)}.`,
      );
    }
    state.adapter = adapter;
    const orphan = state.inFlight;
    if (orphan !== undefined) {
      // The client crashed with an operation in flight: nobody will ever hear its outcome.
      state.inFlight = undefined;
      this.#recordUnknown(state, orphan.operation);
    }
    this.#scheduleNext(state, host);
    return {
      onMessage: (from: string, message: unknown) => {
        adapter.onMessage(from, message);
      },
    };
  }

  #scheduleNext(state: ClientState, host: NodeHost): void {
    if (this.#mustStop()) {
      state.stopped = true;
      return;
    }
    host.scheduler.schedule(sampleDelayMs(this.#thinkTime, state.random), () => {
      this.#invoke(state, host);
    });
  }

  #mustStop(): boolean {
    return (
      this.#invokedCount >= this.#operationCountMax || this.#simulation.nowMs() >= this.#endTimeMs
    );
  }

  #invoke(state: ClientState, host: NodeHost): void {
    const adapter = state.adapter;
    if (state.host !== host || adapter === undefined) {
      return;
    }
    if (this.#mustStop()) {
      state.stopped = true;
      return;
    }
    const operation = this.#generate(state);
    this.#invokedCount += 1;
    this.history.record({
      process: operation.process,
      type: 'invoke',
      kind: operation.kind,
      ...(operation.key === undefined ? {} : { key: operation.key }),
      ...(operation.input === undefined ? {} : { value: operation.input }),
    });
    this.#trace(host, 'invoke', operation, operation.input);
    const token = this.#nextToken;
    this.#nextToken += 1;
    const timeout = host.scheduler.schedule(this.#operationTimeoutMs, () => {
      this.#timeOut(state, host, token);
    });
    state.inFlight = { operation, token, timeout };
    adapter.invoke(operation, (outcome) => {
      this.#complete(state, host, token, outcome);
    });
  }

  #complete(state: ClientState, host: NodeHost, token: number, outcome: WorkloadOutcome): void {
    const status = requireOutcome(outcome);
    const inFlight = state.inFlight;
    if (inFlight === undefined || inFlight.token !== token || state.host !== host) {
      this.#lateCompletionCount += 1;
      return;
    }
    inFlight.timeout.cancel();
    state.inFlight = undefined;
    const operation = inFlight.operation;
    if (status === 'unknown') {
      this.#recordUnknown(state, operation);
    } else if (status === 'fail') {
      this.#failCount += 1;
      this.history.fail(operation.process, operation.kind, operation.key);
      this.#trace(host, 'fail', operation, undefined);
    } else {
      const output = (outcome as { readonly output?: unknown }).output;
      this.#okCount += 1;
      this.history.record({
        process: operation.process,
        type: 'ok',
        kind: operation.kind,
        ...(operation.key === undefined ? {} : { key: operation.key }),
        ...(output === undefined ? {} : { value: output }),
      });
      this.#trace(host, 'ok', operation, output);
      if (operation.kind === 'read' || operation.kind === 'get') {
        this.#remember(operation.key ?? '', output ?? null);
      }
    }
    this.#scheduleNext(state, host);
  }

  #timeOut(state: ClientState, host: NodeHost, token: number): void {
    const inFlight = state.inFlight;
    if (inFlight === undefined || inFlight.token !== token || state.host !== host) {
      return;
    }
    state.inFlight = undefined;
    this.#recordUnknown(state, inFlight.operation);
    state.adapter?.onTimeout?.(inFlight.operation);
    this.#scheduleNext(state, host);
  }

  /** Records an unknown outcome and moves the client to a fresh process id. */
  #recordUnknown(state: ClientState, operation: WorkloadOperation): void {
    this.#unknownCount += 1;
    this.history.info(operation.process, operation.kind, operation.key);
    if (state.host !== undefined) {
      this.#trace(state.host, 'info', operation, undefined);
    }
    state.process += this.#clientCount;
  }

  #trace(host: NodeHost, type: string, operation: WorkloadOperation, value: unknown): void {
    if (!this.#traceOperations) {
      return;
    }
    const key = operation.key === undefined ? '' : ` ${operation.key}`;
    const shown = value === undefined ? '' : ` ${JSON.stringify(value)}`;
    host.record(`${type} ${operation.process} ${operation.kind}${key}${shown}`);
  }

  #generate(state: ClientState): WorkloadOperation {
    const random = state.random;
    const draw = random.float();
    let kindIndex = 0;
    while (
      kindIndex < this.#kinds.length - 1 &&
      draw >= (this.#cumulativeWeights[kindIndex] as number)
    ) {
      kindIndex += 1;
    }
    const kind = this.#kinds[kindIndex] as string;
    let key: string | undefined;
    if (this.#model === 'kv' || this.#keyCount > 1) {
      const keyIndex =
        this.#keyChoice === 'zipf'
          ? random.zipf(this.#keyCount, this.#zipfExponent) - 1
          : random.integer(0, this.#keyCount - 1);
      key = `k${keyIndex}`;
    }
    const input = this.#inputFor(kind, key ?? '', random);
    return {
      process: state.process,
      kind,
      ...(key === undefined ? {} : { key }),
      ...(input === undefined ? {} : { input }),
    };
  }

  #inputFor(kind: string, key: string, random: SeededRandom): unknown {
    switch (kind) {
      case 'write':
        return this.#remember(key, this.#freshValue());
      case 'cas': {
        const expected = random.pick(this.#recentValues.get(key) ?? [null]);
        return [expected, this.#remember(key, this.#freshValue())];
      }
      case 'put':
        return `v${this.#freshValue()}`;
      case 'append':
        return ` v${this.#freshValue()}`;
      case 'add':
        return this.#model === 'counter' ? 1 : this.#freshValue();
      default:
        return undefined;
    }
  }

  #freshValue(): number {
    const value = this.#nextValue;
    this.#nextValue += 1;
    return value;
  }

  /** Keeps `value` among the recent values of `key` (for a later cas's expected value). */
  #remember<T>(key: string, value: T): T {
    if (this.#model !== 'cas-register') {
      return value;
    }
    let recent = this.#recentValues.get(key);
    if (recent === undefined) {
      recent = [null];
      this.#recentValues.set(key, recent);
    }
    if (!recent.includes(value)) {
      recent.push(value);
      if (recent.length > recentValueCountMax) {
        recent.shift();
      }
    }
    return value;
  }
}

function requireOutcome(outcome: WorkloadOutcome): WorkloadOutcome['status'] {
  const value = requireOptions('Workload complete outcome', outcome);
  return requireOneOf('Workload complete outcome.status', value.status, ['ok', 'fail', 'unknown']);
}
