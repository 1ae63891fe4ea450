/**
 * `distkit/net`: the TCP transport that carries protocol messages between nodes.
 *
 * {@link TcpTransport} sends messages to peers by id over length-prefixed MessagePack
 * frames, with one outbound connection per peer, bounded send queues, reconnection with
 * backoff from `distkit/resilience`, an HMAC challenge-response handshake on a cluster
 * secret and optional mutual TLS. {@link FrameDecoder} and {@link encodeFrame} are the
 * frame codec on their own.
 *
 * @packageDocumentation
 */

export {
  FrameMalformedError,
  FrameTooLargeError,
  isFrameMalformedError,
  isFrameTooLargeError,
  isListenFailedError,
  isMessageNotEncodableError,
  isSendQueueFullError,
  isTransportClosedError,
  ListenFailedError,
  MessageNotEncodableError,
  SendQueueFullError,
  TransportClosedError,
} from './errors.js';
export {
  type DecodedChunk,
  decodePayload,
  encodeFrame,
  FrameDecoder,
  type FrameDecoderOptions,
  frameBytesMaxLimit,
  frameHeaderBytes,
} from './frame.js';
export {
  type ConnectionDirection,
  type DisconnectReason,
  type PeerAddress,
  type PeerTransport,
  type ReceivedMessage,
  type SendResult,
  TcpTransport,
  type TcpTransportOptions,
  type TransportEvent,
  type TransportTlsOptions,
} from './tcp-transport.js';
