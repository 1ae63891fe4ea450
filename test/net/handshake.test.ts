import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  handshakeProof,
  type ProofInput,
  parseChallenge,
  parseHello,
  parseProof,
  verifyProof,
} from '../../src/net/handshake.js';

const secret = new TextEncoder().encode('test-cluster-secret-0123456789ab');
const nonce = fc.uint8Array({ minLength: 32, maxLength: 32 });
const id = fc.string({ minLength: 1, maxLength: 20 });
const input = fc.record({
  initiatorId: id,
  acceptorId: id,
  initiatorNonce: nonce,
  acceptorNonce: nonce,
});

describe('handshake proofs', () => {
  it('verify for the same secret, role, ids and nonces', () => {
    fc.assert(
      fc.property(input, (fields) => {
        for (const role of ['initiator', 'acceptor'] as const) {
          assert.ok(verifyProof(secret, role, fields, handshakeProof(secret, role, fields)));
        }
      }),
      { numRuns: 100 },
    );
  });

  it('fail when any field, the role or the secret differs', () => {
    fc.assert(
      fc.property(input, input, (fields, other) => {
        const proof = handshakeProof(secret, 'initiator', fields);
        assert.ok(!verifyProof(secret, 'acceptor', fields, proof), 'no reflection across roles');
        const wrongSecret = new TextEncoder().encode('another-secret-0123456789abcdef!');
        assert.ok(!verifyProof(wrongSecret, 'initiator', fields, proof));
        for (const key of Object.keys(fields) as (keyof ProofInput)[]) {
          const changed = { ...fields, [key]: other[key] };
          const same =
            typeof fields[key] === 'string'
              ? fields[key] === other[key]
              : Buffer.compare(fields[key] as Uint8Array, other[key] as Uint8Array) === 0;
          assert.equal(verifyProof(secret, 'initiator', changed, proof), same, key);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('do not confuse ids whose concatenations agree', () => {
    const nonces = { initiatorNonce: new Uint8Array(32), acceptorNonce: new Uint8Array(32) };
    const one = handshakeProof(secret, 'initiator', {
      initiatorId: 'ab',
      acceptorId: 'c',
      ...nonces,
    });
    const two = handshakeProof(secret, 'initiator', {
      initiatorId: 'a',
      acceptorId: 'bc',
      ...nonces,
    });
    assert.notDeepEqual(one, two);
  });

  it('are empty without a secret (TLS-only clusters) and then only an empty proof verifies', () => {
    const fields: ProofInput = {
      initiatorId: 'a',
      acceptorId: 'b',
      initiatorNonce: new Uint8Array(32),
      acceptorNonce: new Uint8Array(32),
    };
    assert.equal(handshakeProof(undefined, 'initiator', fields).length, 0);
    assert.ok(verifyProof(undefined, 'initiator', fields, new Uint8Array(0)));
    assert.ok(!verifyProof(undefined, 'initiator', fields, new Uint8Array(32)));
  });
});

describe('handshake frame parsing', () => {
  it('accepts well-formed frames and refuses anything else', () => {
    const hello = { kind: 'hello', version: 1, from: 'a', to: 'b', nonce: new Uint8Array(32) };
    assert.deepEqual(parseHello(hello), hello);
    assert.equal(parseHello({ ...hello, nonce: new Uint8Array(31) }), undefined);
    assert.equal(parseHello({ ...hello, from: '' }), undefined);
    assert.equal(parseHello({ ...hello, from: 'x'.repeat(129) }), undefined);
    assert.equal(parseHello([hello]), undefined);
    const challenge = {
      kind: 'challenge',
      from: 'b',
      nonce: new Uint8Array(32),
      proof: new Uint8Array(32),
    };
    assert.deepEqual(parseChallenge(challenge), challenge);
    assert.equal(parseChallenge({ ...challenge, proof: new Uint8Array(65) }), undefined);
    assert.deepEqual(parseProof({ kind: 'proof', proof: new Uint8Array(32) }), {
      kind: 'proof',
      proof: new Uint8Array(32),
    });
    fc.assert(
      fc.property(fc.anything(), (value) => {
        parseHello(value);
        parseChallenge(value);
        parseProof(value);
      }),
      { numRuns: 300 },
    );
  });
});
