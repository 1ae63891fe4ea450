import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import type { DisconnectReason, TransportEvent } from '../../src/net/index.js';
import { closeAll, eventually, type Node, RawClient, startCluster } from './helpers.js';

type Disconnected = Extract<TransportEvent, { kind: 'disconnected' }>;

const typedReasons: readonly DisconnectReason[] = [
  'frame-too-large',
  'frame-malformed',
  'protocol-violation',
  'handshake-timeout',
  'connection-lost',
  'unknown-peer',
  'identity-mismatch',
  'auth-failed',
];

describe('TcpTransport under random bytes from the network', { timeout: 60_000 }, () => {
  const open: Node[] = [];
  const clients: RawClient[] = [];
  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await closeAll(open);
  });

  it('drops every unauthenticated stream of random bytes with a typed reason and keeps serving', async () => {
    const nodes = await startCluster(['a', 'b'], { handshakeTimeoutMs: 300 });
    open.push(...nodes.values());
    const a = nodes.get('a') as Node;
    const b = nodes.get('b') as Node;
    await eventually(() => a.transport.isConnected('b') && b.transport.isConnected('a'));
    // Random bytes, and random bytes behind a plausible small length prefix.
    const streams = [
      ...fc.sample(fc.uint8Array({ minLength: 1, maxLength: 200 }), 30),
      ...fc.sample(
        fc.uint8Array({ minLength: 1, maxLength: 60 }).map((body) => {
          const frame = new Uint8Array(4 + body.length);
          new DataView(frame.buffer).setUint32(0, body.length);
          frame.set(body, 4);
          return frame;
        }),
        30,
      ),
    ];
    const before = a.events.length;
    for (const stream of streams) {
      const client = new RawClient(a.port);
      clients.push(client);
      client.socket.write(stream);
    }
    await Promise.all(clients.map((client) => client.closed));
    await eventually(
      () =>
        a.events
          .slice(before)
          .filter((event) => event.kind === 'disconnected' && event.direction === 'inbound')
          .length >= streams.length,
      10_000,
      'a disconnect per stream',
    );
    const refused = a.events
      .slice(before)
      .filter(
        (event): event is Disconnected =>
          event.kind === 'disconnected' && event.direction === 'inbound',
      );
    for (const event of refused) {
      assert.ok(typedReasons.includes(event.reason), event.reason);
      assert.equal(event.authenticated, false);
    }
    assert.equal(a.messages.length, 0, 'nothing from an unauthenticated stream is delivered');
    const arrived = new Promise((resolve) => {
      const subscription = a.transport.onMessage((message) => {
        subscription.dispose();
        resolve(message);
      });
    });
    b.transport.send('a', 'still here');
    assert.deepEqual(await arrived, { from: 'b', message: 'still here' });
    await closeAll(nodes.values());
  });

  it('after authentication, delivers what decodes and drops the connection at the first bad frame', async () => {
    const nodes = await startCluster(['a', 'x'], { frameBytesMax: 2_048 });
    open.push(...nodes.values());
    const a = nodes.get('a') as Node;
    await (nodes.get('x') as Node).transport.close();
    const samples = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 300 }), 15);
    for (const bytes of samples) {
      const client = new RawClient(a.port);
      clients.push(client);
      assert.deepEqual(await client.handshake({ from: 'x', to: 'a' }), { kind: 'welcome' });
      const before = a.events.length;
      client.socket.write(bytes);
      client.socket.end();
      await client.closed;
      await eventually(
        () => a.events.slice(before).some((event) => event.kind === 'disconnected'),
        5_000,
        'the connection to end',
      );
      const ended = a.events.slice(before).find((event) => event.kind === 'disconnected');
      assert.ok(ended !== undefined && ended.kind === 'disconnected');
      assert.ok(
        ['frame-too-large', 'frame-malformed', 'connection-lost'].includes(ended.reason),
        ended.reason,
      );
    }
    await closeAll(nodes.values());
  });
});
