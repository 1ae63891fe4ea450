/**
 * Messages from the network: `parseRaftMessage` accepts every message a real cluster
 * sends (also after a MessagePack round trip through `distkit/net`'s framing), refuses
 * each broken field by name, never throws on arbitrary values or bytes, and whatever it
 * accepts can be stepped into a leader or a follower without the node throwing. Also the
 * node's own guards: the snapshot size limit, foreign `to` and unknown `from`.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isDistkitError, isInvalidArgumentError, SeededRandom } from '../../src/core/index.js';
import { decodePayload, encodeFrame, FrameDecoder } from '../../src/net/index.js';
import {
  defaultRaftMessageLimits,
  isRaftMessageInvalidError,
  MemoryRaftStorage,
  parseRaftMessage,
  type RaftMessage,
  RaftMessageInvalidError,
  type RaftMessageType,
  RaftNode,
  type RaftNodeOptions,
  requireRaftMessage,
  type SnapshotChunk,
} from '../../src/raft/index.js';

const encoder = new TextEncoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);

const allTypes: readonly RaftMessageType[] = [
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
];

interface Member {
  readonly node: RaftNode;
  readonly storage: MemoryRaftStorage;
}

/**
 * A cluster in memory, driven by hand: each `settle` runs every node's ready loop as a
 * driver would (persist, send, advance) and delivers messages until none is left.
 */
class Cluster {
  readonly members = new Map<string, Member>();
  readonly sent: RaftMessage[] = [];
  readonly isolated = new Set<string>();

  constructor(ids: readonly string[], options: Partial<RaftNodeOptions> = {}) {
    for (const id of ids) {
      const storage = new MemoryRaftStorage();
      const node = new RaftNode({
        id,
        voters: ids,
        storage,
        random: new SeededRandom({ seed: Number(id) }),
        ...options,
      });
      this.members.set(id, { node, storage });
    }
  }

  node(id: string): RaftNode {
    return (this.members.get(id) as Member).node;
  }

  storage(id: string): MemoryRaftStorage {
    return (this.members.get(id) as Member).storage;
  }

  /** One ready of `id`, persisted and advanced; returns its messages. */
  drain(id: string): RaftMessage[] {
    const { node, storage } = this.members.get(id) as Member;
    if (!node.hasReady()) {
      return [];
    }
    const ready = node.ready();
    if (ready.snapshot !== undefined) {
      storage.applySnapshot(ready.snapshot);
    }
    storage.append(ready.entries);
    if (ready.hardState !== undefined) {
      storage.setHardState(ready.hardState);
    }
    node.advance(ready);
    return [...ready.messages];
  }

  settle(): void {
    for (let round = 0; round < 10_000; round += 1) {
      let moved = false;
      for (const id of this.members.keys()) {
        for (const message of this.drain(id)) {
          moved = true;
          this.sent.push(message);
          if (!this.isolated.has(message.from) && !this.isolated.has(message.to)) {
            this.members.get(message.to)?.node.step(message);
          }
        }
      }
      if (!moved) {
        return;
      }
    }
    throw new Error('the cluster did not settle');
  }

  tick(count: number): void {
    for (let tick = 0; tick < count; tick += 1) {
      for (const { node } of this.members.values()) {
        node.tick();
      }
      this.settle();
    }
  }

  leaderId(): string {
    for (const [id, { node }] of this.members) {
      if (node.role === 'leader') {
        return id;
      }
    }
    throw new Error('no leader');
  }
}

/** A 3-node cluster with '1' elected (pre-vote on). */
function electedCluster(options: Partial<RaftNodeOptions> = {}): Cluster {
  const cluster = new Cluster(['1', '2', '3'], options);
  cluster.node('1').campaign();
  cluster.settle();
  assert.equal(cluster.leaderId(), '1');
  return cluster;
}

/** Every message of a run that exercises all of the protocol: one or more of each type. */
function realMessages(): RaftMessage[] {
  const cluster = electedCluster({ snapshotChunkBytesMax: 4 });
  const leader = cluster.node('1');
  for (let index = 0; index < 3; index += 1) {
    assert.equal(leader.propose(bytes(`p${index}`)).status, 'appended');
  }
  cluster.settle();
  assert.equal(cluster.node('2').propose(bytes('forwarded')).status, 'forwarded');
  cluster.settle();
  assert.equal(cluster.node('3').readIndex('read-1').status, 'forwarded');
  cluster.settle();
  assert.equal(
    leader.proposeMembership({ voters: ['1', '2', '3'], learners: [] }).status,
    'appended',
  );
  cluster.tick(3);
  // Node 3 misses entries the leader then compacts: it catches up by snapshot.
  cluster.isolated.add('3');
  for (let index = 0; index < 4; index += 1) {
    leader.propose(bytes(`q${index}`));
  }
  cluster.tick(2);
  const commitIndex = leader.status().commitIndex;
  cluster.storage('1').createSnapshot(commitIndex, leader.membership, bytes('state of 10 b'));
  cluster.storage('1').compact(commitIndex);
  cluster.isolated.delete('3');
  cluster.tick(6);
  assert.ok(cluster.node('3').status().commitIndex >= commitIndex, 'node 3 caught up');
  assert.equal(leader.transferLeadership('2').status, 'started');
  cluster.tick(3);
  assert.equal(cluster.leaderId(), '2');
  return cluster.sent;
}

const sample = realMessages();

function sampleOf(type: RaftMessageType): RaftMessage {
  const found = sample.find((message) => message.type === type);
  assert.ok(found !== undefined, `the run sent no ${type}`);
  return found;
}

/** A deep copy with one field path set (or deleted when `value` is `deleteField`). */
const deleteField = Symbol('delete');
function withField(message: RaftMessage, path: readonly (string | number)[], value: unknown) {
  const copy = structuredClone(message) as unknown as Record<string | number, unknown>;
  let target = copy;
  for (const key of path.slice(0, -1)) {
    target = target[key] as Record<string | number, unknown>;
  }
  const last = path[path.length - 1] as string | number;
  if (value === deleteField) {
    delete target[last];
  } else {
    target[last] = value;
  }
  return copy;
}

function rejects(value: unknown, field: string): void {
  const parsed = parseRaftMessage(value);
  assert.equal(parsed.ok, false, `accepted a message with a bad ${field}`);
  if (!parsed.ok) {
    assert.ok(
      parsed.reason.startsWith(field),
      `the reason "${parsed.reason}" does not start with ${field}`,
    );
  }
}

// ------------------------------------------------------------ an independent shape check

const isNatural = (value: unknown): boolean =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isId = (value: unknown): boolean =>
  typeof value === 'string' &&
  value.length > 0 &&
  value.length <= defaultRaftMessageLimits.idLengthMax;
const isIds = (value: unknown): boolean => Array.isArray(value) && value.every(isId);
const isBytes = (value: unknown): boolean =>
  value instanceof Uint8Array && Object.getPrototypeOf(value) === Uint8Array.prototype;
const isContext = (value: unknown): boolean => typeof value === 'string';
const isNullableContext = (value: unknown): boolean => value === null || typeof value === 'string';
const isBoolean = (value: unknown): boolean => typeof value === 'boolean';
const isEntryType = (value: unknown): boolean => value === 'normal' || value === 'config';
/** The fields the shape check reads; everything else is reached by a computed key. */
interface Loose {
  readonly type?: unknown;
  readonly from?: unknown;
  readonly to?: unknown;
  readonly term?: unknown;
  readonly index?: unknown;
  readonly data?: unknown;
  readonly membership?: unknown;
  readonly voters?: unknown;
  readonly votersOutgoing?: unknown;
  readonly learners?: unknown;
}
const isPlain = (value: unknown): value is Loose =>
  typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;

const fieldChecks: Record<RaftMessageType, Record<string, (value: unknown) => boolean>> = {
  'vote-request': { lastLogIndex: isNatural, lastLogTerm: isNatural, transfer: isBoolean },
  'pre-vote-request': { lastLogIndex: isNatural, lastLogTerm: isNatural, transfer: isBoolean },
  'vote-response': { granted: isBoolean },
  'pre-vote-response': { granted: isBoolean },
  append: {
    previousIndex: isNatural,
    previousTerm: isNatural,
    commitIndex: isNatural,
    entries: (value) =>
      Array.isArray(value) &&
      value.every(
        (entry) =>
          isPlain(entry) &&
          Object.keys(entry).length === 4 &&
          isNatural(entry.term) &&
          isNatural(entry.index) &&
          isEntryType(entry.type) &&
          isBytes(entry.data),
      ),
  },
  'append-response': {
    index: isNatural,
    rejected: isBoolean,
    hintIndex: isNatural,
    hintTerm: isNatural,
  },
  heartbeat: { commitIndex: isNatural, context: isNullableContext, sentAtTick: isNatural },
  'heartbeat-response': { context: isNullableContext, sentAtTick: isNatural },
  snapshot: {
    metadata: (value) =>
      isPlain(value) &&
      isNatural(value.index) &&
      isNatural(value.term) &&
      isPlain(value.membership) &&
      isIds(value.membership.voters) &&
      isIds(value.membership.votersOutgoing) &&
      isIds(value.membership.learners),
    offset: isNatural,
    totalBytes: isNatural,
    data: isBytes,
    done: isBoolean,
  },
  'snapshot-response': { index: isNatural, offset: isNatural },
  'timeout-now': {},
  propose: {
    entries: (value) =>
      Array.isArray(value) &&
      value.every(
        (entry) =>
          isPlain(entry) &&
          Object.keys(entry).length === 2 &&
          isEntryType(entry.type) &&
          isBytes(entry.data),
      ),
  },
  'read-index': { context: isContext },
  'read-index-response': { context: isContext, index: isNatural },
};

/** True when `value` has exactly the fields of its type, each of the right kind. */
function wellShaped(value: unknown): boolean {
  if (!isPlain(value) || typeof value.type !== 'string' || !(value.type in fieldChecks)) {
    return false;
  }
  const checks = fieldChecks[value.type as RaftMessageType];
  const keys = Object.keys(value).sort();
  const expected = ['from', 'term', 'to', 'type', ...Object.keys(checks)].sort();
  return (
    JSON.stringify(keys) === JSON.stringify(expected) &&
    isId(value.from) &&
    isId(value.to) &&
    isNatural(value.term) &&
    Object.entries(checks).every(([key, check]) => check((value as Record<string, unknown>)[key]))
  );
}

// ------------------------------------------------------------------------------ tests

describe('parseRaftMessage: valid messages', () => {
  it('a real 3-node run sends every message type', () => {
    assert.deepEqual(new Set(sample.map((message) => message.type)), new Set(allTypes));
  });

  it('accepts every message of the run unchanged, as a fresh well-shaped copy', () => {
    for (const message of sample) {
      const parsed = parseRaftMessage(message);
      assert.ok(parsed.ok, `${message.type}: ${parsed.ok ? '' : parsed.reason}`);
      assert.deepStrictEqual(parsed.message, message);
      assert.notEqual(parsed.message, message);
      assert.ok(wellShaped(parsed.message), message.type);
    }
  });

  it('accepts every message after a round trip through the TCP framing (MessagePack)', () => {
    const decoder = new FrameDecoder({ frameBytesMax: 1 << 20 });
    for (const message of sample) {
      const { messages, error } = decoder.push(encodeFrame(message, 1 << 20));
      assert.equal(error, undefined);
      const parsed = parseRaftMessage(messages[0]);
      assert.ok(parsed.ok, `${message.type}: ${parsed.ok ? '' : parsed.reason}`);
      assert.deepStrictEqual(parsed.message, message);
    }
  });

  it('accepts a Node Buffer as bytes, returning a plain Uint8Array of the same memory', () => {
    const message = sampleOf('snapshot') as SnapshotChunk;
    const buffer = Buffer.from(message.data);
    const parsed = parseRaftMessage({ ...message, data: buffer });
    assert.ok(parsed.ok);
    const data = (parsed.message as SnapshotChunk).data;
    assert.equal(Object.getPrototypeOf(data), Uint8Array.prototype);
    assert.equal(data.buffer, buffer.buffer);
    assert.deepStrictEqual(data, message.data);
  });

  it('ignores unknown fields and keeps only the known ones', () => {
    const message = sampleOf('heartbeat');
    const parsed = parseRaftMessage({ ...message, extra: 1, constructor: 'x' });
    assert.ok(parsed.ok);
    assert.deepStrictEqual(parsed.message, message);
  });

  it('accepts an object without a prototype', () => {
    const message = Object.assign(Object.create(null) as object, sampleOf('timeout-now'));
    assert.ok(parseRaftMessage(message).ok);
  });
});

describe('parseRaftMessage: each broken field is named', () => {
  it('refuses a wrong value in any field of any message type', () => {
    for (const type of allTypes) {
      const message = sampleOf(type);
      for (const key of Object.keys(message)) {
        // An object is the wrong kind for every field of every message.
        rejects(withField(message, [key], { not: 'this' }), key);
        rejects(withField(message, [key], deleteField), key);
      }
    }
  });

  it('refuses negative, fractional, unsafe and non-number terms and indexes', () => {
    const append = sampleOf('append');
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '1', 1n]) {
      rejects(withField(append, ['term'], bad), 'term');
      rejects(withField(append, ['previousIndex'], bad), 'previousIndex');
      rejects(withField(append, ['commitIndex'], bad), 'commitIndex');
    }
    rejects(withField(sampleOf('snapshot-response'), ['offset'], -3), 'offset');
    rejects(withField(sampleOf('heartbeat'), ['sentAtTick'], 0.5), 'sentAtTick');
  });

  it('refuses unknown or missing types, and values that are not plain objects', () => {
    rejects(withField(sampleOf('heartbeat'), ['type'], 'heartbeet'), 'type');
    rejects(withField(sampleOf('heartbeat'), ['type'], deleteField), 'type');
    rejects(withField(sampleOf('heartbeat'), ['type'], 'toString'), 'type');
    for (const value of [null, undefined, 3, 'append', [], new Map(), new Date(0), bytes('x')]) {
      rejects(value, 'message');
    }
    class Message {
      type = 'timeout-now';
      from = '1';
      to = '2';
      term = 1;
    }
    rejects(new Message(), 'message');
  });

  it('refuses ids that are empty or too long, and contexts that are too long', () => {
    const heartbeat = sampleOf('heartbeat');
    rejects(withField(heartbeat, ['from'], ''), 'from');
    rejects(withField(heartbeat, ['to'], 'x'.repeat(257)), 'to');
    rejects(withField(heartbeat, ['context'], 'c'.repeat(4097)), 'context');
    rejects(withField(sampleOf('read-index'), ['context'], null), 'context');
    assert.ok(parseRaftMessage(withField(heartbeat, ['to'], 'x'.repeat(256))).ok);
    assert.ok(
      !parseRaftMessage(withField(heartbeat, ['from'], 'abc'), { idLengthMax: 2 }).ok,
      'a lower idLengthMax applies',
    );
  });

  it('refuses entries that are too many, too large, of another type or out of sequence', () => {
    const append = sampleOf('append');
    assert.ok(append.type === 'append');
    const previousIndex = 5;
    const entries = Array.from({ length: 3 }, (_, position) => ({
      term: 1,
      index: previousIndex + 1 + position,
      type: 'normal',
      data: bytes('abcd'),
    }));
    const base = { ...append, term: 2, previousIndex, previousTerm: 1, entries };
    assert.ok(parseRaftMessage(base).ok);
    assert.ok(!parseRaftMessage(base, { entryCountMax: 2 }).ok);
    const limited = parseRaftMessage(base, { bytesMax: 11 });
    assert.ok(!limited.ok && limited.reason.startsWith('entries'));
    rejects(withField(base as RaftMessage, ['entries', 1, 'type'], 'snapshot'), 'entries[1].type');
    rejects(withField(base as RaftMessage, ['entries', 1, 'index'], 8), 'entries[1].index');
    rejects(withField(base as RaftMessage, ['entries', 0, 'term'], 3), 'entries[0].term');
    rejects(withField(base as RaftMessage, ['entries', 0, 'term'], 0), 'entries[0].term');
    rejects(withField(base as RaftMessage, ['entries', 2, 'data'], [1, 2]), 'entries[2].data');
    rejects(withField(base as RaftMessage, ['entries', 2], null), 'entries[2]');
    rejects(withField(base as RaftMessage, ['previousTerm'], 3), 'previousTerm');
    const sparse: unknown[] = [];
    sparse[0] = entries[0];
    sparse[2] = entries[2];
    rejects({ ...base, entries: sparse }, 'entries[1]');
  });

  it('refuses config entries whose data is not a membership change', () => {
    const propose = { type: 'propose', from: '2', to: '1', term: 0 };
    const config = (text: string) => ({
      ...propose,
      entries: [{ type: 'config', data: bytes(text) }],
    });
    assert.ok(parseRaftMessage(config('{"kind":"leave-joint"}')).ok);
    assert.ok(parseRaftMessage(config('{"kind":"enter-joint","voters":["1"],"learners":[]}')).ok);
    for (const text of [
      'null',
      '7',
      'not json',
      '{"kind":"enter-joint"}',
      '{"kind":"enter-joint","voters":[]}',
      '{"kind":"enter-joint","voters":[1]}',
      '{"kind":"enter-joint","voters":["1"],"learners":3}',
      '{"kind":"grow"}',
      '{"__proto__":{"kind":"leave-joint"}}',
    ]) {
      rejects(config(text), 'entries[0].data');
    }
    rejects({ ...config('{"kind":"leave-joint"}'), term: 4 }, 'term');
  });

  it('refuses snapshot chunks that do not fit their totalBytes, and bad memberships', () => {
    const chunk = sampleOf('snapshot') as SnapshotChunk;
    rejects(withField(chunk, ['totalBytes'], chunk.offset + chunk.data.byteLength - 1), 'offset');
    rejects(withField(chunk, ['done'], !chunk.done), 'done');
    rejects(withField(chunk, ['metadata', 'index'], 0), 'metadata.index');
    rejects(withField(chunk, ['metadata', 'term'], chunk.term + 1), 'metadata.term');
    rejects(withField(chunk, ['metadata', 'membership', 'voters'], []), 'metadata.membership');
    rejects(
      withField(chunk, ['metadata', 'membership', 'voters'], ['1', '1']),
      'metadata.membership.voters[1]',
    );
    rejects(
      withField(chunk, ['metadata', 'membership', 'learners'], ['1']),
      'metadata.membership.learners',
    );
    rejects(withField(chunk, ['data'], new Int8Array(2)), 'data');
    rejects(withField(chunk, ['data'], [1, 2]), 'data');
    const limited = parseRaftMessage(chunk, { bytesMax: chunk.data.byteLength - 1 });
    assert.ok(!limited.ok && limited.reason.startsWith('data'));
  });

  it('refuses own __proto__ keys and accessors, at every level', () => {
    const heartbeat = sampleOf('heartbeat');
    const polluted = JSON.parse(
      '{"type":"timeout-now","from":"1","to":"2","term":1,"__proto__":{"polluted":true}}',
    ) as unknown;
    rejects(polluted, 'message');
    const chunk = sampleOf('snapshot') as SnapshotChunk;
    const metadata = JSON.parse(
      '{"index":9,"term":1,"membership":{"voters":["1"],"votersOutgoing":[],"learners":[]},"__proto__":{}}',
    ) as unknown;
    rejects({ ...chunk, metadata }, 'metadata');
    let read = false;
    const accessor = Object.defineProperty({ ...heartbeat }, 'commitIndex', {
      enumerable: true,
      get() {
        read = true;
        return 1;
      },
    });
    rejects(accessor, 'commitIndex');
    assert.equal(read, false, 'the accessor was never called');
    assert.equal('polluted' in {}, false);
  });

  it('has a throwing form with a typed, branded error', () => {
    assert.deepStrictEqual(requireRaftMessage(sampleOf('append')), sampleOf('append'));
    assert.throws(
      () => requireRaftMessage({ type: 'append' }),
      (error: unknown) =>
        isRaftMessageInvalidError(error) &&
        isDistkitError(error) &&
        error instanceof RaftMessageInvalidError &&
        error.code === 'RAFT_MESSAGE_INVALID' &&
        error.reason.startsWith('from') &&
        error.message.includes(error.reason),
    );
    assert.equal(isRaftMessageInvalidError(new Error('x')), false);
  });

  it('checks its limits', () => {
    assert.throws(() => parseRaftMessage({}, { entryCountMax: 0 }), isInvalidArgumentError);
    assert.throws(() => parseRaftMessage({}, { bytesMax: -1 }), isInvalidArgumentError);
    assert.throws(() => parseRaftMessage({}, { idLengthMax: 1.5 }), isInvalidArgumentError);
  });
});

// ----------------------------------------------------------------------------- fuzzing

const validMessage = fc.constantFrom(...sample);

/** A path into a message, and what to put there. */
function pathsOf(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value instanceof Uint8Array || typeof value !== 'object' || value === null) {
    return [prefix];
  }
  const paths: (string | number)[][] = prefix.length === 0 ? [] : [prefix];
  for (const [key, child] of Object.entries(value)) {
    paths.push(...pathsOf(child, [...prefix, Array.isArray(value) ? Number(key) : key]));
  }
  return paths;
}

const badValue = fc.oneof(
  fc.anything(),
  fc.constantFrom(
    deleteField,
    -1,
    -0,
    0.5,
    2 ** 53,
    Number.NaN,
    '',
    'x'.repeat(300),
    null,
    undefined,
    true,
    [],
    {},
    new Uint8Array(3),
    Buffer.from('ab'),
  ),
  fc.integer(),
  fc.string(),
);

const mutatedMessage = fc.tuple(validMessage, fc.nat(), badValue).map(([message, pick, value]) => {
  const paths = pathsOf(message);
  return withField(message, paths[pick % paths.length] as (string | number)[], value);
});

describe('parseRaftMessage: fuzzing', () => {
  it('never throws on any value, and accepts nothing ill-shaped', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything({ withNullPrototype: true }), mutatedMessage), (value) => {
        const parsed = parseRaftMessage(value);
        if (parsed.ok) {
          assert.ok(wellShaped(parsed.message), JSON.stringify(parsed.message));
          // What it returns is itself valid, and parses to the same.
          const again = parseRaftMessage(parsed.message);
          assert.ok(again.ok);
          assert.deepStrictEqual(again.message, parsed.message);
        } else {
          assert.equal(typeof parsed.reason, 'string');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on the decoding of any bytes', () => {
    const frames = sample.slice(0, 40).map((message) => encodeFrame(message, 1 << 20).slice(4));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 200 }),
          fc
            .tuple(fc.constantFrom(...frames), fc.nat(), fc.nat({ max: 255 }))
            .map(([frame, position, byte]) => {
              const copy = frame.slice();
              copy[position % copy.length] = byte;
              return copy;
            }),
        ),
        (payload) => {
          let decoded: unknown;
          try {
            decoded = decodePayload(payload);
          } catch {
            return; // the transport drops the connection on a malformed frame
          }
          const parsed = parseRaftMessage(decoded);
          assert.ok(!parsed.ok || wellShaped(parsed.message));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

// ----------------------------------------------------- stepping whatever parses is safe

const nodeId = fc.constantFrom('1', '2', '3', '4');
const smallTerm = fc.nat({ max: 6 });
const smallIndex = fc.nat({ max: 30 });
const context = fc.constantFrom<string | null>(null, '', 'read-1', 'other');
const membership = fc
  .tuple(
    fc.subarray(['1', '2', '3', '4'], { minLength: 1 }),
    fc.subarray(['1', '2', '3'], { minLength: 0 }),
    fc.subarray(['4', '5'], { minLength: 0 }),
  )
  .map(([voters, votersOutgoing, learners]) => ({
    voters,
    votersOutgoing,
    learners: learners.filter((id) => !voters.includes(id)),
  }));
const configData = fc.constantFrom(
  '{"kind":"leave-joint"}',
  '{"kind":"enter-joint","voters":["1","2"],"learners":[]}',
  '{"kind":"enter-joint","voters":["1","2","3","4"],"learners":["5"]}',
  '{"kind":"enter-joint","voters":["4"]}',
);
const entryItem = fc.oneof(
  fc.record({ type: fc.constant('normal' as const), data: fc.uint8Array({ maxLength: 8 }) }),
  configData.map((text) => ({ type: 'config' as const, data: bytes(text) })),
);

/** Messages built to be mostly valid, with fields near a small cluster's state. */
function generatedMessage(target: string): fc.Arbitrary<unknown> {
  const envelope = fc.record({
    from: nodeId,
    to: fc.oneof(fc.constant(target), nodeId),
    term: smallTerm,
  });
  const typed = <T extends object>(type: RaftMessageType, rest: fc.Arbitrary<T>) =>
    fc.tuple(envelope, rest).map(([head, body]) => ({ type, ...head, ...body }));
  return fc.oneof(
    typed(
      'vote-request',
      fc.record({ lastLogIndex: smallIndex, lastLogTerm: smallTerm, transfer: fc.boolean() }),
    ),
    typed(
      'pre-vote-request',
      fc.record({ lastLogIndex: smallIndex, lastLogTerm: smallTerm, transfer: fc.boolean() }),
    ),
    typed('vote-response', fc.record({ granted: fc.boolean() })),
    typed('pre-vote-response', fc.record({ granted: fc.boolean() })),
    fc
      .tuple(
        envelope,
        smallIndex,
        smallTerm,
        smallIndex,
        fc.array(fc.tuple(fc.nat({ max: 2 }), entryItem), { maxLength: 6 }),
      )
      .map(([head, previousIndex, previousTerm, commitIndex, items]) => {
        let term = previousTerm;
        const entries = items.map(([rise, item], position) => {
          term += rise;
          return { term: Math.max(term, 1), index: previousIndex + 1 + position, ...item };
        });
        return {
          type: 'append',
          ...head,
          term: Math.max(head.term, term),
          previousIndex,
          previousTerm,
          entries,
          commitIndex,
        };
      }),
    typed(
      'append-response',
      fc.record({
        index: smallIndex,
        rejected: fc.boolean(),
        hintIndex: smallIndex,
        hintTerm: smallTerm,
      }),
    ),
    typed(
      'heartbeat',
      fc.record({ commitIndex: smallIndex, context, sentAtTick: fc.nat({ max: 50 }) }),
    ),
    typed('heartbeat-response', fc.record({ context, sentAtTick: fc.nat({ max: 50 }) })),
    fc
      .tuple(
        envelope,
        smallIndex,
        smallTerm,
        membership,
        fc.nat({ max: 12 }),
        fc.nat({ max: 12 }),
        fc.nat({ max: 12 }),
      )
      .map(([head, index, term, members, totalBytes, offsetPick, lengthPick]) => {
        const offset = offsetPick % (totalBytes + 1);
        const length = lengthPick % (totalBytes - offset + 1);
        return {
          type: 'snapshot',
          ...head,
          term: Math.max(head.term, term),
          metadata: { index: Math.max(index, 1), term: Math.max(term, 1), membership: members },
          offset,
          totalBytes,
          data: new Uint8Array(length),
          done: offset + length === totalBytes,
        };
      }),
    typed('snapshot-response', fc.record({ index: smallIndex, offset: fc.nat({ max: 12 }) })),
    typed('timeout-now', fc.constant({})),
    typed('propose', fc.record({ entries: fc.array(entryItem, { maxLength: 3 }) })).map(
      (message) => ({ ...message, term: 0 }),
    ),
    typed('read-index', fc.record({ context: fc.constantFrom('', 'read-1') })).map((message) => ({
      ...message,
      term: 0,
    })),
    typed(
      'read-index-response',
      fc.record({ context: fc.constantFrom('read-1'), index: smallIndex }),
    ),
  );
}

/** A step into `target`, or a tick of it. */
type Action = { readonly kind: 'tick' } | { readonly kind: 'step'; readonly value: unknown };

function actions(target: string): fc.Arbitrary<Action[]> {
  const step = fc
    .oneof(
      { weight: 6, arbitrary: generatedMessage(target) },
      { weight: 2, arbitrary: mutatedMessage },
      { weight: 1, arbitrary: validMessage.map((message) => ({ ...message, to: target })) },
      { weight: 1, arbitrary: fc.anything() },
    )
    .map((value): Action => ({ kind: 'step', value }));
  return fc.array(fc.oneof({ weight: 4, arbitrary: step }, fc.constant<Action>({ kind: 'tick' })), {
    minLength: 1,
    maxLength: 12,
  });
}

describe('RaftNode.step with parsed messages', () => {
  for (const [role, target] of [
    ['leader', '1'],
    ['follower', '2'],
  ] as const) {
    it(`never throws on a ${role}, through its ready loop`, () => {
      let stepped = 0;
      fc.assert(
        fc.property(actions(target), (plan) => {
          const cluster = electedCluster();
          cluster.node('1').propose(bytes('a'));
          cluster.settle();
          for (const action of plan) {
            if (action.kind === 'tick') {
              cluster.node(target).tick();
            } else {
              const parsed = parseRaftMessage(action.value);
              if (!parsed.ok) {
                continue;
              }
              stepped += 1;
              cluster.node(target).step(parsed.message);
            }
            cluster.drain(target); // persist and advance as a driver would; drop the sends
          }
        }),
        { numRuns: 300 },
      );
      assert.ok(stepped > 500, `only ${stepped} messages parsed`);
    });
  }
});

// ------------------------------------------------------------------ the node's guards

/** A follower '2' (leader '1', term 1) and a hand-made chunk sender. */
function followerWithChunks(options: Partial<RaftNodeOptions> = {}) {
  const cluster = electedCluster(options);
  const follower = cluster.node('2');
  const term = follower.term;
  const metadata = {
    index: 50,
    term,
    membership: { voters: ['1', '2', '3'], votersOutgoing: [], learners: [] },
  };
  const chunk = (offset: number, data: Uint8Array, totalBytes: number): SnapshotChunk => ({
    type: 'snapshot',
    from: '1',
    to: '2',
    term,
    metadata,
    offset,
    totalBytes,
    data,
    done: offset + data.byteLength === totalBytes,
  });
  /** Steps one chunk; returns the follower's answers and whether it installed a snapshot. */
  const send = (message: SnapshotChunk) => {
    follower.step(message);
    const ready = follower.ready();
    follower.advance(ready);
    return { messages: ready.messages, installed: ready.snapshot };
  };
  return { cluster, follower, chunk, send };
}

describe('RaftNode snapshot receive limits', () => {
  it('validates snapshotBytesMax', () => {
    assert.throws(() => electedCluster({ snapshotBytesMax: 0 }), isInvalidArgumentError);
    assert.throws(() => electedCluster({ snapshotBytesMax: 1.5 }), isInvalidArgumentError);
    assert.equal(electedCluster().node('2').snapshotBytesMax, 1024 ** 3);
  });

  it('installs a snapshot received in order within the limit', () => {
    const { follower, chunk, send } = followerWithChunks({ snapshotBytesMax: 10 });
    const first = send(chunk(0, bytes('01234'), 10));
    assert.deepEqual(
      first.messages.map((message) => message.type === 'snapshot-response' && message.offset),
      [5],
    );
    const last = send(chunk(5, bytes('56789'), 10));
    assert.deepStrictEqual(last.installed?.data, bytes('0123456789'));
    assert.equal(follower.status().commitIndex, 50);
  });

  it('drops, unbuffered, every chunk of a snapshot over snapshotBytesMax', () => {
    const { follower, chunk, send } = followerWithChunks({ snapshotBytesMax: 8 });
    for (let offset = 0; offset < 10; offset += 5) {
      const result = send(chunk(offset, bytes('01234'), 10));
      assert.deepEqual(result.messages, [], 'no acknowledgement');
      assert.equal(result.installed, undefined);
    }
    assert.ok(follower.status().commitIndex < 50);
  });

  it('never installs chunks that overrun totalBytes, arrive out of order, or end early', () => {
    const { follower, chunk, send } = followerWithChunks({ snapshotBytesMax: 100 });
    // Out of order: the follower asks again for offset 0 and buffers nothing.
    const early = send(chunk(5, bytes('56789'), 10));
    assert.deepEqual(
      early.messages.map((message) => message.type === 'snapshot-response' && message.offset),
      [0],
    );
    send(chunk(0, bytes('01234'), 10));
    // Past totalBytes, or "done" before the end (possible only without parseRaftMessage).
    assert.equal(send({ ...chunk(5, bytes('567890'), 10), done: true }).installed, undefined);
    assert.equal(send({ ...chunk(5, bytes('56'), 10), done: true }).installed, undefined);
    assert.ok(follower.status().commitIndex < 50);
    // The transfer starts again from offset 0 and completes.
    send(chunk(0, bytes('01234'), 10));
    assert.deepStrictEqual(send(chunk(5, bytes('56789'), 10)).installed?.data, bytes('0123456789'));
  });

  it('holds memory for the bytes received, not for the size a peer announces', () => {
    // If the follower allocated totalBytes up front, this would throw a RangeError.
    const { send, chunk } = followerWithChunks({ snapshotBytesMax: 2 ** 50 });
    const result = send({ ...chunk(0, bytes('0123'), 2 ** 50), done: false });
    assert.equal(result.installed, undefined);
  });

  it('a follower with a lower limit never installs the leader’s larger snapshot', () => {
    const cluster = electedCluster({ snapshotChunkBytesMax: 4, snapshotBytesMax: 16 });
    const leader = cluster.node('1');
    cluster.isolated.add('3');
    for (let index = 0; index < 4; index += 1) {
      leader.propose(bytes(`q${index}`));
    }
    cluster.tick(2);
    const commitIndex = leader.status().commitIndex;
    cluster.storage('1').createSnapshot(commitIndex, leader.membership, new Uint8Array(17));
    cluster.storage('1').compact(commitIndex);
    cluster.isolated.delete('3');
    cluster.tick(20);
    assert.ok(cluster.node('3').status().commitIndex < commitIndex);
    assert.equal(cluster.storage('3').snapshot().metadata.index, 0);
  });
});

describe('RaftNode.step guards', () => {
  it('ignores messages for another node and messages claiming to be from itself', () => {
    const cluster = electedCluster();
    const follower = cluster.node('2');
    const before = follower.status();
    const vote = {
      type: 'vote-request',
      term: 9,
      lastLogIndex: 99,
      lastLogTerm: 9,
      transfer: true,
    } as const;
    follower.step({ ...vote, from: '3', to: '3' });
    follower.step({ ...vote, from: '2', to: '2' });
    assert.deepStrictEqual(follower.status(), before);
    assert.equal(follower.hasReady(), false);
  });

  it('does not count votes from outside the membership', () => {
    const cluster = new Cluster(['1', '2', '3'], { preVote: false });
    const candidate = cluster.node('1');
    candidate.campaign();
    cluster.drain('1');
    for (const from of ['4', '5', '6']) {
      candidate.step({ type: 'vote-response', from, to: '1', term: 1, granted: true });
    }
    assert.equal(candidate.role, 'candidate');
    candidate.step({ type: 'vote-response', from: '2', to: '1', term: 1, granted: true });
    assert.equal(candidate.role, 'leader');
  });

  it('takes read confirmations and transfer requests only from its leader', () => {
    const cluster = electedCluster();
    const follower = cluster.node('2');
    const term = follower.term;
    follower.step({
      type: 'read-index-response',
      from: '3',
      to: '2',
      term,
      context: 'r',
      index: 1,
    });
    follower.step({ type: 'timeout-now', from: '4', to: '2', term });
    assert.deepEqual(follower.ready().readStates, []);
    assert.equal(follower.role, 'follower');
    follower.step({
      type: 'read-index-response',
      from: '1',
      to: '2',
      term,
      context: 'r',
      index: 1,
    });
    follower.step({ type: 'timeout-now', from: '1', to: '2', term });
    assert.deepEqual(follower.ready().readStates, [{ index: 1, context: 'r' }]);
    assert.equal(follower.role, 'candidate');
  });

  it('follows a leader of a higher term even outside its membership (a joining node)', () => {
    const cluster = electedCluster();
    const follower = cluster.node('2');
    follower.step({
      type: 'heartbeat',
      from: '9',
      to: '2',
      term: 7,
      commitIndex: 0,
      context: null,
      sentAtTick: 0,
    });
    assert.equal(follower.term, 7);
    assert.equal(follower.leader, '9');
  });
});
