import assert from 'node:assert/strict';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isInvalidArgumentError } from '../../src/core/index.js';
import {
  crc32c,
  isWalClosedError,
  isWalFailedError,
  isWalQueueFullError,
  segmentFileName,
  WriteAheadLog,
} from '../../src/storage/index.js';
import { bytesOf, temporaryFolderHook, textOf } from './helpers.js';

const folder = temporaryFolderHook();

const record = (text: string, type = 7) => ({ type, payload: bytesOf(text) });

async function readAll(wal: WriteAheadLog): Promise<string[]> {
  const records = await wal.read(wal.firstIndex, wal.lastIndex + 1, { bytesMax: 1 << 30 });
  return records.map((item) => textOf(item.payload));
}

describe('crc32c', () => {
  it('matches the published check value', () => {
    assert.equal(crc32c(bytesOf('123456789')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  });
});

describe('WriteAheadLog', () => {
  it('appends and reads back records with types and consecutive indexes', async () => {
    const wal = await WriteAheadLog.open({ directory: folder.path });
    assert.equal(wal.firstIndex, 1);
    assert.equal(wal.lastIndex, 0);
    const first = await wal.append([record('a', 1), record('bb', 2)]);
    assert.deepEqual(first, { firstIndex: 1, lastIndex: 2 });
    const second = await wal.append([record('', 255)]);
    assert.deepEqual(second, { firstIndex: 3, lastIndex: 3 });
    const records = await wal.read(1, 4);
    assert.deepEqual(
      records.map((item) => [item.index, item.type, textOf(item.payload)]),
      [
        [1, 1, 'a'],
        [2, 2, 'bb'],
        [3, 255, ''],
      ],
    );
    await wal.close();
    const reopened = await WriteAheadLog.open({ directory: folder.path });
    assert.deepEqual(await readAll(reopened), ['a', 'bb', '']);
    assert.equal(reopened.recovery.recordCount, 3);
    assert.equal(reopened.recovery.tornTail, undefined);
    await reopened.close();
  });

  it('copies payloads at append time', async () => {
    const wal = await WriteAheadLog.open({ directory: folder.path });
    const payload = bytesOf('original');
    const done = wal.append([{ type: 0, payload }]);
    payload.fill(0);
    await done;
    assert.deepEqual(await readAll(wal), ['original']);
    await wal.close();
  });

  it('group commit: concurrent appends share fsyncs and resolve in order', async () => {
    const wal = await WriteAheadLog.open({ directory: folder.path });
    const before = wal.statistics().fsyncCount;
    const appendCount = 200;
    const results = await Promise.all(
      Array.from({ length: appendCount }, (_, position) => wal.append([record(`r${position}`)])),
    );
    assert.deepEqual(
      results.map((result) => result.firstIndex),
      Array.from({ length: appendCount }, (_, position) => position + 1),
    );
    const statistics = wal.statistics();
    assert.equal(statistics.appendCount, appendCount);
    assert.equal(statistics.recordCount, appendCount);
    assert.ok(
      statistics.fsyncCount - before < appendCount,
      `${statistics.fsyncCount - before} fsyncs for ${appendCount} appends`,
    );
    assert.ok(statistics.batchCount < appendCount);
    assert.equal((await readAll(wal)).length, appendCount);
    await wal.close();
  });

  it('group commit: appends made while a flush runs join the next batch', async () => {
    const wal = await WriteAheadLog.open({ directory: folder.path });
    const first = wal.append([record('first')]);
    await Promise.resolve();
    await new Promise((resolve) => queueMicrotask(() => resolve(undefined)));
    const later = Array.from({ length: 50 }, (_, position) => wal.append([record(`${position}`)]));
    await Promise.all([first, ...later]);
    assert.ok(wal.statistics().batchCount <= 3, `batches: ${wal.statistics().batchCount}`);
    await wal.close();
  });

  it('rejects appends past the pending limits with WalQueueFullError, then accepts again', async () => {
    const wal = await WriteAheadLog.open({
      directory: folder.path,
      pendingCountMax: 4,
      recordBytesMax: 300,
      pendingBytesMax: 1_000,
    });
    const accepted = [
      wal.append([record('1')]),
      wal.append([record('2'), record('3'), record('4')]),
    ];
    await assert.rejects(wal.append([record('5')]), (error: unknown) => {
      assert.ok(isWalQueueFullError(error));
      assert.equal(error.limitName, 'pendingCountMax');
      return true;
    });
    await Promise.all(accepted);
    await wal.append([record('5')]);
    const big = { type: 0, payload: new Uint8Array(300) };
    // 4 frames of 317 bytes exceed pendingBytesMax even with nothing else pending.
    await assert.rejects(
      wal.append(Array.from({ length: 4 }, () => big)),
      (error: unknown) => isWalQueueFullError(error) && error.limitName === 'pendingBytesMax',
    );
    assert.deepEqual(await wal.append(Array.from({ length: 3 }, () => big)), {
      firstIndex: 6,
      lastIndex: 8,
    });
    await wal.close();
  });

  it('validates options and records, naming the argument', async () => {
    await assert.rejects(WriteAheadLog.open({ directory: '' }), isInvalidArgumentError);
    await assert.rejects(
      WriteAheadLog.open({ directory: folder.path, segmentBytesMax: 100 }),
      (error: unknown) =>
        isInvalidArgumentError(error) && error.argument === 'options.segmentBytesMax',
    );
    await assert.rejects(
      WriteAheadLog.open({ directory: folder.path, segmentBytesMax: 4096, recordBytesMax: 4096 }),
      (error: unknown) =>
        isInvalidArgumentError(error) && error.argument === 'options.recordBytesMax',
    );
    await assert.rejects(
      WriteAheadLog.open({ directory: folder.path, recordBytesMax: 1000, pendingBytesMax: 10 }),
      (error: unknown) =>
        isInvalidArgumentError(error) && error.argument === 'options.pendingBytesMax',
    );
    const wal = await WriteAheadLog.open({ directory: folder.path, recordBytesMax: 8 });
    await assert.rejects(
      wal.append([record('123456789')]),
      (error: unknown) => isInvalidArgumentError(error) && error.argument === 'records[0].payload',
    );
    await assert.rejects(
      wal.append([{ type: 256, payload: new Uint8Array() }]),
      (error: unknown) => isInvalidArgumentError(error) && error.argument === 'records[0].type',
    );
    await assert.rejects(
      wal.append([{ type: 1, payload: 'text' as unknown as Uint8Array }]),
      (error: unknown) => isInvalidArgumentError(error) && error.argument === 'records[0].payload',
    );
    await assert.rejects(wal.append([]), isInvalidArgumentError);
    await assert.rejects(wal.read(1, 2), isInvalidArgumentError);
    await assert.rejects(wal.truncateAfter(5), isInvalidArgumentError);
    await assert.rejects(wal.reset(0), isInvalidArgumentError);
    assert.equal(wal.lastIndex, 0, 'nothing was appended by the rejected calls');
    await wal.close();
    await assert.rejects(wal.append([record('late')]), isWalClosedError);
    await assert.rejects(wal.read(1, 1), isWalClosedError);
  });

  it('rolls segments over at segmentBytesMax, named by their first index, and reads across them', async () => {
    const wal = await WriteAheadLog.open({
      directory: folder.path,
      segmentBytesMax: 4096,
      recordBytesMax: 1000,
    });
    const payload = 'x'.repeat(983); // 1,000 bytes per frame: four frames fit after the header
    for (let position = 0; position < 10; position += 1) {
      await wal.append([record(`${position}`.padEnd(983, '.'))]);
    }
    const names = (await readdir(folder.path)).sort();
    assert.deepEqual(names, [segmentFileName(1), segmentFileName(5), segmentFileName(9)]);
    for (const name of names) {
      assert.ok((await stat(join(folder.path, name))).size <= 4096);
    }
    assert.equal(wal.statistics().rolloverCount, 2);
    const all = await wal.read(1, 11);
    assert.deepEqual(
      all.map((item) => item.index),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.equal(textOf((all[5] as { payload: Uint8Array }).payload).slice(0, 1), '5');
    const limited = await wal.read(3, 11, { bytesMax: 2_500 });
    assert.deepEqual(
      limited.map((item) => item.index),
      [3, 4],
    );
    const one = await wal.read(3, 11, { bytesMax: 1 });
    assert.equal(one.length, 1, 'always at least one record');
    assert.equal(payload.length, 983);
    await wal.close();
    const reopened = await WriteAheadLog.open({
      directory: folder.path,
      segmentBytesMax: 4096,
      recordBytesMax: 1000,
    });
    assert.equal(reopened.lastIndex, 10);
    assert.equal(reopened.recovery.segmentCount, 3);
    await reopened.close();
  });

  it('one batch larger than a segment rolls over inside the batch', async () => {
    const wal = await WriteAheadLog.open({
      directory: folder.path,
      segmentBytesMax: 4096,
      recordBytesMax: 1000,
    });
    await wal.append(
      Array.from({ length: 12 }, (_, position) => record(`${position}`.padEnd(983, '.'))),
    );
    assert.equal((await readdir(folder.path)).length, 3);
    await wal.close();
    const reopened = await WriteAheadLog.open({
      directory: folder.path,
      segmentBytesMax: 4096,
      recordBytesMax: 1000,
    });
    assert.equal(reopened.lastIndex, 12);
    await reopened.close();
  });

  it('truncates a conflicting suffix across segment boundaries, durably', async () => {
    const options = { directory: folder.path, segmentBytesMax: 4096, recordBytesMax: 1000 };
    const wal = await WriteAheadLog.open(options);
    for (let position = 1; position <= 10; position += 1) {
      await wal.append([record(`${position}`.padEnd(983, '.'))]);
    }
    await wal.truncateAfter(3);
    assert.equal(wal.lastIndex, 3);
    assert.deepEqual((await readdir(folder.path)).sort(), [segmentFileName(1)]);
    const appended = await wal.append([record('new 4'.padEnd(983, '.'))]);
    assert.equal(appended.firstIndex, 4);
    await wal.close();
    const reopened = await WriteAheadLog.open(options);
    assert.equal(reopened.lastIndex, 4);
    assert.deepEqual(
      (await readAll(reopened)).map((text) => text.replace(/\.+$/, '')),
      ['1', '2', '3', 'new 4'],
    );
    // Truncating at a segment's first record leaves that segment empty, as the tail.
    for (let position = 5; position <= 9; position += 1) {
      await reopened.append([record(`${position}`.padEnd(983, '.'))]);
    }
    assert.deepEqual((await readdir(folder.path)).sort(), [
      segmentFileName(1),
      segmentFileName(5),
      segmentFileName(9),
    ]);
    await reopened.truncateAfter(8);
    assert.deepEqual(
      (await readdir(folder.path)).sort(),
      [segmentFileName(1), segmentFileName(5), segmentFileName(9)],
      'segment 9 stays, empty, as the tail',
    );
    await reopened.truncateAfter(4);
    assert.deepEqual((await readdir(folder.path)).sort(), [segmentFileName(1), segmentFileName(5)]);
    assert.equal(reopened.lastIndex, 4);
    assert.equal((await reopened.append([record('again 5')])).firstIndex, 5);
    await reopened.truncateAfter(0);
    assert.equal(reopened.lastIndex, 0);
    await reopened.close();
    const empty = await WriteAheadLog.open(options);
    assert.equal(empty.lastIndex, 0);
    assert.equal(empty.firstIndex, 1);
    await empty.close();
  });

  it('orders appends, truncation and more appends as called, without waiting in between', async () => {
    const wal = await WriteAheadLog.open({ directory: folder.path });
    const a = wal.append([record('1'), record('2'), record('3')]);
    const t = wal.truncateAfter(1);
    const b = wal.append([record('2b')]);
    assert.equal(wal.nextIndex, 3);
    await Promise.all([a, t, b]);
    assert.deepEqual(await readAll(wal), ['1', '2b']);
    await wal.close();
  });

  it('compacts whole segments below an index and keeps the rest readable', async () => {
    const options = { directory: folder.path, segmentBytesMax: 4096, recordBytesMax: 1000 };
    const wal = await WriteAheadLog.open(options);
    for (let position = 1; position <= 10; position += 1) {
      await wal.append([record(`${position}`.padEnd(983, '.'))]);
    }
    assert.equal(await wal.compactBefore(4), 1, 'segment 1-4 still holds index 4');
    assert.equal(await wal.compactBefore(5), 5);
    assert.equal(await wal.compactBefore(100), 9, 'the last segment stays');
    assert.deepEqual((await readdir(folder.path)).sort(), [segmentFileName(9)]);
    await assert.rejects(wal.read(8, 9), isInvalidArgumentError);
    assert.equal((await wal.read(9, 11)).length, 2);
    await wal.close();
    const reopened = await WriteAheadLog.open(options);
    assert.equal(reopened.firstIndex, 9);
    assert.equal(reopened.lastIndex, 10);
    // Truncating below what compaction kept empties the log at the new position.
    await reopened.truncateAfter(8);
    assert.equal(reopened.lastIndex, 8);
    assert.equal(reopened.firstIndex, 9);
    assert.equal((await reopened.append([record('9 again')])).firstIndex, 9);
    await reopened.close();
  });

  it('reset empties the log and restarts it at a new index', async () => {
    const wal = await WriteAheadLog.open({ directory: folder.path });
    await wal.append([record('a'), record('b')]);
    await wal.reset(100);
    assert.equal(wal.firstIndex, 100);
    assert.equal(wal.lastIndex, 99);
    assert.deepEqual(await wal.append([record('c')]), { firstIndex: 100, lastIndex: 100 });
    await wal.close();
    const reopened = await WriteAheadLog.open({ directory: folder.path });
    assert.deepEqual(await readAll(reopened), ['c']);
    assert.equal(reopened.firstIndex, 100);
    await reopened.close();
  });

  it('starts a new log at options.firstIndex', async () => {
    const wal = await WriteAheadLog.open({ directory: folder.path, firstIndex: 42 });
    assert.equal((await wal.append([record('x')])).firstIndex, 42);
    await wal.close();
  });

  it('close waits for earlier appends', async () => {
    const wal = await WriteAheadLog.open({ directory: folder.path });
    const appended = wal.append([record('last words')]);
    await wal.close();
    assert.equal((await appended).lastIndex, 1);
    const reopened = await WriteAheadLog.open({ directory: folder.path });
    assert.deepEqual(await readAll(reopened), ['last words']);
    await reopened.close();
  });

  it('reads concurrently with appends and with truncation', async () => {
    const wal = await WriteAheadLog.open({ directory: folder.path, segmentBytesMax: 4096 });
    await wal.append(Array.from({ length: 100 }, (_, position) => record(`${position}`)));
    const reads = Array.from({ length: 20 }, () => wal.read(1, 101));
    const truncated = wal.truncateAfter(50);
    const appended = wal.append([record('after')]);
    for (const result of await Promise.all(reads)) {
      assert.ok(result.length === 100 || result.length === 50);
    }
    await Promise.all([truncated, appended]);
    assert.equal(wal.lastIndex, 51);
    await wal.close();
  });

  it('stops after a disk failure: WalFailedError with the cause, for that append and every later call', async () => {
    const directory = `${folder.path}/log`;
    const wal = await WriteAheadLog.open({
      directory,
      segmentBytesMax: 4096,
      recordBytesMax: 1000,
    });
    await wal.append([record('x'.repeat(1000))]);
    await rm(directory, { recursive: true, force: true }); // the next rollover cannot create its file
    const big = Array.from({ length: 6 }, () => record('y'.repeat(1000)));
    const failed = wal.append(big);
    const queued = wal.append([record('queued')]);
    await assert.rejects(failed, (error: unknown) => {
      assert.ok(isWalFailedError(error));
      assert.equal((error.cause as { code?: string }).code, 'ENOENT');
      return true;
    });
    await assert.rejects(queued, isWalFailedError);
    await assert.rejects(wal.append([record('later')]), isWalFailedError);
    await assert.rejects(wal.truncateAfter(0), isWalFailedError);
    await wal.close();
  });
});
