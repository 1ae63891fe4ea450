/**
 * The port every replication mode of `distkit/replication` implements, so that one
 * driver (the simulator's, the lab's, a TCP process's) runs any of them: a replica is a
 * synchronous state machine that takes client requests, peer messages and ticks, and
 * hands back the messages to send and the replies to give.
 *
 * Durability is explicit: {@link ReplicaCore.durableState} is what the replica has on
 * stable storage at this instant (what a crash keeps); a replica restarted after a crash
 * is built from it and from nothing else. {@link ReplicaCore.durableRecords} gives the same
 * state as keyed records and {@link ReplicaCore.takeDurableChanges} what changed since it
 * was last asked, so a driver can log changes instead of rewriting the whole state;
 * {@link applyDurableChanges} folds them back.
 *
 * @module
 */

import { type Clock, describeValue, InvalidArgumentError, type Random } from '../core/index.js';

/** The id of a replica (a node of the group). */
export type ReplicaId = string;

/** What a client asks: a read or a write of one key of a string key-value map. */
export type ReplicaOperation =
  | { readonly kind: 'read'; readonly key: string }
  | { readonly kind: 'write'; readonly key: string; readonly value: string };

/**
 * Per-request settings. Each mode documents which it reads; the others are ignored.
 */
export interface RequestSettings {
  /** Leaderless: acknowledgements a write needs (W). */
  readonly writeQuorum?: number;
  /** Leaderless: answers a read needs (R). */
  readonly readQuorum?: number;
  /**
   * Leader-follower and multi-leader: the receiving replica answers a read from its own
   * state (reporting its lag) instead of sending it to the leader.
   */
  readonly localRead?: boolean;
}

/** A client's request, addressed to one replica. */
export interface ReplicaRequest {
  /** Unique per request of this client: the reply carries it back. */
  readonly id: string;
  /** The client node (replies go there). */
  readonly client: string;
  readonly operation: ReplicaOperation;
  readonly settings?: RequestSettings;
  /**
   * The session token of this client's latest reply, opaque to the client: what it has
   * seen, so a replica can refuse (or wait) rather than serve older data.
   */
  readonly session?: string;
}

/**
 * How a request ended:
 * - `ok`: done. A read gives `value` (`null`: absent) and, where the mode keeps
 *   concurrent versions, every sibling in `siblings`. `stalenessMs` is how far behind the
 *   answering replica knew itself to be (0 when current).
 * - `unavailable`: refused; it certainly took no effect, a retry is safe.
 * - `unknown`: given up (a timeout, a lost leader); a write may or may not take effect.
 */
export type ReplicaReply =
  | {
      readonly id: string;
      readonly status: 'ok';
      readonly value?: string | null;
      readonly siblings?: readonly string[];
      readonly session?: string;
      readonly stalenessMs?: number;
    }
  | { readonly id: string; readonly status: 'unavailable'; readonly reason: string }
  | { readonly id: string; readonly status: 'unknown'; readonly reason: string };

/** A message for a peer replica; `message` is plain data (any codec can carry it). */
export interface PeerEnvelope {
  readonly to: ReplicaId;
  readonly message: unknown;
}

/** A reply for a client. */
export interface ClientEnvelope {
  readonly to: string;
  readonly reply: ReplicaReply;
}

/** What a replica produced since the last {@link ReplicaCore.drain}. */
export interface ReplicaOutput {
  readonly messages: readonly PeerEnvelope[];
  readonly replies: readonly ClientEnvelope[];
}

/**
 * One replica of a replication mode, sans I/O. The driver calls `request`, `step` and
 * `tick` as things happen and, after each, sends what `drain` returns: peer messages may
 * be lost, duplicated, delayed and reordered by the network, and the mode must cope.
 * Replies are given only for requests this replica received.
 */
export interface ReplicaCore {
  readonly id: ReplicaId;
  /** A client's request arrived. */
  request(request: ReplicaRequest): void;
  /** A peer's message arrived. Malformed messages are ignored, never thrown on. */
  step(from: ReplicaId, message: unknown): void;
  /** Time passed (the driver calls it every `tickMs` of the node's clock). */
  tick(): void;
  /** The messages and replies produced since the last call. */
  drain(): ReplicaOutput;
  /** What stable storage holds now; a restart is built from it. Plain data. */
  durableState(): unknown;
  /**
   * The same durable state as {@link ReplicaCore.durableState}, in the keyed form that
   * {@link ReplicaCore.takeDurableChanges} updates: small records under string ids plus
   * a small `meta`. A factory accepts it as `durableState` too. Optional: a core without
   * it can only be persisted whole.
   */
  durableRecords?(): KeyedDurableState;
  /**
   * What changed durably since the last call (or since the replica was built): the
   * records written or replaced, the ids removed, and the current `meta`; `undefined`
   * when nothing durable changed. Costs O(change), never O(state). Folding every change
   * taken so far onto {@link ReplicaCore.durableRecords} taken at build time with
   * {@link applyDurableChanges} gives `durableRecords()` now. Records are fresh plain
   * data the replica never touches again.
   */
  takeDurableChanges?(): DurableChanges | undefined;
  /**
   * Counters the lab reports, each with a stable name: for example
   * `acknowledgedWritesLost`, `conflictsSurfaced`, `hintsStored`, `readRepairs`.
   */
  metrics(): Readonly<Record<string, number>>;
}

/** What every mode's factory receives. */
export interface ReplicaCoreOptions {
  readonly id: ReplicaId;
  /** Every replica of the group, this one included, in the same order everywhere. */
  readonly replicas: readonly ReplicaId[];
  /** This node's clock (it may be skewed or drift relative to the others). */
  readonly clock: Clock;
  readonly random: Random;
  /** Milliseconds between ticks (the mode's timeouts count ticks of this length). */
  readonly tickMs: number;
  /** A previous incarnation's {@link ReplicaCore.durableState}; absent on first boot. */
  readonly durableState?: unknown;
}

/**
 * A replica's durable state as keyed records, so that a driver can log only what
 * changed (see {@link ReplicaCore.takeDurableChanges}) and rebuild the whole from a
 * checkpoint plus the changes after it. `format` names the mode's record layout; `meta`
 * is small (terms, counters, commit indexes); each record is small too (one log entry,
 * one key's versions, one hint), except rare ones such as a snapshot. Plain data.
 */
export interface KeyedDurableState {
  readonly format: string;
  readonly meta: unknown;
  /** Every record, each id once, in no particular order. */
  readonly records: readonly (readonly [string, unknown])[];
}

/**
 * What changed durably in a replica between two calls of
 * {@link ReplicaCore.takeDurableChanges}: the new `meta` (whole, it is small), the
 * records written or replaced, and the ids of the records removed. An id is never in
 * both lists. Plain data.
 */
export interface DurableChanges {
  readonly meta: unknown;
  readonly upserts: readonly (readonly [string, unknown])[];
  readonly deletes: readonly string[];
}

function requireKeyedState(state: unknown, name: string): KeyedDurableState {
  const candidate = state as Partial<KeyedDurableState> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.format !== 'string' ||
    !Array.isArray(candidate.records)
  ) {
    throw new InvalidArgumentError(
      name,
      `${name} must be a keyed durable state { format, meta, records: [id, record][] }; got ${describeValue(state)}.`,
    );
  }
  return candidate as KeyedDurableState;
}

/**
 * Folds `changes` (in the order they were taken) onto `state`: the result has the last
 * `meta`, every record of `state` not deleted since, and the last upsert of each id.
 * Neither argument is modified; records are shared, not copied. Linear in the sizes of
 * `state` and `changes`, so fold a run of changes in one call rather than one by one.
 *
 * @throws InvalidArgumentError when `state` is not a {@link KeyedDurableState} or a change
 *   is not a {@link DurableChanges}.
 *
 * @example
 * ```ts no-run
 * const boot = replica.durableRecords();
 * const changes = [replica.takeDurableChanges()].filter((c) => c !== undefined);
 * const now = applyDurableChanges(boot, changes); // deep-equals replica.durableRecords()
 * ```
 */
export function applyDurableChanges(
  state: KeyedDurableState,
  changes: readonly DurableChanges[],
): KeyedDurableState {
  const base = requireKeyedState(state, 'state');
  if (!Array.isArray(changes)) {
    throw new InvalidArgumentError(
      'changes',
      `changes must be an array of { meta, upserts, deletes }; got ${describeValue(changes)}.`,
    );
  }
  const records = new Map<string, unknown>(base.records as [string, unknown][]);
  let meta = base.meta;
  changes.forEach((change, position) => {
    if (
      typeof change !== 'object' ||
      change === null ||
      !Array.isArray(change.upserts) ||
      !Array.isArray(change.deletes)
    ) {
      throw new InvalidArgumentError(
        `changes[${position}]`,
        `changes[${position}] must be { meta, upserts: [id, record][], deletes: id[] }; got ${describeValue(change)}.`,
      );
    }
    for (const id of change.deletes) {
      records.delete(id);
    }
    for (const [id, record] of change.upserts) {
      records.set(id, record);
    }
    meta = change.meta;
  });
  return { format: base.format, meta, records: [...records] };
}

/** Builds a replica of a mode; the lab and the drivers take modes as factories. */
export type ReplicaCoreFactory = (options: ReplicaCoreOptions) => ReplicaCore;

/** Limits of {@link parseReplicaRequest}. */
export interface ReplicaRequestLimits {
  /** Longest request id, client id and key, in UTF-16 code units. Default 1,024. */
  readonly idLengthMax?: number;
  /** Longest value and session token, in UTF-16 code units. Default 1 MiB. */
  readonly valueLengthMax?: number;
}

/** The result of {@link parseReplicaRequest}: a fresh request, or what was wrong. */
export type ParseReplicaRequestResult =
  | { readonly ok: true; readonly request: ReplicaRequest }
  | { readonly ok: false; readonly reason: string };

function boundedString(
  value: unknown,
  name: string,
  lengthMax: number,
  allowEmpty: boolean,
): string | undefined {
  if (typeof value !== 'string' || (!allowEmpty && value.length === 0)) {
    return `${name} must be a${allowEmpty ? '' : ' non-empty'} string`;
  }
  return value.length > lengthMax ? `${name} is longer than ${lengthMax}` : undefined;
}

function quorum(value: unknown, name: string): string | undefined {
  return value === undefined || (Number.isSafeInteger(value) && (value as number) >= 1)
    ? undefined
    : `${name} must be a positive integer`;
}

/**
 * Checks a value that came from the network (a client's decoded request) before a
 * driver hands it to {@link ReplicaCore.request}, and copies the known fields only.
 *
 * @example
 * ```ts
 * const parsed = parseReplicaRequest(JSON.parse(body));
 * if (parsed.ok) replica.request(parsed.request);
 * ```
 */
export function parseReplicaRequest(
  value: unknown,
  limits: ReplicaRequestLimits = {},
): ParseReplicaRequestResult {
  const idLengthMax = limits.idLengthMax ?? 1024;
  const valueLengthMax = limits.valueLengthMax ?? 1024 * 1024;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'a request must be an object' };
  }
  const input = value as Record<string, unknown>;
  const operation = input['operation'] as Record<string, unknown> | null | undefined;
  const settings = input['settings'] as Record<string, unknown> | null | undefined;
  const problem =
    boundedString(input['id'], 'id', idLengthMax, false) ??
    boundedString(input['client'], 'client', idLengthMax, false) ??
    (typeof operation !== 'object' || operation === null
      ? 'operation must be an object'
      : operation['kind'] !== 'read' && operation['kind'] !== 'write'
        ? "operation.kind must be 'read' or 'write'"
        : (boundedString(operation['key'], 'operation.key', idLengthMax, true) ??
          (operation['kind'] === 'write'
            ? boundedString(operation['value'], 'operation.value', valueLengthMax, true)
            : undefined))) ??
    (input['session'] === undefined
      ? undefined
      : boundedString(input['session'], 'session', valueLengthMax, true)) ??
    (settings === undefined
      ? undefined
      : typeof settings !== 'object' || settings === null
        ? 'settings must be an object'
        : (quorum(settings['writeQuorum'], 'settings.writeQuorum') ??
          quorum(settings['readQuorum'], 'settings.readQuorum') ??
          (settings['localRead'] === undefined || typeof settings['localRead'] === 'boolean'
            ? undefined
            : 'settings.localRead must be a boolean')));
  if (problem !== undefined) {
    return { ok: false, reason: problem };
  }
  const checkedOperation = operation as Record<string, unknown>;
  const key = checkedOperation['key'] as string;
  const copiedSettings: { -readonly [K in keyof RequestSettings]: RequestSettings[K] } = {};
  if (settings !== undefined && settings !== null) {
    for (const name of ['writeQuorum', 'readQuorum', 'localRead'] as const) {
      if (settings[name] !== undefined) {
        (copiedSettings as Record<string, unknown>)[name] = settings[name];
      }
    }
  }
  const request: ReplicaRequest = {
    id: input['id'] as string,
    client: input['client'] as string,
    operation:
      checkedOperation['kind'] === 'read'
        ? { kind: 'read', key }
        : { kind: 'write', key, value: checkedOperation['value'] as string },
    ...(settings === undefined ? {} : { settings: copiedSettings }),
    ...(input['session'] === undefined ? {} : { session: input['session'] as string }),
  };
  return { ok: true, request };
}
