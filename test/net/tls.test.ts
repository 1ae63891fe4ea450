import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TransportEvent, TransportTlsOptions } from '../../src/net/index.js';
import { closeAll, connected, type Node, startNode, waitFor } from './helpers.js';

type Disconnected = Extract<TransportEvent, { kind: 'disconnected' }>;

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore', timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

const skip = hasOpenssl()
  ? false
  : 'openssl is not on PATH: cannot generate test certificates, so mutual TLS is untested here';

/** A throwaway certificate authority and node certificates, made with openssl. */
class TestPki {
  readonly folder = mkdtempSync(join(tmpdir(), 'distkit-net-tls-'));

  #openssl(args: string[]): void {
    execFileSync('openssl', args, { cwd: this.folder, stdio: 'ignore', timeout: 20_000 });
  }

  authority(name: string): void {
    this.#openssl([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-subj',
      `/CN=${name}`,
      '-days',
      '2',
    ]);
  }

  node(commonName: string, authority: string, file = commonName): TransportTlsOptions {
    this.#openssl([
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      `${file}.key`,
      '-out',
      `${file}.csr`,
      '-subj',
      `/CN=${commonName}`,
    ]);
    this.#openssl([
      'x509',
      '-req',
      '-in',
      `${file}.csr`,
      '-CA',
      `${authority}.crt`,
      '-CAkey',
      `${authority}.key`,
      '-CAcreateserial',
      '-out',
      `${file}.crt`,
      '-days',
      '2',
    ]);
    const read = (name: string) => readFileSync(join(this.folder, name), 'utf8');
    return { key: read(`${file}.key`), cert: read(`${file}.crt`), ca: read(`${authority}.crt`) };
  }

  remove(): void {
    rmSync(this.folder, { recursive: true, force: true });
  }
}

describe('TcpTransport over mutual TLS', { skip, timeout: 60_000 }, () => {
  let pki: TestPki;
  const certificates = new Map<string, TransportTlsOptions>();
  const open: Node[] = [];

  before(() => {
    pki = new TestPki();
    pki.authority('cluster-ca');
    pki.authority('other-ca');
    for (const id of ['a', 'b', 'mallory']) {
      certificates.set(id, pki.node(id, 'cluster-ca'));
    }
    certificates.set('b-from-other-ca', pki.node('b', 'other-ca', 'b-other'));
  });

  after(async () => {
    await closeAll(open);
    pki?.remove();
  });

  function tlsOf(id: string): TransportTlsOptions {
    return certificates.get(id) as TransportTlsOptions;
  }

  it('exchanges messages with TLS alone, each id proven by its certificate', async () => {
    const a = await startNode('a', { secret: undefined, tls: tlsOf('a') } as never);
    const b = await startNode('b', { secret: undefined, tls: tlsOf('b') } as never);
    open.push(a, b);
    a.transport.addPeer('b', { host: '127.0.0.1', port: b.port });
    b.transport.addPeer('a', { host: '127.0.0.1', port: a.port });
    await connected(a, ['b']);
    await connected(b, ['a']);
    const arrived = waitFor(b.transport.onMessage, () => true);
    a.transport.send('b', { over: 'tls', bytes: new Uint8Array([1, 2]) });
    assert.deepEqual(await arrived, {
      from: 'a',
      message: { over: 'tls', bytes: new Uint8Array([1, 2]) },
    });
    const back = waitFor(a.transport.onMessage, () => true);
    b.transport.send('a', 'and back');
    assert.equal((await back).message, 'and back');
    await closeAll([a, b]);
  });

  it('runs the HMAC handshake inside TLS when both are configured', async () => {
    const a = await startNode('a', { tls: tlsOf('a') });
    const b = await startNode('b', { tls: tlsOf('b') });
    open.push(a, b);
    a.transport.addPeer('b', { host: '127.0.0.1', port: b.port });
    b.transport.addPeer('a', { host: '127.0.0.1', port: a.port });
    await connected(a, ['b']);
    const arrived = waitFor(b.transport.onMessage, () => true);
    a.transport.send('b', 'secret and certificate');
    assert.equal((await arrived).message, 'secret and certificate');
    await closeAll([a, b]);
  });

  it('gives up on a dial whose TLS handshake never completes (connect timeout)', async () => {
    const silentSockets: Socket[] = [];
    const silent = createServer((socket) => silentSockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const a = await startNode('a', {
      secret: undefined,
      tls: tlsOf('a'),
      connectTimeoutMs: 100,
      peers: { b: { host: '127.0.0.1', port: (silent.address() as AddressInfo).port } },
    } as never);
    open.push(a);
    const event = (await waitFor(
      a.transport.onEvent,
      (value) => value.kind === 'disconnected' && value.reason === 'connect-timeout',
    )) as Disconnected;
    assert.equal(event.peerId, 'b');
    await a.transport.close();
    for (const socket of silentSockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('rejects a certificate from another CA and a valid certificate claiming another id', async () => {
    const a = await startNode('a', { secret: undefined, tls: tlsOf('a') } as never);
    open.push(a);
    const authFailed = (direction: string) =>
      waitFor(
        a.transport.onEvent,
        (event) =>
          event.kind === 'disconnected' &&
          event.reason === 'auth-failed' &&
          event.direction === direction,
        5_000,
        `an ${direction} auth-failed`,
      ) as Promise<Disconnected>;
    const untrusted = Promise.all([authFailed('inbound'), authFailed('outbound')]);
    // The rogue trusts the cluster CA but holds a certificate another CA signed.
    const rogue = await startNode('b', {
      secret: undefined,
      tls: { ...tlsOf('b-from-other-ca'), ca: tlsOf('a').ca },
      peers: { a: { host: '127.0.0.1', port: a.port } },
    } as never);
    open.push(rogue);
    a.transport.addPeer('b', { host: '127.0.0.1', port: rogue.port });
    const [inbound, outbound] = await untrusted;
    assert.equal(inbound.authenticated, false);
    assert.equal(outbound.peerId, 'b');
    await rogue.transport.close();
    a.transport.removePeer('b');

    const impostor = waitFor(
      a.transport.onEvent,
      (event) => event.kind === 'disconnected' && event.reason === 'identity-mismatch',
    ) as Promise<Disconnected>;
    // Mallory holds a certificate the cluster CA signed, but for "mallory", and claims "b".
    const mallory = await startNode('b', {
      secret: undefined,
      tls: tlsOf('mallory'),
      peers: { a: { host: '127.0.0.1', port: a.port } },
    } as never);
    open.push(mallory);
    a.transport.addPeer('b', { host: '127.0.0.1', port: mallory.port });
    const event = await impostor;
    assert.equal(event.peerId, 'b');
    assert.equal(a.messages.length, 0);
    await closeAll([a, mallory]);
  });
});
