/**
 * The partitioned store's layout, level table, client refusals and node multiplexing,
 * driven by hand (no network).
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isInvalidArgumentError,
  isLimitExceededError,
  ManualClock,
  SeededRandom,
  VirtualScheduler,
} from '../../src/core/index.js';
import { leaderFollower, leaderless, multiLeader } from '../../src/replication/index.js';
import { type StoreMessage, StoreNodeCore } from '../../src/store/shard-node.js';
import { StoreClient, type StoreResult } from '../../src/store/sharded-client.js';
import {
  consistencyLevels,
  isConsistencyLevelUnsupportedError,
  levelsOffered,
  ShardedStoreLayout,
} from '../../src/store/sharded-store.js';
import { StoreSession } from '../../src/store/store-session.js';

function layout(): ShardedStoreLayout {
  return new ShardedStoreLayout({
    nodes: ['n1', 'n2', 'n3', 'n4'],
    keyspaces: [
      {
        name: 'users',
        keyPrefix: 'user/',
        mode: 'leader-follower-sync',
        factory: leaderFollower({ replication: 'sync' }),
        partitioning: { kind: 'hash', shardCount: 4 },
        replicaCount: 3,
      },
      {
        name: 'carts',
        keyPrefix: 'cart/',
        mode: 'multi-leader',
        factory: multiLeader({ conflicts: 'lww' }),
        partitioning: { kind: 'range', splitKeys: ['cart/m'] },
        replicaCount: 2,
      },
      {
        name: 'rest',
        keyPrefix: '',
        mode: 'leaderless',
        factory: leaderless(),
        partitioning: { kind: 'hash', shardCount: 1 },
        replicaCount: 3,
      },
    ],
  });
}

interface Sent {
  readonly to: string;
  readonly message: StoreMessage;
}

function client(store: ShardedStoreLayout, options: { inflightCountMax?: number } = {}) {
  const clock = new ManualClock();
  const scheduler = new VirtualScheduler({ clock });
  const sent: Sent[] = [];
  const storeClient = new StoreClient({
    layout: store,
    transport: {
      id: 'c1',
      scheduler,
      random: new SeededRandom({ seed: 1 }),
      send: (to, message) => sent.push({ to, message }),
    },
    ...options,
  });
  return { storeClient, sent, scheduler };
}

describe('ShardedStoreLayout', () => {
  it('routes a key to its keyspace by the longest prefix, then to a shard', () => {
    const store = layout();
    assert.equal(store.keyspaceOf('user/alice')?.name, 'users');
    assert.equal(store.keyspaceOf('cart/bob')?.name, 'carts');
    assert.equal(store.keyspaceOf('session/1')?.name, 'rest');
    assert.equal(store.shardOf('cart/apple')?.id, 'carts/0');
    assert.equal(store.shardOf('cart/zebra')?.id, 'carts/1');
    const userShards = new Set(
      Array.from({ length: 200 }, (_, index) => store.shardOf(`user/${index}`)?.id),
    );
    assert.deepEqual([...userShards].sort(), ['users/0', 'users/1', 'users/2', 'users/3']);
    // The same options route the same way on every node and client.
    assert.equal(layout().shardOf('user/alice')?.id, store.shardOf('user/alice')?.id);
  });

  it('places replicas round the node list, spreading the first replica', () => {
    const store = layout();
    assert.deepEqual(
      store.shards.filter((shard) => shard.keyspace === 'users').map((shard) => shard.replicas),
      [
        ['n1', 'n2', 'n3'],
        ['n2', 'n3', 'n4'],
        ['n3', 'n4', 'n1'],
        ['n4', 'n1', 'n2'],
      ],
    );
    assert.deepEqual(store.shard('carts/1')?.replicas, ['n3', 'n4']);
    assert.ok(store.shardsOfNode('n1').every((shard) => shard.replicas.includes('n1')));
  });

  it('refuses bad layouts with the option named', () => {
    const base = layout();
    assert.throws(
      () => new ShardedStoreLayout({ nodes: ['n1', 'n1'], keyspaces: [] }),
      isInvalidArgumentError,
    );
    assert.throws(
      () =>
        new ShardedStoreLayout({
          nodes: base.nodes,
          keyspaces: [
            {
              name: 'a',
              keyPrefix: '',
              mode: 'leaderless',
              factory: leaderless(),
              partitioning: { kind: 'hash', shardCount: 1 },
              replicaCount: 5,
            },
          ],
        }),
      (error: unknown) => isInvalidArgumentError(error) && /replicaCount/.test(error.message),
    );
  });
});

describe('consistency levels', () => {
  it('the table: which level each mode offers', () => {
    assert.deepEqual(levelsOffered('consensus'), consistencyLevels);
    assert.deepEqual(levelsOffered('leader-follower-sync'), consistencyLevels);
    assert.deepEqual(levelsOffered('leader-follower-async'), [
      'read-your-writes',
      'monotonic-reads',
      'bounded-staleness',
      'eventual',
    ]);
    assert.deepEqual(levelsOffered('multi-leader'), [
      'read-your-writes',
      'monotonic-reads',
      'eventual',
    ]);
    assert.deepEqual(levelsOffered('multi-leader-siblings'), ['eventual']);
    assert.deepEqual(levelsOffered('leaderless'), [
      'read-your-writes',
      'monotonic-reads',
      'eventual',
    ]);
  });

  it('a level the mode cannot give fails at request time, naming level and mode, and sends nothing', () => {
    const { storeClient, sent } = client(layout());
    for (const [key, level, mode] of [
      ['cart/x', 'linearizable', 'multi-leader'],
      ['cart/x', 'causal', 'multi-leader'],
      ['other', 'linearizable', 'leaderless'],
      ['other', 'bounded-staleness', 'leaderless'],
    ] as const) {
      assert.throws(
        () => storeClient.read(key, { consistency: level }, () => {}),
        (error: unknown) =>
          isConsistencyLevelUnsupportedError(error) &&
          error.level === level &&
          error.mode === mode &&
          error.message.includes(level) &&
          error.message.includes(mode),
      );
      assert.throws(
        () => storeClient.write(key, 'v', { consistency: level }, () => {}),
        isConsistencyLevelUnsupportedError,
      );
    }
    assert.equal(sent.length, 0);
    assert.equal(storeClient.inflightCount, 0);
  });

  it('bounded staleness needs its bound; unknown levels are refused', () => {
    const { storeClient } = client(layout());
    assert.throws(
      () => storeClient.read('user/a', { consistency: 'bounded-staleness' }, () => {}),
      isInvalidArgumentError,
    );
    assert.throws(
      () => storeClient.read('user/a', { consistency: 'strong' as never }, () => {}),
      isInvalidArgumentError,
    );
  });
});

describe('StoreClient', () => {
  it('sends linearizable reads to the leader without localRead, RYW with the session token', () => {
    const store = layout();
    const { storeClient, sent } = client(store);
    const shard = store.shardOf('user/a');
    assert.ok(shard !== undefined);
    const results: StoreResult[] = [];
    storeClient.write('user/a', '1', { consistency: 'linearizable' }, (result) =>
      results.push(result),
    );
    const write = sent[0];
    assert.ok(write?.message.kind === 'store-request');
    assert.equal(write.to, shard.replicas[0]);
    storeClient.onMessage(write.to, {
      kind: 'store-reply',
      shard: shard.id,
      reply: { id: write.message.request.id, status: 'ok', session: '1:1' },
    });
    assert.equal(results[0]?.status, 'ok');
    assert.equal(storeClient.sessionToken(shard.id), '1:1');

    storeClient.read('user/a', { consistency: 'linearizable' }, (result) => results.push(result));
    const linearizable = sent[1];
    assert.ok(linearizable?.message.kind === 'store-request');
    assert.equal(linearizable.to, shard.replicas[0]);
    assert.equal(linearizable.message.request.settings?.localRead, undefined);

    storeClient.read('user/a', { consistency: 'read-your-writes' }, (result) =>
      results.push(result),
    );
    const local = sent[2];
    assert.ok(local?.message.kind === 'store-request');
    assert.equal(local.message.request.settings?.localRead, true);
    assert.equal(local.message.request.session, '1:1');
    // A replica behind the session refuses: the client asks the leader next.
    storeClient.onMessage(local.to, {
      kind: 'store-reply',
      shard: shard.id,
      reply: { id: local.message.request.id, status: 'unavailable', reason: 'behind-session: x' },
    });
    const retry = sent[3];
    assert.ok(retry?.message.kind === 'store-request');
    assert.equal(retry.to, shard.replicas[0]);
    assert.equal(retry.message.request.settings?.localRead, undefined);
    assert.equal(retry.message.request.session, '1:1');
    assert.notEqual(retry.message.request.id, local.message.request.id);
  });

  it("a caller's StoreSession carries read-your-writes to another client; the clients' own sessions stay untouched", () => {
    const store = layout();
    const writer = client(store);
    const reader = client(store);
    const shard = store.shardOf('user/a');
    assert.ok(shard !== undefined);
    const session = new StoreSession();
    const results: StoreResult[] = [];
    writer.storeClient.write('user/a', '1', { consistency: 'linearizable', session }, (result) =>
      results.push(result),
    );
    const write = writer.sent[0];
    assert.ok(write?.message.kind === 'store-request');
    writer.storeClient.onMessage(write.to, {
      kind: 'store-reply',
      shard: shard.id,
      reply: { id: write.message.request.id, status: 'ok', session: '1:1' },
    });
    assert.equal(results[0]?.status, 'ok');
    assert.equal(session.token(shard.id), '1:1');
    assert.equal(writer.storeClient.sessionToken(shard.id), undefined);

    // The session crosses to another client as text, as an HTTP header would carry it.
    const carried = StoreSession.parse(session.toString());
    reader.storeClient.read(
      'user/a',
      { consistency: 'read-your-writes', session: carried },
      (result) => results.push(result),
    );
    const read = reader.sent[0];
    assert.ok(read?.message.kind === 'store-request');
    assert.equal(read.message.request.session, '1:1');
    reader.storeClient.onMessage(read.to, {
      kind: 'store-reply',
      shard: shard.id,
      reply: { id: read.message.request.id, status: 'ok', value: '1', session: '1:2' },
    });
    assert.equal(results[1]?.status, 'ok');
    assert.equal(carried.token(shard.id), '1:2');
    assert.equal(reader.storeClient.sessionToken(shard.id), undefined);

    // Without the session the reader sends none: nothing ties it to the writer's write.
    reader.storeClient.read('user/a', { consistency: 'read-your-writes' }, () => undefined);
    const own = reader.sent[1];
    assert.ok(own?.message.kind === 'store-request');
    assert.equal(own.message.request.session, undefined);
  });

  it('StoreSession text: round trip, bounds, and typed refusals of text that is not a session', () => {
    const session = new StoreSession({ shardCountMax: 2 });
    assert.equal(session.toString(), '');
    assert.equal(StoreSession.parse('').size, 0);
    session.advance('a', '1');
    session.advance('b', '2');
    session.advance('a', '3');
    session.advance('c', '4'); // drops b, the least recently advanced
    assert.deepEqual(
      [session.token('a'), session.token('b'), session.token('c')],
      ['3', undefined, '4'],
    );
    const again = StoreSession.parse(session.toString());
    assert.deepEqual([again.token('a'), again.token('c'), again.size], ['3', '4', 2]);
    for (const text of [
      'not base64url!',
      Buffer.from('{"a":1}').toString('base64url'),
      Buffer.from('[["a",1]]').toString('base64url'),
      Buffer.from('[["a"]]').toString('base64url'),
      'x'.repeat(20_000),
    ]) {
      assert.throws(() => StoreSession.parse(text), isInvalidArgumentError, text.slice(0, 40));
    }
    assert.throws(
      () => StoreSession.parse(session.toString(), { shardCountMax: 1 }),
      /at most 1 \(shardCountMax\)/,
    );
    assert.throws(() => new StoreSession({ shardCountMax: 0 }), isInvalidArgumentError);
    const { storeClient } = client(layout());
    assert.throws(
      () =>
        storeClient.read(
          'user/a',
          // biome-ignore lint/suspicious/noExplicitAny: a wrong type on purpose
          { consistency: 'read-your-writes', session: 'text' as any },
          () => undefined,
        ),
      isInvalidArgumentError,
    );
  });

  it('asks the leader when a bounded-staleness reply is staler than the bound', () => {
    const store = layout();
    const { storeClient, sent } = client(store);
    const shard = store.shardOf('user/b');
    assert.ok(shard !== undefined);
    const results: StoreResult[] = [];
    storeClient.read('user/b', { consistency: 'bounded-staleness', stalenessMsMax: 100 }, (r) =>
      results.push(r),
    );
    const first = sent[0];
    assert.ok(first?.message.kind === 'store-request');
    storeClient.onMessage(first.to, {
      kind: 'store-reply',
      shard: shard.id,
      reply: { id: first.message.request.id, status: 'ok', value: 'old', stalenessMs: 250 },
    });
    assert.equal(results.length, 0);
    const second = sent[1];
    assert.ok(second?.message.kind === 'store-request');
    assert.equal(second.to, shard.replicas[0]);
    storeClient.onMessage(second.to, {
      kind: 'store-reply',
      shard: shard.id,
      reply: { id: second.message.request.id, status: 'ok', value: 'new', stalenessMs: 0 },
    });
    assert.equal(results[0]?.status === 'ok' && results[0].value, 'new');
  });

  it('retries reads on timeout until the deadline; a write that timed out ends unknown, never resent', () => {
    const store = layout();
    const { storeClient, sent, scheduler } = client(store);
    const results: StoreResult[] = [];
    storeClient.read('user/c', { consistency: 'linearizable', deadlineMs: 1_000 }, (r) =>
      results.push(r),
    );
    storeClient.write('user/c', 'v', { consistency: 'linearizable', deadlineMs: 1_000 }, (r) =>
      results.push(r),
    );
    for (let elapsed = 0; elapsed < 1_000; elapsed += 50) {
      scheduler.advanceMs(50);
    }
    const reads = sent.filter(
      (entry) =>
        entry.message.kind === 'store-request' && entry.message.request.operation.kind === 'read',
    );
    const writes = sent.filter(
      (entry) =>
        entry.message.kind === 'store-request' && entry.message.request.operation.kind === 'write',
    );
    assert.ok(reads.length >= 3, `reads sent ${reads.length}`);
    assert.ok(new Set(reads.map((entry) => entry.to)).size >= 2, 'retries move to another replica');
    assert.equal(writes.length, 1);
    assert.deepEqual(results.map((result) => result.status).sort(), ['unavailable', 'unknown']);
  });

  it('refuses more than inflightCountMax requests with LimitExceededError', () => {
    const { storeClient } = client(layout(), { inflightCountMax: 2 });
    storeClient.read('user/a', { consistency: 'eventual' }, () => {});
    storeClient.read('user/b', { consistency: 'eventual' }, () => {});
    assert.throws(
      () => storeClient.read('user/c', { consistency: 'eventual' }, () => {}),
      isLimitExceededError,
    );
  });
});

describe('StoreNodeCore', () => {
  it('hosts a replica per shard of the node, multiplexes by shard and refuses other shards', () => {
    const store = layout();
    const node = new StoreNodeCore({
      id: 'n1',
      layout: store,
      clock: new ManualClock(),
      random: new SeededRandom({ seed: 1 }),
      tickMs: 10,
    });
    assert.deepEqual(
      node.shardIds().sort(),
      store
        .shardsOfNode('n1')
        .map((shard) => shard.id)
        .sort(),
    );
    const foreign = store.shards.find((shard) => !shard.replicas.includes('n1'));
    assert.ok(foreign !== undefined);
    node.receive('c1', {
      kind: 'store-request',
      shard: foreign.id,
      request: { id: 'r1', client: 'c1', operation: { kind: 'read', key: 'x' } },
    });
    const [reply] = node.drain();
    assert.ok(reply?.message.kind === 'store-reply');
    assert.equal(reply.message.reply.status, 'unavailable');
    assert.match(
      reply.message.reply.status === 'unavailable' ? reply.message.reply.reason : '',
      /^wrong-shard/,
    );
    // Garbage is ignored, never thrown on.
    for (const garbage of [
      null,
      1,
      'x',
      {},
      { shard: 5 },
      { kind: 'store-peer', shard: 'users/0' },
    ]) {
      node.receive('n2', garbage);
    }
    node.tick();
    const state = node.durableState();
    assert.deepEqual(Object.keys(state.shards).sort(), node.shardIds().sort());
  });
});
