/**
 * Typed errors of `distkit/net`. Each has a stable `code` and a brand guard that works
 * across copies of the package.
 *
 * @module
 */

import { DistkitError, type DistkitErrorOptions, errorGuard } from '../core/index.js';

/** A frame's payload is longer than the frame limit, on the way out or on the way in. */
export class FrameTooLargeError extends DistkitError {
  /** The payload length, in bytes, that was refused. */
  readonly frameBytes: number;
  /** The limit it broke, in bytes. */
  readonly frameBytesMax: number;

  constructor(frameBytes: number, frameBytesMax: number, options?: DistkitErrorOptions) {
    super(
      'FRAME_TOO_LARGE',
      `A frame of ${frameBytes} bytes is over the limit of ${frameBytesMax} bytes; send ` +
        'smaller messages (split them) or raise frameBytesMax on every node.',
      options,
    );
    this.frameBytes = frameBytes;
    this.frameBytesMax = frameBytesMax;
  }
}

/** Brand guard for {@link FrameTooLargeError}. */
export const isFrameTooLargeError = errorGuard<FrameTooLargeError>('FRAME_TOO_LARGE');

/** A received frame's payload is not one valid MessagePack value. */
export class FrameMalformedError extends DistkitError {
  constructor(message: string, options?: DistkitErrorOptions) {
    super('FRAME_MALFORMED', message, options);
  }
}

/** Brand guard for {@link FrameMalformedError}. */
export const isFrameMalformedError = errorGuard<FrameMalformedError>('FRAME_MALFORMED');

/** A message cannot be encoded as MessagePack (a function, a BigInt beyond 64 bits, ...). */
export class MessageNotEncodableError extends DistkitError {
  constructor(message: string, options?: DistkitErrorOptions) {
    super('MESSAGE_NOT_ENCODABLE', message, options);
  }
}

/** Brand guard for {@link MessageNotEncodableError}. */
export const isMessageNotEncodableError =
  errorGuard<MessageNotEncodableError>('MESSAGE_NOT_ENCODABLE');

/** A peer's send queue is at its count or byte limit; the message was not queued. */
export class SendQueueFullError extends DistkitError {
  /** The peer whose queue is full. */
  readonly peerId: string;

  constructor(peerId: string, message: string, options?: DistkitErrorOptions) {
    super('SEND_QUEUE_FULL', message, options);
    this.peerId = peerId;
  }
}

/** Brand guard for {@link SendQueueFullError}. */
export const isSendQueueFullError = errorGuard<SendQueueFullError>('SEND_QUEUE_FULL');

/** The transport was closed (or is closing); it sends and receives nothing more. */
export class TransportClosedError extends DistkitError {
  constructor(message?: string, options?: DistkitErrorOptions) {
    super(
      'TRANSPORT_CLOSED',
      message ?? 'The transport is closed; create a new one to talk to peers again.',
      options,
    );
  }
}

/** Brand guard for {@link TransportClosedError}. */
export const isTransportClosedError = errorGuard<TransportClosedError>('TRANSPORT_CLOSED');

/** `TcpTransport.start()` could not listen (the port is taken, the address is not local). */
export class ListenFailedError extends DistkitError {
  /** The `host:port` it tried. */
  readonly address: string;

  constructor(address: string, message: string, options?: DistkitErrorOptions) {
    super('LISTEN_FAILED', message, options);
    this.address = address;
  }
}

/** Brand guard for {@link ListenFailedError}. */
export const isListenFailedError = errorGuard<ListenFailedError>('LISTEN_FAILED');
