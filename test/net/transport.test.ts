import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { isInvalidArgumentError, type Random, SeededRandom } from '../../src/core/index.js';
import {
  isFrameTooLargeError,
  isListenFailedError,
  isSendQueueFullError,
  isTransportClosedError,
  TcpTransport,
  type TransportEvent,
} from '../../src/net/index.js';
import { ConstantBackoff } from '../../src/resilience/index.js';
import {
  closeAll,
  connected,
  eventually,
  type Node,
  RawClient,
  secret,
  startCluster,
  startNode,
  waitFor,
} from './helpers.js';

type Disconnected = Extract<TransportEvent, { kind: 'disconnected' }>;

function rejection(
  node: Node,
  reason: Disconnected['reason'],
  direction?: Disconnected['direction'],
): Promise<Disconnected> {
  return waitFor(
    node.transport.onEvent,
    (event) =>
      event.kind === 'disconnected' &&
      event.reason === reason &&
      (direction === undefined || event.direction === direction),
    5_000,
    `a disconnect with reason ${reason}`,
  ) as Promise<Disconnected>;
}

/** Sends `message` from `from` to `to` and waits until it arrives. */
async function roundTrip(nodes: Map<string, Node>, from: string, to: string, message: unknown) {
  const receiver = nodes.get(to) as Node;
  const arrived = waitFor(
    receiver.transport.onMessage,
    (received) => received.from === from,
    5_000,
    `a message from ${from} at ${to}`,
  );
  assert.deepEqual((nodes.get(from) as Node).transport.send(to, message), { queued: true });
  assert.deepEqual((await arrived).message, message);
}

const open: Node[] = [];
const rawClients: RawClient[] = [];
after(async () => {
  await Promise.all(rawClients.map((client) => client.close()));
  await closeAll(open);
});

async function cluster(ids: string[], options = {}): Promise<Map<string, Node>> {
  const nodes = await startCluster(ids, options);
  open.push(...nodes.values());
  return nodes;
}

function raw(port: number): RawClient {
  const client = new RawClient(port);
  rawClients.push(client);
  return client;
}

describe('TcpTransport: exchanging messages', { timeout: 30_000 }, () => {
  it('two transports exchange messages both ways, in order', async () => {
    const nodes = await cluster(['a', 'b']);
    const a = nodes.get('a') as Node;
    const b = nodes.get('b') as Node;
    for (let index = 0; index < 100; index += 1) {
      a.transport.send('b', { index, from: 'a' });
      b.transport.send('a', { index, bytes: new Uint8Array([index]) });
    }
    await eventually(() => a.messages.length === 100 && b.messages.length === 100);
    assert.deepEqual(
      b.messages.map(({ from, message }) => [from, (message as { index: number }).index]),
      Array.from({ length: 100 }, (_, index) => ['a', index]),
    );
    assert.deepEqual(a.messages[7], {
      from: 'b',
      message: { index: 7, bytes: new Uint8Array([7]) },
    });
    await closeAll(nodes.values());
  });

  it('three transports exchange messages between every pair', async () => {
    const ids = ['n1', 'n2', 'n3'];
    const nodes = await cluster(ids);
    for (const from of ids) {
      for (const to of ids) {
        if (from !== to) {
          await roundTrip(nodes, from, to, { from, to, text: `${from}->${to}` });
        }
      }
    }
    for (const node of nodes.values()) {
      await connected(
        node,
        ids.filter((id) => id !== node.transport.id),
      );
    }
    await closeAll(nodes.values());
  });

  it('carries a message right at the frame limit and refuses a larger one on send', async () => {
    const frameBytesMax = 1_048_576;
    const nodes = await cluster(['a', 'b'], { frameBytesMax });
    const payload = new Uint8Array(frameBytesMax - 5); // bin 32 adds 5 bytes
    for (let index = 0; index < payload.length; index += 997) {
      payload[index] = index & 0xff;
    }
    await roundTrip(nodes, 'a', 'b', payload);
    await roundTrip(nodes, 'b', 'a', payload);
    const a = (nodes.get('a') as Node).transport;
    assert.throws(
      () => a.send('b', new Uint8Array(frameBytesMax - 4)),
      (error) => isFrameTooLargeError(error) && error.frameBytes === frameBytesMax + 1,
    );
    await roundTrip(nodes, 'a', 'b', 'still fine');
    await closeAll(nodes.values());
  });
});

describe('TcpTransport: bad peers', { timeout: 30_000 }, () => {
  it('disconnects an authenticated peer that sends an oversized frame, and keeps serving others', async () => {
    const nodes = await cluster(['a', 'b', 'x'], { frameBytesMax: 4_096 });
    const a = nodes.get('a') as Node;
    await nodes.get('x')?.transport.close(); // x's id is now free for the raw client
    await eventually(() => a.transport.isConnected('b'));
    const client = raw(a.port);
    assert.deepEqual(await client.handshake({ from: 'x', to: 'a' }), { kind: 'welcome' });
    const reported = rejection(a, 'frame-too-large');
    client.socket.write(new Uint8Array([0, 0, 0x10, 0x01])); // 4,097 bytes announced
    const event = await reported;
    assert.equal(event.peerId, 'x');
    assert.equal(event.authenticated, true);
    assert.equal(event.direction, 'inbound');
    await client.closed;
    await roundTrip(nodes, 'b', 'a', 'a still hears b');
    await roundTrip(nodes, 'a', 'b', 'and b hears a');
    await closeAll(nodes.values());
  });

  it('disconnects an unauthenticated peer at once on a large length prefix', async () => {
    const a = await startNode('a');
    open.push(a);
    const reported = rejection(a, 'frame-too-large');
    const client = raw(a.port);
    client.socket.write(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    const event = await reported;
    assert.equal(event.authenticated, false);
    await client.closed;
    await a.transport.close();
  });

  it('disconnects a peer that sends a malformed frame', async () => {
    const nodes = await cluster(['a', 'x']);
    const a = nodes.get('a') as Node;
    await nodes.get('x')?.transport.close();
    const client = raw(a.port);
    assert.deepEqual(await client.handshake({ from: 'x', to: 'a' }), { kind: 'welcome' });
    const reported = rejection(a, 'frame-malformed');
    client.socket.write(new Uint8Array([0, 0, 0, 2, 0xc1, 0xc1])); // 0xc1 is never used
    assert.equal((await reported).peerId, 'x');
    await client.closed;
    const garbage = raw(a.port);
    const beforeHello = rejection(a, 'protocol-violation');
    garbage.send({ kind: 'proof', proof: new Uint8Array(32) });
    await beforeHello;
    await closeAll(nodes.values());
  });

  it('rejects a node with the wrong secret, both ways, and the others keep talking', async () => {
    const nodes = await cluster(['a', 'b']);
    const a = nodes.get('a') as Node;
    const impostor = await startNode('c', { secret: 'not-the-cluster-secret-at-all!!!' });
    open.push(impostor);
    const refusedOutbound = waitFor(
      a.transport.onEvent,
      (event) =>
        event.kind === 'disconnected' &&
        event.reason === 'auth-failed' &&
        event.direction === 'outbound',
    ) as Promise<Disconnected>;
    const impostorRefused = rejection(impostor, 'auth-failed');
    a.transport.addPeer('c', { host: '127.0.0.1', port: impostor.port });
    impostor.transport.addPeer('a', { host: '127.0.0.1', port: a.port });
    assert.equal((await refusedOutbound).peerId, 'c');
    assert.equal((await impostorRefused).peerId, 'a');
    assert.equal(a.messages.length, 0);
    const client = raw(a.port);
    const refusedProof = rejection(a, 'auth-failed', 'inbound');
    assert.equal(
      await client.handshake({
        from: 'c',
        to: 'a',
        proofSecret: 'a-guessed-secret-1234567890abcd',
      }),
      undefined,
    );
    assert.equal((await refusedProof).direction, 'inbound');
    await roundTrip(nodes, 'a', 'b', 'unaffected');
    await roundTrip(nodes, 'b', 'a', 'unaffected');
    await closeAll([...nodes.values(), impostor]);
  });

  it('rejects ids outside the peer table, ids already connected, and proofs for another id', async () => {
    const nodes = await cluster(['a', 'b', 'c']);
    const a = nodes.get('a') as Node;
    await connected(a, ['b', 'c']);

    const stranger = raw(a.port);
    const unknown = rejection(a, 'unknown-peer');
    stranger.send({
      kind: 'hello',
      version: 1,
      from: 'mallory',
      to: 'a',
      nonce: new Uint8Array(32),
    });
    assert.equal((await unknown).peerId, 'mallory');
    await stranger.closed;

    // An insider with the secret claims b's id while b is connected.
    const insider = raw(a.port);
    const duplicate = rejection(a, 'duplicate-identity');
    assert.equal(await insider.handshake({ from: 'b', to: 'a' }), undefined);
    assert.equal((await duplicate).peerId, 'b');

    // Claims b but proves (with the right secret) for c: the HMAC does not match the claim.
    const forger = raw(a.port);
    const forged = rejection(a, 'auth-failed', 'inbound');
    assert.equal(await forger.handshake({ from: 'b', to: 'a', proofId: 'c' }), undefined);
    assert.equal((await forged).peerId, 'b');

    // Addresses another node.
    const lost = raw(a.port);
    const mismatch = rejection(a, 'identity-mismatch', 'inbound');
    lost.send({ kind: 'hello', version: 1, from: 'b', to: 'c', nonce: new Uint8Array(32) });
    await mismatch;

    // A dials "d" at c's address: c refuses a hello meant for another node.
    const c = nodes.get('c') as Node;
    const wrongAddress = rejection(c, 'identity-mismatch');
    a.transport.addPeer('d', { host: '127.0.0.1', port: c.port });
    const event = await wrongAddress;
    assert.equal(event.direction, 'inbound');
    assert.equal(event.peerId, 'a');
    a.transport.removePeer('d');

    await roundTrip(nodes, 'b', 'a', 'b is still b');
    await roundTrip(nodes, 'c', 'a', 'c is still c');
    await closeAll(nodes.values());
  });

  it('drops a connection that does not finish the handshake in time', async () => {
    const a = await startNode('a', { handshakeTimeoutMs: 100 });
    open.push(a);
    const timedOut = rejection(a, 'handshake-timeout');
    const silent = raw(a.port);
    await timedOut;
    await silent.closed;
    await a.transport.close();
  });

  it('gives up on a dialled peer that accepts but never answers the hello', async () => {
    const silentSockets: Socket[] = [];
    const silent = createServer((socket) => silentSockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    const a = await startNode('a', {
      handshakeTimeoutMs: 100,
      backoff: new ConstantBackoff({ delayMs: 1_000 }),
      peers: { quiet: { host: '127.0.0.1', port } },
    });
    open.push(a);
    const event = await rejection(a, 'handshake-timeout');
    assert.equal(event.direction, 'outbound');
    assert.equal(event.peerId, 'quiet');
    await a.transport.close();
    for (const socket of silentSockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('refuses inbound connections over the limit', async () => {
    const a = await startNode('a', { inboundConnectionCountMax: 1 });
    open.push(a);
    const first = raw(a.port);
    await new Promise<void>((resolve) => first.socket.once('connect', () => resolve()));
    const refused = rejection(a, 'inbound-limit');
    const second = raw(a.port);
    await refused;
    await second.closed;
    await a.transport.close();
    await first.closed;
  });
});

describe('TcpTransport: failures and limits', { timeout: 30_000 }, () => {
  it('reconnects after the peer restarts on the same port and delivers what was sent meanwhile', async () => {
    const backoff = new ConstantBackoff({ delayMs: 20 });
    const nodes = await cluster(['a', 'b'], { backoff });
    const a = nodes.get('a') as Node;
    const b = nodes.get('b') as Node;
    await roundTrip(nodes, 'a', 'b', 'before');
    await b.transport.close();
    await eventually(() => !a.transport.isConnected('b'), 5_000, 'a to notice b is gone');
    for (let index = 0; index < 10; index += 1) {
      assert.deepEqual(a.transport.send('b', { index }), { queued: true });
    }
    assert.equal(a.transport.queued('b').count, 10);
    await eventually(
      () => a.events.some((event) => event.kind === 'reconnect-scheduled' && event.attempt >= 2),
      5_000,
      'a failed dial while b is down',
    );
    const restarted = await startNode('b', {
      backoff,
      listen: { host: '127.0.0.1', port: b.port },
      peers: { a: { host: '127.0.0.1', port: a.port } },
    });
    open.push(restarted);
    await eventually(() => restarted.messages.length === 10, 5_000, 'the queued messages');
    assert.deepEqual(
      restarted.messages.map(({ message }) => message),
      Array.from({ length: 10 }, (_, index) => ({ index })),
    );
    await roundTrip(new Map([...nodes, ['b', restarted]]), 'a', 'b', 'after');
    await roundTrip(new Map([...nodes, ['b', restarted]]), 'b', 'a', 'after');
    assert.ok(
      a.events.some((event) => event.kind === 'reconnect-scheduled' && event.attempt >= 2),
      'a retried more than once while b was down',
    );
    await closeAll([a, restarted]);
  });

  it('waits between dials as the injected backoff says, drawing from the injected Random', async () => {
    const random = new SeededRandom({ seed: 42 });
    const calls: { attempt: number; random: unknown }[] = [];
    const backoff = {
      delayMs(attempt: number, _previousDelayMs: number, from: Random): number {
        calls.push({ attempt, random: from });
        return 5 + from.integer(0, 5);
      },
    };
    const a = await startNode('a', {
      backoff,
      random,
      peers: { down: { host: '127.0.0.1', port: 1 } },
    });
    open.push(a);
    await eventually(() => calls.length >= 3, 5_000, 'three failed dials');
    await a.transport.close();
    assert.deepEqual(
      calls.slice(0, 3).map(({ attempt }) => attempt),
      [1, 2, 3],
    );
    assert.ok(calls.every((call) => call.random === random));
    const scheduled = a.events.filter((event) => event.kind === 'reconnect-scheduled');
    const replay = new SeededRandom({ seed: 42 });
    assert.deepEqual(
      scheduled.slice(0, 3).map((event) => event.delayMs),
      [0, 1, 2].map(() => 5 + replay.integer(0, 5)),
    );
  });

  it('re-dials a peer that moved to a new address', async () => {
    const nodes = await cluster(['a', 'b']);
    const a = nodes.get('a') as Node;
    await roundTrip(nodes, 'a', 'b', 'at the old address');
    await (nodes.get('b') as Node).transport.close();
    const b = await startNode('b', { peers: { a: { host: '127.0.0.1', port: a.port } } });
    open.push(b);
    a.transport.addPeer('b', { host: '127.0.0.1', port: b.port });
    await roundTrip(new Map([...nodes, ['b', b]]), 'a', 'b', 'at the new address');
    await closeAll([a, b]);
  });

  it('fills the send queue of a peer that is down and answers with a typed result', async () => {
    const a = await startNode('a', {
      sendQueueCountMax: 5,
      sendQueueBytesMax: 4_096,
      frameBytesMax: 1_024,
      peers: { down: { host: '127.0.0.1', port: 1 } },
      connectTimeoutMs: 200,
    });
    open.push(a);
    for (let index = 0; index < 5; index += 1) {
      assert.deepEqual(a.transport.send('down', index), { queued: true });
    }
    const full = a.transport.send('down', 5);
    assert.equal(full.queued, false);
    assert.ok(!full.queued && isSendQueueFullError(full.error) && full.error.peerId === 'down');
    assert.deepEqual(a.transport.queued('down'), { count: 5, bytes: 5 * 5 });
    await a.transport.close();

    const bytes = await startNode('a', {
      sendQueueBytesMax: 2_048,
      frameBytesMax: 1_024,
      peers: { down: { host: '127.0.0.1', port: 1 } },
    });
    open.push(bytes);
    const kilobyte = new Uint8Array(900);
    assert.equal(bytes.transport.send('down', kilobyte).queued, true);
    assert.equal(bytes.transport.send('down', kilobyte).queued, true);
    const overBytes = bytes.transport.send('down', kilobyte);
    assert.ok(!overBytes.queued && isSendQueueFullError(overBytes.error));
    await bytes.transport.close();
  });

  it('closes cleanly: later sends answer TransportClosedError, close is idempotent', async () => {
    const nodes = await cluster(['a', 'b']);
    const a = (nodes.get('a') as Node).transport;
    await roundTrip(nodes, 'a', 'b', 'hello');
    await Promise.all([a.close(), a.close()]);
    const result = a.send('b', 'too late');
    assert.ok(!result.queued && isTransportClosedError(result.error));
    await assert.rejects(a.start(), isTransportClosedError);
    assert.throws(() => a.addPeer('c', { host: '127.0.0.1', port: 9 }), isTransportClosedError);
    await closeAll(nodes.values());
  });

  it('fails start() with ListenFailedError on a taken port, and closes a start under way', async () => {
    const a = await startNode('a');
    open.push(a);
    const clash = new TcpTransport({
      id: 'b',
      listen: { host: '127.0.0.1', port: a.port },
      secret,
    });
    await assert.rejects(
      clash.start(),
      (error) => isListenFailedError(error) && error.address.endsWith(`:${a.port}`),
    );
    await clash.close();
    const early = new TcpTransport({ id: 'c', listen: { host: '127.0.0.1', port: 0 }, secret });
    const starting = early.start();
    await early.close(); // waits for the listen under way, then closes it
    await starting;
    assert.equal(early.address, undefined);
    await a.transport.close();
  });

  it('validates its options and arguments', () => {
    const listen = { host: '127.0.0.1', port: 0 };
    const make = (options: object) => () =>
      new TcpTransport({ id: 'a', listen, secret, ...options } as never);
    assert.throws(make({ secret: undefined }), isInvalidArgumentError);
    assert.throws(make({ secret: 'short' }), isInvalidArgumentError);
    assert.throws(make({ id: '' }), isInvalidArgumentError);
    assert.throws(make({ id: 'x'.repeat(129) }), isInvalidArgumentError);
    assert.throws(make({ listen: { host: '127.0.0.1', port: 70_000 } }), isInvalidArgumentError);
    assert.throws(make({ peers: { b: { host: '127.0.0.1', port: 0 } } }), isInvalidArgumentError);
    assert.throws(make({ frameBytesMax: 2 ** 31 }), isInvalidArgumentError);
    assert.throws(make({ sendQueueCountMax: 0 }), isInvalidArgumentError);
    assert.throws(make({ sendQueueBytesMax: 10 }), isInvalidArgumentError);
    assert.throws(make({ handshakeTimeoutMs: -1 }), isInvalidArgumentError);
    assert.throws(make({ inboundConnectionCountMax: 0 }), isInvalidArgumentError);
    assert.throws(
      make({ peerCountMax: 1, peers: { b: listen, c: listen } }),
      isInvalidArgumentError,
    );
    const transport = new TcpTransport({ id: 'a', listen, secret, peers: { a: listen } });
    assert.deepEqual(transport.peerIds, [], 'its own id is left out of the table');
    assert.throws(
      () => transport.send('nobody', 1),
      (error) => isInvalidArgumentError(error) && error.argument === 'peerId',
    );
    assert.throws(
      () => transport.addPeer('a', { host: '127.0.0.1', port: 1 }),
      isInvalidArgumentError,
    );
  });
});
