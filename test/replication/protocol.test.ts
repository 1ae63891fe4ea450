/**
 * The replication port's request parser: what a driver checks before handing a
 * network value to a replica.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseReplicaRequest } from '../../src/replication/index.js';

describe('parseReplicaRequest', () => {
  it('accepts reads and writes and copies only the known fields', () => {
    const parsed = parseReplicaRequest({
      id: 'c1:1',
      client: 'c1',
      operation: { kind: 'write', key: 'k', value: 'v', extra: 1 },
      settings: { writeQuorum: 2, localRead: true, other: 'x' },
      session: 'token',
      unknown: true,
    });
    assert.deepEqual(parsed, {
      ok: true,
      request: {
        id: 'c1:1',
        client: 'c1',
        operation: { kind: 'write', key: 'k', value: 'v' },
        settings: { writeQuorum: 2, localRead: true },
        session: 'token',
      },
    });
    assert.deepEqual(
      parseReplicaRequest({ id: 'a', client: 'b', operation: { kind: 'read', key: '' } }),
      {
        ok: true,
        request: { id: 'a', client: 'b', operation: { kind: 'read', key: '' } },
      },
    );
  });

  it('names the field that is wrong', () => {
    const base = { id: 'a', client: 'b', operation: { kind: 'read', key: 'k' } };
    const cases: [unknown, RegExp][] = [
      [null, /object/],
      [{ ...base, id: '' }, /^id/],
      [{ ...base, client: 3 }, /^client/],
      [{ ...base, operation: { kind: 'delete', key: 'k' } }, /operation\.kind/],
      [{ ...base, operation: { kind: 'write', key: 'k' } }, /operation\.value/],
      [{ ...base, settings: { readQuorum: 0 } }, /settings\.readQuorum/],
      [{ ...base, settings: { localRead: 'yes' } }, /settings\.localRead/],
      [{ ...base, session: 5 }, /^session/],
      [{ ...base, operation: { kind: 'write', key: 'k', value: 'x'.repeat(11) } }, /longer/],
    ];
    for (const [value, pattern] of cases) {
      const parsed = parseReplicaRequest(value, { valueLengthMax: 10 });
      assert.equal(parsed.ok, false, JSON.stringify(value));
      assert.match(parsed.ok ? '' : parsed.reason, pattern);
    }
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const parsed = parseReplicaRequest(value);
        return parsed.ok
          ? typeof parsed.request.id === 'string'
          : typeof parsed.reason === 'string';
      }),
    );
  });
});
