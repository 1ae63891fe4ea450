/**
 * The rows of the lab: replication modes of `distkit/replication`, each with the client
 * policy the lab's workload uses with it and a way to read, after the run, what every
 * replica holds.
 *
 * @module
 */

import {
  consensus,
  type LeaderlessDurableState,
  type LeaderlessOptions,
  leaderFollower,
  leaderless,
  multiLeader,
  type ReplicaCore,
  type ReplicaCoreFactory,
  type RequestSettings,
} from '../replication/index.js';

/** The ids of the lab's modes, in the order of the table. */
export type LabModeId =
  | 'raft'
  | 'lf-sync'
  | 'lf-async'
  | 'ml-lww'
  | 'ml-siblings'
  | 'll-2-2'
  | 'll-1-1'
  | 'll-sloppy';

/** One row of the lab: a replication mode and how the workload talks to it. */
export interface LabMode {
  /** Stable id, for `--modes`. */
  readonly id: LabModeId;
  /** For people: `leader-follower sync`. */
  readonly label: string;
  /** What the row runs, in one sentence (options and read path). */
  readonly description: string;
  /** Builds the mode; `overrides` are merged into its options (the theory tests use it). */
  readonly factory: (overrides?: Readonly<Record<string, unknown>>) => ReplicaCoreFactory;
  /** Settings of each read request; `undefined`: the mode's defaults. */
  readonly readSettings: RequestSettings | undefined;
  /** Whether one replica leads (the scenarios fault the leader of these modes). */
  readonly leaderBased: boolean;
  /** The replica leading now, from its metrics; `undefined` when none or not leader-based. */
  readonly leaderOf: (cores: ReadonlyMap<string, ReplicaCore>) => string | undefined;
  /**
   * Every value `core` holds for each of `keys` (siblings and hints included), read after
   * the run; may disturb the core (it is called last).
   */
  readonly heldValues: (core: ReplicaCore, keys: readonly string[]) => Map<string, string[]>;
}

/** Reads each key from the core itself (a local read), as the mode answers a client. */
function localReadValues(core: ReplicaCore, keys: readonly string[]): Map<string, string[]> {
  const held = new Map<string, string[]>();
  core.drain();
  keys.forEach((key, index) => {
    core.request({
      id: `lab-final-${index}`,
      client: 'lab-final',
      operation: { kind: 'read', key },
      settings: { localRead: true },
    });
  });
  for (const { reply } of core.drain().replies) {
    if (reply.status !== 'ok') {
      continue;
    }
    const key = keys[Number(reply.id.slice('lab-final-'.length))];
    if (key === undefined) {
      continue;
    }
    const values =
      reply.siblings !== undefined
        ? [...reply.siblings]
        : reply.value === undefined || reply.value === null
          ? []
          : [reply.value];
    held.set(key, values);
  }
  return held;
}

/** The values in a leader-follower replica's log and compacted map (acknowledged or not). */
function leaderFollowerValues(core: ReplicaCore, keys: readonly string[]): Map<string, string[]> {
  const state = core.durableState() as {
    base: { map: [string, string][] };
    entries: { key: string; value: string }[];
  };
  const held = new Map<string, string[]>(keys.map((key) => [key, []]));
  for (const [key, value] of state.base.map) {
    held.get(key)?.push(value);
  }
  // The replica's state is its log applied in order: the last entry of a key wins.
  const last = new Map<string, string>();
  for (const entry of state.entries) {
    last.set(entry.key, entry.value);
  }
  for (const [key, value] of last) {
    held.set(key, [value]);
  }
  return held;
}

/** The versions a leaderless replica stores and the hints it holds for others. */
function leaderlessValues(core: ReplicaCore, keys: readonly string[]): Map<string, string[]> {
  const state = core.durableState() as LeaderlessDurableState;
  const held = new Map<string, string[]>(keys.map((key) => [key, []]));
  for (const [key, value] of state.entries) {
    held.get(key)?.push(value);
  }
  for (const [, key, value] of state.hints) {
    held.get(key)?.push(value);
  }
  return held;
}

function leaderByMetric(metric: string) {
  return (cores: ReadonlyMap<string, ReplicaCore>): string | undefined => {
    for (const [id, core] of cores) {
      if (core.metrics()[metric] === 1) {
        return id;
      }
    }
    return undefined;
  };
}

const noLeader = (): undefined => undefined;

function leaderlessMode(
  id: LabModeId,
  label: string,
  description: string,
  options: LeaderlessOptions,
): LabMode {
  return {
    id,
    label,
    description,
    factory: (overrides) => leaderless({ ...options, ...overrides }),
    readSettings: undefined,
    leaderBased: false,
    leaderOf: noLeader,
    heldValues: leaderlessValues,
  };
}

/** Every mode of the lab, in the order of the table. */
export const labModes: readonly LabMode[] = [
  {
    id: 'raft',
    label: 'Raft (consensus)',
    description:
      'consensus(): every replica a Raft voter; writes through the log, reads by read index at the leader (any replica forwards).',
    factory: (overrides) => consensus({ ...overrides }),
    readSettings: undefined,
    leaderBased: true,
    leaderOf: leaderByMetric('isLeader'),
    heldValues: localReadValues,
  },
  {
    id: 'lf-sync',
    label: 'leader-follower sync',
    description:
      "leaderFollower({ replication: 'sync' }): a write is acknowledged once every follower holds it; reads go to the leader (the mode's default).",
    factory: (overrides) => leaderFollower({ replication: 'sync', ...overrides }),
    readSettings: undefined,
    leaderBased: true,
    leaderOf: leaderByMetric('leader'),
    heldValues: leaderFollowerValues,
  },
  {
    id: 'lf-async',
    label: 'leader-follower async',
    description:
      "leaderFollower({ replication: 'async' }): a write is acknowledged once in the leader's log; reads go to the leader.",
    factory: (overrides) => leaderFollower({ replication: 'async', ...overrides }),
    readSettings: undefined,
    leaderBased: true,
    leaderOf: leaderByMetric('leader'),
    heldValues: leaderFollowerValues,
  },
  {
    id: 'ml-lww',
    label: 'multi-leader LWW',
    description:
      "multiLeader({ conflicts: 'lww' }): every replica accepts writes and answers reads locally (localRead); last writer wins on hybrid timestamps.",
    factory: (overrides) => multiLeader({ conflicts: 'lww', ...overrides }),
    readSettings: { localRead: true },
    leaderBased: false,
    leaderOf: noLeader,
    heldValues: localReadValues,
  },
  {
    id: 'ml-siblings',
    label: 'multi-leader siblings',
    description:
      "multiLeader({ conflicts: 'siblings' }): as LWW, but concurrent writes are kept as siblings (dotted version vectors) and a read returns them all.",
    factory: (overrides) => multiLeader({ conflicts: 'siblings', ...overrides }),
    readSettings: { localRead: true },
    leaderBased: false,
    leaderOf: noLeader,
    heldValues: localReadValues,
  },
  leaderlessMode(
    'll-2-2',
    'leaderless N=3 W=2 R=2',
    'leaderless({ replicationFactor: 3, writeQuorum: 2, readQuorum: 2 }): strict quorums, read repair and anti-entropy on.',
    { replicationFactor: 3, writeQuorum: 2, readQuorum: 2 },
  ),
  leaderlessMode(
    'll-1-1',
    'leaderless N=3 W=1 R=1',
    'leaderless({ replicationFactor: 3, writeQuorum: 1, readQuorum: 1 }): one acknowledgement and one answer suffice; read repair and anti-entropy on.',
    { replicationFactor: 3, writeQuorum: 1, readQuorum: 1 },
  ),
  leaderlessMode(
    'll-sloppy',
    'leaderless sloppy W=2 R=2',
    'leaderless({ replicationFactor: 3, writeQuorum: 2, readQuorum: 2, sloppyQuorum: true }): fallback replicas take writes (with hints) and answer reads when owners are unreachable.',
    { replicationFactor: 3, writeQuorum: 2, readQuorum: 2, sloppyQuorum: true },
  ),
];

/** The ids of {@link labModes}, in order. */
export const labModeIds: readonly LabModeId[] = labModes.map((mode) => mode.id);
