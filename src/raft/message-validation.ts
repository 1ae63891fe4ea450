/**
 * Checks a value decoded from the network before it reaches {@link RaftNode.step}. The
 * core trusts the shape of every message it is given (its types say so); a peer that is
 * buggy, of another version or hostile can send anything a decoder produces. A driver
 * calls {@link parseRaftMessage} on each decoded value and steps only what it returns.
 *
 * The check is structural and local to the message: types, ranges, length limits, and
 * the relations between a message's own fields (an append's entries follow its previous
 * index one by one, a snapshot chunk fits inside its total size). It cannot know the
 * receiver's state; the node itself guards what depends on it.
 *
 * @module
 */

import {
  DistkitError,
  type DistkitErrorOptions,
  errorGuard,
  requireInteger,
  requireOptions,
} from '../core/index.js';
import type {
  Entry,
  EntryType,
  Membership,
  NodeId,
  RaftMessage,
  RaftMessageType,
  SnapshotMetadata,
} from './types.js';

/** Limits on what one message may hold; every one has a default. */
export interface RaftMessageLimits {
  /**
   * Entries in one append or forwarded proposal. Default 65 536: an append of the node's
   * default `messageBytesMax` (1 MiB) holds at most that many entries (16 bytes each at
   * least). Raise it with `messageBytesMax`.
   */
  readonly entryCountMax?: number;
  /**
   * Bytes of `data` in one message: the sum over an append's entries, or one snapshot
   * chunk. Default 16 MiB (the TCP transport's default frame limit). Keep it at least the
   * node's `messageBytesMax` and `snapshotChunkBytesMax`.
   */
  readonly bytesMax?: number;
  /** Characters in a node id. Default 256. */
  readonly idLengthMax?: number;
  /** Characters in a read context. Default 4096. */
  readonly contextLengthMax?: number;
  /** Ids in each list of a membership (voters, outgoing voters, learners). Default 1024. */
  readonly memberCountMax?: number;
}

/** The limits {@link parseRaftMessage} applies when given none. */
export const defaultRaftMessageLimits: Readonly<Required<RaftMessageLimits>> = Object.freeze({
  entryCountMax: 65_536,
  bytesMax: 16 * 1_048_576,
  idLengthMax: 256,
  contextLengthMax: 4096,
  memberCountMax: 1024,
});

/** The result of {@link parseRaftMessage}. */
export type ParseRaftMessageResult =
  | { readonly ok: true; readonly message: RaftMessage }
  | { readonly ok: false; readonly reason: string };

/** A message from the network failed {@link parseRaftMessage}; see `reason`. */
export class RaftMessageInvalidError extends DistkitError {
  /** Which field was wrong, and how. */
  readonly reason: string;

  constructor(reason: string, options?: DistkitErrorOptions) {
    super(
      'RAFT_MESSAGE_INVALID',
      `A Raft message from the network is invalid: ${reason}. Drop it (do not step it): the ` +
        'sender is faulty, runs an incompatible version, or the limits are lower than its ' +
        'messageBytesMax or snapshotChunkBytesMax.',
      options,
    );
    this.reason = reason;
  }
}

/** Brand guard for {@link RaftMessageInvalidError}. */
export const isRaftMessageInvalidError =
  errorGuard<RaftMessageInvalidError>('RAFT_MESSAGE_INVALID');

const messageTypes: ReadonlySet<string> = new Set<RaftMessageType>([
  'vote-request',
  'pre-vote-request',
  'vote-response',
  'pre-vote-response',
  'append',
  'append-response',
  'heartbeat',
  'heartbeat-response',
  'snapshot',
  'snapshot-response',
  'timeout-now',
  'propose',
  'read-index',
  'read-index-response',
]);

/**
 * Checks a decoded value and returns a fresh copy of it as a {@link RaftMessage}, or the
 * reason it is not one. The copy holds only the known fields (others are ignored, an own
 * `__proto__` key is refused), so nothing of the input's prototype or extra keys reaches
 * the node. Byte fields must be `Uint8Array`s (a Node `Buffer` is one; it is returned as
 * a plain `Uint8Array` view of the same memory). Never throws for a decoded value; the
 * limits are checked first and throw {@link InvalidArgumentError} when out of range.
 *
 * @example
 * ```ts
 * const parsed = parseRaftMessage(decoded);
 * if (parsed.ok) node.step(parsed.message);
 * else log.warn(`dropped a message: ${parsed.reason}`);
 * ```
 */
export function parseRaftMessage(
  value: unknown,
  limits?: RaftMessageLimits,
): ParseRaftMessageResult {
  const resolved = resolveLimits(limits);
  try {
    return { ok: true, message: new MessageReader(resolved).message(value) };
  } catch (error) {
    if (error instanceof Invalid) {
      return { ok: false, reason: error.reason };
    }
    throw error;
  }
}

/**
 * Like {@link parseRaftMessage}, for drivers that prefer an exception.
 *
 * @throws {@link RaftMessageInvalidError} when `value` is not a valid message.
 */
export function requireRaftMessage(value: unknown, limits?: RaftMessageLimits): RaftMessage {
  const parsed = parseRaftMessage(value, limits);
  if (!parsed.ok) {
    throw new RaftMessageInvalidError(parsed.reason);
  }
  return parsed.message;
}

function resolveLimits(limits: RaftMessageLimits | undefined): Required<RaftMessageLimits> {
  if (limits === undefined) {
    return defaultRaftMessageLimits;
  }
  const checked = requireOptions('limits', limits);
  const defaults = defaultRaftMessageLimits;
  return {
    entryCountMax: requireInteger(
      'limits.entryCountMax',
      checked.entryCountMax ?? defaults.entryCountMax,
      { min: 1 },
    ),
    bytesMax: requireInteger('limits.bytesMax', checked.bytesMax ?? defaults.bytesMax, {
      min: 0,
    }),
    idLengthMax: requireInteger('limits.idLengthMax', checked.idLengthMax ?? defaults.idLengthMax, {
      min: 1,
    }),
    contextLengthMax: requireInteger(
      'limits.contextLengthMax',
      checked.contextLengthMax ?? defaults.contextLengthMax,
      { min: 0 },
    ),
    memberCountMax: requireInteger(
      'limits.memberCountMax',
      checked.memberCountMax ?? defaults.memberCountMax,
      { min: 1 },
    ),
  };
}

/** Carries a reason out of the nested checks; caught by {@link parseRaftMessage} only. */
class Invalid {
  constructor(readonly reason: string) {}
}

function fail(path: string, what: string): never {
  throw new Invalid(`${path} ${what}`);
}

/** A short description of a received value that never calls into it. */
function kindOf(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'an array';
  }
  switch (typeof value) {
    case 'string':
      return `a string of length ${value.length}`;
    case 'number':
      return `the number ${String(value)}`;
    case 'object':
      return isUint8Array(value) ? 'a Uint8Array' : 'an object';
    case 'undefined':
      return 'nothing';
    default:
      return `a ${typeof value}`;
  }
}

// The intrinsic accessors of typed arrays: a value cannot fake them with own properties.
const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
function intrinsicGetter(name: string | symbol): (this: unknown) => unknown {
  const getter = Object.getOwnPropertyDescriptor(typedArrayPrototype, name)?.get;
  if (getter === undefined) {
    throw new TypeError(`%TypedArray%.prototype has no ${String(name)} getter`);
  }
  return getter;
}
const typedArrayName = intrinsicGetter(Symbol.toStringTag);
const typedArrayBuffer = intrinsicGetter('buffer');
const typedArrayByteOffset = intrinsicGetter('byteOffset');
const typedArrayByteLength = intrinsicGetter('byteLength');

function isUint8Array(value: unknown): value is Uint8Array {
  return ArrayBuffer.isView(value) && typedArrayName.call(value) === 'Uint8Array';
}

const decoder = new TextDecoder();

class MessageReader {
  constructor(readonly limits: Required<RaftMessageLimits>) {}

  message(value: unknown): RaftMessage {
    const input = this.record(value, 'message');
    const typeValue = this.field(input, 'type', 'message');
    if (typeof typeValue !== 'string' || !messageTypes.has(typeValue)) {
      return fail(
        'type',
        typeof typeValue === 'string' && typeValue.length <= 40
          ? `must be a Raft message type; got unknown type ${JSON.stringify(typeValue)}`
          : `must be a Raft message type; got ${kindOf(typeValue)}`,
      );
    }
    const type = typeValue as RaftMessageType;
    const from = this.id(this.field(input, 'from', 'message'), 'from');
    const to = this.id(this.field(input, 'to', 'message'), 'to');
    const term = this.natural(this.field(input, 'term', 'message'), 'term');
    const get = (key: string): unknown => this.field(input, key, 'message');
    switch (type) {
      case 'vote-request':
      case 'pre-vote-request': {
        const lastLogIndex = this.natural(get('lastLogIndex'), 'lastLogIndex');
        const lastLogTerm = this.natural(get('lastLogTerm'), 'lastLogTerm');
        if (lastLogTerm > term) {
          fail('lastLogTerm', `must not exceed term (${term}); got ${lastLogTerm}`);
        }
        const transfer = this.boolean(get('transfer'), 'transfer');
        return { type, from, to, term, lastLogIndex, lastLogTerm, transfer };
      }
      case 'vote-response':
      case 'pre-vote-response':
        return { type, from, to, term, granted: this.boolean(get('granted'), 'granted') };
      case 'append': {
        const previousIndex = this.natural(get('previousIndex'), 'previousIndex');
        const previousTerm = this.natural(get('previousTerm'), 'previousTerm');
        if (previousTerm > term) {
          fail('previousTerm', `must not exceed term (${term}); got ${previousTerm}`);
        }
        const entries = this.entries(get('entries'), previousIndex, previousTerm, term);
        const commitIndex = this.natural(get('commitIndex'), 'commitIndex');
        return { type, from, to, term, previousIndex, previousTerm, entries, commitIndex };
      }
      case 'append-response':
        return {
          type,
          from,
          to,
          term,
          index: this.natural(get('index'), 'index'),
          rejected: this.boolean(get('rejected'), 'rejected'),
          hintIndex: this.natural(get('hintIndex'), 'hintIndex'),
          hintTerm: this.natural(get('hintTerm'), 'hintTerm'),
        };
      case 'heartbeat':
        return {
          type,
          from,
          to,
          term,
          commitIndex: this.natural(get('commitIndex'), 'commitIndex'),
          context: this.context(get('context'), 'context', true),
          sentAtTick: this.natural(get('sentAtTick'), 'sentAtTick'),
        };
      case 'heartbeat-response':
        return {
          type,
          from,
          to,
          term,
          context: this.context(get('context'), 'context', true),
          sentAtTick: this.natural(get('sentAtTick'), 'sentAtTick'),
        };
      case 'snapshot': {
        const metadata = this.metadata(get('metadata'), term);
        const offset = this.natural(get('offset'), 'offset');
        const totalBytes = this.natural(get('totalBytes'), 'totalBytes');
        const data = this.bytes(get('data'), 'data');
        if (data.byteLength > this.limits.bytesMax) {
          fail('data', `must hold at most ${this.limits.bytesMax} bytes; got ${data.byteLength}`);
        }
        const end = offset + data.byteLength;
        if (end > totalBytes) {
          fail(
            'offset',
            `plus data's ${data.byteLength} bytes must not exceed totalBytes (${totalBytes}); got ${offset}`,
          );
        }
        const done = this.boolean(get('done'), 'done');
        if (done !== (end === totalBytes)) {
          fail(
            'done',
            `must be true exactly when the chunk ends at totalBytes (ends at ${end} of ${totalBytes}); got ${done}`,
          );
        }
        return { type, from, to, term, metadata, offset, totalBytes, data, done };
      }
      case 'snapshot-response':
        return {
          type,
          from,
          to,
          term,
          index: this.natural(get('index'), 'index'),
          offset: this.natural(get('offset'), 'offset'),
        };
      case 'timeout-now':
        return { type, from, to, term };
      case 'propose':
        this.forwarded(term);
        return { type, from, to, term: 0, entries: this.proposals(get('entries')) };
      case 'read-index':
        this.forwarded(term);
        return { type, from, to, term: 0, context: this.context(get('context'), 'context') };
      case 'read-index-response':
        return {
          type,
          from,
          to,
          term,
          context: this.context(get('context'), 'context'),
          index: this.natural(get('index'), 'index'),
        };
    }
  }

  /** A plain object (no class instance, no own `__proto__` key). */
  record(value: unknown, path: string): object {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return fail(path, `must be a plain object; got ${kindOf(value)}`);
    }
    const prototype: unknown = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      return fail(path, `must be a plain object; got ${kindOf(value)} with another prototype`);
    }
    if (Object.hasOwn(value, '__proto__')) {
      return fail(path, 'must not have a __proto__ key');
    }
    return value;
  }

  /** An own data property (accessors are refused: reading one could run code). */
  field(object: object, key: string, path: string): unknown {
    const descriptor = Object.getOwnPropertyDescriptor(object, key);
    if (descriptor === undefined) {
      return undefined;
    }
    if (!('value' in descriptor)) {
      return fail(path === 'message' ? key : `${path}.${key}`, 'must be a data property');
    }
    return descriptor.value as unknown;
  }

  /** An array (no holes, no accessors) of at most `countMax` elements. */
  array(value: unknown, path: string, countMax: number): unknown[] {
    if (!Array.isArray(value) || Object.getPrototypeOf(value) !== Array.prototype) {
      return fail(path, `must be an array; got ${kindOf(value)}`);
    }
    const length = value.length;
    if (length > countMax) {
      return fail(path, `must hold at most ${countMax} elements; got ${length}`);
    }
    const elements: unknown[] = [];
    for (let index = 0; index < length; index += 1) {
      const descriptor = Object.getOwnPropertyDescriptor(value, index);
      if (descriptor === undefined || !('value' in descriptor)) {
        return fail(`${path}[${index}]`, 'must be present (no holes or accessors)');
      }
      elements.push(descriptor.value as unknown);
    }
    return elements;
  }

  /** A non-negative safe integer; -0 becomes 0. */
  natural(value: unknown, path: string, min = 0): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
      return fail(path, `must be a safe integer >= ${min}; got ${kindOf(value)}`);
    }
    return value === 0 ? 0 : value;
  }

  boolean(value: unknown, path: string): boolean {
    if (typeof value !== 'boolean') {
      return fail(path, `must be a boolean; got ${kindOf(value)}`);
    }
    return value;
  }

  id(value: unknown, path: string): NodeId {
    if (typeof value !== 'string' || value.length === 0) {
      return fail(path, `must be a non-empty string (a node id); got ${kindOf(value)}`);
    }
    if (value.length > this.limits.idLengthMax) {
      return fail(
        path,
        `must be at most ${this.limits.idLengthMax} characters (a node id); got ${value.length}`,
      );
    }
    return value;
  }

  context(value: unknown, path: string, nullable: true): string | null;
  context(value: unknown, path: string): string;
  context(value: unknown, path: string, nullable = false): string | null {
    if (nullable && value === null) {
      return null;
    }
    if (typeof value !== 'string') {
      return fail(path, `must be a string${nullable ? ' or null' : ''}; got ${kindOf(value)}`);
    }
    if (value.length > this.limits.contextLengthMax) {
      return fail(
        path,
        `must be at most ${this.limits.contextLengthMax} characters; got ${value.length}`,
      );
    }
    return value;
  }

  bytes(value: unknown, path: string): Uint8Array {
    if (!isUint8Array(value)) {
      return fail(path, `must be a Uint8Array; got ${kindOf(value)}`);
    }
    if (Object.getPrototypeOf(value) === Uint8Array.prototype) {
      return value;
    }
    // A Buffer (or another subclass): the same memory as a plain Uint8Array.
    return new Uint8Array(
      typedArrayBuffer.call(value) as ArrayBufferLike,
      typedArrayByteOffset.call(value) as number,
      typedArrayByteLength.call(value) as number,
    );
  }

  entryType(value: unknown, path: string): EntryType {
    if (value !== 'normal' && value !== 'config') {
      return fail(path, `must be 'normal' or 'config'; got ${kindOf(value)}`);
    }
    return value;
  }

  /** Forwarded proposals and reads travel outside any term. */
  forwarded(term: number): void {
    if (term !== 0) {
      fail('term', `must be 0 for a forwarded proposal or read; got ${term}`);
    }
  }

  /** An append's entries: contiguous after `previousIndex`, terms rising within bounds. */
  entries(value: unknown, previousIndex: number, previousTerm: number, term: number): Entry[] {
    const elements = this.array(value, 'entries', this.limits.entryCountMax);
    const entries: Entry[] = [];
    let bytes = 0;
    let lastTerm = previousTerm;
    for (const [position, element] of elements.entries()) {
      const path = `entries[${position}]`;
      const input = this.record(element, path);
      const entryTerm = this.natural(this.field(input, 'term', path), `${path}.term`, 1);
      if (entryTerm < lastTerm || entryTerm > term) {
        fail(
          `${path}.term`,
          `must be from ${lastTerm} (the term before it) to ${term} (the message's term); got ${entryTerm}`,
        );
      }
      lastTerm = entryTerm;
      const index = this.natural(this.field(input, 'index', path), `${path}.index`, 1);
      if (index !== previousIndex + 1 + position) {
        fail(
          `${path}.index`,
          `must be ${previousIndex + 1 + position} (entries follow previousIndex one by one); got ${index}`,
        );
      }
      const type = this.entryType(this.field(input, 'type', path), `${path}.type`);
      const data = this.bytes(this.field(input, 'data', path), `${path}.data`);
      bytes = this.addBytes(bytes, data, 'entries');
      if (type === 'config') {
        this.configChange(data, `${path}.data`);
      }
      entries.push({ term: entryTerm, index, type, data });
    }
    return entries;
  }

  /** A forwarded proposal's entries: a type and data each. */
  proposals(value: unknown): { type: EntryType; data: Uint8Array }[] {
    const elements = this.array(value, 'entries', this.limits.entryCountMax);
    const proposals: { type: EntryType; data: Uint8Array }[] = [];
    let bytes = 0;
    for (const [position, element] of elements.entries()) {
      const path = `entries[${position}]`;
      const input = this.record(element, path);
      const type = this.entryType(this.field(input, 'type', path), `${path}.type`);
      const data = this.bytes(this.field(input, 'data', path), `${path}.data`);
      bytes = this.addBytes(bytes, data, 'entries');
      if (type === 'config') {
        this.configChange(data, `${path}.data`);
      }
      proposals.push({ type, data });
    }
    return proposals;
  }

  addBytes(total: number, data: Uint8Array, path: string): number {
    const sum = total + data.byteLength;
    if (sum > this.limits.bytesMax) {
      fail(path, `must hold at most ${this.limits.bytesMax} bytes of data in all; got more`);
    }
    return sum;
  }

  /**
   * A config entry's data is the node's own JSON encoding of a membership change; the
   * node applies it without checks, so one from the network is checked here.
   */
  configChange(data: Uint8Array, path: string): void {
    let change: unknown;
    try {
      change = JSON.parse(decoder.decode(data));
    } catch {
      fail(path, 'must be a JSON membership change (a config entry); it is not JSON');
    }
    const input = this.record(change, path);
    const kind = this.field(input, 'kind', path);
    if (kind === 'leave-joint') {
      return;
    }
    if (kind !== 'enter-joint') {
      fail(`${path}.kind`, `must be 'enter-joint' or 'leave-joint'; got ${kindOf(kind)}`);
    }
    const voters = this.ids(this.field(input, 'voters', path), `${path}.voters`);
    if (voters.length === 0) {
      fail(`${path}.voters`, 'must name at least one voter');
    }
    const learners = this.field(input, 'learners', path);
    if (learners !== undefined) {
      this.ids(learners, `${path}.learners`);
    }
  }

  /** A list of distinct node ids. */
  ids(value: unknown, path: string): NodeId[] {
    const elements = this.array(value, path, this.limits.memberCountMax);
    const ids: NodeId[] = [];
    const seen = new Set<NodeId>();
    for (const [position, element] of elements.entries()) {
      const id = this.id(element, `${path}[${position}]`);
      if (seen.has(id)) {
        fail(`${path}[${position}]`, `must not repeat an id; got ${JSON.stringify(id)} again`);
      }
      seen.add(id);
      ids.push(id);
    }
    return ids;
  }

  metadata(value: unknown, term: number): SnapshotMetadata {
    const input = this.record(value, 'metadata');
    const index = this.natural(this.field(input, 'index', 'metadata'), 'metadata.index', 1);
    const snapshotTerm = this.natural(this.field(input, 'term', 'metadata'), 'metadata.term', 1);
    if (snapshotTerm > term) {
      fail('metadata.term', `must not exceed the message's term (${term}); got ${snapshotTerm}`);
    }
    const membership = this.membership(
      this.field(input, 'membership', 'metadata'),
      'metadata.membership',
    );
    return { index, term: snapshotTerm, membership };
  }

  membership(value: unknown, path: string): Membership {
    const input = this.record(value, path);
    const voters = this.ids(this.field(input, 'voters', path), `${path}.voters`);
    if (voters.length === 0) {
      fail(`${path}.voters`, 'must name at least one voter');
    }
    const votersOutgoing = this.ids(
      this.field(input, 'votersOutgoing', path),
      `${path}.votersOutgoing`,
    );
    const learners = this.ids(this.field(input, 'learners', path), `${path}.learners`);
    const voterSet = new Set(voters);
    for (const learner of learners) {
      if (voterSet.has(learner)) {
        fail(`${path}.learners`, `must not name a voter; got ${JSON.stringify(learner)}`);
      }
    }
    return { voters, votersOutgoing, learners };
  }
}
