/**
 * The state of one key under each conflict mode of multi-leader replication, behind one
 * internal interface: how a local write changes it, how two replicas' states of the key
 * join, which versions it holds and how it travels as plain data.
 *
 * Every version carries, besides its value, the *dot* of the write that produced it (the
 * accepting replica and a per-key counter there), the accepting replica's global write
 * sequence number (`seq`, which session tokens and anti-entropy count in) and `past`: the
 * key's causal context at the accepting replica when it wrote, so a replica can tell a
 * version replaced by a write that had seen it from one overwritten by a concurrent write.
 *
 * @module
 */

import {
  DottedVersionVector,
  type HybridTimestamp,
  hybridLogicalMax,
  VectorClock,
} from '../clocks/index.js';
import { DistkitError, type DistkitErrorOptions, errorGuard } from '../core/index.js';
import { LWWRegister, MVRegister } from '../crdt/index.js';

/** How concurrent writes to one key are resolved. */
export type MultiLeaderConflictMode = 'lww' | 'siblings' | 'crdt';

/** A peer's key state (or a durable state) is malformed; nothing was changed. */
export class MultiLeaderStateError extends DistkitError {
  constructor(message: string, options?: DistkitErrorOptions) {
    super('MULTI_LEADER_STATE', message, options);
  }
}

/** Brand guard for {@link MultiLeaderStateError}. */
export const isMultiLeaderStateError = errorGuard<MultiLeaderStateError>('MULTI_LEADER_STATE');

/** One version of a key, as the replication core sees it. */
export interface KeyVersion {
  /** The replica that accepted the write. */
  readonly replica: string;
  /** Its per-key counter there (the dot is `(replica, counter)`). */
  readonly counter: number;
  /** The value written. */
  readonly value: string;
  /** The accepting replica's global write sequence number for the write. */
  readonly seq: number;
  /** The key's causal context (per-key dots) at the accepting replica before the write. */
  readonly past: VectorClock;
}

/** Everything a local write may need; each mode reads what it uses. */
export interface KeyWrite {
  readonly replica: string;
  readonly value: string;
  readonly seq: number;
  /** `lww`: the write's hybrid timestamp, already after the key's current winner. */
  readonly timestamp: HybridTimestamp;
  /**
   * `siblings`: the client's session (replica → global writes seen); the write replaces
   * exactly the siblings whose `seq` it covers.
   */
  readonly session: ReadonlyMap<string, number>;
}

/** Limits a decoded state is held to. */
export interface KeyLimits {
  readonly replicas: ReadonlySet<string>;
  readonly valueLengthMax: number;
  readonly versionCountMax: number;
}

/** One conflict mode's operations on its key state `S` (immutable values). */
export interface KeyStrategy<S> {
  readonly mode: MultiLeaderConflictMode;
  /** A key never written. */
  empty(): S;
  /** The state after a local write, or `undefined` when it would break `siblingCountMax`. */
  write(state: S, write: KeyWrite, siblingCountMax: number): S | undefined;
  /** The join of two states of the key (commutative, associative, idempotent). */
  merge(ours: S, theirs: S): S;
  /** The versions held, ordered by dot. */
  versions(state: S): KeyVersion[];
  /** Every per-key dot this state has seen. */
  context(state: S): VectorClock;
  /** `lww`: the winner's timestamp. */
  timestamp(state: S): HybridTimestamp | undefined;
  /** Plain data for messages and the durable state. */
  encode(state: S): unknown;
  /** Reads {@link KeyStrategy.encode}'s output; throws {@link MultiLeaderStateError}. */
  decode(value: unknown, limits: KeyLimits): S;
}

/** The payload each version stores next to its dot: value, seq and past. */
interface Payload {
  readonly v: string;
  readonly s: number;
  readonly p: [string, number][];
}

/** The `lww` payload also names its per-key counter (an LWW register has no dots). */
interface LwwPayload extends Payload {
  readonly c: number;
}

function pairsOf(clock: VectorClock): [string, number][] {
  return clock.entries().map((entry) => [entry.node, entry.counter]);
}

function clockOfPairs(pairs: readonly [string, number][]): VectorClock {
  return VectorClock.from(pairs.map(([node, counter]) => ({ node, counter, updatedAtMs: 0 })));
}

function fail(message: string): never {
  throw new MultiLeaderStateError(`multi-leader key state: ${message}`);
}

function readPairs(value: unknown, limits: KeyLimits, what: string): [string, number][] {
  if (!Array.isArray(value) || value.length > limits.replicas.size) {
    fail(`${what} must be an array of at most ${limits.replicas.size} [replica, counter] pairs.`);
  }
  const seen = new Set<string>();
  return value.map((item: unknown) => {
    if (
      !Array.isArray(item) ||
      item.length !== 2 ||
      typeof item[0] !== 'string' ||
      !limits.replicas.has(item[0]) ||
      seen.has(item[0]) ||
      !Number.isSafeInteger(item[1]) ||
      (item[1] as number) < 1
    ) {
      fail(`${what} holds a malformed pair ${JSON.stringify(item)?.slice(0, 80)}.`);
    }
    seen.add(item[0]);
    return [item[0], item[1] as number];
  });
}

function readPayload(value: unknown, limits: KeyLimits, withCounter: boolean): LwwPayload {
  const record = value as Partial<LwwPayload> | null;
  if (
    typeof record !== 'object' ||
    record === null ||
    typeof record.v !== 'string' ||
    record.v.length > limits.valueLengthMax ||
    !Number.isSafeInteger(record.s) ||
    (record.s as number) < 1 ||
    (withCounter && (!Number.isSafeInteger(record.c) || (record.c as number) < 1))
  ) {
    fail('a version must be { v: string within valueLengthMax, s: seq >= 1, p: pairs }.');
  }
  return {
    v: record.v,
    s: record.s as number,
    p: readPairs(record.p, limits, 'a version past'),
    c: withCounter ? (record.c as number) : 0,
  };
}

function payload(write: KeyWrite, past: VectorClock): Payload {
  return { v: write.value, s: write.seq, p: pairsOf(past) };
}

function version(replica: string, counter: number, item: Payload): KeyVersion {
  return { replica, counter, value: item.v, seq: item.s, past: clockOfPairs(item.p) };
}

function requireRecord(value: unknown, fields: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(`expected an object with ${fields.join(', ')}.`);
  }
  const record = value as Record<string, unknown>;
  for (const field of fields) {
    if (!(field in record)) {
      fail(`expected an object with ${fields.join(', ')}.`);
    }
  }
  return record;
}

function decodeClock(value: unknown, limits: KeyLimits): VectorClock {
  try {
    const clock = VectorClock.fromJSON(value);
    if (clock.size > limits.replicas.size) {
      fail('a context has more entries than there are replicas.');
    }
    for (const entry of clock.entries()) {
      if (!limits.replicas.has(entry.node)) {
        fail(`a context names an unknown replica ${JSON.stringify(entry.node)}.`);
      }
    }
    return clock;
  } catch (error) {
    if (error instanceof MultiLeaderStateError) {
      throw error;
    }
    throw new MultiLeaderStateError('multi-leader key state: a malformed context.', {
      cause: error,
    });
  }
}

/** `lww`: an {@link LWWRegister} of hybrid timestamps plus the key's per-key context. */
export interface LwwKey {
  readonly register: LWWRegister<LwwPayload>;
  readonly context: VectorClock;
}

const lwwStrategy: KeyStrategy<LwwKey> = {
  mode: 'lww',
  empty: () => ({ register: new LWWRegister<LwwPayload>(), context: VectorClock.empty }),
  write(state, write) {
    const counter = state.context.get(write.replica) + 1;
    const register = state.register.clone();
    register.assign(
      { ...payload(write, state.context), c: counter },
      write.timestamp,
      write.replica,
    );
    return { register, context: state.context.increment(write.replica) };
  },
  merge(ours, theirs) {
    return {
      register: ours.register.clone().merge(theirs.register),
      context: ours.context.merge(theirs.context),
    };
  },
  versions(state) {
    const write = state.register.toJSON().write;
    return write === null ? [] : [version(write.replica, write.value.c, write.value)];
  },
  context: (state) => state.context,
  timestamp: (state) => state.register.timestamp,
  encode: (state) => ({ w: state.register.toJSON(), c: state.context.toJSON() }),
  decode(value, limits) {
    const record = requireRecord(value, ['w', 'c']);
    const context = decodeClock(record['c'], limits);
    let register: LWWRegister<LwwPayload>;
    try {
      register = LWWRegister.fromJSON<LwwPayload>(record['w']);
    } catch (error) {
      throw new MultiLeaderStateError('multi-leader key state: a malformed LWW register.', {
        cause: error,
      });
    }
    const write = register.toJSON().write;
    if (write !== null) {
      const item = readPayload(write.value, limits, true);
      if (
        !limits.replicas.has(write.replica) ||
        !context.covers(write.replica, item.c) ||
        write.logical > hybridLogicalMax
      ) {
        fail('the LWW winner names an unknown replica or a dot its context does not cover.');
      }
      register = LWWRegister.fromJSON<LwwPayload>({ write: { ...write, value: item } });
    }
    return { register, context };
  },
};

const siblingsStrategy: KeyStrategy<DottedVersionVector<Payload>> = {
  mode: 'siblings',
  empty: () => DottedVersionVector.empty<Payload>(),
  write(state, write, siblingCountMax) {
    // The client's context for this key: per origin, the highest per-key counter among
    // the siblings its session covers. An origin's per-key counters and global seqs grow
    // together, so this covers exactly the siblings whose seq the session covers.
    const covered: VectorClockEntryInput[] = [];
    for (const sibling of state.siblings) {
      const seen = write.session.get(sibling.dot.replica) ?? 0;
      if (sibling.value.s <= seen) {
        covered.push({ node: sibling.dot.replica, counter: sibling.dot.counter, updatedAtMs: 0 });
      }
    }
    const highest = new Map<string, VectorClockEntryInput>();
    for (const entry of covered) {
      const known = highest.get(entry.node);
      if (known === undefined || known.counter < entry.counter) {
        highest.set(entry.node, entry);
      }
    }
    const next = state.write(
      write.replica,
      payload(write, state.context),
      VectorClock.from(highest.values()),
    );
    return next.siblings.length > siblingCountMax ? undefined : next;
  },
  merge: (ours, theirs) => ours.merge(theirs),
  versions: (state) =>
    state.siblings.map((sibling) =>
      version(sibling.dot.replica, sibling.dot.counter, sibling.value),
    ),
  context: (state) => state.context,
  timestamp: () => undefined,
  encode: (state) => state.toJSON(),
  decode(value, limits) {
    let state: DottedVersionVector<Payload>;
    try {
      state = DottedVersionVector.fromJSON<Payload>(value);
    } catch (error) {
      throw new MultiLeaderStateError('multi-leader key state: malformed siblings.', {
        cause: error,
      });
    }
    decodeClock(state.context.toJSON(), limits);
    if (state.siblings.length > limits.versionCountMax) {
      fail(`more than ${limits.versionCountMax} siblings.`);
    }
    const json = state.toJSON();
    return DottedVersionVector.fromJSON<Payload>({
      context: json.context,
      siblings: json.siblings.map(([replica, counter, item]) => {
        const checked = readPayload(item, limits, false);
        return [replica, counter, { v: checked.v, s: checked.s, p: checked.p }];
      }),
    });
  },
};

interface VectorClockEntryInput {
  readonly node: string;
  readonly counter: number;
  readonly updatedAtMs: number;
}

function mvContext(state: MVRegister<Payload>): VectorClock {
  return clockOfPairs(state.toJSON().context.vector);
}

const crdtStrategy: KeyStrategy<MVRegister<Payload>> = {
  mode: 'crdt',
  empty: () => new MVRegister<Payload>(),
  write(state, write) {
    const next = state.clone();
    next.assign(write.replica, payload(write, mvContext(state)));
    return next;
  },
  merge: (ours, theirs) => ours.clone().merge(theirs),
  versions: (state) =>
    state.toJSON().values.map(([[replica, counter], item]) => version(replica, counter, item)),
  context: mvContext,
  timestamp: () => undefined,
  encode: (state) => state.toJSON(),
  decode(value, limits) {
    let state: MVRegister<Payload>;
    try {
      state = MVRegister.fromJSON<Payload>(value);
    } catch (error) {
      throw new MultiLeaderStateError('multi-leader key state: a malformed MV register.', {
        cause: error,
      });
    }
    const json = state.toJSON();
    readPairs(json.context.vector, limits, 'a register context');
    if (json.context.cloud.length > limits.versionCountMax) {
      fail('a register context with too many dots above its vector.');
    }
    if (json.values.length > limits.versionCountMax) {
      fail(`more than ${limits.versionCountMax} values.`);
    }
    return MVRegister.fromJSON<Payload>({
      context: json.context,
      values: json.values.map(([dot, item]) => {
        if (!limits.replicas.has(dot[0])) {
          fail(`a value's dot names an unknown replica ${JSON.stringify(dot[0])}.`);
        }
        const checked = readPayload(item, limits, false);
        return [dot, { v: checked.v, s: checked.s, p: checked.p }];
      }),
    });
  },
};

/** The strategy of a conflict mode. */
export function keyStrategy(mode: MultiLeaderConflictMode): KeyStrategy<unknown> {
  switch (mode) {
    case 'lww':
      return lwwStrategy as KeyStrategy<unknown>;
    case 'siblings':
      return siblingsStrategy as KeyStrategy<unknown>;
    case 'crdt':
      return crdtStrategy as KeyStrategy<unknown>;
  }
}

/** The timestamp right after `timestamp` (same millisecond, next logical count). */
export function hybridSuccessor(timestamp: HybridTimestamp): HybridTimestamp {
  return timestamp.logical >= hybridLogicalMax
    ? { wallMs: timestamp.wallMs + 1, logical: 0 }
    : { wallMs: timestamp.wallMs, logical: timestamp.logical + 1 };
}
