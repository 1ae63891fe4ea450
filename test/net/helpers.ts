import { connect, type Socket } from 'node:net';
import type { Event } from '../../src/core/index.js';
import { handshakeProof } from '../../src/net/handshake.js';
import {
  encodeFrame,
  FrameDecoder,
  type ReceivedMessage,
  TcpTransport,
  type TcpTransportOptions,
  type TransportEvent,
} from '../../src/net/index.js';

/** The secret every test cluster shares. */
export const secret = 'test-cluster-secret-0123456789ab';

const host = '127.0.0.1';

/** A transport with what it received and reported. */
export interface Node {
  readonly transport: TcpTransport;
  readonly messages: ReceivedMessage[];
  readonly events: TransportEvent[];
  readonly port: number;
}

/** Subscribes recorders to a transport. */
export function record(transport: TcpTransport): Omit<Node, 'port'> {
  const messages: ReceivedMessage[] = [];
  const events: TransportEvent[] = [];
  transport.onMessage((message) => messages.push(message));
  transport.onEvent((event) => events.push(event));
  return { transport, messages, events };
}

/** Starts a transport on an OS-assigned loopback port. */
export async function startNode(
  id: string,
  options: Partial<TcpTransportOptions> = {},
): Promise<Node> {
  const transport = new TcpTransport({
    id,
    listen: { host, port: 0 },
    secret,
    ...options,
  });
  const recorded = record(transport);
  await transport.start();
  return { ...recorded, port: transport.address?.port as number };
}

/** Starts nodes, then tells each about the others (in one turn, before any dial lands). */
export async function startCluster(
  ids: readonly string[],
  options: Partial<TcpTransportOptions> = {},
): Promise<Map<string, Node>> {
  const nodes = new Map<string, Node>();
  for (const id of ids) {
    nodes.set(id, await startNode(id, options));
  }
  for (const node of nodes.values()) {
    for (const other of nodes.values()) {
      if (other !== node) {
        node.transport.addPeer(other.transport.id, { host, port: other.port });
      }
    }
  }
  return nodes;
}

/** Resolves with the first value of `event` that passes `predicate`, or rejects after `timeoutMs`. */
export function waitFor<T>(
  event: Event<T>,
  predicate: (value: T) => boolean,
  timeoutMs = 5_000,
  description = 'an event',
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      subscription.dispose();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${description}`));
    }, timeoutMs);
    const subscription = event((value) => {
      if (predicate(value)) {
        clearTimeout(timer);
        subscription.dispose();
        resolve(value);
      }
    });
  });
}

/** Waits until `condition()` holds, polling; rejects after `timeoutMs`. */
export async function eventually(
  condition: () => boolean,
  timeoutMs = 5_000,
  description = 'a condition',
): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Waits until `node` has an authenticated connection to and from each of `peerIds`. */
export async function connected(node: Node, peerIds: readonly string[]): Promise<void> {
  await eventually(
    () =>
      peerIds.every(
        (peerId) =>
          node.transport.isConnected(peerId) &&
          lastEvent(node, peerId, 'inbound')?.kind === 'connected',
      ),
    5_000,
    `${node.transport.id} connected both ways to ${peerIds.join(', ')}`,
  );
}

function lastEvent(
  node: Node,
  peerId: string,
  direction: 'inbound' | 'outbound',
): TransportEvent | undefined {
  for (let index = node.events.length - 1; index >= 0; index -= 1) {
    const event = node.events[index] as TransportEvent;
    if (
      event.kind !== 'reconnect-scheduled' &&
      event.peerId === peerId &&
      event.direction === direction
    ) {
      return event;
    }
  }
  return undefined;
}

/** A raw TCP client that speaks frames by hand, for attacks on the handshake. */
export class RawClient {
  readonly socket: Socket;
  readonly frames: unknown[] = [];
  readonly closed: Promise<void>;
  readonly #decoder = new FrameDecoder({ frameBytesMax: 1 << 20 });
  #wake: (() => void) | undefined;

  constructor(port: number) {
    this.socket = connect({ host, port });
    this.socket.on('data', (chunk) => {
      this.frames.push(...this.#decoder.push(chunk).messages);
      this.#wake?.();
    });
    this.socket.on('error', () => {});
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  send(message: unknown): void {
    this.socket.write(encodeFrame(message, 1 << 20));
  }

  async next(timeoutMs = 5_000): Promise<unknown> {
    const start = Date.now();
    while (this.frames.length === 0) {
      if (Date.now() - start > timeoutMs) {
        throw new Error('no frame arrived');
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 20);
      });
    }
    return this.frames.shift();
  }

  /**
   * Runs the initiator's side of the handshake claiming `from`; the proof is computed for
   * `proofId` with `proofSecret` (the honest values by default). Resolves with the
   * acceptor's last answer (a welcome, or undefined when it hung up).
   */
  async handshake(options: {
    from: string;
    to: string;
    proofId?: string;
    proofSecret?: string;
  }): Promise<unknown> {
    const nonce = new Uint8Array(32).fill(7);
    this.send({ kind: 'hello', version: 1, from: options.from, to: options.to, nonce });
    const challenge = (await this.next()) as { nonce: Uint8Array };
    const proof = handshakeProof(
      new TextEncoder().encode(options.proofSecret ?? secret),
      'initiator',
      {
        initiatorId: options.proofId ?? options.from,
        acceptorId: options.to,
        initiatorNonce: nonce,
        acceptorNonce: challenge.nonce,
      },
    );
    this.send({ kind: 'proof', proof });
    return Promise.race([
      this.next(2_000).catch(() => undefined),
      this.closed.then(() => undefined),
    ]);
  }

  close(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }
}

/** Closes every node. */
export async function closeAll(nodes: Iterable<Node>): Promise<void> {
  await Promise.all([...nodes].map((node) => node.transport.close()));
}
