/**
 * The nemesis: a schedule of faults (network, node and clock) drawn from the seed or
 * given as an explicit script, applied to a running {@link Simulation}, then a heal phase
 * that undoes them all; and a liveness check that the system makes progress afterwards.
 *
 * A fault is plain data ({@link Fault}), so a run's schedule can be printed, saved as
 * JSON and replayed as a script.
 *
 * @module
 */

import {
  assert,
  describeValue,
  InvalidArgumentError,
  type Random,
  requireFunction,
  requireInteger,
  requireNumber,
  requireOptions,
  requireString,
} from '../core/index.js';
import { type DelayDistribution, requireDelayDistribution } from './latency.js';
import type { NodeProgram, SimNode } from './node.js';
import type { Simulation } from './simulation.js';

/** What every fault that lasts a while has: how long. */
export interface LastingFault {
  /** How long the fault lasts; absent: until the heal phase. */
  readonly durationMs?: number;
}

/** Cuts `node` off from every other node and client, both ways. */
export interface IsolateFault extends LastingFault {
  readonly kind: 'isolate';
  /** The node cut off. */
  readonly node: string;
}

/**
 * Splits the server nodes in two: `minority` on one side, every other server node on the
 * other (clients reach both sides).
 */
export interface SplitFault extends LastingFault {
  readonly kind: 'split';
  /** One side of the split; the other side is every other server node. */
  readonly minority: readonly string[];
}

/** `sideA` and `sideB` cannot reach each other; `bridge` reaches both. */
export interface BridgeFault extends LastingFault {
  readonly kind: 'bridge';
  /** One side. */
  readonly sideA: readonly string[];
  /** The other side. */
  readonly sideB: readonly string[];
  /** The node on neither side that reaches both. */
  readonly bridge: string;
}

/** Each node of `order` reaches only its two neighbours in the ring. */
export interface RingFault extends LastingFault {
  readonly kind: 'ring';
  /** The ring, in order; at least three distinct nodes. */
  readonly order: readonly string[];
}

/** Messages from `from` to `to` are lost; the reverse direction still works. */
export interface BlockOneWayFault extends LastingFault {
  readonly kind: 'block-one-way';
  /** The sender whose messages are lost. */
  readonly from: string;
  /** The receiver that never gets them. */
  readonly to: string;
}

/** Messages from `from` to `to` are held and delivered when the clog clears. */
export interface ClogFault {
  readonly kind: 'clog';
  /** The sender. */
  readonly from: string;
  /** The receiver. */
  readonly to: string;
  /** How long the link is clogged; absent: until the heal phase. */
  readonly durationMs?: number;
}

/** Every link from one of `from` to one of `to` loses messages with `lossProbability`. */
export interface LossFault extends LastingFault {
  readonly kind: 'loss';
  /** The senders. */
  readonly from: readonly string[];
  /** The receivers (a node's link to itself is left alone). */
  readonly to: readonly string[];
  /** Probability that a message on these links is lost, from 0 to 1. */
  readonly lossProbability: number;
}

/** Every link from one of `from` to one of `to` takes `latency` instead of its usual delay. */
export interface LatencySpikeFault extends LastingFault {
  readonly kind: 'latency-spike';
  /** The senders. */
  readonly from: readonly string[];
  /** The receivers (a node's link to itself is left alone). */
  readonly to: readonly string[];
  /** The delay of those links while the spike lasts. */
  readonly latency: DelayDistribution;
}

/** Crashes `node`; it restarts (from its disk) after `durationMs`. */
export interface CrashFault {
  readonly kind: 'crash';
  /** The node crashed. */
  readonly node: string;
  /** How long the node stays down; absent: until the heal phase. */
  readonly durationMs?: number;
}

/** Pauses `node` (a GC stall, a SIGSTOP): its messages and timers wait until it resumes. */
export interface PauseFault {
  readonly kind: 'pause';
  /** The node paused. */
  readonly node: string;
  /** How long the stall lasts; absent: until the heal phase. */
  readonly durationMs?: number;
}

/** The wall clock of `node` jumps by `deltaMs` (either way); monotonic time does not move. */
export interface ClockJumpFault {
  readonly kind: 'clock-jump';
  /** The node whose wall clock jumps. */
  readonly node: string;
  /** The jump; negative jumps go back in time. */
  readonly deltaMs: number;
}

/** The wall clock of `node` is set to true wall time plus `offsetMs`. */
export interface ClockOffsetFault {
  readonly kind: 'clock-offset';
  /** The node whose wall clock is set. */
  readonly node: string;
  /** The offset from true wall time; negative: behind. */
  readonly offsetMs: number;
}

/** The clock of `node` runs at `rate` times true time (drift), then back at 1. */
export interface ClockRateFault {
  readonly kind: 'clock-rate';
  /** The node whose clock drifts. */
  readonly node: string;
  /** The rate, from 0.5 to 2. */
  readonly rate: number;
  /** How long the drift lasts; absent: until the heal phase. */
  readonly durationMs?: number;
}

/**
 * One fault, as plain JSON-serialisable data. Faults with a `durationMs` undo themselves
 * when it has passed; without one they last until the heal phase. `clock-jump` and
 * `clock-offset` are instantaneous and are not undone: the heal phase keeps wall-clock
 * offsets (a real clock that jumped stays wrong until something corrects it).
 */
export type Fault =
  | IsolateFault
  | SplitFault
  | BridgeFault
  | RingFault
  | BlockOneWayFault
  | ClogFault
  | LossFault
  | LatencySpikeFault
  | CrashFault
  | PauseFault
  | ClockJumpFault
  | ClockOffsetFault
  | ClockRateFault;

/** The kinds of {@link Fault}. */
export type FaultKind = Fault['kind'];

/** Every {@link FaultKind}, in the fixed order plans draw them in. */
export const faultKinds: readonly FaultKind[] = [
  'isolate',
  'split',
  'bridge',
  'ring',
  'block-one-way',
  'clog',
  'loss',
  'latency-spike',
  'crash',
  'pause',
  'clock-jump',
  'clock-offset',
  'clock-rate',
];

/** A fault and when it starts, in milliseconds after the nemesis starts. */
export interface ScheduledFault {
  /** When the fault starts, relative to the nemesis's start; below its `faultPhaseMs`. */
  readonly atMs: number;
  /** The fault. */
  readonly fault: Fault;
}

/** The most faults one plan or script may hold. */
export const faultCountLimit = 100_000;

/** Options for {@link planFaults}. */
export interface FaultPlanOptions {
  /** The nodes faults target (the server node ids, usually); distinct, at least one. */
  readonly nodeIds: readonly string[];
  /** Faults start in `[0, faultPhaseMs)`; the heal phase comes at `faultPhaseMs`. */
  readonly faultPhaseMs: number;
  /**
   * Relative weights of the fault kinds, for example `{ split: 2, crash: 1 }`; a kind
   * left out has weight 0. Default: weight 1 for every kind the node count allows
   * (`crash` only when `crashCountMax` is above 0).
   */
  readonly weights?: Readonly<Partial<Record<FaultKind, number>>>;
  /** Mean time between fault starts (exponentially distributed). Default 1,000. */
  readonly intervalMsMean?: number;
  /** Shortest duration of a fault that lasts. Default 100. */
  readonly durationMsMin?: number;
  /** Longest duration of a fault that lasts. Default 2,000. */
  readonly durationMsMax?: number;
  /** Most faults in effect at once (instantaneous clock steps do not count). Default 2. */
  readonly concurrentFaultCountMax?: number;
  /**
   * Most nodes crashed at once. Default: a minority, `floor((nodeIds.length - 1) / 2)`, so
   * a majority stays up.
   */
  readonly crashCountMax?: number;
  /** Most faults in the plan, up to {@link faultCountLimit}. Default 1,000. */
  readonly faultCountMax?: number;
  /** The loss probability of a `loss` fault. Default 0.5. */
  readonly lossProbability?: number;
  /** The latency of a `latency-spike`. Default uniform from 100 to 1,000 ms. */
  readonly spikeLatency?: DelayDistribution;
  /** Largest wall-clock jump or offset, either way. Default 10,000. */
  readonly clockStepMsMax?: number;
  /** Largest drift: a `clock-rate` fault's rate lies in `[1 - d, 1 + d]`, d up to 0.5. Default 0.1. */
  readonly clockRateDeviationMax?: number;
}

interface PlanSettings {
  readonly nodeIds: readonly string[];
  readonly faultPhaseMs: number;
  readonly kinds: readonly FaultKind[];
  readonly cumulativeWeights: readonly number[];
  readonly intervalMsMean: number;
  readonly durationMsMin: number;
  readonly durationMsMax: number;
  readonly concurrentFaultCountMax: number;
  readonly crashCountMax: number;
  readonly faultCountMax: number;
  readonly lossProbability: number;
  readonly spikeLatency: DelayDistribution;
  readonly clockStepMsMax: number;
  readonly clockRateDeviationMax: number;
}

/** The fewest target nodes each kind needs to mean anything. */
const nodeCountMin: Readonly<Record<FaultKind, number>> = {
  isolate: 2,
  split: 2,
  bridge: 3,
  ring: 4,
  'block-one-way': 2,
  clog: 2,
  loss: 2,
  'latency-spike': 2,
  crash: 1,
  pause: 1,
  'clock-jump': 1,
  'clock-offset': 1,
  'clock-rate': 1,
};

function requireDistinctIds(name: string, value: unknown, countMin: number): string[] {
  if (!Array.isArray(value)) {
    throw new InvalidArgumentError(
      name,
      `${name} must be an array of node ids; got ${describeValue(value)}.`,
    );
  }
  const seen = new Set<string>();
  value.forEach((id: unknown, index) => {
    requireString(`${name}[${index}]`, id);
    if (seen.has(id as string)) {
      throw new InvalidArgumentError(
        name,
        `${name} names ${JSON.stringify(id)} twice; each node may appear once.`,
      );
    }
    seen.add(id as string);
  });
  if (value.length < countMin) {
    throw new InvalidArgumentError(
      name,
      `${name} must name at least ${countMin} node${countMin === 1 ? '' : 's'}; got ${value.length}.`,
    );
  }
  return [...(value as string[])];
}

function requirePlanOptions(name: string, options: FaultPlanOptions): PlanSettings {
  const settings = requireOptions(name, options);
  const nodeIds = requireDistinctIds(`${name}.nodeIds`, settings.nodeIds, 1);
  const faultPhaseMs = requireNumber(`${name}.faultPhaseMs`, settings.faultPhaseMs, { min: 0 });
  const intervalMsMean = requireNumber(`${name}.intervalMsMean`, settings.intervalMsMean ?? 1_000, {
    min: 1,
  });
  const durationMsMin = requireInteger(`${name}.durationMsMin`, settings.durationMsMin ?? 100, {
    min: 1,
  });
  const durationMsMax = requireInteger(`${name}.durationMsMax`, settings.durationMsMax ?? 2_000, {
    min: durationMsMin,
  });
  const concurrentFaultCountMax = requireInteger(
    `${name}.concurrentFaultCountMax`,
    settings.concurrentFaultCountMax ?? 2,
    { min: 1, max: faultCountLimit },
  );
  const crashCountMax = requireInteger(
    `${name}.crashCountMax`,
    settings.crashCountMax ?? Math.floor((nodeIds.length - 1) / 2),
    { min: 0, max: nodeIds.length },
  );
  const faultCountMax = requireInteger(`${name}.faultCountMax`, settings.faultCountMax ?? 1_000, {
    min: 0,
    max: faultCountLimit,
  });
  const lossProbability = requireNumber(
    `${name}.lossProbability`,
    settings.lossProbability ?? 0.5,
    { min: 0, max: 1 },
  );
  const spikeLatency = requireDelayDistribution(
    `${name}.spikeLatency`,
    settings.spikeLatency ?? { kind: 'uniform', delayMsMin: 100, delayMsMax: 1_000 },
  );
  const clockStepMsMax = requireNumber(
    `${name}.clockStepMsMax`,
    settings.clockStepMsMax ?? 10_000,
    {
      min: 0,
    },
  );
  const clockRateDeviationMax = requireNumber(
    `${name}.clockRateDeviationMax`,
    settings.clockRateDeviationMax ?? 0.1,
    { min: 0, max: 0.5 },
  );
  const weights = requireOptions(`${name}.weights`, settings.weights);
  for (const kind of Object.keys(weights)) {
    if (!faultKinds.includes(kind as FaultKind)) {
      throw new InvalidArgumentError(
        `${name}.weights.${kind}`,
        `${name}.weights.${kind}: there is no fault kind ${JSON.stringify(kind)}; the kinds are ${faultKinds.join(', ')}.`,
      );
    }
  }
  const kinds: FaultKind[] = [];
  const cumulativeWeights: number[] = [];
  let total = 0;
  for (const kind of faultKinds) {
    const applicable =
      nodeIds.length >= nodeCountMin[kind] && (kind !== 'crash' || crashCountMax > 0);
    let weight: number;
    if (settings.weights === undefined) {
      weight = applicable ? 1 : 0;
    } else {
      weight = Object.hasOwn(weights, kind)
        ? requireNumber(`${name}.weights.${kind}`, weights[kind], { min: 0 })
        : 0;
      if (weight > 0 && !applicable) {
        throw new InvalidArgumentError(
          `${name}.weights.${kind}`,
          kind === 'crash' && nodeIds.length >= 1
            ? `${name}.weights.crash is positive but crashCountMax is 0: allow a crash or leave crash out.`
            : `${name}.weights.${kind}: a ${kind} fault needs at least ${nodeCountMin[kind]} nodes; nodeIds has ${nodeIds.length}.`,
        );
      }
    }
    if (weight > 0) {
      total += weight;
      kinds.push(kind);
      cumulativeWeights.push(total);
    }
  }
  if (total === 0 || !Number.isFinite(total)) {
    throw new InvalidArgumentError(
      `${name}.weights`,
      `${name}.weights must give at least one fault kind the node count allows a positive weight, with a finite total.`,
    );
  }
  return {
    nodeIds,
    faultPhaseMs,
    kinds,
    cumulativeWeights,
    intervalMsMean,
    durationMsMin,
    durationMsMax,
    concurrentFaultCountMax,
    crashCountMax,
    faultCountMax,
    lossProbability,
    spikeLatency,
    clockStepMsMax,
    clockRateDeviationMax,
  };
}

/** A fault of a plan in effect over `[atMs, endMs]`, both ends included. */
interface PlannedSpan {
  readonly endMs: number;
  readonly kind: FaultKind;
  readonly node: string | undefined;
}

/**
 * Draws a fault schedule from `random`: fault starts spaced by exponential gaps over
 * `[0, faultPhaseMs)`, kinds by weight, targets among `nodeIds`, durations uniform in
 * `[durationMsMin, durationMsMax]` (integers, so every fault falls on a whole
 * millisecond). It keeps at most `concurrentFaultCountMax` faults in effect and at most
 * `crashCountMax` nodes crashed at once, never crashes or pauses a node already crashed
 * or paused, and counts a fault as in effect up to and including its end instant, so a
 * fault never starts at the instant another one ends. A fault still in effect at
 * `faultPhaseMs` is ended by the heal phase. Deterministic: the same random state gives
 * the same plan.
 *
 * @example
 * ```ts
 * const plan = planFaults(new SeededRandom({ seed: 3 }), {
 *   nodeIds: ['n1', 'n2', 'n3'],
 *   faultPhaseMs: 10_000,
 *   weights: { split: 1, crash: 1 },
 * });
 * console.log(JSON.stringify(plan));
 * ```
 */
export function planFaults(random: Random, options: FaultPlanOptions): ScheduledFault[] {
  if (typeof random !== 'object' || random === null || typeof random.float !== 'function') {
    throw new InvalidArgumentError(
      'planFaults random',
      `planFaults needs a Random (a SeededRandom, or simulation.random.fork('nemesis')); got ${describeValue(random)}.`,
    );
  }
  const settings = requirePlanOptions('planFaults options', options);
  const plan: ScheduledFault[] = [];
  let spans: PlannedSpan[] = [];
  let atMs = 0;
  while (plan.length < settings.faultCountMax) {
    atMs += Math.max(1, Math.round(random.exponential(settings.intervalMsMean)));
    if (atMs >= settings.faultPhaseMs) {
      break;
    }
    const now = atMs;
    spans = spans.filter((span) => span.endMs >= now);
    if (spans.length >= settings.concurrentFaultCountMax) {
      continue;
    }
    const busy = new Set<string>();
    let crashedCount = 0;
    for (const span of spans) {
      if (span.kind === 'crash' || span.kind === 'pause') {
        busy.add(span.node as string);
      }
      if (span.kind === 'crash') {
        crashedCount += 1;
      }
    }
    const free = settings.nodeIds.filter((id) => !busy.has(id));
    const kind = drawKind(random, settings, (candidate) => {
      if (candidate === 'crash') {
        return crashedCount < settings.crashCountMax && free.length > 0;
      }
      return candidate !== 'pause' || free.length > 0;
    });
    if (kind === undefined) {
      continue;
    }
    const durationMs = random.integer(settings.durationMsMin, settings.durationMsMax);
    const fault = drawFault(random, settings, kind, free, durationMs);
    plan.push({ atMs, fault });
    if ('durationMs' in fault) {
      spans.push({
        endMs: atMs + durationMs,
        kind,
        node: 'node' in fault ? fault.node : undefined,
      });
    }
  }
  return plan;
}

function drawKind(
  random: Random,
  settings: PlanSettings,
  allowed: (kind: FaultKind) => boolean,
): FaultKind | undefined {
  const kinds: FaultKind[] = [];
  const cumulative: number[] = [];
  let total = 0;
  let previous = 0;
  settings.kinds.forEach((kind, index) => {
    const upTo = settings.cumulativeWeights[index] as number;
    if (allowed(kind)) {
      total += upTo - previous;
      kinds.push(kind);
      cumulative.push(total);
    }
    previous = upTo;
  });
  if (kinds.length === 0) {
    return undefined;
  }
  const draw = random.float() * total;
  const index = cumulative.findIndex((upTo) => draw < upTo);
  return kinds[index === -1 ? kinds.length - 1 : index];
}

function drawFault(
  random: Random,
  settings: PlanSettings,
  kind: FaultKind,
  free: readonly string[],
  durationMs: number,
): Fault {
  const ids = settings.nodeIds;
  const shuffled = (): string[] => random.shuffle([...ids]);
  const step = (): number =>
    Math.round((random.float() * 2 - 1) * settings.clockStepMsMax * 1_000) / 1_000;
  switch (kind) {
    case 'isolate':
      return { kind, node: random.pick(ids), durationMs };
    case 'split': {
      const size = random.integer(1, Math.floor(ids.length / 2));
      return { kind, minority: shuffled().slice(0, size), durationMs };
    }
    case 'bridge': {
      const [bridge, ...rest] = shuffled();
      const half = Math.ceil(rest.length / 2);
      return {
        kind,
        sideA: rest.slice(0, half),
        sideB: rest.slice(half),
        bridge: bridge as string,
        durationMs,
      };
    }
    case 'ring':
      return { kind, order: shuffled(), durationMs };
    case 'block-one-way':
    case 'clog': {
      const [from, to] = shuffled();
      return { kind, from: from as string, to: to as string, durationMs };
    }
    case 'loss':
    case 'latency-spike': {
      const order = shuffled();
      const size = random.integer(1, ids.length - 1);
      const from = order.slice(0, size);
      const to = order.slice(size);
      return kind === 'loss'
        ? { kind, from, to, lossProbability: settings.lossProbability, durationMs }
        : { kind, from, to, latency: settings.spikeLatency, durationMs };
    }
    case 'crash':
    case 'pause':
      return { kind, node: random.pick(free), durationMs };
    case 'clock-jump':
      return { kind, node: random.pick(ids), deltaMs: step() };
    case 'clock-offset':
      return { kind, node: random.pick(ids), offsetMs: step() };
    case 'clock-rate': {
      const deviation = settings.clockRateDeviationMax;
      const rate = Math.round((1 - deviation + random.float() * 2 * deviation) * 1e6) / 1e6;
      return { kind, node: random.pick(ids), rate, durationMs };
    }
  }
}

/** A short human description of a fault, for logs and traces: `crash n2 for 300 ms`. */
export function describeFault(fault: Fault): string {
  const lasting =
    fault.kind === 'clock-jump' || fault.kind === 'clock-offset'
      ? ''
      : fault.durationMs === undefined
        ? ' until healed'
        : ` for ${fault.durationMs} ms`;
  const list = (ids: readonly string[]): string => `[${ids.join(',')}]`;
  switch (fault.kind) {
    case 'isolate':
    case 'crash':
    case 'pause':
      return `${fault.kind} ${fault.node}${lasting}`;
    case 'split':
      return `split ${list(fault.minority)} from the rest${lasting}`;
    case 'bridge':
      return `bridge ${list(fault.sideA)} | ${list(fault.sideB)} via ${fault.bridge}${lasting}`;
    case 'ring':
      return `ring ${list(fault.order)}${lasting}`;
    case 'block-one-way':
    case 'clog':
      return `${fault.kind} ${fault.from} -> ${fault.to}${lasting}`;
    case 'loss':
      return `loss ${fault.lossProbability} ${list(fault.from)} -> ${list(fault.to)}${lasting}`;
    case 'latency-spike':
      return `latency-spike ${JSON.stringify(fault.latency)} ${list(fault.from)} -> ${list(fault.to)}${lasting}`;
    case 'clock-jump':
      return `clock-jump ${fault.node} by ${fault.deltaMs} ms`;
    case 'clock-offset':
      return `clock-offset ${fault.node} to ${fault.offsetMs} ms`;
    case 'clock-rate':
      return `clock-rate ${fault.node} at ${fault.rate}${lasting}`;
  }
}

/**
 * Checks that `value` is a well-formed {@link Fault} naming only ids in `knownIds`, and
 * returns a copy holding only the fault's fields (so a script can be saved and replayed
 * as is). Throws {@link InvalidArgumentError} naming the field at fault.
 */
export function requireFault(name: string, value: unknown, knownIds: readonly string[]): Fault {
  if (value === undefined) {
    throw new InvalidArgumentError(name, `${name} must be a fault object; got undefined.`);
  }
  const fault = requireOptions(name, value as Fault);
  const known = new Set(knownIds);
  const id = (field: string, candidate: unknown): string => {
    requireString(`${name}.${field}`, candidate);
    if (!known.has(candidate as string)) {
      throw new InvalidArgumentError(
        `${name}.${field}`,
        `${name}.${field}: ${JSON.stringify(candidate)} is no node or client of this simulation; known: ${knownIds.join(', ')}.`,
      );
    }
    return candidate as string;
  };
  const ids = (field: string, candidate: unknown, countMin: number): string[] => {
    const list = requireDistinctIds(`${name}.${field}`, candidate, countMin);
    list.forEach((entry, index) => {
      id(`${field}[${index}]`, entry);
    });
    return list;
  };
  const duration = (): { durationMs?: number } => {
    const durationMs = (fault as { durationMs?: unknown }).durationMs;
    return durationMs === undefined
      ? {}
      : { durationMs: requireNumber(`${name}.durationMs`, durationMs, { min: 0 }) };
  };
  switch (fault.kind) {
    case 'isolate':
    case 'crash':
    case 'pause':
      return { kind: fault.kind, node: id('node', fault.node), ...duration() };
    case 'split':
      return { kind: 'split', minority: ids('minority', fault.minority, 1), ...duration() };
    case 'bridge': {
      const sideA = ids('sideA', fault.sideA, 1);
      const sideB = ids('sideB', fault.sideB, 1);
      const bridge = id('bridge', fault.bridge);
      const overlap = sideA.find((entry) => sideB.includes(entry));
      if (overlap !== undefined || sideA.includes(bridge) || sideB.includes(bridge)) {
        throw new InvalidArgumentError(
          `${name}.bridge`,
          `${name}: ${JSON.stringify(overlap ?? bridge)} is on more than one side; sideA, sideB and the bridge must be disjoint.`,
        );
      }
      return { kind: 'bridge', sideA, sideB, bridge, ...duration() };
    }
    case 'ring':
      return { kind: 'ring', order: ids('order', fault.order, 3), ...duration() };
    case 'block-one-way':
    case 'clog': {
      const from = id('from', fault.from);
      const to = id('to', fault.to);
      if (from === to) {
        throw new InvalidArgumentError(
          `${name}.to`,
          `${name}.to must differ from ${name}.from: a node's link to itself cannot be cut.`,
        );
      }
      return { kind: fault.kind, from, to, ...duration() };
    }
    case 'loss':
      return {
        kind: 'loss',
        from: ids('from', fault.from, 1),
        to: ids('to', fault.to, 1),
        lossProbability: requireNumber(`${name}.lossProbability`, fault.lossProbability, {
          min: 0,
          max: 1,
        }),
        ...duration(),
      };
    case 'latency-spike':
      return {
        kind: 'latency-spike',
        from: ids('from', fault.from, 1),
        to: ids('to', fault.to, 1),
        latency: requireDelayDistribution(`${name}.latency`, fault.latency),
        ...duration(),
      };
    case 'clock-jump':
      return {
        kind: 'clock-jump',
        node: id('node', fault.node),
        deltaMs: requireNumber(`${name}.deltaMs`, fault.deltaMs),
      };
    case 'clock-offset':
      return {
        kind: 'clock-offset',
        node: id('node', fault.node),
        offsetMs: requireNumber(`${name}.offsetMs`, fault.offsetMs),
      };
    case 'clock-rate':
      return {
        kind: 'clock-rate',
        node: id('node', fault.node),
        rate: requireNumber(`${name}.rate`, fault.rate, { min: 0.5, max: 2 }),
        ...duration(),
      };
    default:
      throw new InvalidArgumentError(
        `${name}.kind`,
        `${name}.kind must be one of ${faultKinds.join(', ')}; got ${describeValue((fault as { kind?: unknown }).kind)}.`,
      );
  }
}

/**
 * What the links return to when a loss or latency fault ends. By default each link
 * returns to the settings it had when its first fault began (read with
 * `SimNetwork.linkOptions`); a field given here overrides that for every link.
 */
export interface LinkBaseline {
  /** The latency every link returns to. Default: the link's own latency before its faults. */
  readonly latency?: DelayDistribution;
  /** The loss probability every link returns to. Default: the link's own before its faults. */
  readonly lossProbability?: number;
}

/** Options for {@link Nemesis}: a `script`, or a `plan` drawn from the seed (the default). */
export interface NemesisOptions {
  /**
   * Faults start in `[0, faultPhaseMs)` after the nemesis is created; the heal phase
   * runs at `faultPhaseMs`, and no fault starts after it.
   */
  readonly faultPhaseMs: number;
  /** An explicit schedule (`atMs` relative to the nemesis's start). Excludes `plan`. */
  readonly script?: readonly ScheduledFault[];
  /**
   * Draw the schedule with {@link planFaults} from `simulation.random.fork('nemesis')`;
   * `nodeIds` defaults to the simulation's server nodes. The default when no script is given.
   */
  readonly plan?: Omit<FaultPlanOptions, 'nodeIds' | 'faultPhaseMs'> & {
    readonly nodeIds?: readonly string[];
  };
  /** What loss and latency faults restore; see {@link LinkBaseline}. */
  readonly linkBaseline?: LinkBaseline;
}

/** What happened to a fault, in the nemesis's log. */
export type FaultLogEvent = 'start' | 'end' | 'skip' | 'heal';

/** One line of the nemesis's log. */
export interface FaultLogEntry {
  /** Simulated true time of the event. */
  readonly timeMs: number;
  /** `start`, `end` (undone), `skip` (not applicable then) or `heal` (the heal phase). */
  readonly event: FaultLogEvent;
  /** The fault, absent for `heal`. */
  readonly fault?: Fault;
  /** What happened, readable. */
  readonly description: string;
}

/** A fault the nemesis started and has not undone yet. */
interface ActiveFault {
  readonly fault: Fault;
  /** Blocked links (partitions), as [from, to] pairs. */
  readonly blocked: readonly (readonly [string, string])[];
  /** Links whose loss or latency this fault set. */
  readonly links: readonly LinkFaults[];
  /** The node crashed or paused, and the incarnation it was in. */
  readonly node: SimNode<NodeProgram> | undefined;
  readonly incarnation: number;
  ended: boolean;
}

interface LinkFaults {
  readonly from: string;
  readonly to: string;
  readonly loss: ActiveFault[];
  readonly latency: ActiveFault[];
  /** The link's own settings before its first fault. */
  readonly latencyBefore: DelayDistribution;
  readonly lossBefore: number;
}

/**
 * Applies a fault schedule to a simulation: each fault starts at its time (a note
 * `nemesis: start ...` goes into the trace and an entry into {@link Nemesis.log}), faults
 * with a duration undo themselves, and at `faultPhaseMs` the heal phase undoes the rest:
 * every partition, block and clog removed (`network.heal()`), loss and latency back to the
 * baseline, every crashed node restarted, every paused node resumed, every drifted clock back
 * at the rate it had before (1, unless the node was created with another). Wall-clock
 * offsets and jumps stay, as a clock stepped in production stays stepped.
 *
 * The nemesis owns the network's blocks while it runs: partitions that overlap are
 * counted per link, so when one ends a link another still cuts stays cut; a block set by
 * hand meanwhile may be lifted when a fault over the same link ends, and the heal phase
 * lifts every block. A crash or pause of a node that is not up then is skipped (logged
 * `skip`); a restart or resume is skipped when something else restarted or resumed the
 * node first. Create the nemesis after adding the nodes.
 *
 * @example
 * ```ts
 * const nemesis = new Nemesis(simulation, { faultPhaseMs: 5_000, plan: { crashCountMax: 1 } });
 * nemesis.runUntilHealed();
 * console.log(nemesis.formatLog().join('\n'));
 * const verdict = checkLiveness(simulation, { progress: () => completed, withinMs: 2_000 });
 * ```
 */
export class Nemesis {
  /** The schedule this nemesis applies (the script, or the plan it drew). */
  readonly schedule: readonly ScheduledFault[];
  /** Simulated time the nemesis was created; `atMs` counts from here. */
  readonly startMs: number;
  /** Simulated time of the heal phase. */
  readonly healAtMs: number;
  readonly #simulation: Simulation;
  readonly #baselineLatency: DelayDistribution | undefined;
  readonly #baselineLoss: number | undefined;
  readonly #log: FaultLogEntry[] = [];
  readonly #active: ActiveFault[] = [];
  readonly #blockCounts = new Map<string, number>();
  readonly #linkFaults = new Map<string, LinkFaults>();
  /** Per node: its rate before the nemesis changed it, and the drift faults in effect. */
  readonly #rateFaults = new Map<
    string,
    { readonly rateBefore: number; readonly stack: ActiveFault[] }
  >();
  readonly #touched = new Set<string>();
  #healed = false;

  constructor(simulation: Simulation, options: NemesisOptions) {
    if (typeof simulation !== 'object' || simulation === null) {
      throw new InvalidArgumentError(
        'Nemesis simulation',
        `Nemesis needs the Simulation to fault; got ${describeValue(simulation)}.`,
      );
    }
    const settings = requireOptions('Nemesis options', options);
    if (options === undefined) {
      throw new InvalidArgumentError(
        'Nemesis options',
        'Nemesis needs options with at least faultPhaseMs.',
      );
    }
    this.#simulation = simulation;
    const faultPhaseMs = requireNumber('Nemesis options.faultPhaseMs', settings.faultPhaseMs, {
      min: 0,
    });
    const baseline = requireOptions('Nemesis options.linkBaseline', settings.linkBaseline);
    this.#baselineLatency =
      baseline.latency === undefined
        ? undefined
        : requireDelayDistribution('Nemesis options.linkBaseline.latency', baseline.latency);
    this.#baselineLoss =
      baseline.lossProbability === undefined
        ? undefined
        : requireNumber('Nemesis options.linkBaseline.lossProbability', baseline.lossProbability, {
            min: 0,
            max: 1,
          });
    const knownIds = [
      ...simulation.nodes().map((node) => node.id),
      ...simulation.clients().map((node) => node.id),
    ];
    if (settings.script !== undefined && settings.plan !== undefined) {
      throw new InvalidArgumentError(
        'Nemesis options.script',
        'Nemesis options take a script or a plan, not both.',
      );
    }
    if (settings.script !== undefined) {
      this.schedule = requireScript(settings.script, faultPhaseMs, knownIds);
    } else {
      const plan = requireOptions('Nemesis options.plan', settings.plan);
      const nodeIds = plan.nodeIds ?? simulation.nodeIds;
      requireDistinctIds('Nemesis options.plan.nodeIds', nodeIds, 1).forEach((id, index) => {
        if (!knownIds.includes(id)) {
          throw new InvalidArgumentError(
            'Nemesis options.plan.nodeIds',
            `Nemesis options.plan.nodeIds[${index}]: ${JSON.stringify(id)} is no node or client of this simulation.`,
          );
        }
      });
      this.schedule = planFaults(simulation.random.fork('nemesis'), {
        ...plan,
        nodeIds,
        faultPhaseMs,
      });
    }
    this.startMs = simulation.nowMs();
    this.healAtMs = this.startMs + faultPhaseMs;
    for (const entry of this.schedule) {
      simulation.at(this.startMs + entry.atMs, () => {
        this.#start(entry.fault);
      });
    }
    simulation.at(this.healAtMs, () => {
      this.#heal();
    });
  }

  /** Whether the heal phase has run. */
  get healed(): boolean {
    return this.#healed;
  }

  /** Every start, end, skip and the heal, in order; at most three entries per fault, plus one. */
  get log(): readonly FaultLogEntry[] {
    return this.#log;
  }

  /** The log as readable lines: `1200.000 start crash n2 for 300 ms`. */
  formatLog(): string[] {
    return this.#log.map(
      (entry) => `${entry.timeMs.toFixed(3)} ${entry.event} ${entry.description}`,
    );
  }

  /** The faults in effect now, oldest first. */
  activeFaults(): Fault[] {
    return this.#active.map((active) => active.fault);
  }

  /** Runs the simulation up to and through the heal phase (no-op when it has run). */
  runUntilHealed(): void {
    if (!this.#healed) {
      this.#simulation.runUntilMs(Math.max(this.healAtMs, this.#simulation.nowMs()));
    }
  }

  #note(event: FaultLogEvent, fault: Fault | undefined, description: string): void {
    const timeMs = this.#simulation.nowMs();
    this.#log.push(
      fault === undefined ? { timeMs, event, description } : { timeMs, event, fault, description },
    );
    this.#simulation.record(`nemesis: ${event} ${description}`);
  }

  #start(fault: Fault): void {
    if (this.#healed) {
      return;
    }
    const simulation = this.#simulation;
    const network = simulation.network;
    let blocked: (readonly [string, string])[] = [];
    let links: LinkFaults[] = [];
    let node: SimNode<NodeProgram> | undefined;
    let incarnation = 0;
    switch (fault.kind) {
      case 'isolate':
      case 'split':
      case 'bridge':
      case 'ring':
      case 'block-one-way':
        blocked = this.#blockedLinks(fault);
        break;
      case 'crash':
      case 'pause': {
        node = simulation.node(fault.node);
        incarnation = node.incarnation;
        if (fault.kind === 'crash' ? node.status === 'down' : node.status !== 'up') {
          this.#note('skip', fault, `${describeFault(fault)}: the node is ${node.status}`);
          return;
        }
        this.#touched.add(node.id);
        break;
      }
      case 'clock-jump':
        this.#note('start', fault, describeFault(fault));
        simulation.node(fault.node).clock.jumpWallMs(fault.deltaMs);
        return;
      case 'clock-offset':
        this.#note('start', fault, describeFault(fault));
        simulation.node(fault.node).clock.setWallOffsetMs(fault.offsetMs);
        return;
      case 'clock-rate':
      case 'clog':
        break;
      case 'loss':
      case 'latency-spike':
        links = this.#linksOf(fault.from, fault.to);
        break;
    }
    const active: ActiveFault = {
      fault,
      blocked,
      links,
      node,
      incarnation,
      ended: false,
    };
    this.#active.push(active);
    this.#note('start', fault, describeFault(fault));
    switch (fault.kind) {
      case 'isolate':
        network.isolate(fault.node);
        break;
      case 'split':
        network.partition([
          fault.minority,
          simulation.nodeIds.filter((id) => !fault.minority.includes(id)),
        ]);
        break;
      case 'bridge':
        network.bridge(fault.sideA, fault.sideB, fault.bridge);
        break;
      case 'ring':
        network.ring(fault.order);
        break;
      case 'block-one-way':
        network.block({ from: fault.from, to: fault.to });
        break;
      case 'clog':
        network.clog(
          { from: fault.from, to: fault.to },
          fault.durationMs ?? this.healAtMs - simulation.nowMs(),
        );
        break;
      case 'loss':
      case 'latency-spike':
        for (const link of links) {
          (fault.kind === 'loss' ? link.loss : link.latency).push(active);
          this.#applyLink(link);
        }
        break;
      case 'clock-rate': {
        const clock = simulation.node(fault.node).clock;
        const drift = this.#rateFaults.get(fault.node) ?? { rateBefore: clock.rate, stack: [] };
        drift.stack.push(active);
        this.#rateFaults.set(fault.node, drift);
        clock.setRate(fault.rate);
        break;
      }
      case 'crash':
        assert(node?.crash() === true, 'nemesis: the crash of an up node failed');
        break;
      case 'pause':
        assert(node?.pause() === true, 'nemesis: the pause of an up node failed');
        break;
    }
    for (const [from, to] of blocked) {
      const key = linkKey(from, to);
      this.#blockCounts.set(key, (this.#blockCounts.get(key) ?? 0) + 1);
      assert(
        network.isBlocked(from, to),
        () => `nemesis: ${describeFault(fault)} should have blocked ${from} -> ${to}`,
      );
    }
    if (fault.durationMs !== undefined) {
      simulation.scheduler.schedule(fault.durationMs, () => {
        this.#end(active, '');
      });
    }
  }

  #end(active: ActiveFault, reason: string): void {
    if (active.ended) {
      return;
    }
    active.ended = true;
    this.#active.splice(this.#active.indexOf(active), 1);
    const fault = active.fault;
    const simulation = this.#simulation;
    const unblock = new Map<string, string[]>();
    for (const [from, to] of active.blocked) {
      const key = linkKey(from, to);
      const count = (this.#blockCounts.get(key) ?? 0) - 1;
      if (count > 0) {
        this.#blockCounts.set(key, count);
      } else {
        this.#blockCounts.delete(key);
        unblock.set(from, [...(unblock.get(from) ?? []), to]);
      }
    }
    for (const link of active.links) {
      const list = fault.kind === 'loss' ? link.loss : link.latency;
      list.splice(list.indexOf(active), 1);
    }
    const node = active.node;
    const undo =
      node === undefined
        ? undefined
        : node.incarnation === active.incarnation &&
            node.status === (fault.kind === 'crash' ? 'down' : 'paused')
          ? fault.kind
          : 'none';
    this.#note(
      'end',
      fault,
      `${describeFault(fault)}${reason}${undo === 'none' ? ': the node was already brought back' : ''}`,
    );
    for (const [from, to] of unblock) {
      simulation.network.unblock({ from, to });
    }
    for (const link of active.links) {
      this.#applyLink(link);
    }
    if (undo === 'crash') {
      node?.restart();
    } else if (undo === 'pause') {
      node?.resume();
    }
    if (fault.kind === 'clock-rate') {
      const drift = this.#rateFaults.get(fault.node);
      assert(drift !== undefined, 'nemesis: a drift fault ended that never started');
      drift.stack.splice(drift.stack.indexOf(active), 1);
      const top = drift.stack.at(-1)?.fault;
      simulation
        .node(fault.node)
        .clock.setRate(top?.kind === 'clock-rate' ? top.rate : drift.rateBefore);
      if (drift.stack.length === 0) {
        this.#rateFaults.delete(fault.node);
      }
    }
  }

  #heal(): void {
    if (this.#healed) {
      return;
    }
    this.#note('heal', undefined, `heal phase: undoing ${this.#active.length} active faults`);
    for (const active of [...this.#active]) {
      this.#end(active, ' (heal phase)');
    }
    this.#healed = true;
    const simulation = this.#simulation;
    simulation.network.heal();
    const nodes = [
      ...simulation.nodes(),
      ...simulation.clients().filter((client) => this.#touched.has(client.id)),
    ];
    for (const node of nodes) {
      if (node.status === 'paused') {
        node.resume();
      } else if (node.status === 'down' && node.incarnation > 0) {
        node.restart();
      }
    }
  }

  /** The directed links a partition-like fault cuts, mirroring what the network does. */
  #blockedLinks(fault: Fault): [string, string][] {
    const simulation = this.#simulation;
    const pairs: [string, string][] = [];
    const both = (sideA: readonly string[], sideB: readonly string[]): void => {
      for (const a of sideA) {
        for (const b of sideB) {
          pairs.push([a, b], [b, a]);
        }
      }
    };
    switch (fault.kind) {
      case 'isolate': {
        const others = [...simulation.nodes(), ...simulation.clients()]
          .map((node) => node.id)
          .filter((id) => id !== fault.node);
        both([fault.node], others);
        break;
      }
      case 'split':
        both(
          fault.minority,
          simulation.nodeIds.filter((id) => !fault.minority.includes(id)),
        );
        break;
      case 'bridge':
        both(fault.sideA, fault.sideB);
        break;
      case 'ring': {
        const count = fault.order.length;
        fault.order.forEach((from, position) => {
          fault.order.forEach((to, otherPosition) => {
            const distance = Math.abs(position - otherPosition);
            if (distance > 1 && distance < count - 1) {
              pairs.push([from, to]);
            }
          });
        });
        break;
      }
      case 'block-one-way':
        pairs.push([fault.from, fault.to]);
        break;
      default:
        break;
    }
    return pairs;
  }

  #linksOf(from: readonly string[], to: readonly string[]): LinkFaults[] {
    const links: LinkFaults[] = [];
    for (const sender of from) {
      for (const receiver of to) {
        if (sender === receiver) {
          continue;
        }
        const key = linkKey(sender, receiver);
        let link = this.#linkFaults.get(key);
        if (link === undefined) {
          const before = this.#simulation.network.linkOptions(sender, receiver);
          link = {
            from: sender,
            to: receiver,
            loss: [],
            latency: [],
            latencyBefore: before.latency,
            lossBefore: before.lossProbability,
          };
          this.#linkFaults.set(key, link);
        }
        links.push(link);
      }
    }
    return links;
  }

  /** Sets a link to its most recent loss and latency fault, or back to the baseline. */
  #applyLink(link: LinkFaults): void {
    const loss = link.loss.at(-1)?.fault;
    const latency = link.latency.at(-1)?.fault;
    this.#simulation.network.configure(
      {
        lossProbability:
          loss?.kind === 'loss' ? loss.lossProbability : (this.#baselineLoss ?? link.lossBefore),
        latency:
          latency?.kind === 'latency-spike'
            ? latency.latency
            : (this.#baselineLatency ?? link.latencyBefore),
      },
      { from: link.from, to: link.to },
    );
  }
}

function linkKey(from: string, to: string): string {
  return JSON.stringify([from, to]);
}

function requireScript(
  script: unknown,
  faultPhaseMs: number,
  knownIds: readonly string[],
): ScheduledFault[] {
  if (!Array.isArray(script)) {
    throw new InvalidArgumentError(
      'Nemesis options.script',
      `Nemesis options.script must be an array of { atMs, fault }; got ${describeValue(script)}.`,
    );
  }
  if (script.length > faultCountLimit) {
    throw new InvalidArgumentError(
      'Nemesis options.script',
      `Nemesis options.script holds ${script.length} faults; at most ${faultCountLimit} are allowed.`,
    );
  }
  return script.map((entry: unknown, index) => {
    const name = `Nemesis options.script[${index}]`;
    const scheduled = requireOptions(name, entry as ScheduledFault | undefined);
    const atMs = requireNumber(`${name}.atMs`, scheduled.atMs, { min: 0 });
    if (atMs >= faultPhaseMs) {
      throw new InvalidArgumentError(
        `${name}.atMs`,
        `${name}.atMs is ${atMs}, not before faultPhaseMs (${faultPhaseMs}): no fault starts at or after the heal phase.`,
      );
    }
    return { atMs, fault: requireFault(`${name}.fault`, scheduled.fault, knownIds) };
  });
}

/** Options for {@link checkLiveness}. */
export interface LivenessOptions {
  /**
   * A counter of useful work that only grows: completed operations, committed entries,
   * heartbeats acknowledged.
   */
  readonly progress: () => number;
  /** How long, in simulated time, the system has to make progress. */
  readonly withinMs: number;
  /** How much the counter must grow to count as progress. Default 1. */
  readonly progressCountMin?: number;
}

/** The verdict of {@link checkLiveness}. */
export type LivenessResult =
  | {
      /** The system made progress in time. */
      readonly live: true;
      /** How long it took, in simulated time. */
      readonly afterMs: number;
      /** The counter when the check began. */
      readonly progressBefore: number;
      /** The counter when progress was seen. */
      readonly progressAfter: number;
    }
  | {
      /** The system made no progress in time. */
      readonly live: false;
      /** How long the check waited (`withinMs`). */
      readonly waitedMs: number;
      /** The counter when the check began. */
      readonly progressBefore: number;
      /** The counter when the check gave up. */
      readonly progressAfter: number;
      /** What the check saw: the counter, each node's status, the links still blocked. */
      readonly explanation: string;
    };

/** The most blocked links an explanation lists by name. */
const explainedLinkCountMax = 10;

/**
 * Runs `simulation` from now until `progress()` has grown by `progressCountMin`, for at
 * most `withinMs` of simulated time, and says whether it did. Call it after the heal phase
 * (see {@link Nemesis.runUntilHealed}): liveness is the promise that a system recovers once
 * the faults stop. A system that stays stuck is a verdict (`live: false`, with an
 * explanation), not an exception; bad options throw {@link InvalidArgumentError}.
 */
export function checkLiveness(simulation: Simulation, options: LivenessOptions): LivenessResult {
  if (typeof simulation !== 'object' || simulation === null) {
    throw new InvalidArgumentError(
      'checkLiveness simulation',
      `checkLiveness needs the Simulation to run; got ${describeValue(simulation)}.`,
    );
  }
  const settings = requireOptions('checkLiveness options', options);
  const progress = requireFunction<() => number>(
    'checkLiveness options.progress',
    settings.progress,
  );
  const withinMs = requireNumber('checkLiveness options.withinMs', settings.withinMs, { min: 0 });
  const progressCountMin = requireNumber(
    'checkLiveness options.progressCountMin',
    settings.progressCountMin ?? 1,
    { min: Number.MIN_VALUE },
  );
  const read = (): number => requireNumber('checkLiveness options.progress()', progress());
  const progressBefore = read();
  const startMs = simulation.nowMs();
  const target = progressBefore + progressCountMin;
  const live = simulation.runUntil(() => read() >= target, { timeoutMs: withinMs });
  const progressAfter = read();
  if (live) {
    return { live: true, afterMs: simulation.nowMs() - startMs, progressBefore, progressAfter };
  }
  const ids = [...simulation.nodes(), ...simulation.clients()].map((node) => node.id);
  const statuses = [...simulation.nodes(), ...simulation.clients()].map(
    (node) => `${node.id} ${node.status} (incarnation ${node.incarnation})`,
  );
  const blocked: string[] = [];
  let blockedCount = 0;
  for (const from of ids) {
    for (const to of ids) {
      if (from !== to && simulation.network.isBlocked(from, to)) {
        blockedCount += 1;
        if (blocked.length < explainedLinkCountMax) {
          blocked.push(`${from} -> ${to}`);
        }
      }
    }
  }
  const explanation =
    `no progress within ${withinMs} ms from ${startMs.toFixed(3)} ms: the counter went from ` +
    `${progressBefore} to ${progressAfter}, short of ${target}. Nodes: ${statuses.join(', ')}. ` +
    (blockedCount === 0
      ? 'No link is blocked.'
      : `${blockedCount} links blocked: ${blocked.join(', ')}${blockedCount > blocked.length ? ', ...' : ''}.`);
  simulation.record(`liveness: ${explanation}`);
  return { live: false, waitedMs: withinMs, progressBefore, progressAfter, explanation };
}
