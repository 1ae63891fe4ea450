/**
 * The authentication handshake, run on every new connection before any application
 * frame. The side that dials is the initiator, the side that accepts the acceptor:
 *
 * 1. initiator → acceptor `hello { version, from, to, nonce }`: who it is, whom it meant
 *    to reach, and 32 fresh random bytes.
 * 2. acceptor → initiator `challenge { from, nonce, proof }`: its own 32 random bytes and
 *    `HMAC-SHA256(secret, "acceptor" ‖ from ‖ to ‖ nonces)`.
 * 3. initiator → acceptor `proof { proof }`: `HMAC-SHA256(secret, "initiator" ‖ ...)`
 *    over the same fields.
 * 4. acceptor → initiator `welcome {}`; application frames follow.
 *
 * Both proofs bind both ids and both nonces, and the role label keeps one side's proof
 * from being replayed as the other's; fresh nonces keep an old proof from being replayed
 * on a new connection. With TLS alone (no secret) the proofs are empty and each side's id
 * must instead be the common name of the certificate it presented.
 *
 * @module
 */

import { createHmac, timingSafeEqual } from 'node:crypto';

/** Protocol version carried in `hello`; a peer with another version is refused. */
export const protocolVersion = 1;

/** Bytes of each handshake nonce. */
export const nonceBytes = 32;

/** Largest frame accepted before a peer has authenticated, in bytes. */
export const handshakeFrameBytesMax = 1_024;

/** Longest node id, in UTF-16 code units. */
export const idLengthMax = 128;

/** The first frame of a connection, from the initiator. */
export interface HelloFrame {
  readonly kind: 'hello';
  readonly version: number;
  readonly from: string;
  readonly to: string;
  readonly nonce: Uint8Array;
}

/** The acceptor's answer to `hello`. */
export interface ChallengeFrame {
  readonly kind: 'challenge';
  readonly from: string;
  readonly nonce: Uint8Array;
  readonly proof: Uint8Array;
}

/** The initiator's proof. */
export interface ProofFrame {
  readonly kind: 'proof';
  readonly proof: Uint8Array;
}

/** The acceptor's acceptance; application frames follow it. */
export interface WelcomeFrame {
  readonly kind: 'welcome';
}

/** Which side of the handshake computes a proof. */
export type HandshakeRole = 'initiator' | 'acceptor';

/** The fields both proofs cover. */
export interface ProofInput {
  readonly initiatorId: string;
  readonly acceptorId: string;
  readonly initiatorNonce: Uint8Array;
  readonly acceptorNonce: Uint8Array;
}

/** A length-prefixed field, so that no two different field lists hash the same bytes. */
function field(bytes: Uint8Array): Uint8Array[] {
  const prefix = new Uint8Array(4);
  new DataView(prefix.buffer).setUint32(0, bytes.length);
  return [prefix, bytes];
}

/**
 * The proof `role` sends: HMAC-SHA256 under the cluster secret of the role, both ids and
 * both nonces. Empty without a secret (TLS-only clusters).
 */
export function handshakeProof(
  secret: Uint8Array | undefined,
  role: HandshakeRole,
  input: ProofInput,
): Uint8Array {
  if (secret === undefined) {
    return new Uint8Array(0);
  }
  const hmac = createHmac('sha256', secret);
  const encoder = new TextEncoder();
  for (const part of [
    ...field(encoder.encode(`distkit/net/${protocolVersion}/${role}`)),
    ...field(encoder.encode(input.initiatorId)),
    ...field(encoder.encode(input.acceptorId)),
    ...field(input.initiatorNonce),
    ...field(input.acceptorNonce),
  ]) {
    hmac.update(part);
  }
  return new Uint8Array(hmac.digest());
}

/** Whether `received` is the proof `role` should have sent; constant time in its content. */
export function verifyProof(
  secret: Uint8Array | undefined,
  role: HandshakeRole,
  input: ProofInput,
  received: Uint8Array,
): boolean {
  const expected = handshakeProof(secret, role, input);
  return expected.length === received.length && timingSafeEqual(expected, received);
}

/** A decoded frame before its fields are checked. */
interface UncheckedFrame {
  readonly kind?: unknown;
  readonly version?: unknown;
  readonly from?: unknown;
  readonly to?: unknown;
  readonly nonce?: unknown;
  readonly proof?: unknown;
}

function isRecord(value: unknown): value is UncheckedFrame {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= idLengthMax;
}

function isNonce(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === nonceBytes;
}

function isProof(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length <= 64;
}

/** `value` as a well-formed `hello`, or undefined. */
export function parseHello(value: unknown): HelloFrame | undefined {
  if (
    isRecord(value) &&
    value.kind === 'hello' &&
    typeof value.version === 'number' &&
    isId(value.from) &&
    isId(value.to) &&
    isNonce(value.nonce)
  ) {
    return value as unknown as HelloFrame;
  }
  return undefined;
}

/** `value` as a well-formed `challenge`, or undefined. */
export function parseChallenge(value: unknown): ChallengeFrame | undefined {
  if (
    isRecord(value) &&
    value.kind === 'challenge' &&
    isId(value.from) &&
    isNonce(value.nonce) &&
    isProof(value.proof)
  ) {
    return value as unknown as ChallengeFrame;
  }
  return undefined;
}

/** `value` as a well-formed `proof`, or undefined. */
export function parseProof(value: unknown): ProofFrame | undefined {
  if (isRecord(value) && value.kind === 'proof' && isProof(value.proof)) {
    return value as unknown as ProofFrame;
  }
  return undefined;
}

/** Whether `value` is a `welcome`. */
export function isWelcome(value: unknown): value is WelcomeFrame {
  return isRecord(value) && value.kind === 'welcome';
}
