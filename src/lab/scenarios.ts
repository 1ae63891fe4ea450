/**
 * The columns of the lab: fault schedules with one explicit fault window each. Every fault
 * of a scenario starts when the window opens and ends when it closes; the nemesis heals
 * whatever is left right after. The schedule is built when the window opens, from the
 * replica then leading (for leader-based modes), so "the leader" is the real one.
 *
 * @module
 */

import type { ScheduledFault } from '../sim/index.js';

/** The ids of the lab's scenarios, in the order of the table. */
export type LabScenarioId =
  | 'healthy'
  | 'minority-partition'
  | 'majority-partition'
  | 'leader-crash'
  | 'clock-skew'
  | 'loss-delay';

/** What a scenario's schedule is built from, when the fault window opens. */
export interface ScenarioContext {
  /** Every replica, `r1`..`rN`. */
  readonly replicas: readonly string[];
  /**
   * The replica to fault first: the current leader of a leader-based mode, otherwise
   * `replicas[0]` (a leaderless or multi-leader mode has no leader; any replica will do).
   */
  readonly target: string;
  /** How long the window lasts, in simulated milliseconds. */
  readonly windowMs: number;
}

/** One column of the lab. */
export interface LabScenario {
  /** Stable id, for `--scenarios`. */
  readonly id: LabScenarioId;
  /** For people. */
  readonly label: string;
  /** What happens during the window, in one sentence. */
  readonly description: string;
  /** The faults, `atMs` from the window's start (all within it). */
  readonly faults: (context: ScenarioContext) => ScheduledFault[];
}

/** How far ahead the skewed clock runs in `clock-skew`. */
export const clockSkewMs = 2_000;
/** The loss probability of every replica-to-replica link in `loss-delay`. */
export const lossProbability = 0.3;

/** Every scenario of the lab, in the order of the table. */
export const labScenarios: readonly LabScenario[] = [
  {
    id: 'healthy',
    label: 'healthy',
    description:
      'No fault: the window is measured like the others, as the baseline (the E of PACELC: latency when nothing fails).',
    faults: () => [],
  },
  {
    id: 'minority-partition',
    label: 'minority partition',
    description:
      'The replicas split in two: a minority of ⌊(n-1)/2⌋ (the leader, or r1, and the last replica) against the rest; clients still reach both sides.',
    faults: ({ replicas, target, windowMs }) => {
      const others = replicas.filter((id) => id !== target);
      const size = Math.floor((replicas.length - 1) / 2);
      const minority = [target, ...others.slice(others.length - (size - 1))].slice(0, size);
      return [{ atMs: 0, fault: { kind: 'split', minority, durationMs: windowMs } }];
    },
  },
  {
    id: 'majority-partition',
    label: 'majority partition',
    description:
      'Every replica is cut off from every other, so no side holds a majority; clients still reach each replica.',
    faults: ({ replicas, windowMs }) => {
      const faults: ScheduledFault[] = [];
      for (const from of replicas) {
        for (const to of replicas) {
          if (from !== to) {
            faults.push({
              atMs: 0,
              fault: { kind: 'block-one-way', from, to, durationMs: windowMs },
            });
          }
        }
      }
      return faults;
    },
  },
  {
    id: 'leader-crash',
    label: 'leader crash',
    description:
      'The leader (for modes without one, r1) crashes when the window opens and restarts from its durable state when it closes.',
    faults: ({ target, windowMs }) => [
      { atMs: 0, fault: { kind: 'crash', node: target, durationMs: windowMs } },
    ],
  },
  {
    id: 'clock-skew',
    label: 'clock skew',
    description: `The wall clock of the leader (or r1) runs ${clockSkewMs} ms ahead during the window, then is set right; monotonic time and the network are untouched.`,
    faults: ({ target, windowMs }) => [
      { atMs: 0, fault: { kind: 'clock-offset', node: target, offsetMs: clockSkewMs } },
      { atMs: windowMs, fault: { kind: 'clock-offset', node: target, offsetMs: 0 } },
    ],
  },
  {
    id: 'loss-delay',
    label: 'message loss and delay',
    description: `Every replica-to-replica link loses ${lossProbability * 100}% of its messages and delays the rest by 20 to 200 ms (uniform); client links are untouched.`,
    faults: ({ replicas, windowMs }) => [
      {
        atMs: 0,
        fault: {
          kind: 'loss',
          from: replicas,
          to: replicas,
          lossProbability,
          durationMs: windowMs,
        },
      },
      {
        atMs: 0,
        fault: {
          kind: 'latency-spike',
          from: replicas,
          to: replicas,
          latency: { kind: 'uniform', delayMsMin: 20, delayMsMax: 200 },
          durationMs: windowMs,
        },
      },
    ],
  },
];

/** The ids of {@link labScenarios}, in order. */
export const labScenarioIds: readonly LabScenarioId[] = labScenarios.map((scenario) => scenario.id);
