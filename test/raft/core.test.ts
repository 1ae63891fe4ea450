/**
 * Unit tests of the Raft core's parts: configuration validation, the storage port's
 * in-memory implementation, quorum arithmetic (with fast-check), flow control and the
 * limits on proposals, and the key-value state machine.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isInvalidArgumentError, SeededRandom } from '../../src/core/index.js';
import {
  committedIndex,
  type Entry,
  encodeKeyValueCommand,
  KeyValueStateMachine,
  MemoryRaftStorage,
  type RaftMessage,
  RaftNode,
  type RaftNodeOptions,
  voteOutcome,
} from '../../src/raft/index.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const entry = (term: number, index: number, text = ''): Entry => ({
  term,
  index,
  type: 'normal',
  data: bytes(text),
});

function makeNode(options: Partial<RaftNodeOptions> = {}): RaftNode {
  return new RaftNode({
    id: '1',
    voters: ['1', '2', '3'],
    storage: new MemoryRaftStorage(),
    random: new SeededRandom({ seed: 1 }),
    ...options,
  });
}

const storages = new WeakMap<RaftNode, MemoryRaftStorage>();

/** Persists a ready as a driver would, advances, and returns the ready's messages. */
function persist(node: RaftNode): RaftMessage[] {
  const ready = node.ready();
  const storage = storages.get(node) as MemoryRaftStorage;
  storage.append(ready.entries);
  if (ready.hardState !== undefined) {
    storage.setHardState(ready.hardState);
  }
  node.advance(ready);
  return [...ready.messages];
}

/** Follower `from` of term 1 acknowledges the leader's entries up to `index`. */
function acknowledge(leader: RaftNode, from: string, index: number): void {
  leader.step({
    type: 'append-response',
    from,
    to: '1',
    term: 1,
    index,
    rejected: false,
    hintIndex: 0,
    hintTerm: 0,
  });
}

/** Drives a single leader '1' of voters 1, 2, 3 by answering its votes by hand. */
function electedLeader(options: Partial<RaftNodeOptions> = {}): RaftNode {
  const storage = new MemoryRaftStorage();
  const node = makeNode({ preVote: false, storage, ...options });
  storages.set(node, storage);
  node.campaign();
  persist(node);
  node.step({ type: 'vote-response', from: '2', to: '1', term: 1, granted: true });
  assert.equal(node.role, 'leader');
  persist(node);
  return node;
}

describe('RaftNode options', () => {
  it('requires electionTicks greater than heartbeatTicks, with a typed error', () => {
    assert.throws(
      () => makeNode({ electionTicks: 5, heartbeatTicks: 5 }),
      (error: unknown) => isInvalidArgumentError(error) && /heartbeatTicks/.test(error.message),
    );
  });

  it('rejects lease reads without check-quorum', () => {
    assert.throws(
      () => makeNode({ readOnly: 'lease', checkQuorum: false }),
      isInvalidArgumentError,
    );
  });

  it('needs voters for a new cluster', () => {
    assert.throws(
      () =>
        new RaftNode({
          id: '1',
          storage: new MemoryRaftStorage(),
          random: new SeededRandom({ seed: 1 }),
        }),
      isInvalidArgumentError,
    );
  });

  it('rejects unknown read-only modes and non-integer limits', () => {
    assert.throws(() => makeNode({ readOnly: 'fast' as never }), isInvalidArgumentError);
    assert.throws(() => makeNode({ inflightMessageCountMax: 0 }), isInvalidArgumentError);
  });
});

describe('randomized election timeouts', () => {
  it('campaigns after between electionTicks and 2 × electionTicks - 1 ticks', () => {
    for (let seed = 0; seed < 50; seed += 1) {
      const node = makeNode({ random: new SeededRandom({ seed }), electionTicks: 10 });
      let ticks = 0;
      while (node.role === 'follower' && ticks < 100) {
        node.tick();
        ticks += 1;
      }
      assert.ok(ticks >= 10 && ticks <= 19, `seed ${seed}: campaigned after ${ticks} ticks`);
    }
  });
});

describe('proposals', () => {
  it('drops proposals without a leader, and proposals too large', () => {
    const follower = makeNode();
    assert.deepEqual(follower.propose(bytes('x')), { status: 'dropped', reason: 'no-leader' });
    const leader = electedLeader({ messageBytesMax: 64 });
    assert.deepEqual(leader.propose(new Uint8Array(100)), {
      status: 'dropped',
      reason: 'too-large',
    });
    assert.equal(leader.propose(bytes('ok')).status, 'appended');
  });

  it('drops proposals past the uncommitted limit until entries commit', () => {
    const leader = electedLeader({ uncommittedBytesMax: 100 });
    assert.equal(leader.propose(new Uint8Array(60)).status, 'appended');
    persist(leader);
    assert.deepEqual(leader.propose(new Uint8Array(60)), {
      status: 'dropped',
      reason: 'uncommitted-limit',
    });
    const last = leader.status().lastIndex;
    acknowledge(leader, '2', last);
    assert.equal(leader.status().commitIndex, last);
    assert.equal(leader.propose(new Uint8Array(60)).status, 'appended');
  });
});

describe('flow control', () => {
  it('keeps at most inflightMessageCountMax appends unacknowledged per follower', () => {
    const leader = electedLeader({ inflightMessageCountMax: 2 });
    // Move follower 2 to replicate state.
    acknowledge(leader, '2', 1);
    persist(leader);
    // One proposal per ready: each ready owes follower 2 one append, until two are unacknowledged.
    const appendsTo2: RaftMessage[] = [];
    for (let index = 0; index < 5; index += 1) {
      leader.propose(bytes(`p${index}`));
      appendsTo2.push(
        ...persist(leader).filter(
          (message) =>
            message.to === '2' && message.type === 'append' && message.entries.length > 0,
        ),
      );
    }
    assert.equal(appendsTo2.length, 2);
    // An acknowledgement frees room for the next append.
    acknowledge(leader, '2', 2);
    const next = persist(leader).filter(
      (message) => message.to === '2' && message.type === 'append',
    );
    assert.ok(next.length >= 1);
  });

  it('batches entries into messages of at most messageBytesMax', () => {
    const leader = electedLeader({ messageBytesMax: 40 });
    acknowledge(leader, '2', 1);
    persist(leader);
    for (let index = 0; index < 4; index += 1) {
      leader.propose(bytes('0123'));
    }
    persist(leader);
    // A follower in probe state gets one message; it holds as many entries as fit.
    acknowledge(leader, '3', 1);
    const append = leader
      .ready()
      .messages.find((message) => message.to === '3' && message.type === 'append');
    assert.ok(append?.type === 'append');
    assert.equal(append.entries.length, 2); // 2 × (4 + 16 header) bytes = 40
  });
});

describe('MemoryRaftStorage', () => {
  it('truncates a conflicting suffix on append', () => {
    const storage = new MemoryRaftStorage();
    storage.append([entry(1, 1), entry(1, 2), entry(1, 3)]);
    storage.append([entry(2, 2)]);
    assert.equal(storage.lastIndex(), 2);
    assert.equal(storage.term(2), 2);
    assert.throws(() => storage.append([entry(2, 5)]), isInvalidArgumentError);
  });

  it('compacts only what a snapshot covers and answers the snapshot term', () => {
    const storage = new MemoryRaftStorage();
    storage.append([entry(1, 1), entry(1, 2), entry(2, 3)]);
    assert.throws(() => storage.compact(2), isInvalidArgumentError);
    storage.createSnapshot(2, { voters: ['1'], votersOutgoing: [], learners: [] }, bytes('s'));
    storage.compact(2);
    assert.equal(storage.firstIndex(), 3);
    assert.equal(storage.term(2), 1);
    assert.equal(storage.term(1), undefined);
    assert.deepEqual(
      storage.entries(3, 4, 100).map((item) => item.index),
      [3],
    );
  });

  it('applies a received snapshot, keeping a matching suffix', () => {
    const storage = new MemoryRaftStorage();
    storage.append([entry(1, 1), entry(1, 2), entry(1, 3)]);
    storage.applySnapshot({
      metadata: {
        index: 2,
        term: 1,
        membership: { voters: ['1'], votersOutgoing: [], learners: [] },
      },
      data: bytes('s'),
    });
    assert.equal(storage.firstIndex(), 3);
    assert.equal(storage.lastIndex(), 3);
    storage.applySnapshot({
      metadata: {
        index: 5,
        term: 3,
        membership: { voters: ['1'], votersOutgoing: [], learners: [] },
      },
      data: bytes('t'),
    });
    assert.equal(storage.lastIndex(), 5);
    assert.equal(storage.hardState().commitIndex, 5);
  });
});

describe('quorum arithmetic', () => {
  it('commits the highest index a majority has (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 100 }), { minLength: 1, maxLength: 7 }), (matches) => {
        const voters = matches.map((_, index) => `n${index}`);
        const index = committedIndex({ voters, votersOutgoing: [], learners: [] }, (id) => {
          return matches[Number(id.slice(1))] as number;
        });
        const atLeast = matches.filter((match) => match >= index).length;
        const above = matches.filter((match) => match > index).length;
        const quorum = Math.floor(matches.length / 2) + 1;
        return atLeast >= quorum && above < quorum;
      }),
    );
  });

  it('needs a majority of both halves of a joint configuration', () => {
    const membership = { voters: ['a', 'b', 'c'], votersOutgoing: ['c', 'd', 'e'], learners: [] };
    const votes = new Map([
      ['a', true],
      ['b', true],
    ]);
    assert.equal(voteOutcome(membership, votes), 'pending');
    votes.set('d', false);
    votes.set('e', false);
    assert.equal(voteOutcome(membership, votes), 'lost');
    const matches: Record<string, number> = { a: 9, b: 9, c: 1, d: 5, e: 5 };
    assert.equal(
      committedIndex(membership, (id) => matches[id] ?? 0),
      5,
    );
  });
});

describe('KeyValueStateMachine', () => {
  it('applies put, delete and compare-and-set, and reads ranges', () => {
    const kv = new KeyValueStateMachine();
    const apply = (index: number, data: Uint8Array) =>
      kv.apply({ term: 1, index, type: 'normal', data });
    assert.deepEqual(apply(1, encodeKeyValueCommand({ kind: 'put', key: 'a', value: '1' })), {
      status: 'ok',
      previous: null,
    });
    apply(2, encodeKeyValueCommand({ kind: 'put', key: 'b', value: '2' }));
    assert.deepEqual(
      apply(3, encodeKeyValueCommand({ kind: 'cas', key: 'a', expected: '0', value: '3' })),
      { status: 'cas-failed', current: '1' },
    );
    apply(4, encodeKeyValueCommand({ kind: 'cas', key: 'a', expected: '1', value: '3' }));
    assert.equal(kv.get('a'), '3');
    apply(5, encodeKeyValueCommand({ kind: 'delete', key: 'b' }));
    assert.equal(kv.get('b'), null);
    apply(6, encodeKeyValueCommand({ kind: 'put', key: 'c', value: '4' }));
    assert.deepEqual(kv.range('a', 'z', 10), [
      ['a', '3'],
      ['c', '4'],
    ]);
    assert.deepEqual(apply(7, new Uint8Array(0)), { status: 'no-op' });
    assert.throws(() => apply(7, new Uint8Array(0)), isInvalidArgumentError);
  });

  it('applies a command of a client session once, however often it is proposed', () => {
    const kv = new KeyValueStateMachine();
    const data = encodeKeyValueCommand(
      { kind: 'cas', key: 'a', expected: null, value: 'x' },
      { client: 'c1', sequence: 1 },
    );
    const first = kv.apply({ term: 1, index: 1, type: 'normal', data });
    kv.apply({
      term: 1,
      index: 2,
      type: 'normal',
      data: encodeKeyValueCommand({ kind: 'put', key: 'a', value: 'y' }),
    });
    const again = kv.apply({ term: 1, index: 3, type: 'normal', data });
    assert.deepEqual(again, first);
    assert.equal(kv.get('a'), 'y');
  });

  it('restores from its snapshot', () => {
    const kv = new KeyValueStateMachine();
    kv.apply({
      term: 1,
      index: 1,
      type: 'normal',
      data: encodeKeyValueCommand(
        { kind: 'put', key: 'a', value: '1' },
        { client: 'c', sequence: 1 },
      ),
    });
    const copy = new KeyValueStateMachine();
    copy.restore(kv.snapshot());
    assert.equal(copy.get('a'), '1');
    assert.equal(copy.appliedIndex, 1);
  });
});

describe('read mode per request', () => {
  /** A leader of term 1 whose own entry committed (with node 2), so it may serve reads. */
  function readyLeader(): RaftNode {
    const leader = electedLeader();
    const last = leader.status().lastIndex;
    acknowledge(leader, '2', last);
    persist(leader);
    assert.equal(leader.status().commitIndex, last);
    return leader;
  }

  it('answers a lease read at once while a quorum answered a recent heartbeat', () => {
    const leader = readyLeader();
    leader.step({
      type: 'heartbeat-response',
      from: '2',
      to: '1',
      term: 1,
      context: null,
      sentAtTick: 0,
    });
    assert.deepEqual(leader.readIndex('lease-read', { mode: 'lease' }), { status: 'pending' });
    const ready = leader.ready();
    assert.deepEqual(
      ready.readStates.map((state) => state.context),
      ['lease-read'],
    );
    assert.equal(
      ready.messages.filter((message) => message.type === 'heartbeat').length,
      0,
      'a lease read sends no heartbeat round',
    );
    leader.advance(ready);
  });

  it('confirms a default read (read-index mode) by a heartbeat round first', () => {
    const leader = readyLeader();
    leader.step({
      type: 'heartbeat-response',
      from: '2',
      to: '1',
      term: 1,
      context: null,
      sentAtTick: 0,
    });
    assert.deepEqual(leader.readIndex('index-read'), { status: 'pending' });
    const ready = leader.ready();
    assert.equal(ready.readStates.length, 0);
    assert.ok(
      ready.messages.some(
        (message) => message.type === 'heartbeat' && message.context === 'index-read',
      ),
    );
    leader.advance(ready);
  });

  it('refuses a lease read on a node without check-quorum, and unknown modes', () => {
    const leader = electedLeader({ checkQuorum: false });
    assert.throws(() => leader.readIndex('x', { mode: 'lease' }), isInvalidArgumentError);
    assert.throws(() => leader.readIndex('x', { mode: 'fast' as never }), isInvalidArgumentError);
  });
});

describe('a leader sending before it persists (persistBeforeSend false)', () => {
  it('marks a steady leader ready as sendable first, and every other ready as persist-first', () => {
    const storage = new MemoryRaftStorage();
    const node = makeNode({ preVote: false, storage });
    storages.set(node, storage);
    node.campaign();
    const candidateReady = node.ready();
    assert.equal(candidateReady.persistBeforeSend, true, 'a new term and vote go to disk first');
    storage.setHardState(candidateReady.hardState as never);
    node.advance(candidateReady);
    node.step({ type: 'vote-response', from: '2', to: '1', term: 1, granted: true });
    assert.equal(node.role, 'leader');
    assert.equal(node.ready().persistBeforeSend, false);
    const follower = makeNode({ id: '2' });
    follower.step({
      type: 'append',
      from: '1',
      to: '2',
      term: 1,
      previousIndex: 0,
      previousTerm: 0,
      entries: [entry(1, 1)],
      commitIndex: 0,
    });
    assert.equal(follower.ready().persistBeforeSend, true);
  });

  it('commits an entry only once the leader persisted it or a majority without it did', () => {
    const leader = electedLeader();
    const last = leader.status().lastIndex;
    acknowledge(leader, '2', last);
    persist(leader);
    const committedBefore = leader.status().commitIndex;
    assert.equal(leader.propose(bytes('x')).status, 'appended');
    const ready = leader.ready();
    assert.equal(ready.persistBeforeSend, false);
    const index = (ready.entries[0] as Entry).index;
    // Follower 2 wrote it; the leader's own write has not finished: 1 of 3 disks.
    acknowledge(leader, '2', index);
    assert.equal(leader.status().commitIndex, committedBefore, 'not committed on one disk');
    (storages.get(leader) as MemoryRaftStorage).append(ready.entries);
    leader.advance(ready);
    assert.equal(leader.status().commitIndex, index, 'committed once the leader persisted it');
  });

  it("commits without the leader's own copy when a majority of followers has it", () => {
    const leader = electedLeader({ voters: ['1', '2', '3'] });
    for (const from of ['2', '3']) {
      leader.step({
        type: 'append-response',
        from,
        to: '1',
        term: 1,
        index: leader.status().lastIndex,
        rejected: false,
        hintIndex: 0,
        hintTerm: 0,
      });
    }
    persist(leader);
    assert.equal(leader.propose(bytes('y')).status, 'appended');
    const ready = leader.ready();
    const index = (ready.entries[0] as Entry).index;
    for (const from of ['2', '3']) {
      leader.step({
        type: 'append-response',
        from,
        to: '1',
        term: 1,
        index,
        rejected: false,
        hintIndex: 0,
        hintTerm: 0,
      });
    }
    assert.equal(leader.status().commitIndex, index);
    (storages.get(leader) as MemoryRaftStorage).append(ready.entries);
    leader.advance(ready);
  });
});

describe('appends owed at the next ready', () => {
  it('sends proposals made between two readies in one append per follower', () => {
    const leader = electedLeader();
    acknowledge(leader, '2', leader.status().lastIndex);
    persist(leader);
    for (let index = 0; index < 5; index += 1) {
      assert.equal(leader.propose(bytes(`batch${index}`)).status, 'appended');
    }
    const appendsTo2 = persist(leader).filter(
      (message) => message.to === '2' && message.type === 'append',
    );
    assert.equal(appendsTo2.length, 1);
    assert.equal(appendsTo2[0]?.type === 'append' ? appendsTo2[0].entries.length : 0, 5);
  });

  it('tells each follower a new commit index once, however many answers advanced it', () => {
    const leader = electedLeader();
    acknowledge(leader, '2', leader.status().lastIndex);
    persist(leader);
    for (let index = 0; index < 3; index += 1) {
      leader.propose(bytes(`c${index}`));
      persist(leader);
    }
    const last = leader.status().lastIndex;
    for (let index = last - 2; index <= last; index += 1) {
      acknowledge(leader, '2', index);
    }
    assert.equal(leader.status().commitIndex, last);
    const toFollower2 = persist(leader).filter(
      (message) => message.to === '2' && message.type === 'append',
    );
    assert.equal(toFollower2.length, 1);
    assert.equal(toFollower2[0]?.type === 'append' ? toFollower2[0].commitIndex : -1, last);
  });
});

describe('proposals forwarded by a follower', () => {
  function followerOf1(options: Partial<RaftNodeOptions> = {}): RaftNode {
    const follower = makeNode({ id: '2', ...options });
    follower.step({
      type: 'heartbeat',
      from: '1',
      to: '2',
      term: 1,
      commitIndex: 0,
      context: null,
      sentAtTick: 0,
    });
    assert.equal(follower.leader, '1');
    follower.advance(follower.ready());
    return follower;
  }

  it('travel to the leader in one message per ready', () => {
    const follower = followerOf1();
    for (const text of ['a', 'b', 'c']) {
      assert.deepEqual(follower.propose(bytes(text)), { status: 'forwarded', leader: '1' });
    }
    const ready = follower.ready();
    const forwards = ready.messages.filter((message) => message.type === 'propose');
    assert.equal(forwards.length, 1);
    assert.equal(forwards[0]?.type === 'propose' ? forwards[0].entries.length : 0, 3);
    follower.advance(ready);
  });

  it('are split at messageBytesMax, and refused when larger than one message', () => {
    const follower = followerOf1({ messageBytesMax: 64 });
    assert.deepEqual(follower.propose(new Uint8Array(100)), {
      status: 'dropped',
      reason: 'too-large',
    });
    for (let index = 0; index < 3; index += 1) {
      assert.equal(follower.propose(new Uint8Array(30)).status, 'forwarded');
    }
    const forwards = follower.ready().messages.filter((message) => message.type === 'propose');
    assert.deepEqual(
      forwards.map((message) => (message.type === 'propose' ? message.entries.length : 0)),
      [1, 1, 1],
    );
  });

  it('are bounded by uncommittedBytesMax while they wait for the ready', () => {
    const follower = followerOf1({ uncommittedBytesMax: 50 });
    assert.equal(follower.propose(new Uint8Array(40)).status, 'forwarded');
    assert.deepEqual(follower.propose(new Uint8Array(40)), {
      status: 'dropped',
      reason: 'uncommitted-limit',
    });
  });
});
