import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isInvalidArgumentError, isLimitExceededError } from '../../src/core/index.js';
import { isCrdtEncodingError } from '../../src/crdt/causal.js';
import {
  compareTextReplicaIds,
  TextDocument,
  type TextReplicaId,
  textReplicaIdLengthMax,
} from '../../src/crdt/text.js';

function documentOf(replicaId: TextReplicaId, text = ''): TextDocument {
  const document = new TextDocument({ replicaId });
  document.insert(0, text);
  return document;
}

/** Brings `target` up to date with `source` through a version-based update. */
function sync(source: TextDocument, target: TextDocument): void {
  target.applyUpdate(source.encodeUpdate(target.encodeVersion()));
}

/** A document's observable state: its text and what it has integrated. */
function snapshot(document: TextDocument): { text: string; version: [TextReplicaId, number][] } {
  return {
    text: document.toString(),
    version: [...document.version()].sort(([left], [right]) => compareTextReplicaIds(left, right)),
  };
}

/** Throws unless the document's caches agree with its content and its state round-trips. */
function assertConsistent(document: TextDocument): void {
  const text = document.toString();
  assert.equal(document.length, text.length);
  const loaded = TextDocument.load(document.encodeState(), { replicaId: 'consistency-check' });
  assert.equal(loaded.toString(), text);
}

describe('TextDocument: local editing', () => {
  it('inserts and deletes by position', () => {
    const document = new TextDocument({ replicaId: 'a' });
    document.insert(0, 'hello');
    document.insert(5, ' world');
    document.insert(0, '> ');
    document.delete(2, 1);
    document.insert(2, 'H');
    document.delete(7, 6);
    assert.equal(document.toString(), '> Hello');
    assert.equal(document.length, 7);
    document.delete(0, 7);
    assert.equal(document.toString(), '');
    document.insert(0, 'again');
    assert.equal(document.toString(), 'again');
  });

  it('positions count UTF-16 code units, and any string survives the encodings', () => {
    const document = new TextDocument({ replicaId: 'a' });
    document.insert(0, 'a😀b');
    assert.equal(document.length, 4);
    // Splitting a surrogate pair is allowed; the encoding falls back to UTF-16.
    document.insert(2, 'x');
    assert.equal(document.toString(), 'a\uD83Dx\uDE00b');
    const loaded = TextDocument.load(document.encodeState(), { replicaId: 'b' });
    assert.equal(loaded.toString(), 'a\uD83Dx\uDE00b');
    document.delete(2, 1);
    sync(document, loaded);
    assert.equal(loaded.toString(), 'a😀b');
  });

  it('matches a plain string under random edits', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            insert: fc.boolean(),
            at: fc.nat(),
            count: fc.integer({ min: 1, max: 8 }),
            text: fc.string({ minLength: 1, maxLength: 6 }),
          }),
          { maxLength: 120 },
        ),
        (edits) => {
          const document = new TextDocument({ replicaId: 1 });
          let model = '';
          for (const edit of edits) {
            if (edit.insert || model.length === 0) {
              const position = edit.at % (model.length + 1);
              document.insert(position, edit.text);
              model = model.slice(0, position) + edit.text + model.slice(position);
            } else {
              const position = edit.at % model.length;
              const count = Math.min(edit.count, model.length - position);
              document.delete(position, count);
              model = model.slice(0, position) + model.slice(position + count);
            }
            assert.equal(document.length, model.length);
          }
          assert.equal(document.toString(), model);
          assertConsistent(document);
        },
      ),
    );
  });

  it('keeps long documents correct across many blocks', () => {
    const document = new TextDocument({ replicaId: 'a' });
    let model = '';
    // Every other character from different places, so pieces cannot merge.
    for (let index = 0; index < 3_000; index += 1) {
      const position = (index * 7919) % (model.length + 1);
      const text = String.fromCharCode(97 + (index % 26));
      document.insert(position, text);
      model = model.slice(0, position) + text + model.slice(position);
    }
    for (let index = 0; index < 1_000; index += 1) {
      const position = (index * 104_729) % model.length;
      document.delete(position, 1);
      model = model.slice(0, position) + model.slice(position + 1);
    }
    assert.equal(document.toString(), model);
    assertConsistent(document);
  });

  it('validates its arguments with InvalidArgumentError naming them', () => {
    const document = documentOf('a', 'abc');
    const cases: [() => unknown, string][] = [
      [() => document.insert(4, 'x'), 'position'],
      [() => document.insert(-1, 'x'), 'position'],
      [() => document.insert(1.5, 'x'), 'position'],
      [() => document.insert(0, 5 as unknown as string), 'text'],
      [() => document.delete(1, 3), 'count'],
      [() => document.delete(3, -1), 'count'],
      [() => document.delete(4, 0), 'position'],
      [() => document.applyUpdate('x' as unknown as Uint8Array), 'update'],
      [() => document.encodeUpdate([1] as unknown as Uint8Array), 'version'],
      [() => new TextDocument({ replicaId: '' }), 'options.replicaId'],
      [() => new TextDocument({ replicaId: -1 }), 'options.replicaId'],
      [() => new TextDocument({ replicaId: 1.5 }), 'options.replicaId'],
      [() => new TextDocument({ replicaId: Number.NaN }), 'options.replicaId'],
      [
        () => new TextDocument({ replicaId: 'x'.repeat(textReplicaIdLengthMax + 1) }),
        'options.replicaId',
      ],
      [() => new TextDocument({ replicaId: {} as unknown as TextReplicaId }), 'options.replicaId'],
      [() => new TextDocument(undefined as unknown as { replicaId: string }), 'options.replicaId'],
      [() => new TextDocument({ replicaId: 'a', pendingCountMax: -1 }), 'options.pendingCountMax'],
      [() => new TextDocument({ replicaId: 'a', replicaCountMax: 0 }), 'options.replicaCountMax'],
    ];
    for (const [call, argument] of cases) {
      assert.throws(call, (error: unknown) => {
        assert.ok(isInvalidArgumentError(error), `expected InvalidArgumentError for ${argument}`);
        assert.equal(error.argument, argument);
        return true;
      });
    }
    assert.equal(document.toString(), 'abc');
  });

  it('orders replica ids: numbers before strings, numbers by value, strings by code units', () => {
    const ids: TextReplicaId[] = ['b', 10, 'a', 2, 'B', 'aa'];
    assert.deepEqual([...ids].sort(compareTextReplicaIds), [2, 10, 'B', 'a', 'aa', 'b']);
  });
});

describe('TextDocument: concurrent insertions at one place', () => {
  it('puts the smaller replica id first, whatever the delivery order', () => {
    const base = documentOf('base', 'xy');
    const state = base.encodeState();
    const orders = [
      ['a', 'b', 'c'],
      ['c', 'b', 'a'],
      ['b', 'c', 'a'],
    ];
    for (const order of orders) {
      const replicas = ['c', 'a', 'b'].map((id) => TextDocument.load(state, { replicaId: id }));
      for (const replica of replicas) {
        replica.insert(
          1,
          replica.replicaId === 'a' ? 'AA' : replica.replicaId === 'b' ? 'B' : 'CCC',
        );
      }
      const updates = new Map(
        replicas.map((replica) => [replica.replicaId, replica.takeLocalUpdate()]),
      );
      const target = TextDocument.load(state, { replicaId: 'target' });
      for (const id of order) {
        target.applyUpdate(updates.get(id) as Uint8Array);
      }
      assert.equal(target.toString(), 'xAABCCCy');
      for (const replica of replicas) {
        for (const id of order) {
          replica.applyUpdate(updates.get(id) as Uint8Array);
        }
        assert.equal(replica.toString(), 'xAABCCCy');
      }
    }
  });

  it('puts numeric ids before string ids, and keeps each run together', () => {
    const left = documentOf(7);
    const right = documentOf('0');
    left.insert(0, 'seven');
    right.insert(0, 'zero');
    sync(left, right);
    sync(right, left);
    assert.equal(left.toString(), 'sevenzero');
    assert.equal(right.toString(), 'sevenzero');
  });

  it('inserts at the end of a concurrent run go after it, at its start before it', () => {
    const a = documentOf('a', 'base');
    const b = TextDocument.load(a.encodeState(), { replicaId: 'b' });
    a.insert(4, ' from a');
    b.insert(4, ' from b');
    a.insert(0, '1 ');
    b.insert(0, '2 ');
    sync(a, b);
    sync(b, a);
    assert.equal(a.toString(), '1 2 base from a from b');
    assert.equal(b.toString(), a.toString());
  });
});

describe('TextDocument: updates', () => {
  it('merges updates in any order, buffering what is not ready', () => {
    const a = documentOf('a');
    const updates: Uint8Array[] = [];
    for (const word of ['one ', 'two ', 'three ']) {
      a.insert(a.length, word);
      updates.push(a.takeLocalUpdate());
    }
    a.delete(0, 4);
    updates.push(a.takeLocalUpdate());
    const b = documentOf('b');
    b.applyUpdate(updates[3] as Uint8Array);
    b.applyUpdate(updates[2] as Uint8Array);
    assert.equal(b.toString(), '');
    assert.equal(b.pendingCount, 2);
    b.applyUpdate(updates[1] as Uint8Array);
    assert.equal(b.toString(), '');
    b.applyUpdate(updates[0] as Uint8Array);
    assert.equal(b.pendingCount, 0);
    assert.equal(b.toString(), 'two three ');
    for (const update of updates) {
      b.applyUpdate(update);
    }
    assert.equal(b.toString(), 'two three ');
    assert.deepEqual(snapshot(b).version, [['a', 14]]);
  });

  it('applies a deletion only once the deleted characters arrive', () => {
    const a = documentOf('a', 'hello world');
    const b = documentOf('b');
    const insertion = a.takeLocalUpdate();
    a.delete(0, 6);
    const deletion = a.takeLocalUpdate();
    b.applyUpdate(deletion);
    assert.equal(b.pendingCount, 1);
    b.applyUpdate(insertion);
    assert.equal(b.pendingCount, 0);
    assert.equal(b.toString(), 'world');
  });

  it('merge() of a whole state into a document that has edits of its own', () => {
    const a = documentOf('a', 'shared text');
    const b = TextDocument.load(a.encodeState(), { replicaId: 'b' });
    a.delete(0, 7);
    a.insert(a.length, ' (a)');
    b.insert(0, 'the ');
    b.applyUpdate(a.encodeState());
    a.applyUpdate(b.encodeState());
    assert.equal(a.toString(), 'the text (a)');
    assert.equal(b.toString(), 'the text (a)');
  });

  it('rejects an update that would hold back more than pendingCountMax pieces', () => {
    const a = documentOf('a');
    const updates: Uint8Array[] = [];
    for (const word of ['one', 'two', 'three']) {
      a.insert(a.length, word);
      updates.push(a.takeLocalUpdate());
    }
    const b = new TextDocument({ replicaId: 'b', pendingCountMax: 1 });
    b.applyUpdate(updates[1] as Uint8Array);
    assert.throws(() => b.applyUpdate(updates[2] as Uint8Array), isLimitExceededError);
    assert.equal(b.pendingCount, 1);
    b.applyUpdate(updates[0] as Uint8Array);
    b.applyUpdate(updates[2] as Uint8Array);
    assert.equal(b.toString(), 'onetwothree');
    assert.equal(b.pendingCount, 0);
  });

  it('rejects an update that names more than replicaCountMax replicas', () => {
    const a = documentOf('a', 'x');
    const b = documentOf('b', 'y');
    sync(b, a);
    const c = new TextDocument({ replicaId: 'c', replicaCountMax: 2 });
    assert.throws(() => c.applyUpdate(a.encodeState()), isLimitExceededError);
    assert.equal(c.toString(), '');
  });
});

describe('TextDocument: malformed encodings', () => {
  function sampleDocument(): TextDocument {
    const a = documentOf('alice', 'The quick brown fox');
    const b = TextDocument.load(a.encodeState(), { replicaId: 7 });
    a.delete(4, 6);
    b.insert(19, ' jumps');
    b.insert(0, '> ');
    sync(b, a);
    return a;
  }

  it('throws CrdtEncodingError for every truncation, and changes nothing', () => {
    const source = sampleDocument();
    const encodings = [
      source.encodeState(),
      source.encodeUpdate(documentOf('x').encodeVersion()),
      source.encodeUpdate(source.encodeVersion()),
    ];
    for (const encoded of encodings) {
      for (let length = 0; length < encoded.length; length += 1) {
        const target = documentOf('target', 'untouched');
        assert.throws(() => target.applyUpdate(encoded.subarray(0, length)), isCrdtEncodingError);
        assert.throws(
          () => TextDocument.load(encoded.subarray(0, length), { replicaId: 'z' }),
          isCrdtEncodingError,
        );
        assert.equal(target.toString(), 'untouched');
        assert.equal(target.pendingCount, 0);
      }
    }
    const version = source.encodeVersion();
    for (let length = 0; length < version.length; length += 1) {
      assert.throws(() => source.encodeUpdate(version.subarray(0, length)), isCrdtEncodingError);
    }
  });

  it('rejects wrong headers and trailing bytes', () => {
    const state = sampleDocument().encodeState();
    const target = documentOf('t');
    for (const bytes of [
      new Uint8Array([]),
      new Uint8Array([0x54, 2, 0]),
      new Uint8Array([0x56, 1, 0]),
      new Uint8Array([0x54, 1, 9]),
      Uint8Array.from([...state, 0]),
    ]) {
      assert.throws(() => target.applyUpdate(bytes), isCrdtEncodingError);
    }
  });

  it('never corrupts the document: a flipped byte throws CrdtEncodingError or merges consistently', () => {
    const source = sampleDocument();
    const encodings = [source.encodeState(), source.encodeUpdate(documentOf('x').encodeVersion())];
    fc.assert(
      fc.property(
        fc.constantFrom(0, 1),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (which, at, mask) => {
          const encoded = (encodings[which] as Uint8Array).slice();
          const index = at % encoded.length;
          encoded[index] = (encoded[index] as number) ^ mask;
          const target = documentOf('target', 'untouched');
          const before = snapshot(target);
          try {
            target.applyUpdate(encoded);
          } catch (error) {
            assert.ok(isCrdtEncodingError(error), `unexpected ${String(error)}`);
            assert.deepEqual(snapshot(target), before);
            return;
          }
          assertConsistent(target);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('TextDocument: restarting a replica', () => {
  it('continues its seqs from a saved state, and does not re-broadcast what peers sent back', () => {
    const a = documentOf('a', 'first ');
    const saved = a.encodeState();
    a.insert(a.length, 'second ');
    const peer = documentOf('peer');
    sync(a, peer);

    const restarted = TextDocument.load(saved, { replicaId: 'a' });
    const nothing = documentOf('y');
    nothing.applyUpdate(restarted.takeLocalUpdate());
    assert.equal(nothing.toString(), '');
    assert.equal(nothing.pendingCount, 0);
    // The peer sends back what the saved state missed, including a's own 'second '.
    sync(peer, restarted);
    assert.equal(restarted.toString(), 'first second ');
    restarted.insert(restarted.length, 'third');
    const update = restarted.takeLocalUpdate();
    const onlyThird = documentOf('z');
    onlyThird.applyUpdate(update);
    // 'third' waits for the characters it was typed after, which the update does not repeat.
    assert.equal(onlyThird.pendingCount, 1);
    peer.applyUpdate(update);
    assert.equal(peer.toString(), 'first second third');
    assert.deepEqual([...peer.version()], [['a', 18]]);
  });
});
