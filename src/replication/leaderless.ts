/**
 * Leaderless, Dynamo-style replication: every replica can coordinate any request; a key
 * lives on the first N distinct replicas clockwise from its hash on a consistent-hash
 * ring (its preference list); a write succeeds after W acknowledgements and a read
 * returns the newest of R answers. Versions are hybrid logical timestamps with the
 * coordinator's id, merged last-writer-wins. Optional sloppy quorums with hinted handoff
 * keep writes and reads available when owners do not answer; read repair and Merkle-tree
 * anti-entropy bring replicas back together.
 *
 * The core is sans I/O: no timers, no promises; time comes only from `tick()` and the
 * injected clock, randomness only from the injected `Random`.
 *
 * @module
 */

import { HybridLogicalClock, type HybridTimestamp, hybridLogicalMax } from '../clocks/index.js';
import {
  InvalidArgumentError,
  type Random,
  requireBoolean,
  requireInteger,
  requireOptions,
} from '../core/index.js';
import { ConsistentHashRing } from '../partition/index.js';
import {
  DurableChangeTracker,
  malformedDurableState,
  plainFromKeyed,
  ReplicaOutbox,
} from './core-support.js';
import {
  differingIndices,
  MerkleTree,
  merkleBranchCount,
  merkleLeafCount,
  merkleLeafOf,
  merkleLeavesPerBranch,
} from './merkle-tree.js';
import type {
  DurableChanges,
  KeyedDurableState,
  ReplicaCore,
  ReplicaCoreFactory,
  ReplicaCoreOptions,
  ReplicaId,
  ReplicaOutput,
  ReplicaReply,
  ReplicaRequest,
} from './protocol.js';

/** Options of {@link leaderless}; every one has a default. */
export interface LeaderlessOptions {
  /** N: replicas per key (its preference list). Default 3; at most the replica count. */
  readonly replicationFactor?: number;
  /** W: acknowledgements a write needs unless the request says otherwise. Default 2; 1 to N. */
  readonly writeQuorum?: number;
  /** R: answers a read needs unless the request says otherwise. Default 2; 1 to N. */
  readonly readQuorum?: number;
  /**
   * When preference-list replicas do not answer within `retryEveryTicks`, send the
   * request to the next replicas on the ring too (writes with a hint naming the owner),
   * and count their answers towards W and R. Default false.
   */
  readonly sloppyQuorum?: boolean;
  /** After a read, send the newest version to owners that answered older. Default true. */
  readonly readRepair?: boolean;
  /** Ticks between anti-entropy rounds with one random peer; 0 turns it off. Default 100. */
  readonly antiEntropyEveryTicks?: number;
  /** Ticks a request may take before it replies `unknown` (writes) or `unavailable` (reads). Default 20. */
  readonly requestTimeoutTicks?: number;
  /** Ticks between resends to silent replicas (and, sloppy, moves to fallbacks). Default 3. */
  readonly retryEveryTicks?: number;
  /** Ticks between attempts to hand hints off to their owners. Default 10. */
  readonly hintRetryEveryTicks?: number;
  /** Most requests this replica coordinates at once; more are refused `unavailable`. Default 1,000. */
  readonly inflightCountMax?: number;
  /** Most hints this replica holds for others; more are not acknowledged. Default 10,000. */
  readonly hintCountMax?: number;
  /** Most keys this replica stores; writes of new keys beyond it are not acknowledged. Default 1,000,000. */
  readonly keyCountMax?: number;
  /** Longest key, in UTF-16 code units. Default 1,024. */
  readonly keyLengthMax?: number;
  /** Longest value, in UTF-16 code units. Default 1,048,576. */
  readonly valueLengthMax?: number;
  /** Most entries in one anti-entropy message, and hints handed off per attempt. Default 256. */
  readonly entriesPerMessageMax?: number;
  /** Most keys a session token remembers (the most recently touched). Default 32. */
  readonly sessionKeyCountMax?: number;
  /** How far ahead of this replica's clock a timestamp may be and still advance its clock. Default 10,000. */
  readonly clockOffsetMsMax?: number;
  /** Virtual nodes per replica on the ring. Default 160. */
  readonly virtualNodeCount?: number;
}

/** A stored version of a key: the value, its hybrid timestamp and the coordinator that stamped it. */
export interface LeaderlessVersion {
  readonly value: string;
  /** Wall milliseconds of the coordinator's hybrid logical clock. */
  readonly wallMs: number;
  /** Logical counter of the hybrid timestamp. */
  readonly logical: number;
  /** The coordinator that stamped it (breaks ties between equal timestamps). */
  readonly writer: ReplicaId;
}

/**
 * Orders versions for last-writer-wins: by timestamp, then writer id, then value (the last
 * only so that the order is total even for malformed duplicates). Negative, zero, positive.
 */
export function compareLeaderlessVersions(a: LeaderlessVersion, b: LeaderlessVersion): number {
  return (
    a.wallMs - b.wallMs ||
    a.logical - b.logical ||
    (a.writer < b.writer ? -1 : a.writer > b.writer ? 1 : 0) ||
    (a.value < b.value ? -1 : a.value > b.value ? 1 : 0)
  );
}

/**
 * The last-writer-wins merge of two versions (either may be absent): the newer one.
 * Commutative, associative and idempotent, so replicas converge whatever order versions
 * reach them in.
 */
export function mergeLeaderlessVersions(
  a: LeaderlessVersion | null,
  b: LeaderlessVersion | null,
): LeaderlessVersion | null {
  if (a === null) {
    return b;
  }
  if (b === null) {
    return a;
  }
  return compareLeaderlessVersions(a, b) >= 0 ? a : b;
}

/**
 * The counters of {@link LeaderlessReplica.metrics} (volatile: they restart at zero with
 * the replica).
 */
export type LeaderlessMetrics = {
  /** Writes this replica coordinated that got W acknowledgements. */
  readonly writesOk: number;
  /** Writes that timed out (`unknown`: they may be stored on some replicas). */
  readonly writesUnknown: number;
  /** Ok writes that needed a fallback replica (sloppy quorum). */
  readonly sloppyWrites: number;
  /** Reads that got R answers (and satisfied the session). */
  readonly readsOk: number;
  /** Reads that timed out, `behind-session` ones included. */
  readonly readsUnavailable: number;
  /** Reads refused because every answer was older than the client's session. */
  readonly behindSessionReads: number;
  /** Requests refused because `inflightCountMax` coordinations were in flight. */
  readonly requestsRefused: number;
  /** Hints stored (or raised to a newer version) for other owners. */
  readonly hintsStored: number;
  /** Hints handed off to their owners and dropped. */
  readonly hintsDelivered: number;
  /** Hints refused because `hintCountMax` were held. */
  readonly hintsRefused: number;
  /** Versions sent (or applied locally) to owners that answered a read with older data. */
  readonly readRepairs: number;
  /** Anti-entropy rounds this replica started. */
  readonly antiEntropyRounds: number;
  /** Keys this replica updated from an anti-entropy transfer. */
  readonly antiEntropyRepairs: number;
  /** Writes of new keys not acknowledged because `keyCountMax` keys were stored. */
  readonly writesRefusedFull: number;
  /** Peer messages ignored as malformed or from unknown senders. */
  readonly malformedMessages: number;
  /** Keys stored now. */
  readonly storedKeys: number;
  /** Hints held now. */
  readonly pendingHints: number;
  /** Coordinations in flight now. */
  readonly inflight: number;
};

/** What {@link LeaderlessReplica.durableState} returns: plain data. */
export interface LeaderlessDurableState {
  readonly format: 'leaderless/1';
  /** The hybrid clock's latest timestamp, so a restarted replica never stamps older. */
  readonly clock: HybridTimestamp;
  /** Stored versions: `[key, value, wallMs, logical, writer]`. */
  readonly entries: readonly (readonly [string, string, number, number, string])[];
  /** Hints held for others: `[owner, key, value, wallMs, logical, writer]`. */
  readonly hints: readonly (readonly [string, string, string, number, number, string])[];
}

type Settings = Required<LeaderlessOptions>;

/**
 * The keyed form: meta `{ clock }`, an `s/<key>` record `[value, wallMs, logical,
 * writer]` per stored key and an `h/<JSON [owner, key]>` record `[value, wallMs, logical,
 * writer]` per hint.
 */
const keyedFormat = 'leaderless-records/1';
const storeRecordPrefix = 's/';
const hintRecordPrefix = 'h/';

function hintRecordId(owner: string, key: string): string {
  return `${hintRecordPrefix}${JSON.stringify([owner, key])}`;
}

function versionRecord(version: LeaderlessVersion): [string, number, number, string] {
  return [version.value, version.wallMs, version.logical, version.writer];
}

/** A keyed durable state as the plain form `#restore` reads; any other value as it is. */
function fromKeyed(value: unknown): unknown {
  return plainFromKeyed(value, keyedFormat, (keyed) => {
    const entries: unknown[] = [];
    const hints: unknown[] = [];
    for (const [id, record] of keyed.records) {
      if (typeof id !== 'string' || !Array.isArray(record)) {
        return malformedDurableState;
      }
      if (id.startsWith(storeRecordPrefix)) {
        entries.push([id.slice(storeRecordPrefix.length), ...record]);
      } else if (id.startsWith(hintRecordPrefix)) {
        let ownerKey: unknown;
        try {
          ownerKey = JSON.parse(id.slice(hintRecordPrefix.length));
        } catch {
          return malformedDurableState;
        }
        if (!Array.isArray(ownerKey)) {
          return malformedDurableState;
        }
        hints.push([...ownerKey, ...record]);
      }
    }
    return {
      format: 'leaderless/1',
      clock: (keyed.meta as { clock?: unknown }).clock,
      entries,
      hints,
    };
  });
}

function integerOption(
  options: LeaderlessOptions,
  name: keyof LeaderlessOptions,
  fallback: number,
  min: number,
  max: number,
): number {
  const value = options[name];
  return value === undefined
    ? fallback
    : requireInteger(`leaderless options.${name}`, value, { min, max });
}

function validate(options: LeaderlessOptions | undefined): Settings {
  const checked = requireOptions('leaderless options', options);
  const replicationFactor = integerOption(checked, 'replicationFactor', 3, 1, 1_000);
  const writeQuorum = integerOption(
    checked,
    'writeQuorum',
    Math.min(2, replicationFactor),
    1,
    replicationFactor,
  );
  const readQuorum = integerOption(
    checked,
    'readQuorum',
    Math.min(2, replicationFactor),
    1,
    replicationFactor,
  );
  const flag = (name: 'sloppyQuorum' | 'readRepair', fallback: boolean): boolean =>
    checked[name] === undefined
      ? fallback
      : requireBoolean(`leaderless options.${name}`, checked[name]);
  const requestTimeoutTicks = integerOption(checked, 'requestTimeoutTicks', 20, 1, 1_000_000);
  return {
    replicationFactor,
    writeQuorum,
    readQuorum,
    sloppyQuorum: flag('sloppyQuorum', false),
    readRepair: flag('readRepair', true),
    antiEntropyEveryTicks: integerOption(checked, 'antiEntropyEveryTicks', 100, 0, 1_000_000),
    requestTimeoutTicks,
    retryEveryTicks: integerOption(checked, 'retryEveryTicks', 3, 1, 1_000_000),
    hintRetryEveryTicks: integerOption(checked, 'hintRetryEveryTicks', 10, 1, 1_000_000),
    inflightCountMax: integerOption(checked, 'inflightCountMax', 1_000, 1, 1_000_000),
    hintCountMax: integerOption(checked, 'hintCountMax', 10_000, 0, 100_000_000),
    keyCountMax: integerOption(checked, 'keyCountMax', 1_000_000, 1, 100_000_000),
    keyLengthMax: integerOption(checked, 'keyLengthMax', 1_024, 1, 65_536),
    valueLengthMax: integerOption(checked, 'valueLengthMax', 1_048_576, 0, 268_435_456),
    entriesPerMessageMax: integerOption(checked, 'entriesPerMessageMax', 256, 1, 1_000_000),
    sessionKeyCountMax: integerOption(checked, 'sessionKeyCountMax', 32, 0, 10_000),
    clockOffsetMsMax: integerOption(checked, 'clockOffsetMsMax', 10_000, 0, 1_000_000_000),
    virtualNodeCount: integerOption(checked, 'virtualNodeCount', 160, 1, 65_536),
  };
}

/**
 * Builds the leaderless replication mode. Options are checked here (an
 * `InvalidArgumentError` names the offending one); the replica count is checked against
 * `replicationFactor` when each replica is built.
 *
 * @example
 * ```ts
 * const mode = leaderless({ replicationFactor: 3, writeQuorum: 2, readQuorum: 2 });
 * const replica = mode({ id: 'r1', replicas: ['r1', 'r2', 'r3'], clock, random, tickMs: 10 });
 * ```
 */
export function leaderless(options?: LeaderlessOptions): ReplicaCoreFactory {
  const settings = validate(options);
  return (replicaOptions: ReplicaCoreOptions) => new LeaderlessReplica(settings, replicaOptions);
}

type SessionEntry = readonly [string, number, number, string];

interface Stamp {
  readonly wallMs: number;
  readonly logical: number;
  readonly writer: string;
}

function compareStamps(a: Stamp, b: Stamp): number {
  return (
    a.wallMs - b.wallMs ||
    a.logical - b.logical ||
    (a.writer < b.writer ? -1 : a.writer > b.writer ? 1 : 0)
  );
}

function stampLabel(version: Stamp): string {
  return `${version.wallMs}.${version.logical}.${version.writer}`;
}

interface Requester {
  readonly id: string;
  readonly client: string;
}

interface WriteCoordination {
  readonly kind: 'write';
  readonly rid: string;
  readonly requester: Requester;
  readonly key: string;
  readonly version: LeaderlessVersion;
  readonly preference: readonly string[];
  readonly quorum: number;
  readonly startTick: number;
  readonly deadlineTick: number;
  readonly ackers: Set<string>;
  /** Fallback replica -> the owner it holds a hint for. */
  readonly fallbacks: Map<string, string>;
  readonly session: readonly SessionEntry[];
}

interface ReadCoordination {
  readonly kind: 'read';
  readonly rid: string;
  readonly requester: Requester;
  readonly key: string;
  readonly preference: readonly string[];
  readonly quorum: number;
  readonly startTick: number;
  readonly deadlineTick: number;
  readonly answers: Map<string, LeaderlessVersion | null>;
  readonly fallbacks: Set<string>;
  readonly session: readonly SessionEntry[];
  readonly floor: Stamp | undefined;
  /** The reply went out; the coordination stays only to repair late answers. */
  replied: LeaderlessVersion | null | undefined;
}

type Coordination = WriteCoordination | ReadCoordination;

const lonelySurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The fields read from untrusted plain data (requests, peer messages, stored state). */
type FieldName =
  | 'type'
  | 'rid'
  | 'key'
  | 'value'
  | 'version'
  | 'hintFor'
  | 'wallMs'
  | 'logical'
  | 'writer'
  | 'root'
  | 'complete'
  | 'branches'
  | 'branch'
  | 'leaves'
  | 'entries'
  | 'keys'
  | 'kind'
  | 'writeQuorum'
  | 'readQuorum'
  | 'format'
  | 'clock'
  | 'hints';
type Fields = { readonly [name in FieldName]?: unknown };

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * One replica of the leaderless mode (what {@link leaderless}'s factory builds). Besides
 * the {@link ReplicaCore} port it offers {@link LeaderlessReplica.preferenceList} and
 * {@link LeaderlessReplica.storedVersion} for tests and tools.
 */
export class LeaderlessReplica implements ReplicaCore {
  /** This replica's id. */
  readonly id: ReplicaId;
  readonly #settings: Settings;
  readonly #replicas: readonly string[];
  readonly #replicaSet: ReadonlySet<string>;
  readonly #ring: ConsistentHashRing;
  readonly #random: Random;
  readonly #hlc: HybridLogicalClock;
  readonly #store = new Map<string, LeaderlessVersion>();
  /** Keys of the store per Merkle leaf, to list a leaf's entries without a scan. */
  readonly #leafKeys: Set<string>[] = Array.from({ length: merkleLeafCount }, () => new Set());
  /** One tree per peer over the keys both replicate. */
  readonly #trees = new Map<string, MerkleTree>();
  /** Hints: key -> owner -> version. */
  readonly #hints = new Map<string, Map<string, LeaderlessVersion>>();
  /** Durable records changed since the last `takeDurableChanges()`. */
  readonly #changes = new DurableChangeTracker();
  #hintCount = 0;
  #handoffCursor = 0;
  readonly #coordinations = new Map<string, Coordination>();
  readonly #ridPrefix: string;
  #ridCounter = 0;
  #tick = 0;
  readonly #antiEntropyOffset: number;
  readonly #outbox = new ReplicaOutbox();
  readonly #metrics = {
    writesOk: 0,
    writesUnknown: 0,
    sloppyWrites: 0,
    readsOk: 0,
    readsUnavailable: 0,
    behindSessionReads: 0,
    requestsRefused: 0,
    hintsStored: 0,
    hintsDelivered: 0,
    hintsRefused: 0,
    readRepairs: 0,
    antiEntropyRounds: 0,
    antiEntropyRepairs: 0,
    writesRefusedFull: 0,
    malformedMessages: 0,
  };

  /** Use {@link leaderless}; the constructor is public for subclassing in tests only. */
  constructor(settings: Required<LeaderlessOptions>, options: ReplicaCoreOptions) {
    const checked = requireOptions('leaderless replica options', options);
    this.id = checked.id;
    this.#settings = settings;
    if (!Array.isArray(checked.replicas) || !checked.replicas.includes(checked.id)) {
      throw new InvalidArgumentError(
        'options.replicas',
        'options.replicas must list every replica of the group, this one included.',
      );
    }
    if (settings.replicationFactor > checked.replicas.length) {
      throw new InvalidArgumentError(
        'leaderless options.replicationFactor',
        `leaderless options.replicationFactor is ${settings.replicationFactor} but the group has only ${checked.replicas.length} replicas; use at most ${checked.replicas.length}.`,
      );
    }
    this.#replicas = [...checked.replicas];
    this.#replicaSet = new Set(this.#replicas);
    this.#ring = new ConsistentHashRing({
      nodes: this.#replicas,
      virtualNodeCount: settings.virtualNodeCount,
    });
    this.#random = checked.random;
    for (const peer of this.#replicas) {
      if (peer !== this.id) {
        this.#trees.set(peer, new MerkleTree());
      }
    }
    let last: HybridTimestamp | undefined;
    if (checked.durableState !== undefined) {
      last = this.#restore(fromKeyed(checked.durableState));
    }
    this.#hlc = new HybridLogicalClock({
      clock: checked.clock,
      maxOffsetMs: settings.clockOffsetMsMax,
      ...(last === undefined ? {} : { last }),
    });
    this.#ridPrefix = `${this.id}.${this.#random.uint32().toString(36)}`;
    this.#antiEntropyOffset =
      settings.antiEntropyEveryTicks > 0
        ? this.#random.integer(0, settings.antiEntropyEveryTicks - 1)
        : 0;
  }

  /** The preference list of `key`: the first N distinct replicas clockwise from its hash. */
  preferenceList(key: string): string[] {
    return this.#ring.replicasFor(key, this.#settings.replicationFactor);
  }

  /** The version of `key` this replica stores as an owner (hints excluded), or null. */
  storedVersion(key: string): LeaderlessVersion | null {
    return this.#store.get(key) ?? null;
  }

  /** The hints this replica holds, as `{ owner, key, version }`. */
  hints(): { owner: string; key: string; version: LeaderlessVersion }[] {
    const found: { owner: string; key: string; version: LeaderlessVersion }[] = [];
    for (const [key, owners] of this.#hints) {
      for (const [owner, version] of owners) {
        found.push({ owner, key, version });
      }
    }
    return found;
  }

  // ---- the port -------------------------------------------------------------------

  /** A client's request arrived. */
  request(request: ReplicaRequest): void {
    if (
      !isObject(request) ||
      typeof request.id !== 'string' ||
      typeof request.client !== 'string'
    ) {
      return;
    }
    const requester: Requester = { id: request.id, client: request.client };
    const operation = request.operation as unknown;
    if (!isObject(operation) || !this.#validKey(operation.key)) {
      this.#reply(requester, {
        id: requester.id,
        status: 'unavailable',
        reason: 'invalid-request',
      });
      return;
    }
    const key = operation.key as string;
    const session = this.#parseSession(request.session);
    if (session === undefined) {
      this.#reply(requester, {
        id: requester.id,
        status: 'unavailable',
        reason: 'invalid-session',
      });
      return;
    }
    const settings = isObject(request.settings) ? request.settings : {};
    if (this.#coordinations.size >= this.#settings.inflightCountMax) {
      this.#metrics.requestsRefused += 1;
      this.#reply(requester, { id: requester.id, status: 'unavailable', reason: 'overloaded' });
      return;
    }
    if (operation.kind === 'write') {
      const quorum = this.#quorum(settings.writeQuorum, this.#settings.writeQuorum);
      if (
        typeof operation.value !== 'string' ||
        operation.value.length > this.#settings.valueLengthMax ||
        quorum === undefined
      ) {
        this.#reply(requester, {
          id: requester.id,
          status: 'unavailable',
          reason: 'invalid-request',
        });
        return;
      }
      this.#startWrite(requester, key, operation.value, quorum, session);
    } else if (operation.kind === 'read') {
      const quorum = this.#quorum(settings.readQuorum, this.#settings.readQuorum);
      if (quorum === undefined) {
        this.#reply(requester, {
          id: requester.id,
          status: 'unavailable',
          reason: 'invalid-request',
        });
        return;
      }
      this.#startRead(requester, key, quorum, session);
    } else {
      this.#reply(requester, {
        id: requester.id,
        status: 'unavailable',
        reason: 'invalid-request',
      });
    }
  }

  /** A peer's message arrived; malformed ones are counted and ignored. */
  step(from: ReplicaId, message: unknown): void {
    if (!this.#replicaSet.has(from) || from === this.id || !isObject(message)) {
      this.#metrics.malformedMessages += 1;
      return;
    }
    const handled = this.#dispatch(from, message);
    if (!handled) {
      this.#metrics.malformedMessages += 1;
    }
  }

  /** Time passed: timeouts, resends, sloppy fallbacks, hinted handoff, anti-entropy. */
  tick(): void {
    this.#tick += 1;
    for (const coordination of [...this.#coordinations.values()]) {
      if (this.#tick >= coordination.deadlineTick) {
        this.#expire(coordination);
      } else if ((this.#tick - coordination.startTick) % this.#settings.retryEveryTicks === 0) {
        this.#retry(coordination);
      }
    }
    if (this.#hintCount > 0 && this.#tick % this.#settings.hintRetryEveryTicks === 0) {
      this.#handOff();
    }
    const every = this.#settings.antiEntropyEveryTicks;
    if (every > 0 && this.#tick % every === this.#antiEntropyOffset) {
      this.#startAntiEntropy();
    }
  }

  /** The messages and replies produced since the last call. */
  drain(): ReplicaOutput {
    return this.#outbox.drain();
  }

  /** Stored versions, pending hints and the clock; in-flight coordinations are volatile. */
  durableState(): LeaderlessDurableState {
    const entries: [string, string, number, number, string][] = [];
    for (const [key, version] of this.#store) {
      entries.push([key, version.value, version.wallMs, version.logical, version.writer]);
    }
    const hints: [string, string, string, number, number, string][] = [];
    for (const { owner, key, version } of this.hints()) {
      hints.push([owner, key, version.value, version.wallMs, version.logical, version.writer]);
    }
    return { format: 'leaderless/1', clock: this.#hlc.last, entries, hints };
  }

  /** The durable state as keyed records (see {@link ReplicaCore.durableRecords}). */
  durableRecords(): KeyedDurableState {
    const records: [string, unknown][] = [];
    for (const [key, version] of this.#store) {
      records.push([`${storeRecordPrefix}${key}`, versionRecord(version)]);
    }
    for (const [key, owners] of this.#hints) {
      for (const [owner, version] of owners) {
        records.push([hintRecordId(owner, key), versionRecord(version)]);
      }
    }
    return { format: keyedFormat, meta: { clock: { ...this.#hlc.last } }, records };
  }

  /** What changed durably since the last call (see {@link ReplicaCore.takeDurableChanges}). */
  takeDurableChanges(): DurableChanges | undefined {
    return this.#changes.take({ clock: { ...this.#hlc.last } }, (id) => {
      if (id.startsWith(storeRecordPrefix)) {
        const version = this.#store.get(id.slice(storeRecordPrefix.length));
        return version === undefined ? undefined : versionRecord(version);
      }
      const [owner, key] = JSON.parse(id.slice(hintRecordPrefix.length)) as [string, string];
      const version = this.#hints.get(key)?.get(owner);
      return version === undefined ? undefined : versionRecord(version);
    });
  }

  /** Counters: `hintsStored`, `hintsDelivered`, `readRepairs`, `antiEntropyRepairs`, ... */
  metrics(): LeaderlessMetrics {
    return {
      ...this.#metrics,
      storedKeys: this.#store.size,
      pendingHints: this.#hintCount,
      inflight: this.#coordinations.size,
    };
  }

  // ---- coordination ---------------------------------------------------------------

  #nextRid(): string {
    this.#ridCounter += 1;
    return `${this.#ridPrefix}.${this.#ridCounter}`;
  }

  #quorum(requested: unknown, fallback: number): number | undefined {
    if (requested === undefined) {
      return fallback;
    }
    return typeof requested === 'number' &&
      Number.isInteger(requested) &&
      requested >= 1 &&
      requested <= this.#settings.replicationFactor
      ? requested
      : undefined;
  }

  #startWrite(
    requester: Requester,
    key: string,
    value: string,
    quorum: number,
    session: readonly SessionEntry[],
  ): void {
    // Stamp after everything the client has seen, so its writes follow its reads.
    for (const [, wallMs, logical] of session) {
      this.#observe({ wallMs, logical });
    }
    const stamp = this.#hlc.now();
    const version: LeaderlessVersion = {
      value,
      wallMs: stamp.wallMs,
      logical: stamp.logical,
      writer: this.id,
    };
    const coordination: WriteCoordination = {
      kind: 'write',
      rid: this.#nextRid(),
      requester,
      key,
      version,
      preference: this.preferenceList(key),
      quorum,
      startTick: this.#tick,
      deadlineTick: this.#tick + this.#settings.requestTimeoutTicks,
      ackers: new Set(),
      fallbacks: new Map(),
      session,
    };
    this.#coordinations.set(coordination.rid, coordination);
    for (const owner of coordination.preference) {
      if (owner === this.id) {
        if (this.#apply(key, version) !== 'refused') {
          coordination.ackers.add(this.id);
        }
      } else {
        this.#send(owner, { type: 'write', rid: coordination.rid, key, version });
      }
    }
    this.#checkWrite(coordination);
  }

  #checkWrite(coordination: WriteCoordination): void {
    if (coordination.ackers.size < coordination.quorum) {
      return;
    }
    this.#coordinations.delete(coordination.rid);
    this.#metrics.writesOk += 1;
    if (coordination.fallbacks.size > 0) {
      this.#metrics.sloppyWrites += 1;
    }
    this.#reply(coordination.requester, {
      id: coordination.requester.id,
      status: 'ok',
      ...this.#formatSession(coordination.session, coordination.key, coordination.version),
    });
  }

  #startRead(
    requester: Requester,
    key: string,
    quorum: number,
    session: readonly SessionEntry[],
  ): void {
    const entry = session.find(([sessionKey]) => sessionKey === key);
    const coordination: ReadCoordination = {
      kind: 'read',
      rid: this.#nextRid(),
      requester,
      key,
      preference: this.preferenceList(key),
      quorum,
      startTick: this.#tick,
      deadlineTick: this.#tick + this.#settings.requestTimeoutTicks,
      answers: new Map(),
      fallbacks: new Set(),
      session,
      floor:
        entry === undefined ? undefined : { wallMs: entry[1], logical: entry[2], writer: entry[3] },
      replied: undefined,
    };
    this.#coordinations.set(coordination.rid, coordination);
    for (const owner of coordination.preference) {
      if (owner === this.id) {
        coordination.answers.set(this.id, this.#localVersion(key));
      } else {
        this.#send(owner, { type: 'read', rid: coordination.rid, key });
      }
    }
    this.#checkRead(coordination);
  }

  #newestAnswer(coordination: ReadCoordination): LeaderlessVersion | null {
    let newest: LeaderlessVersion | null = null;
    for (const answer of coordination.answers.values()) {
      newest = mergeLeaderlessVersions(newest, answer);
    }
    return newest;
  }

  #checkRead(coordination: ReadCoordination): void {
    if (coordination.replied !== undefined) {
      this.#repair(coordination);
      if (
        coordination.answers.size >=
        coordination.preference.length + coordination.fallbacks.size
      ) {
        this.#coordinations.delete(coordination.rid);
      }
      return;
    }
    if (coordination.answers.size < coordination.quorum) {
      return;
    }
    const newest = this.#newestAnswer(coordination);
    if (
      coordination.floor !== undefined &&
      (newest === null || compareStamps(newest, coordination.floor) < 0)
    ) {
      return; // behind the session: keep asking until the deadline
    }
    if (newest !== null) {
      this.#observe(newest);
    }
    coordination.replied = newest;
    this.#metrics.readsOk += 1;
    this.#reply(coordination.requester, {
      id: coordination.requester.id,
      status: 'ok',
      value: newest === null ? null : newest.value,
      ...this.#formatSession(coordination.session, coordination.key, newest),
    });
    if (!this.#settings.readRepair) {
      this.#coordinations.delete(coordination.rid);
      return;
    }
    this.#checkRead(coordination);
  }

  /** Sends the newest version to owners that answered with an older one (or none). */
  #repair(coordination: ReadCoordination): void {
    const newest = coordination.replied;
    if (newest === null || newest === undefined) {
      return;
    }
    for (const [replica, answer] of coordination.answers) {
      if (
        !coordination.preference.includes(replica) ||
        (answer !== null && compareLeaderlessVersions(answer, newest) >= 0)
      ) {
        continue;
      }
      // Mark it repaired, so a repeated answer does not repair twice.
      coordination.answers.set(replica, newest);
      this.#metrics.readRepairs += 1;
      if (replica === this.id) {
        this.#apply(coordination.key, newest);
      } else {
        this.#send(replica, { type: 'repair', key: coordination.key, version: newest });
      }
    }
  }

  #expire(coordination: Coordination): void {
    this.#coordinations.delete(coordination.rid);
    if (coordination.kind === 'write') {
      this.#metrics.writesUnknown += 1;
      this.#reply(coordination.requester, {
        id: coordination.requester.id,
        status: 'unknown',
        reason: `timeout: ${coordination.ackers.size} of ${coordination.quorum} acknowledgements within ${this.#settings.requestTimeoutTicks} ticks; the write may be stored on some replicas`,
      });
      return;
    }
    if (coordination.replied !== undefined) {
      return;
    }
    this.#metrics.readsUnavailable += 1;
    const behind = coordination.answers.size >= coordination.quorum;
    if (behind) {
      this.#metrics.behindSessionReads += 1;
    }
    this.#reply(coordination.requester, {
      id: coordination.requester.id,
      status: 'unavailable',
      reason: behind ? 'behind-session' : 'timeout',
    });
  }

  /** Resends to silent replicas; with a sloppy quorum, also asks the next replicas on the ring. */
  #retry(coordination: Coordination): void {
    if (coordination.kind === 'write') {
      const missing: string[] = [];
      for (const owner of coordination.preference) {
        if (coordination.ackers.has(owner)) {
          continue;
        }
        this.#send(owner, {
          type: 'write',
          rid: coordination.rid,
          key: coordination.key,
          version: coordination.version,
        });
        let covered = false;
        for (const [fallback, hinted] of coordination.fallbacks) {
          if (hinted === owner && coordination.ackers.has(fallback)) {
            covered = true;
          }
        }
        if (!covered) {
          missing.push(owner);
        }
      }
      if (this.#settings.sloppyQuorum) {
        const candidates = this.#fallbackCandidates(coordination.key, coordination.fallbacks);
        for (const owner of missing) {
          const fallback = candidates.shift();
          if (fallback === undefined) {
            break;
          }
          coordination.fallbacks.set(fallback, owner);
        }
        for (const [fallback, owner] of coordination.fallbacks) {
          if (coordination.ackers.has(fallback)) {
            continue;
          }
          if (fallback === this.id) {
            if (this.#storeHint(owner, coordination.key, coordination.version)) {
              coordination.ackers.add(this.id);
            }
          } else {
            this.#send(fallback, {
              type: 'write',
              rid: coordination.rid,
              key: coordination.key,
              version: coordination.version,
              hintFor: owner,
            });
          }
        }
        this.#checkWrite(coordination);
      }
      return;
    }
    if (coordination.replied !== undefined) {
      return;
    }
    const newest = this.#newestAnswer(coordination);
    const behind =
      coordination.floor !== undefined &&
      coordination.answers.size >= coordination.quorum &&
      (newest === null || compareStamps(newest, coordination.floor) < 0);
    let silent = 0;
    for (const owner of coordination.preference) {
      if (owner === this.id) {
        if (behind) {
          coordination.answers.set(this.id, this.#localVersion(coordination.key));
        }
        continue;
      }
      if (!coordination.answers.has(owner)) {
        silent += 1;
      }
      if (behind || !coordination.answers.has(owner)) {
        this.#send(owner, { type: 'read', rid: coordination.rid, key: coordination.key });
      }
    }
    if (this.#settings.sloppyQuorum) {
      const used = new Map<string, string>();
      for (const fallback of coordination.fallbacks) {
        used.set(fallback, '');
      }
      const candidates = this.#fallbackCandidates(coordination.key, used);
      for (let count = 0; count < silent; count += 1) {
        const fallback = candidates.shift();
        if (fallback === undefined) {
          break;
        }
        coordination.fallbacks.add(fallback);
      }
      for (const fallback of coordination.fallbacks) {
        if (fallback === this.id) {
          coordination.answers.set(this.id, this.#localVersion(coordination.key));
        } else if (behind || !coordination.answers.has(fallback)) {
          this.#send(fallback, { type: 'read', rid: coordination.rid, key: coordination.key });
        }
      }
    }
    this.#checkRead(coordination);
  }

  /** Replicas after the preference list in ring order, not used yet. */
  #fallbackCandidates(key: string, used: ReadonlyMap<string, string>): string[] {
    return this.#ring
      .replicasFor(key, this.#replicas.length)
      .slice(this.#settings.replicationFactor)
      .filter((replica) => !used.has(replica));
  }

  // ---- local state ----------------------------------------------------------------

  /** This replica's newest version of `key`, as an owner or as a hint holder. */
  #localVersion(key: string): LeaderlessVersion | null {
    let newest = this.#store.get(key) ?? null;
    const hinted = this.#hints.get(key);
    if (hinted !== undefined) {
      for (const version of hinted.values()) {
        newest = mergeLeaderlessVersions(newest, version);
      }
    }
    return newest;
  }

  /**
   * Stores `version` of `key` if it is newer. `'refused'`: a new key and the store is
   * full (the caller must not acknowledge).
   */
  #apply(key: string, version: LeaderlessVersion): 'applied' | 'kept' | 'refused' {
    const current = this.#store.get(key);
    if (current !== undefined && compareLeaderlessVersions(current, version) >= 0) {
      return 'kept';
    }
    if (current === undefined && this.#store.size >= this.#settings.keyCountMax) {
      this.#metrics.writesRefusedFull += 1;
      return 'refused';
    }
    this.#store.set(key, version);
    this.#changes.mark(`${storeRecordPrefix}${key}`);
    const leaf = merkleLeafOf(key);
    (this.#leafKeys[leaf] as Set<string>).add(key);
    for (const owner of this.preferenceList(key)) {
      const tree = this.#trees.get(owner);
      if (tree !== undefined) {
        if (current !== undefined) {
          tree.remove(key, stampLabel(current));
        }
        tree.add(key, stampLabel(version));
      }
    }
    return 'applied';
  }

  #isOwner(key: string): boolean {
    return this.preferenceList(key).includes(this.id);
  }

  #storeHint(owner: string, key: string, version: LeaderlessVersion): boolean {
    let owners = this.#hints.get(key);
    const current = owners?.get(owner);
    if (current !== undefined) {
      if (compareLeaderlessVersions(current, version) < 0) {
        owners?.set(owner, version);
        this.#changes.mark(hintRecordId(owner, key));
        this.#metrics.hintsStored += 1;
      }
      return true;
    }
    if (this.#hintCount >= this.#settings.hintCountMax) {
      this.#metrics.hintsRefused += 1;
      return false;
    }
    if (owners === undefined) {
      owners = new Map();
      this.#hints.set(key, owners);
    }
    owners.set(owner, version);
    this.#changes.mark(hintRecordId(owner, key));
    this.#hintCount += 1;
    this.#metrics.hintsStored += 1;
    return true;
  }

  #observe(timestamp: HybridTimestamp): void {
    try {
      this.#hlc.update({ wallMs: timestamp.wallMs, logical: timestamp.logical });
    } catch {
      // A timestamp too far ahead (ClockOffsetError) must not drag this clock along; the
      // version is still stored and compared as it is.
    }
  }

  #handOff(): void {
    const all = this.hints();
    const count = Math.min(all.length, this.#settings.entriesPerMessageMax);
    for (let index = 0; index < count; index += 1) {
      const hint = all[(this.#handoffCursor + index) % all.length];
      if (hint !== undefined) {
        this.#send(hint.owner, { type: 'handoff', key: hint.key, version: hint.version });
      }
    }
    this.#handoffCursor = all.length === 0 ? 0 : (this.#handoffCursor + count) % all.length;
  }

  // ---- messages -------------------------------------------------------------------

  #send(to: string, message: Fields): void {
    this.#outbox.send(to, message);
  }

  #reply(requester: Requester, reply: ReplicaReply): void {
    this.#outbox.reply(requester.client, reply);
  }

  #validKey(key: unknown): key is string {
    return (
      typeof key === 'string' &&
      key.length > 0 &&
      key.length <= this.#settings.keyLengthMax &&
      !lonelySurrogate.test(key)
    );
  }

  #version(value: unknown): LeaderlessVersion | undefined {
    if (!isObject(value)) {
      return undefined;
    }
    const { value: text, wallMs, logical, writer } = value;
    if (
      typeof text !== 'string' ||
      text.length > this.#settings.valueLengthMax ||
      typeof wallMs !== 'number' ||
      !Number.isSafeInteger(wallMs) ||
      wallMs < 0 ||
      typeof logical !== 'number' ||
      !Number.isInteger(logical) ||
      logical < 0 ||
      logical > hybridLogicalMax ||
      typeof writer !== 'string' ||
      !this.#replicaSet.has(writer)
    ) {
      return undefined;
    }
    return { value: text, wallMs, logical, writer };
  }

  #dispatch(from: string, message: Fields): boolean {
    switch (message.type) {
      case 'write':
        return this.#onWrite(from, message);
      case 'write-ack':
        return this.#onWriteAck(from, message);
      case 'read':
        return this.#onRead(from, message);
      case 'read-reply':
        return this.#onReadReply(from, message);
      case 'repair': {
        const version = this.#version(message.version);
        if (!this.#validKey(message.key) || version === undefined) {
          return false;
        }
        if (this.#isOwner(message.key)) {
          this.#apply(message.key, version);
        }
        return true;
      }
      case 'handoff':
        return this.#onHandoff(from, message);
      case 'handoff-ack':
        return this.#onHandoffAck(from, message);
      case 'ae-root':
        return this.#onAntiEntropyRoot(from, message);
      case 'ae-branches':
        return this.#onAntiEntropyBranches(from, message);
      case 'ae-leaves':
        return this.#onAntiEntropyLeaves(from, message);
      case 'ae-summary':
        return this.#onAntiEntropySummary(from, message);
      case 'ae-push':
        return this.#onAntiEntropyPush(from, message);
      case 'ae-pull':
        return this.#onAntiEntropyPull(from, message);
      default:
        return false;
    }
  }

  #onWrite(from: string, message: Fields): boolean {
    const version = this.#version(message.version);
    const { rid, key, hintFor } = message;
    if (
      typeof rid !== 'string' ||
      rid.length > 200 ||
      !this.#validKey(key) ||
      version === undefined
    ) {
      return false;
    }
    const owners = this.preferenceList(key);
    let stored: boolean;
    if (hintFor === undefined || hintFor === this.id) {
      stored = owners.includes(this.id) && this.#apply(key, version) !== 'refused';
    } else if (
      typeof hintFor === 'string' &&
      owners.includes(hintFor) &&
      !owners.includes(this.id)
    ) {
      stored = this.#storeHint(hintFor, key, version);
    } else {
      return false;
    }
    if (stored) {
      this.#send(from, { type: 'write-ack', rid });
    }
    return true;
  }

  #onWriteAck(from: string, message: Fields): boolean {
    if (typeof message.rid !== 'string') {
      return false;
    }
    const coordination = this.#coordinations.get(message.rid);
    if (coordination?.kind === 'write') {
      const expected = coordination.preference.includes(from) || coordination.fallbacks.has(from);
      if (expected) {
        coordination.ackers.add(from);
        this.#checkWrite(coordination);
      }
    }
    return true;
  }

  #onRead(from: string, message: Fields): boolean {
    const { rid, key } = message;
    if (typeof rid !== 'string' || rid.length > 200 || !this.#validKey(key)) {
      return false;
    }
    this.#send(from, { type: 'read-reply', rid, version: this.#localVersion(key) });
    return true;
  }

  #onReadReply(from: string, message: Fields): boolean {
    const version = message.version === null ? null : this.#version(message.version);
    if (typeof message.rid !== 'string' || version === undefined) {
      return false;
    }
    const coordination = this.#coordinations.get(message.rid);
    if (
      coordination?.kind === 'read' &&
      (coordination.preference.includes(from) || coordination.fallbacks.has(from))
    ) {
      const previous = coordination.answers.get(from);
      // A repaired replica stays marked with the version sent to it.
      coordination.answers.set(from, mergeLeaderlessVersions(previous ?? null, version));
      if (previous === undefined || coordination.replied === undefined) {
        this.#checkRead(coordination);
      }
    }
    return true;
  }

  #onHandoff(from: string, message: Fields): boolean {
    const version = this.#version(message.version);
    const key = message.key;
    if (!this.#validKey(key) || version === undefined) {
      return false;
    }
    if (this.#isOwner(key) && this.#apply(key, version) !== 'refused') {
      this.#send(from, {
        type: 'handoff-ack',
        key,
        wallMs: version.wallMs,
        logical: version.logical,
        writer: version.writer,
      });
    }
    return true;
  }

  #onHandoffAck(from: string, message: Fields): boolean {
    const { key, wallMs, logical, writer } = message;
    if (
      typeof key !== 'string' ||
      typeof wallMs !== 'number' ||
      typeof logical !== 'number' ||
      typeof writer !== 'string'
    ) {
      return false;
    }
    const owners = this.#hints.get(key);
    const hint = owners?.get(from);
    if (
      owners !== undefined &&
      hint !== undefined &&
      compareStamps(hint, { wallMs, logical, writer }) <= 0
    ) {
      owners.delete(from);
      this.#changes.mark(hintRecordId(from, key));
      if (owners.size === 0) {
        this.#hints.delete(key);
      }
      this.#hintCount -= 1;
      this.#metrics.hintsDelivered += 1;
    }
    return true;
  }

  // ---- anti-entropy ---------------------------------------------------------------

  #startAntiEntropy(): void {
    const peers = [...this.#trees.keys()];
    if (peers.length === 0) {
      return;
    }
    const peer = this.#random.pick(peers);
    this.#metrics.antiEntropyRounds += 1;
    this.#send(peer, { type: 'ae-root', root: (this.#trees.get(peer) as MerkleTree).root() });
  }

  #digests(value: unknown, count: number): number[] | undefined {
    return Array.isArray(value) &&
      value.length === count &&
      value.every((digest) => typeof digest === 'number')
      ? (value as number[])
      : undefined;
  }

  #onAntiEntropyRoot(from: string, message: Fields): boolean {
    if (typeof message.root !== 'number') {
      return false;
    }
    const tree = this.#trees.get(from) as MerkleTree;
    if (tree.root() !== message.root) {
      this.#send(from, { type: 'ae-branches', branches: tree.branches() });
    }
    return true;
  }

  #onAntiEntropyBranches(from: string, message: Fields): boolean {
    const theirs = this.#digests(message.branches, merkleBranchCount);
    if (theirs === undefined) {
      return false;
    }
    const tree = this.#trees.get(from) as MerkleTree;
    const branches = differingIndices(tree.branches(), theirs, merkleBranchCount).map((branch) => ({
      branch,
      leaves: tree.leavesOf(branch),
    }));
    if (branches.length > 0) {
      this.#send(from, { type: 'ae-leaves', branches });
    }
    return true;
  }

  #onAntiEntropyLeaves(from: string, message: Fields): boolean {
    const list = message.branches;
    if (!Array.isArray(list) || list.length > merkleBranchCount) {
      return false;
    }
    const tree = this.#trees.get(from) as MerkleTree;
    const leaves: number[] = [];
    for (const item of list) {
      const branch = isObject(item) ? item.branch : undefined;
      const theirs = isObject(item) ? this.#digests(item.leaves, merkleLeavesPerBranch) : undefined;
      if (
        typeof branch !== 'number' ||
        !Number.isInteger(branch) ||
        branch < 0 ||
        branch >= merkleBranchCount ||
        theirs === undefined
      ) {
        return false;
      }
      for (const leaf of differingIndices(tree.leavesOf(branch), theirs, merkleLeavesPerBranch)) {
        leaves.push(branch * merkleLeavesPerBranch + leaf);
      }
    }
    if (leaves.length > 0) {
      // A summary holds at most a message's worth of entries. When the differing leaves
      // hold more, it is a window starting at a random entry, so that successive rounds
      // cover them all; `complete` tells the other side whether a key it does not see is
      // absent here or only outside the window.
      const shared = this.#sharedEntries(from, leaves);
      const limit = this.#settings.entriesPerMessageMax;
      const complete = shared.length <= limit;
      const start = complete ? 0 : this.#random.integer(0, shared.length - 1);
      const entries: (readonly [string, number, number, string])[] = [];
      for (let index = 0; index < Math.min(limit, shared.length); index += 1) {
        const [key, version] = shared[(start + index) % shared.length] as [
          string,
          LeaderlessVersion,
        ];
        entries.push([key, version.wallMs, version.logical, version.writer]);
      }
      this.#send(from, { type: 'ae-summary', leaves, entries, complete });
    }
    return true;
  }

  /**
   * This replica's entries in `leaves` that `peer` also replicates. Local work only,
   * bounded by the store: what goes into messages is capped by the callers.
   */
  #sharedEntries(peer: string, leaves: readonly number[]): [string, LeaderlessVersion][] {
    const found: [string, LeaderlessVersion][] = [];
    for (const leaf of leaves) {
      for (const key of this.#leafKeys[leaf] as Set<string>) {
        if (this.preferenceList(key).includes(peer)) {
          found.push([key, this.#store.get(key) as LeaderlessVersion]);
        }
      }
    }
    return found;
  }

  #onAntiEntropySummary(from: string, message: Fields): boolean {
    const { leaves, entries, complete } = message;
    if (
      typeof complete !== 'boolean' ||
      !Array.isArray(leaves) ||
      leaves.length > merkleLeafCount ||
      !leaves.every((leaf) => Number.isInteger(leaf) && leaf >= 0 && leaf < merkleLeafCount) ||
      !Array.isArray(entries) ||
      entries.length > this.#settings.entriesPerMessageMax
    ) {
      return false;
    }
    const theirs = new Map<string, Stamp>();
    for (const entry of entries) {
      if (
        !Array.isArray(entry) ||
        entry.length !== 4 ||
        !this.#validKey(entry[0]) ||
        typeof entry[1] !== 'number' ||
        typeof entry[2] !== 'number' ||
        typeof entry[3] !== 'string'
      ) {
        return false;
      }
      theirs.set(entry[0], { wallMs: entry[1], logical: entry[2], writer: entry[3] });
    }
    const push: [string, LeaderlessVersion][] = [];
    const pull: string[] = [];
    const limit = this.#settings.entriesPerMessageMax;
    for (const [key, version] of this.#sharedEntries(from, leaves as number[])) {
      const stamp = theirs.get(key);
      // A key outside an incomplete summary may well be there: leave it to a later round.
      if (stamp === undefined ? complete : compareStamps(version, stamp) > 0) {
        push.push([key, version]);
      } else if (stamp !== undefined && compareStamps(version, stamp) < 0) {
        pull.push(key);
      }
    }
    for (const key of theirs.keys()) {
      if (!this.#store.has(key) && this.#isOwner(key)) {
        pull.push(key);
      }
    }
    if (push.length > 0) {
      // Repaired keys drop out of the next round's differences, so the rest follow.
      this.#send(from, { type: 'ae-push', entries: push.slice(0, limit) });
    }
    if (pull.length > 0) {
      this.#send(from, {
        type: 'ae-pull',
        keys: pull.slice(0, limit),
      });
    }
    return true;
  }

  #onAntiEntropyPush(from: string, message: Fields): boolean {
    const entries = message.entries;
    if (!Array.isArray(entries) || entries.length > this.#settings.entriesPerMessageMax) {
      return false;
    }
    const parsed: [string, LeaderlessVersion][] = [];
    for (const entry of entries) {
      const version =
        Array.isArray(entry) && entry.length === 2 ? this.#version(entry[1]) : undefined;
      if (version === undefined || !this.#validKey((entry as unknown[])[0])) {
        return false;
      }
      parsed.push([(entry as unknown[])[0] as string, version]);
    }
    for (const [key, version] of parsed) {
      const owners = this.preferenceList(key);
      if (
        owners.includes(this.id) &&
        owners.includes(from) &&
        this.#apply(key, version) === 'applied'
      ) {
        this.#metrics.antiEntropyRepairs += 1;
      }
    }
    return true;
  }

  #onAntiEntropyPull(from: string, message: Fields): boolean {
    const keys = message.keys;
    if (
      !Array.isArray(keys) ||
      keys.length > this.#settings.entriesPerMessageMax ||
      !keys.every((key) => this.#validKey(key))
    ) {
      return false;
    }
    const entries: [string, LeaderlessVersion][] = [];
    for (const key of keys as string[]) {
      const version = this.#store.get(key);
      if (version !== undefined && this.preferenceList(key).includes(from)) {
        entries.push([key, version]);
      }
    }
    if (entries.length > 0) {
      this.#send(from, { type: 'ae-push', entries });
    }
    return true;
  }

  // ---- sessions and durable state -------------------------------------------------

  /** The entries of a session token; `[]` for none; undefined when malformed. */
  #parseSession(token: unknown): SessionEntry[] | undefined {
    if (token === undefined) {
      return [];
    }
    const limit = this.#settings.sessionKeyCountMax;
    if (
      typeof token !== 'string' ||
      token.length > limit * (this.#settings.keyLengthMax * 6 + 80) + 2
    ) {
      return undefined;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(token);
    } catch {
      return undefined;
    }
    if (!Array.isArray(parsed) || parsed.length > limit) {
      return undefined;
    }
    const entries: SessionEntry[] = [];
    for (const entry of parsed) {
      if (
        !Array.isArray(entry) ||
        entry.length !== 4 ||
        !this.#validKey(entry[0]) ||
        !Number.isSafeInteger(entry[1]) ||
        entry[1] < 0 ||
        !Number.isInteger(entry[2]) ||
        entry[2] < 0 ||
        entry[2] > hybridLogicalMax ||
        typeof entry[3] !== 'string'
      ) {
        return undefined;
      }
      entries.push([entry[0], entry[1], entry[2], entry[3]]);
    }
    return entries;
  }

  /** The session token after this reply: the key's entry raised to `version`, moved last. */
  #formatSession(
    session: readonly SessionEntry[],
    key: string,
    version: Stamp | null,
  ): { readonly session?: string } {
    const limit = this.#settings.sessionKeyCountMax;
    if (limit === 0) {
      return {};
    }
    const previous = session.find(([sessionKey]) => sessionKey === key);
    let newest: Stamp | null = version;
    if (previous !== undefined) {
      const stamp = { wallMs: previous[1], logical: previous[2], writer: previous[3] };
      if (newest === null || compareStamps(stamp, newest) > 0) {
        newest = stamp;
      }
    }
    const entries = session.filter(([sessionKey]) => sessionKey !== key);
    if (newest !== null) {
      entries.push([key, newest.wallMs, newest.logical, newest.writer]);
    }
    return { session: JSON.stringify(entries.slice(-limit)) };
  }

  #restore(state: unknown): HybridTimestamp {
    const fail = (): never => {
      throw new InvalidArgumentError(
        'options.durableState',
        'options.durableState is not a leaderless replica state (from durableState() of format leaderless/1).',
      );
    };
    if (
      !isObject(state) ||
      state.format !== 'leaderless/1' ||
      !Array.isArray(state.entries) ||
      !Array.isArray(state.hints) ||
      !isObject(state.clock)
    ) {
      return fail();
    }
    let last: HybridTimestamp =
      this.#version({ value: '', writer: this.id, ...state.clock }) ?? fail();
    const later = (version: LeaderlessVersion): void => {
      if (
        version.wallMs > last.wallMs ||
        (version.wallMs === last.wallMs && version.logical > last.logical)
      ) {
        last = { wallMs: version.wallMs, logical: version.logical };
      }
    };
    for (const entry of state.entries as unknown[]) {
      if (!Array.isArray(entry) || !this.#validKey(entry[0])) {
        return fail();
      }
      const version =
        this.#version({ value: entry[1], wallMs: entry[2], logical: entry[3], writer: entry[4] }) ??
        fail();
      this.#apply(entry[0], version);
      later(version);
    }
    for (const hint of state.hints as unknown[]) {
      if (
        !Array.isArray(hint) ||
        typeof hint[0] !== 'string' ||
        !this.#replicaSet.has(hint[0]) ||
        !this.#validKey(hint[1])
      ) {
        return fail();
      }
      const version =
        this.#version({ value: hint[2], wallMs: hint[3], logical: hint[4], writer: hint[5] }) ??
        fail();
      this.#storeHint(hint[0], hint[1], version);
      later(version);
    }
    this.#metrics.hintsStored = 0;
    return { wallMs: last.wallMs, logical: last.logical };
  }
}
