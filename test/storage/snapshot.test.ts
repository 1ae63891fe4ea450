import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isInvalidArgumentError, isLimitExceededError } from '../../src/core/index.js';
import {
  isSnapshotCorruptionError,
  readSnapshotFile,
  SnapshotStore,
  writeSnapshotFile,
} from '../../src/storage/index.js';
import { bytesOf, temporaryFolderHook, textOf } from './helpers.js';

const folder = temporaryFolderHook();

describe('snapshot files', () => {
  it('write atomically and read back verified; no temporary file remains', async () => {
    const path = join(folder.path, 'state.snap');
    await writeSnapshotFile(path, bytesOf('version 1'));
    await writeSnapshotFile(path, bytesOf('version 2'));
    assert.equal(textOf(await readSnapshotFile(path)), 'version 2');
    assert.deepEqual(await readdir(folder.path), ['state.snap']);
    await writeSnapshotFile(path, new Uint8Array());
    assert.equal((await readSnapshotFile(path)).length, 0);
  });

  it('a crash before the rename leaves the old snapshot whole', async () => {
    const path = join(folder.path, 'state.snap');
    await writeSnapshotFile(path, bytesOf('old'));
    // What a crash between write and rename leaves: a partial temporary file.
    await writeFile(`${path}.tmp`, bytesOf('DKSNAPS1 partial'));
    assert.equal(textOf(await readSnapshotFile(path)), 'old');
    await writeSnapshotFile(path, bytesOf('new'));
    assert.equal(textOf(await readSnapshotFile(path)), 'new');
  });

  it('any damage is a typed SnapshotCorruptionError, never wrong data', async () => {
    const path = join(folder.path, 'state.snap');
    const data = bytesOf('the state machine at index 42');
    await writeSnapshotFile(path, data);
    const good = await readFile(path);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({
            kind: fc.constant('flip' as const),
            at: fc.nat(),
            bit: fc.integer({ min: 0, max: 7 }),
          }),
          fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
          fc.record({
            kind: fc.constant('append' as const),
            bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
          }),
          fc.record({
            kind: fc.constant('random' as const),
            bytes: fc.uint8Array({ maxLength: 100 }),
          }),
        ),
        async (damage) => {
          let bytes: Uint8Array;
          if (damage.kind === 'flip') {
            bytes = good.slice();
            const at = damage.at % bytes.length;
            bytes[at] = (bytes[at] as number) ^ (1 << damage.bit);
          } else if (damage.kind === 'cut') {
            bytes = good.subarray(0, damage.at % good.length);
          } else if (damage.kind === 'append') {
            bytes = Buffer.concat([good, damage.bytes]);
          } else {
            bytes = damage.bytes;
          }
          await writeFile(path, bytes);
          await assert.rejects(readSnapshotFile(path), isSnapshotCorruptionError);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('enforces bytesMax and validates arguments', async () => {
    const path = join(folder.path, 'big.snap');
    await writeSnapshotFile(path, new Uint8Array(1000));
    await assert.rejects(readSnapshotFile(path, { bytesMax: 999 }), isLimitExceededError);
    await assert.rejects(
      writeSnapshotFile(path, 'text' as unknown as Uint8Array),
      isInvalidArgumentError,
    );
    await assert.rejects(writeSnapshotFile('', new Uint8Array()), isInvalidArgumentError);
  });
});

describe('SnapshotStore', () => {
  it('saves, lists newest first, keeps retainCount, and loads the latest', async () => {
    const store = await SnapshotStore.open({ directory: folder.path, retainCount: 2 });
    assert.equal(await store.latest(), undefined);
    await store.save({ index: 10, term: 1 }, bytesOf('at 10'));
    await store.save({ index: 20, term: 2 }, bytesOf('at 20'));
    await store.save({ index: 30, term: 2 }, bytesOf('at 30'));
    assert.deepEqual(await store.list(), [
      { index: 30, term: 2 },
      { index: 20, term: 2 },
    ]);
    const latest = await store.latest();
    assert.deepEqual(latest?.metadata, { index: 30, term: 2 });
    assert.equal(textOf(latest?.data ?? new Uint8Array()), 'at 30');
    assert.equal(textOf(await store.load({ index: 20, term: 2 })), 'at 20');
  });

  it('open removes temporary files a crash left behind, and ignores them before that', async () => {
    const first = await SnapshotStore.open({ directory: folder.path });
    await first.save({ index: 5, term: 1 }, bytesOf('complete'));
    await writeFile(
      join(folder.path, 'snapshot-00000000000000000009-00000000000000000001.snap.tmp'),
      'torn',
    );
    assert.deepEqual(
      await first.list(),
      [{ index: 5, term: 1 }],
      'a temporary file is never listed',
    );
    const store = await SnapshotStore.open({ directory: folder.path });
    assert.equal(store.removedTemporaryCount, 1);
    assert.deepEqual(await readdir(folder.path), [
      'snapshot-00000000000000000005-00000000000000000001.snap',
    ]);
    assert.equal(textOf((await store.latest())?.data ?? new Uint8Array()), 'complete');
  });

  it('a corrupt newest snapshot is a typed error; the older one stays loadable', async () => {
    const store = await SnapshotStore.open({ directory: folder.path });
    await store.save({ index: 1, term: 1 }, bytesOf('one'));
    await store.save({ index: 2, term: 1 }, bytesOf('two'));
    const newest = join(folder.path, 'snapshot-00000000000000000002-00000000000000000001.snap');
    const bytes = await readFile(newest);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
    await writeFile(newest, bytes);
    await assert.rejects(store.latest(), isSnapshotCorruptionError);
    assert.equal(textOf(await store.load({ index: 1, term: 1 })), 'one');
  });

  it('validates options and metadata', async () => {
    await assert.rejects(
      SnapshotStore.open({ directory: folder.path, retainCount: 0 }),
      isInvalidArgumentError,
    );
    const store = await SnapshotStore.open({ directory: folder.path });
    await assert.rejects(
      store.save({ index: -1, term: 0 }, new Uint8Array()),
      isInvalidArgumentError,
    );
  });
});
