/**
 * {@link TcpTransport}: authenticated peer-to-peer messaging over TCP (optionally TLS).
 *
 * Each node dials one outbound connection to every peer and sends on it; it receives on
 * the connections its peers dial to it. So between two nodes there are two connections,
 * one per direction, and no tie-break is needed when both dial at once.
 *
 * @module
 */

import { randomBytes } from 'node:crypto';
import {
  connect as netConnect,
  createServer as netCreateServer,
  type Server,
  type Socket,
} from 'node:net';
import { type TLSSocket, connect as tlsConnect, createServer as tlsCreateServer } from 'node:tls';
import {
  Emitter,
  type Event,
  InvalidArgumentError,
  type Random,
  requireFunction,
  requireInteger,
  requireOptions,
  requireString,
  type ScheduledTask,
  type Scheduler,
  systemRandom,
  systemScheduler,
} from '../core/index.js';
import { type Backoff, ExponentialBackoff } from '../resilience/index.js';
import {
  type FrameMalformedError,
  type FrameTooLargeError,
  isFrameTooLargeError,
  ListenFailedError,
  SendQueueFullError,
  TransportClosedError,
} from './errors.js';
import { encodeFrame, FrameDecoder, frameBytesMaxLimit } from './frame.js';
import {
  handshakeFrameBytesMax,
  handshakeProof,
  idLengthMax,
  isWelcome,
  nonceBytes,
  type ProofInput,
  parseChallenge,
  parseHello,
  parseProof,
  protocolVersion,
  verifyProof,
} from './handshake.js';

/** Where a node listens or can be reached. */
export interface PeerAddress {
  /** Host name or IP address. */
  readonly host: string;
  /** TCP port, 0 to 65535 (0 only for `listen`: the system picks one). */
  readonly port: number;
}

/** PEM material for mutual TLS; every node's certificate has its node id as common name. */
export interface TransportTlsOptions {
  /** This node's private key (PEM). */
  readonly key: string | Uint8Array;
  /** This node's certificate (PEM); its subject CN must be this node's id. */
  readonly cert: string | Uint8Array;
  /** The certificate authority (PEM) that signed every node's certificate. */
  readonly ca: string | Uint8Array;
}

/** Options for {@link TcpTransport}. */
export interface TcpTransportOptions {
  /** This node's id (1 to 128 characters). */
  readonly id: string;
  /** Where to listen; port 0 lets the system pick (read {@link TcpTransport.address}). */
  readonly listen: PeerAddress;
  /** The peer table: id → address. An entry for this node's own id is ignored. */
  readonly peers?: Readonly<Record<string, PeerAddress>>;
  /** The cluster secret (at least 16 bytes) for the HMAC handshake. */
  readonly secret?: string | Uint8Array;
  /** Mutual TLS. At least one of `secret` and `tls` is required; both may be given. */
  readonly tls?: TransportTlsOptions;
  /** Largest message payload, in bytes, sent or received. Default 16 MiB; at most 1 GiB. */
  readonly frameBytesMax?: number;
  /** Most messages waiting to be written, per peer. Default 10,000. */
  readonly sendQueueCountMax?: number;
  /** Most bytes of frames waiting to be written, per peer. Default 64 MiB. */
  readonly sendQueueBytesMax?: number;
  /** Time a new connection has to finish the handshake. Default 5,000 ms. */
  readonly handshakeTimeoutMs?: number;
  /** Time a dial has to reach the peer (TCP and TLS set-up). Default 5,000 ms. */
  readonly connectTimeoutMs?: number;
  /** Most inbound connections at once, authenticated or not. Default 64. */
  readonly inboundConnectionCountMax?: number;
  /** Most peers in the table. Default 1,024. */
  readonly peerCountMax?: number;
  /**
   * Wait between failed dials. Default: exponential from 50 ms to 5 s with full jitter.
   */
  readonly backoff?: Backoff;
  /** Where backoff jitter draws from. Default `systemRandom()`. */
  readonly random?: Random;
  /** Timers (connect, handshake, reconnect). Default the shared `systemScheduler`. */
  readonly scheduler?: Scheduler;
}

/** A message received from an authenticated peer. */
export interface ReceivedMessage {
  /** The sender's authenticated id. */
  readonly from: string;
  /** The decoded message. */
  readonly message: unknown;
}

/** Which way a connection was opened: `outbound` dialled by this node. */
export type ConnectionDirection = 'inbound' | 'outbound';

/**
 * Why a connection ended or was refused:
 *
 * - `auth-failed`: a handshake proof was wrong (another secret, or an id that does not
 *   match the proof).
 * - `unknown-peer`: the claimed id is not in the peer table (or is this node's own).
 * - `identity-mismatch`: the peer answered as, or addressed, another id than expected, or
 *   its TLS certificate names another id.
 * - `duplicate-identity`: an authenticated connection from that id already exists.
 * - `frame-too-large`, `frame-malformed`: the byte stream broke the frame rules.
 * - `protocol-violation`: a well-formed frame that does not belong at this point.
 * - `handshake-timeout`, `connect-timeout`: the peer took too long.
 * - `inbound-limit`: `inboundConnectionCountMax` connections were already open.
 * - `connection-lost`: the peer closed the connection or the socket failed.
 * - `closed`: this node closed the transport or removed the peer.
 */
export type DisconnectReason =
  | 'auth-failed'
  | 'unknown-peer'
  | 'identity-mismatch'
  | 'duplicate-identity'
  | 'frame-too-large'
  | 'frame-malformed'
  | 'protocol-violation'
  | 'handshake-timeout'
  | 'connect-timeout'
  | 'inbound-limit'
  | 'connection-lost'
  | 'closed';

/** What {@link TcpTransport.onEvent} reports: connections made, lost and refused. */
export type TransportEvent =
  | {
      readonly kind: 'connected';
      readonly peerId: string;
      readonly direction: ConnectionDirection;
      readonly remoteAddress: string;
    }
  | {
      readonly kind: 'disconnected';
      /** The authenticated or claimed id; undefined when the peer never said. */
      readonly peerId: string | undefined;
      readonly direction: ConnectionDirection;
      readonly reason: DisconnectReason;
      /** Whether the connection had finished the handshake. */
      readonly authenticated: boolean;
      readonly remoteAddress: string;
      /** A sentence for the log. */
      readonly detail: string;
    }
  | {
      readonly kind: 'reconnect-scheduled';
      readonly peerId: string;
      /** Failed dials in a row so far. */
      readonly attempt: number;
      readonly delayMs: number;
    };

/** What {@link PeerTransport.send} did with a message. */
export type SendResult =
  | { readonly queued: true }
  | { readonly queued: false; readonly error: SendQueueFullError | TransportClosedError };

/** A node's messaging port: send to peers by id, hear from them. */
export interface PeerTransport {
  /** This node's id. */
  readonly id: string;
  /** Starts listening and dialling the peers. */
  start(): Promise<void>;
  /**
   * Queues `message` for `peerId` without waiting. Delivery is at most once: a message
   * written into a connection that then breaks is lost; one still queued survives
   * reconnection.
   */
  send(peerId: string, message: unknown): SendResult;
  /** Messages from authenticated peers. */
  readonly onMessage: Event<ReceivedMessage>;
  /** Connections made, lost and refused. */
  readonly onEvent: Event<TransportEvent>;
  /** Closes every connection and the listener; unsent messages are dropped. */
  close(): Promise<void>;
}

/**
 * TCP keep-alive probes start after this much idle time, so a peer that vanished without
 * a FIN (power loss, a cable pulled) is noticed and its id freed for its next connection.
 */
const keepAliveDelayMs = 10_000;

const queuedResult: SendResult = Object.freeze({ queued: true });

type OutboundState = 'idle' | 'connecting' | 'handshaking' | 'welcoming' | 'ready' | 'backoff';

/** A peer as seen by the sending side. */
class OutboundPeer {
  state: OutboundState = 'idle';
  socket: Socket | undefined;
  timer: ScheduledTask | undefined;
  failedAttemptCount = 0;
  previousDelayMs = 0;
  queue: Uint8Array[] = [];
  queueHead = 0;
  queuedBytes = 0;
  /** The socket a send wrote to in this event-loop turn, if any. */
  turnSocket: Socket | undefined;
  /** Whether `turnSocket` is corked until the end of the turn. */
  corked = false;
  draining = false;
  nonce: Uint8Array | undefined;

  constructor(
    readonly id: string,
    public address: PeerAddress,
  ) {}

  get queuedCount(): number {
    return this.queue.length - this.queueHead;
  }
}

type InboundState = 'awaiting-hello' | 'awaiting-proof' | 'ready' | 'ended';

/** A connection a peer dialled to this node. */
class InboundConnection {
  state: InboundState = 'awaiting-hello';
  peerId: string | undefined;
  timer: ScheduledTask | undefined;
  proofInput: ProofInput | undefined;
  readonly decoder = new FrameDecoder({ frameBytesMax: handshakeFrameBytesMax });

  constructor(
    readonly socket: Socket,
    readonly remoteAddress: string,
  ) {}
}

/** Ends a turn of sends: uncorks the socket if later sends of the turn corked it. */
function endTurn(peer: OutboundPeer, socket: Socket): void {
  if (peer.turnSocket === socket) {
    peer.turnSocket = undefined;
    if (peer.corked) {
      peer.corked = false;
      socket.uncork();
    }
  }
}

function describeAddress(socket: Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}

function toBytes(name: string, value: unknown): Uint8Array {
  if (typeof value === 'string') {
    return new TextEncoder().encode(value);
  }
  if (value instanceof Uint8Array) {
    return value;
  }
  throw new InvalidArgumentError(name, `${name} must be a string or a Uint8Array.`);
}

function requireAddress(name: string, value: unknown, portMin: number): PeerAddress {
  const address = requireOptions(name, value as PeerAddress);
  requireString(`${name}.host`, address.host);
  requireInteger(`${name}.port`, address.port, { min: portMin, max: 65_535 });
  return { host: address.host, port: address.port };
}

function requireId(name: string, value: unknown): string {
  const id = requireString(name, value);
  if (id.length > idLengthMax) {
    throw new InvalidArgumentError(name, `${name} must be at most ${idLengthMax} characters.`);
  }
  return id;
}

function decoderReason(error: FrameTooLargeError | FrameMalformedError): DisconnectReason {
  return isFrameTooLargeError(error) ? 'frame-too-large' : 'frame-malformed';
}

/** Whether a TLS error is about the peer's certificate (rather than the network). */
function isTlsAuthenticationError(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  const text = `${typeof code === 'string' ? code : ''} ${error.message}`;
  return /CERT|VERIFY|SELF_SIGNED|ERR_SSL|ERR_TLS|alert|certificate/i.test(text);
}

/** The common name of a TLS peer's certificate, if it presented one. */
function certificateName(socket: Socket): string | undefined {
  const certificate = (socket as TLSSocket).getPeerCertificate?.();
  const name = certificate?.subject?.CN;
  return typeof name === 'string' ? name : undefined;
}

/**
 * Authenticated peer-to-peer messaging over TCP: length-prefixed MessagePack frames, one
 * outbound connection per peer with a bounded send queue, reconnection with backoff, an
 * HMAC challenge-response handshake on a cluster secret and optional mutual TLS.
 *
 * @example
 * ```ts
 * const transport = new TcpTransport({
 *   id: 'n1',
 *   listen: { host: '127.0.0.1', port: 7001 },
 *   peers: { n2: { host: '127.0.0.1', port: 7002 } },
 *   secret: process.env.CLUSTER_SECRET,
 * });
 * transport.onMessage(({ from, message }) => console.log(from, message));
 * await transport.start();
 * transport.send('n2', { type: 'ping' });
 * ```
 */
export class TcpTransport implements PeerTransport {
  /** This node's id. */
  readonly id: string;
  /** Largest message payload sent or received, in bytes. */
  readonly frameBytesMax: number;
  /** Per-peer send queue limits. */
  readonly sendQueueCountMax: number;
  /** Per-peer send queue byte limit. */
  readonly sendQueueBytesMax: number;
  /** Handshake deadline per connection. */
  readonly handshakeTimeoutMs: number;
  /** Dial deadline. */
  readonly connectTimeoutMs: number;
  /** Inbound connection limit. */
  readonly inboundConnectionCountMax: number;
  /** Peer table limit. */
  readonly peerCountMax: number;

  readonly #listen: PeerAddress;
  readonly #secret: Uint8Array | undefined;
  readonly #tls: TransportTlsOptions | undefined;
  readonly #backoff: Backoff;
  readonly #random: Random;
  readonly #scheduler: Scheduler;
  readonly #peers = new Map<string, OutboundPeer>();
  readonly #inbound = new Set<InboundConnection>();
  readonly #inboundByPeer = new Map<string, InboundConnection>();
  readonly #messages = new Emitter<ReceivedMessage>();
  readonly #events = new Emitter<TransportEvent>();
  #server: Server | undefined;
  #state: 'new' | 'starting' | 'started' | 'closed' = 'new';
  #closing: Promise<void> | undefined;
  #listening: Promise<void> | undefined;

  /** Messages from authenticated peers. */
  readonly onMessage: Event<ReceivedMessage> = this.#messages.event;
  /** Connections made, lost and refused, with typed reasons. */
  readonly onEvent: Event<TransportEvent> = this.#events.event;

  constructor(options: TcpTransportOptions) {
    const checked = requireOptions('TcpTransport options', options);
    if (options === undefined) {
      throw new InvalidArgumentError('options', 'TcpTransport options are required.');
    }
    this.id = requireId('TcpTransport options.id', checked.id);
    this.#listen = requireAddress('TcpTransport options.listen', checked.listen, 0);
    if (checked.secret === undefined && checked.tls === undefined) {
      throw new InvalidArgumentError(
        'options.secret',
        'TcpTransport needs options.secret (a cluster secret) or options.tls (mutual TLS), or both.',
      );
    }
    if (checked.secret !== undefined) {
      this.#secret = toBytes('TcpTransport options.secret', checked.secret);
      if (this.#secret.length < 16) {
        throw new InvalidArgumentError(
          'options.secret',
          'TcpTransport options.secret must be at least 16 bytes; use 32 random bytes.',
        );
      }
    }
    if (checked.tls !== undefined) {
      const tls = requireOptions('TcpTransport options.tls', checked.tls);
      this.#tls = {
        key: toBytes('TcpTransport options.tls.key', tls.key),
        cert: toBytes('TcpTransport options.tls.cert', tls.cert),
        ca: toBytes('TcpTransport options.tls.ca', tls.ca),
      };
    }
    this.frameBytesMax = requireInteger(
      'TcpTransport options.frameBytesMax',
      checked.frameBytesMax ?? 16 * 1_048_576,
      { min: handshakeFrameBytesMax, max: frameBytesMaxLimit },
    );
    this.sendQueueCountMax = requireInteger(
      'TcpTransport options.sendQueueCountMax',
      checked.sendQueueCountMax ?? 10_000,
      { min: 1 },
    );
    this.sendQueueBytesMax = requireInteger(
      'TcpTransport options.sendQueueBytesMax',
      checked.sendQueueBytesMax ?? 64 * 1_048_576,
      { min: this.frameBytesMax + 4 },
    );
    this.handshakeTimeoutMs = requireInteger(
      'TcpTransport options.handshakeTimeoutMs',
      checked.handshakeTimeoutMs ?? 5_000,
      { min: 1 },
    );
    this.connectTimeoutMs = requireInteger(
      'TcpTransport options.connectTimeoutMs',
      checked.connectTimeoutMs ?? 5_000,
      { min: 1 },
    );
    this.inboundConnectionCountMax = requireInteger(
      'TcpTransport options.inboundConnectionCountMax',
      checked.inboundConnectionCountMax ?? 64,
      { min: 1 },
    );
    this.peerCountMax = requireInteger(
      'TcpTransport options.peerCountMax',
      checked.peerCountMax ?? 1_024,
      { min: 1 },
    );
    this.#backoff =
      checked.backoff ?? new ExponentialBackoff({ delayMsBase: 50, delayMsMax: 5_000 });
    requireFunction('TcpTransport options.backoff.delayMs', this.#backoff.delayMs);
    this.#random = checked.random ?? systemRandom();
    this.#scheduler = checked.scheduler ?? systemScheduler;
    const peers = requireOptions('TcpTransport options.peers', checked.peers ?? {});
    for (const [peerId, address] of Object.entries(peers)) {
      if (peerId !== this.id) {
        this.#addPeer(`TcpTransport options.peers.${peerId}`, peerId, address);
      }
    }
  }

  /** The address the transport listens on, once started (with the real port). */
  get address(): PeerAddress | undefined {
    const bound = this.#server?.address();
    if (bound === null || bound === undefined || typeof bound === 'string') {
      return undefined;
    }
    return { host: bound.address, port: bound.port };
  }

  /** The ids of the peer table, in insertion order. */
  get peerIds(): string[] {
    return [...this.#peers.keys()];
  }

  /** Whether the outbound connection to `peerId` is authenticated and ready. */
  isConnected(peerId: string): boolean {
    return this.#peers.get(peerId)?.state === 'ready';
  }

  /** Messages and bytes waiting to be written to `peerId`. */
  queued(peerId: string): { readonly count: number; readonly bytes: number } {
    const peer = this.#requirePeer('peerId', peerId);
    return { count: peer.queuedCount, bytes: peer.queuedBytes };
  }

  /** Starts listening and dialling every peer. Resolves once listening. */
  async start(): Promise<void> {
    if (this.#state !== 'new') {
      throw this.#state === 'closed'
        ? new TransportClosedError()
        : new InvalidArgumentError('start', 'TcpTransport.start() was already called.');
    }
    this.#state = 'starting';
    const server =
      this.#tls === undefined
        ? netCreateServer({ noDelay: true }, this.#accept)
        : tlsCreateServer(
            {
              key: this.#tls.key as never,
              cert: this.#tls.cert as never,
              ca: this.#tls.ca as never,
              requestCert: true,
              rejectUnauthorized: true,
              minVersion: 'TLSv1.3',
              handshakeTimeout: this.handshakeTimeoutMs,
            },
            this.#accept,
          );
    this.#server = server;
    if (this.#tls !== undefined) {
      // TLS handshakes happen before a socket reaches #accept; this caps them too.
      server.maxConnections = this.inboundConnectionCountMax;
    }
    server.on('tlsClientError', (error: Error, socket: Socket) => {
      // A client without a certificate the CA signed never becomes a connection. Node.js
      // then reports the hang-up; the certificate's verdict is on the socket.
      const verdict = (socket as TLSSocket).authorizationError;
      const refused = verdict !== undefined && verdict !== null;
      this.#events.emit({
        kind: 'disconnected',
        peerId: undefined,
        direction: 'inbound',
        reason: refused || isTlsAuthenticationError(error) ? 'auth-failed' : 'connection-lost',
        authenticated: false,
        remoteAddress: describeAddress(socket),
        detail: `TLS handshake failed: ${refused ? String(verdict) : error.message}`,
      });
    });
    const address = `${this.#listen.host}:${this.#listen.port}`;
    this.#listening = new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => {
        reject(
          new ListenFailedError(
            address,
            `TcpTransport ${this.id} cannot listen on ${address} (${error.message}); free the ` +
              'port or choose another.',
            { cause: error },
          ),
        );
      };
      server.once('error', onError);
      server.listen(this.#listen.port, this.#listen.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    await this.#listening.catch((error: unknown) => {
      this.#state = 'closed';
      this.#server = undefined;
      throw error;
    });
    server.on('error', () => {
      // Errors after listening are per connection and handled there.
    });
    if (this.#state !== 'starting') {
      // close() ran while listening started.
      return;
    }
    this.#state = 'started';
    for (const peer of this.#peers.values()) {
      this.#dial(peer);
    }
  }

  /**
   * Adds a peer to the table, or moves an existing one to a new address (its connection
   * is re-dialled; the same address again changes nothing).
   */
  addPeer(peerId: string, address: PeerAddress): void {
    this.#requireOpen();
    const existing = this.#peers.get(requireId('peerId', peerId));
    if (existing !== undefined) {
      const moved = requireAddress('address', address, 1);
      if (moved.host === existing.address.host && moved.port === existing.address.port) {
        return;
      }
      existing.address = moved;
      this.#disconnectOutbound(existing, 'closed', 'the peer moved to a new address', false);
      this.#dial(existing);
      return;
    }
    if (peerId === this.id) {
      throw new InvalidArgumentError('peerId', `peerId ${peerId} is this node's own id.`);
    }
    const peer = this.#addPeer('address', peerId, address);
    if (this.#state === 'started') {
      this.#dial(peer);
    }
  }

  /** Removes a peer: its connections close, its queue is dropped, its dials stop. */
  removePeer(peerId: string): void {
    const peer = this.#requirePeer('peerId', peerId);
    this.#peers.delete(peerId);
    this.#disconnectOutbound(peer, 'closed', 'the peer was removed', false);
    this.#dropQueue(peer);
    const inbound = this.#inboundByPeer.get(peerId);
    if (inbound !== undefined) {
      this.#endInbound(inbound, 'closed', 'the peer was removed');
    }
  }

  send(peerId: string, message: unknown): SendResult {
    const peer = this.#peers.get(peerId);
    if (peer === undefined) {
      this.#requirePeer('peerId', peerId);
    }
    if (this.#state === 'closed') {
      return { queued: false, error: new TransportClosedError() };
    }
    const frame = encodeFrame(message, this.frameBytesMax);
    const target = peer as OutboundPeer;
    if (
      target.queuedCount >= this.sendQueueCountMax ||
      target.queuedBytes + frame.length > this.sendQueueBytesMax
    ) {
      return {
        queued: false,
        error: new SendQueueFullError(
          peerId,
          `The send queue for peer ${peerId} is full (${target.queuedCount} messages, ` +
            `${target.queuedBytes} bytes); the peer is down or slow. Retry later, or drop ` +
            'the message and let the protocol resend it.',
        ),
      };
    }
    const socket = target.socket;
    if (target.state === 'ready' && !target.draining && target.queuedCount === 0 && socket) {
      // Straight into the socket. The first send of a turn leaves at once (latency); the
      // ones after it in the same turn are corked and leave in one write at the end of the
      // turn (throughput). Once the socket's buffer is full, the queue takes over.
      if (target.turnSocket !== socket) {
        target.turnSocket = socket;
        process.nextTick(endTurn, target, socket);
      } else if (!target.corked) {
        target.corked = true;
        socket.cork();
      }
      if (!socket.write(frame)) {
        target.draining = true;
      }
      return queuedResult;
    }
    target.queue.push(frame);
    target.queuedBytes += frame.length;
    return queuedResult;
  }

  /** Closes the listener and every connection; pending timers are cancelled. */
  close(): Promise<void> {
    if (this.#closing !== undefined) {
      return this.#closing;
    }
    this.#state = 'closed';
    for (const peer of this.#peers.values()) {
      this.#disconnectOutbound(peer, 'closed', 'the transport was closed', false);
      this.#dropQueue(peer);
    }
    for (const connection of [...this.#inbound]) {
      this.#endInbound(connection, 'closed', 'the transport was closed');
    }
    const server = this.#server;
    // A listen still under way finishes first, so that the server it opens is closed.
    this.#closing = (this.#listening ?? Promise.resolve())
      .catch(() => undefined)
      .then(
        () =>
          new Promise<void>((resolve) => {
            if (server === undefined || !server.listening) {
              resolve();
              return;
            }
            server.close(() => resolve());
          }),
      );
    return this.#closing;
  }

  #requireOpen(): void {
    if (this.#state === 'closed') {
      throw new TransportClosedError();
    }
  }

  #requirePeer(name: string, peerId: unknown): OutboundPeer {
    const peer = typeof peerId === 'string' ? this.#peers.get(peerId) : undefined;
    if (peer === undefined) {
      throw new InvalidArgumentError(
        name,
        `${name} must be the id of a peer in the table; got ${JSON.stringify(String(peerId)).slice(0, 60)}.`,
      );
    }
    return peer;
  }

  #addPeer(name: string, peerId: string, address: PeerAddress): OutboundPeer {
    requireId(name, peerId);
    if (this.#peers.size >= this.peerCountMax) {
      throw new InvalidArgumentError(
        name,
        `The peer table is full (${this.peerCountMax} peers); raise options.peerCountMax.`,
      );
    }
    const peer = new OutboundPeer(peerId, requireAddress(name, address, 1));
    this.#peers.set(peerId, peer);
    return peer;
  }

  #dropQueue(peer: OutboundPeer): void {
    peer.queue = [];
    peer.queueHead = 0;
    peer.queuedBytes = 0;
  }

  // ---- outbound -----------------------------------------------------------------------

  #dial(peer: OutboundPeer): void {
    if (this.#state !== 'started' || this.#peers.get(peer.id) !== peer) {
      return;
    }
    peer.state = 'connecting';
    const { host, port } = peer.address;
    const tls = this.#tls;
    const socket: Socket =
      tls === undefined
        ? netConnect({ host, port, noDelay: true })
        : tlsConnect({
            host,
            port,
            key: tls.key as never,
            cert: tls.cert as never,
            ca: tls.ca as never,
            minVersion: 'TLSv1.3',
            checkServerIdentity: (_host, certificate) =>
              certificate.subject?.CN === peer.id
                ? undefined
                : new Error(
                    `the certificate names ${String(certificate.subject?.CN)}, not ${peer.id}`,
                  ),
          });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, keepAliveDelayMs);
    peer.socket = socket;
    const decoder = new FrameDecoder({ frameBytesMax: handshakeFrameBytesMax });
    peer.timer = this.#scheduler.schedule(this.connectTimeoutMs, () => {
      this.#failOutbound(
        peer,
        socket,
        'connect-timeout',
        `no connection within ${this.connectTimeoutMs} ms`,
      );
    });
    socket.once(tls === undefined ? 'connect' : 'secureConnect', () => {
      if (peer.socket !== socket) {
        return;
      }
      peer.timer?.cancel();
      peer.timer = this.#scheduler.schedule(this.handshakeTimeoutMs, () => {
        this.#failOutbound(
          peer,
          socket,
          'handshake-timeout',
          `no handshake within ${this.handshakeTimeoutMs} ms`,
        );
      });
      peer.state = 'handshaking';
      peer.nonce = new Uint8Array(randomBytes(nonceBytes));
      socket.write(
        encodeFrame(
          {
            kind: 'hello',
            version: protocolVersion,
            from: this.id,
            to: peer.id,
            nonce: peer.nonce,
          },
          handshakeFrameBytesMax,
        ),
      );
    });
    socket.on('data', (chunk: Buffer) => {
      if (peer.socket !== socket) {
        return;
      }
      const { messages, error } = decoder.push(chunk);
      for (const message of messages) {
        if (peer.socket !== socket) {
          return;
        }
        this.#onOutboundFrame(peer, socket, message);
      }
      if (error !== undefined && peer.socket === socket) {
        this.#failOutbound(peer, socket, decoderReason(error), error.message);
      }
    });
    socket.on('drain', () => {
      if (peer.socket === socket && peer.draining) {
        peer.draining = false;
        this.#flush(peer);
      }
    });
    socket.on('error', (error) => {
      if (peer.socket === socket) {
        const reason =
          tls !== undefined && peer.state === 'connecting' && isTlsAuthenticationError(error)
            ? 'auth-failed'
            : 'connection-lost';
        this.#failOutbound(peer, socket, reason, error.message);
      }
    });
    socket.on('close', () => {
      if (peer.socket === socket) {
        this.#failOutbound(peer, socket, 'connection-lost', 'the peer closed the connection');
      }
    });
  }

  #onOutboundFrame(peer: OutboundPeer, socket: Socket, frame: unknown): void {
    if (peer.state === 'ready') {
      this.#failOutbound(
        peer,
        socket,
        'protocol-violation',
        'the peer sent a frame on our outbound connection',
      );
      return;
    }
    if (peer.state === 'welcoming') {
      if (isWelcome(frame)) {
        this.#onWelcome(peer, socket);
      } else {
        this.#failOutbound(peer, socket, 'protocol-violation', 'expected a welcome frame');
      }
      return;
    }
    if (peer.state === 'handshaking' && peer.nonce !== undefined) {
      const challenge = parseChallenge(frame);
      if (challenge === undefined) {
        this.#failOutbound(peer, socket, 'protocol-violation', 'expected a challenge frame');
        return;
      }
      if (challenge.from !== peer.id) {
        this.#failOutbound(
          peer,
          socket,
          'identity-mismatch',
          `dialled ${peer.id} at ${peer.address.host}:${peer.address.port} but ${challenge.from.slice(0, 40)} answered`,
        );
        return;
      }
      if (this.#tls !== undefined && certificateName(socket) !== peer.id) {
        this.#failOutbound(
          peer,
          socket,
          'identity-mismatch',
          'the TLS certificate names another node',
        );
        return;
      }
      const input: ProofInput = {
        initiatorId: this.id,
        acceptorId: peer.id,
        initiatorNonce: peer.nonce,
        acceptorNonce: challenge.nonce,
      };
      if (!verifyProof(this.#secret, 'acceptor', input, challenge.proof)) {
        this.#failOutbound(
          peer,
          socket,
          'auth-failed',
          'the peer does not know the cluster secret',
        );
        return;
      }
      peer.state = 'welcoming';
      peer.nonce = undefined;
      socket.write(
        encodeFrame(
          { kind: 'proof', proof: handshakeProof(this.#secret, 'initiator', input) },
          handshakeFrameBytesMax,
        ),
      );
      return;
    }
    this.#failOutbound(peer, socket, 'protocol-violation', 'unexpected frame during the handshake');
  }

  #onWelcome(peer: OutboundPeer, socket: Socket): void {
    peer.timer?.cancel();
    peer.timer = undefined;
    peer.state = 'ready';
    peer.failedAttemptCount = 0;
    peer.previousDelayMs = 0;
    this.#events.emit({
      kind: 'connected',
      peerId: peer.id,
      direction: 'outbound',
      remoteAddress: describeAddress(socket),
    });
    this.#flush(peer);
  }

  readonly #flush = (peer: OutboundPeer): void => {
    const socket = peer.socket;
    if (peer.state !== 'ready' || socket === undefined || peer.draining) {
      return;
    }
    const queue = peer.queue;
    let head = peer.queueHead;
    let end = queue.length;
    if (head === end) {
      return;
    }
    socket.cork();
    let writable = true;
    while (head < end && writable) {
      const frame = queue[head] as Uint8Array;
      head += 1;
      peer.queuedBytes -= frame.length;
      writable = socket.write(frame);
      end = queue.length;
    }
    socket.uncork();
    if (head === queue.length) {
      peer.queue = [];
      peer.queueHead = 0;
    } else if (head > 1_024 && head * 2 > queue.length) {
      peer.queue = queue.slice(head);
      peer.queueHead = 0;
    } else {
      peer.queueHead = head;
    }
    if (!writable) {
      peer.draining = true;
    }
  };

  #failOutbound(
    peer: OutboundPeer,
    socket: Socket,
    reason: DisconnectReason,
    detail: string,
  ): void {
    if (peer.socket !== socket) {
      return;
    }
    this.#disconnectOutbound(peer, reason, detail, true);
  }

  #disconnectOutbound(
    peer: OutboundPeer,
    reason: DisconnectReason,
    detail: string,
    reconnect: boolean,
  ): void {
    peer.timer?.cancel();
    peer.timer = undefined;
    const socket = peer.socket;
    const wasState = peer.state;
    peer.socket = undefined;
    peer.nonce = undefined;
    peer.draining = false;
    peer.turnSocket = undefined;
    peer.corked = false;
    peer.state = 'idle';
    if (socket !== undefined) {
      socket.destroy();
      this.#events.emit({
        kind: 'disconnected',
        peerId: peer.id,
        direction: 'outbound',
        reason,
        authenticated: wasState === 'ready',
        remoteAddress: `${peer.address.host}:${peer.address.port}`,
        detail,
      });
    }
    if (!reconnect || this.#state !== 'started' || this.#peers.get(peer.id) !== peer) {
      return;
    }
    // A connection that was ready resets the count, so its loss retries after one short
    // backoff; a peer that keeps failing waits longer and longer.
    peer.failedAttemptCount += 1;
    const attempt = peer.failedAttemptCount;
    const delayMs = this.#backoff.delayMs(attempt, peer.previousDelayMs, this.#random);
    peer.previousDelayMs = delayMs;
    peer.state = 'backoff';
    this.#events.emit({ kind: 'reconnect-scheduled', peerId: peer.id, attempt, delayMs });
    peer.timer = this.#scheduler.schedule(delayMs, () => {
      peer.timer = undefined;
      this.#dial(peer);
    });
  }

  // ---- inbound ------------------------------------------------------------------------

  readonly #accept = (socket: Socket): void => {
    const remoteAddress = describeAddress(socket);
    if (this.#state !== 'started') {
      socket.destroy();
      return;
    }
    if (this.#inbound.size >= this.inboundConnectionCountMax) {
      socket.destroy();
      this.#events.emit({
        kind: 'disconnected',
        peerId: undefined,
        direction: 'inbound',
        reason: 'inbound-limit',
        authenticated: false,
        remoteAddress,
        detail: `${this.inboundConnectionCountMax} inbound connections are already open`,
      });
      return;
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true, keepAliveDelayMs);
    const connection = new InboundConnection(socket, remoteAddress);
    this.#inbound.add(connection);
    connection.timer = this.#scheduler.schedule(this.handshakeTimeoutMs, () => {
      connection.timer = undefined;
      this.#endInbound(
        connection,
        'handshake-timeout',
        `no handshake within ${this.handshakeTimeoutMs} ms`,
      );
    });
    socket.on('data', (chunk: Buffer) => {
      if (connection.state === 'ended') {
        return;
      }
      const { messages, error } = connection.decoder.push(chunk);
      for (const message of messages) {
        if (connection.state === 'ready') {
          this.#messages.emit({ from: connection.peerId as string, message });
        } else if ((connection.state as InboundState) === 'ended') {
          return;
        } else {
          this.#onHandshakeFrame(connection, message);
        }
      }
      if (error !== undefined) {
        this.#endInbound(connection, decoderReason(error), error.message);
      }
    });
    socket.on('error', (error) => {
      this.#endInbound(connection, 'connection-lost', error.message);
    });
    socket.on('close', () => {
      this.#endInbound(connection, 'connection-lost', 'the peer closed the connection');
    });
  };

  #onHandshakeFrame(connection: InboundConnection, frame: unknown): void {
    if (connection.state === 'awaiting-hello') {
      const hello = parseHello(frame);
      if (hello === undefined) {
        this.#endInbound(connection, 'protocol-violation', 'expected a hello frame');
        return;
      }
      connection.peerId = hello.from;
      if (hello.version !== protocolVersion) {
        this.#endInbound(
          connection,
          'protocol-violation',
          `protocol version ${hello.version} is not ${protocolVersion}`,
        );
        return;
      }
      if (hello.to !== this.id) {
        this.#endInbound(connection, 'identity-mismatch', `the peer meant to reach ${hello.to}`);
        return;
      }
      if (hello.from === this.id || !this.#peers.has(hello.from)) {
        this.#endInbound(connection, 'unknown-peer', `${hello.from} is not in the peer table`);
        return;
      }
      if (this.#tls !== undefined && certificateName(connection.socket) !== hello.from) {
        this.#endInbound(connection, 'identity-mismatch', 'the TLS certificate names another node');
        return;
      }
      const nonce = new Uint8Array(randomBytes(nonceBytes));
      connection.proofInput = {
        initiatorId: hello.from,
        acceptorId: this.id,
        initiatorNonce: hello.nonce,
        acceptorNonce: nonce,
      };
      connection.state = 'awaiting-proof';
      connection.socket.write(
        encodeFrame(
          {
            kind: 'challenge',
            from: this.id,
            nonce,
            proof: handshakeProof(this.#secret, 'acceptor', connection.proofInput),
          },
          handshakeFrameBytesMax,
        ),
      );
      return;
    }
    const proof = parseProof(frame);
    const input = connection.proofInput;
    if (proof === undefined || input === undefined) {
      this.#endInbound(connection, 'protocol-violation', 'expected a proof frame');
      return;
    }
    if (!verifyProof(this.#secret, 'initiator', input, proof.proof)) {
      this.#endInbound(
        connection,
        'auth-failed',
        `the proof does not match ${input.initiatorId} and the cluster secret`,
      );
      return;
    }
    const peerId = input.initiatorId;
    if (this.#inboundByPeer.has(peerId)) {
      this.#endInbound(
        connection,
        'duplicate-identity',
        `${peerId} is already connected from ${this.#inboundByPeer.get(peerId)?.remoteAddress}`,
      );
      return;
    }
    connection.timer?.cancel();
    connection.timer = undefined;
    connection.state = 'ready';
    connection.decoder.frameBytesMax = this.frameBytesMax;
    this.#inboundByPeer.set(peerId, connection);
    connection.socket.write(encodeFrame({ kind: 'welcome' }, handshakeFrameBytesMax));
    this.#events.emit({
      kind: 'connected',
      peerId,
      direction: 'inbound',
      remoteAddress: connection.remoteAddress,
    });
  }

  #endInbound(connection: InboundConnection, reason: DisconnectReason, detail: string): void {
    if (connection.state === 'ended') {
      return;
    }
    const authenticated = connection.state === 'ready';
    connection.state = 'ended';
    connection.timer?.cancel();
    connection.timer = undefined;
    connection.socket.destroy();
    this.#inbound.delete(connection);
    if (
      connection.peerId !== undefined &&
      this.#inboundByPeer.get(connection.peerId) === connection
    ) {
      this.#inboundByPeer.delete(connection.peerId);
    }
    this.#events.emit({
      kind: 'disconnected',
      peerId: connection.peerId,
      direction: 'inbound',
      reason,
      authenticated,
      remoteAddress: connection.remoteAddress,
      detail,
    });
  }
}
