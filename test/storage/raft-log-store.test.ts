import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isInvalidArgumentError } from '../../src/core/index.js';
import { type RaftEntry, RaftLogStore } from '../../src/storage/index.js';
import { bytesOf, temporaryFolderHook, textOf } from './helpers.js';

const folder = temporaryFolderHook();

const entry = (index: number, term: number, text = `${index}@${term}`): RaftEntry => ({
  index,
  term,
  data: bytesOf(text),
});

describe('RaftLogStore', () => {
  it('persists hard state and entries across a reopen', async () => {
    const store = await RaftLogStore.open({ directory: folder.path });
    assert.deepEqual(store.hardState, { term: 0, votedFor: null, commitIndex: 0 });
    assert.equal(store.lastIndex, 0);
    await store.saveHardState({ term: 3, votedFor: 'n2', commitIndex: 0 });
    await store.append([entry(1, 1), entry(2, 3), entry(3, 3)]);
    await store.saveHardState({ term: 3, votedFor: 'n2', commitIndex: 2 });
    await store.close();
    const reopened = await RaftLogStore.open({ directory: folder.path });
    assert.deepEqual(reopened.hardState, { term: 3, votedFor: 'n2', commitIndex: 2 });
    assert.equal(reopened.lastIndex, 3);
    assert.equal(reopened.term(1), 1);
    assert.equal(reopened.term(3), 3);
    assert.equal(reopened.term(4), undefined);
    const entries = await reopened.entries(2, 4);
    assert.deepEqual(
      entries.map((item) => [item.index, item.term, textOf(item.data)]),
      [
        [2, 3, '2@3'],
        [3, 3, '3@3'],
      ],
    );
    await reopened.close();
  });

  it('replaces a conflicting suffix when entries overlap the log', async () => {
    const store = await RaftLogStore.open({ directory: folder.path });
    await store.append([entry(1, 1), entry(2, 1), entry(3, 1), entry(4, 1)]);
    await store.append([entry(3, 2), entry(4, 2, 'replaced')]);
    assert.equal(store.term(3), 2);
    await store.close();
    const reopened = await RaftLogStore.open({ directory: folder.path });
    assert.deepEqual(
      (await reopened.entries(1, 5)).map((item) => item.term),
      [1, 1, 2, 2],
    );
    assert.equal(textOf((await reopened.entries(4, 5))[0]?.data ?? new Uint8Array()), 'replaced');
    await assert.rejects(reopened.append([entry(7, 2)]), isInvalidArgumentError);
    await assert.rejects(reopened.append([entry(5, 2), entry(7, 2)]), isInvalidArgumentError);
    await reopened.close();
  });

  it('compacts below a snapshot and resets to a newer snapshot', async () => {
    const store = await RaftLogStore.open({
      directory: folder.path,
      wal: { segmentBytesMax: 4096, recordBytesMax: 1000 },
    });
    for (let index = 1; index <= 20; index += 1) {
      await store.append([entry(index, 1, 'x'.repeat(600))]);
    }
    const firstIndex = await store.compact(15);
    assert.ok(firstIndex > 1 && firstIndex <= 15);
    assert.equal(store.term(firstIndex - 1), undefined);
    assert.equal(store.term(20), 1);
    const reset = store.resetToSnapshot(100);
    assert.equal(store.firstIndex, 101, 'the reset counts at once for later calls');
    await assert.rejects(store.append([entry(21, 1)]), isInvalidArgumentError);
    await store.append([entry(101, 4)]);
    await reset;
    await store.close();
    const reopened = await RaftLogStore.open({ directory: folder.path });
    assert.equal(reopened.firstIndex, 101);
    assert.equal(reopened.lastIndex, 101);
    assert.equal(reopened.term(101), 4);
    await reopened.close();
  });
});
