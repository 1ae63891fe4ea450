import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  isWalCorruptionError,
  segmentFileName,
  segmentHeaderBytes,
  type WalOptions,
  WriteAheadLog,
} from '../../src/storage/index.js';
import { bytesOf, temporaryFolderHook, textOf } from './helpers.js';

const folder = temporaryFolderHook();

const smallSegments = (directory: string): WalOptions => ({
  directory,
  segmentBytesMax: 4096,
  recordBytesMax: 1000,
});

/** Writes `count` records `record-1`, `record-2`, ... padded to 700 bytes (5 per segment). */
async function writeLog(directory: string, count: number): Promise<void> {
  const wal = await WriteAheadLog.open(smallSegments(directory));
  for (let index = 1; index <= count; index += 1) {
    await wal.append([{ type: index % 256, payload: bytesOf(`record-${index}`.padEnd(700, '#')) }]);
  }
  await wal.close();
}

async function readTexts(wal: WriteAheadLog): Promise<string[]> {
  const records = await wal.read(wal.firstIndex, wal.lastIndex + 1, { bytesMax: 1 << 30 });
  return records.map((record) => textOf(record.payload).replace(/#+$/, ''));
}

const expectedTexts = (count: number): string[] =>
  Array.from({ length: count }, (_, position) => `record-${position + 1}`);

async function segments(directory: string): Promise<string[]> {
  return (await readdir(directory)).filter((name) => name.endsWith('.seg')).sort();
}

describe('WriteAheadLog recovery', () => {
  it('cut at every byte of the last record: keeps every complete record and continues cleanly', async () => {
    const source = join(folder.path, 'source');
    await writeLog(source, 7); // segments start at 1 and 6; the last holds records 6 and 7
    const names = await segments(source);
    assert.deepEqual(names, [segmentFileName(1), segmentFileName(6)]);
    const firstBytes = await readFile(join(source, names[0] as string));
    const lastBytes = await readFile(join(source, names[1] as string));
    const frameBytes = 17 + 700;
    const lastRecordOffset = segmentHeaderBytes + frameBytes;
    assert.equal(lastBytes.length, lastRecordOffset + frameBytes);
    const work = join(folder.path, 'work');
    for (let cut = lastRecordOffset; cut < lastBytes.length; cut += 1) {
      await rm(work, { recursive: true, force: true });
      await mkdir(work);
      await writeFile(join(work, names[0] as string), firstBytes);
      await writeFile(join(work, names[1] as string), lastBytes.subarray(0, cut));
      const wal = await WriteAheadLog.open(smallSegments(work));
      assert.equal(wal.lastIndex, 6, `cut at ${cut}`);
      if (cut > lastRecordOffset) {
        assert.equal(wal.recovery.tornTail?.offsetBytes, lastRecordOffset);
        assert.equal(wal.recovery.tornTail?.droppedBytes, cut - lastRecordOffset);
      } else {
        assert.equal(wal.recovery.tornTail, undefined);
      }
      assert.equal((await stat(join(work, names[1] as string))).size, lastRecordOffset);
      await wal.append([{ type: 1, payload: bytesOf('after crash') }]);
      await wal.close();
      const reopened = await WriteAheadLog.open(smallSegments(work));
      assert.deepEqual(await readTexts(reopened), [...expectedTexts(6), 'after crash']);
      await reopened.close();
    }
  });

  it('a last segment torn inside its header (a crash during rollover) is started again', async () => {
    const source = join(folder.path, 'source');
    await writeLog(source, 6);
    const names = await segments(source);
    const lastName = names[1] as string;
    const lastBytes = await readFile(join(source, lastName));
    const work = join(folder.path, 'work');
    for (let cut = 0; cut < segmentHeaderBytes + 17 + 700; cut += 37) {
      await rm(work, { recursive: true, force: true });
      await mkdir(work);
      await writeFile(
        join(work, names[0] as string),
        await readFile(join(source, names[0] as string)),
      );
      await writeFile(join(work, lastName), lastBytes.subarray(0, cut));
      const wal = await WriteAheadLog.open(smallSegments(work));
      assert.equal(wal.lastIndex, 5, `cut at ${cut}`);
      assert.equal((await wal.append([{ type: 0, payload: bytesOf('next') }])).firstIndex, 6);
      await wal.close();
    }
    // A zero-filled header is torn too.
    await writeFile(join(work, lastName), new Uint8Array(4096));
    const wal = await WriteAheadLog.open(smallSegments(work));
    assert.equal(wal.lastIndex, 5);
    await wal.close();
  });

  it('a zero-filled tail (preallocated or partly written) is a torn tail', async () => {
    await writeLog(folder.path, 3);
    const path = join(folder.path, segmentFileName(1));
    const bytes = await readFile(path);
    await writeFile(path, Buffer.concat([bytes, Buffer.alloc(8192)]));
    let wal = await WriteAheadLog.open(smallSegments(folder.path));
    assert.equal(wal.lastIndex, 3);
    assert.equal(wal.recovery.tornTail?.droppedBytes, 8192);
    await wal.close();
    // The last record's payload zeroed from its middle on, as if its pages never reached disk.
    const damaged = Buffer.from(bytes);
    damaged.fill(0, damaged.length - 300);
    await writeFile(path, damaged);
    wal = await WriteAheadLog.open(smallSegments(folder.path));
    assert.equal(wal.lastIndex, 2);
    assert.deepEqual(await readTexts(wal), expectedTexts(2));
    await wal.close();
  });

  it('refuses a corrupted record in a segment before the last, naming the file and offset', async () => {
    await writeLog(folder.path, 8);
    const path = join(folder.path, segmentFileName(1));
    const bytes = await readFile(path);
    const offset = segmentHeaderBytes + 2 * (17 + 700);
    bytes[offset + 17 + 5] = (bytes[offset + 17 + 5] as number) ^ 0x01; // one bit of record 3
    await writeFile(path, bytes);
    await assert.rejects(WriteAheadLog.open(smallSegments(folder.path)), (error: unknown) => {
      assert.ok(isWalCorruptionError(error));
      assert.equal(error.segmentPath, path);
      assert.equal(error.offsetBytes, offset);
      return true;
    });
    const after = await readFile(path);
    assert.deepEqual(after, bytes, 'recovery changed nothing');
  });

  it('refuses a torn record in a segment before the last', async () => {
    await writeLog(folder.path, 8);
    const path = join(folder.path, segmentFileName(1));
    const bytes = await readFile(path);
    await writeFile(path, bytes.subarray(0, bytes.length - 10));
    await assert.rejects(WriteAheadLog.open(smallSegments(folder.path)), isWalCorruptionError);
  });

  it('refuses a bad checksum in the last segment when valid records follow it', async () => {
    await writeLog(folder.path, 4);
    const path = join(folder.path, segmentFileName(1));
    const bytes = await readFile(path);
    const offset = segmentHeaderBytes + 17 + 700; // record 2 of 4
    bytes[offset] = (bytes[offset] as number) ^ 0xff; // its checksum
    await writeFile(path, bytes);
    await assert.rejects(WriteAheadLog.open(smallSegments(folder.path)), (error: unknown) => {
      assert.ok(isWalCorruptionError(error));
      assert.equal(error.offsetBytes, offset);
      return true;
    });
    // Zeroing record 2 completely is just as refused: record 3 still follows.
    bytes.fill(0, offset, offset + 17 + 700);
    await writeFile(path, bytes);
    await assert.rejects(WriteAheadLog.open(smallSegments(folder.path)), isWalCorruptionError);
  });

  it('refuses a missing segment in the middle and a record out of sequence', async () => {
    await writeLog(folder.path, 12);
    await unlink(join(folder.path, segmentFileName(6)));
    await assert.rejects(WriteAheadLog.open(smallSegments(folder.path)), (error: unknown) => {
      assert.ok(isWalCorruptionError(error));
      assert.equal(error.segmentPath, join(folder.path, segmentFileName(11)));
      return true;
    });
    await folder.remove();
    await mkdir(folder.path);
    // A segment renamed to claim other indexes: its header disagrees with its name.
    await writeLog(folder.path, 3);
    const bytes = await readFile(join(folder.path, segmentFileName(1)));
    await unlink(join(folder.path, segmentFileName(1)));
    await writeFile(join(folder.path, segmentFileName(2)), bytes);
    await assert.rejects(WriteAheadLog.open(smallSegments(folder.path)), isWalCorruptionError);
  });

  it('ignores files that are not segments', async () => {
    await writeLog(folder.path, 2);
    await writeFile(join(folder.path, 'notes.txt'), 'hello');
    await writeFile(join(folder.path, 'wal-1.seg.tmp'), 'junk');
    const wal = await WriteAheadLog.open(smallSegments(folder.path));
    assert.equal(wal.lastIndex, 2);
    await wal.close();
  });

  it('detects damage that happens after open when reading', async () => {
    await writeLog(folder.path, 3);
    const wal = await WriteAheadLog.open(smallSegments(folder.path));
    const path = join(folder.path, segmentFileName(1));
    const bytes = await readFile(path);
    bytes[segmentHeaderBytes + 17 + 3] = (bytes[segmentHeaderBytes + 17 + 3] as number) ^ 0x10;
    await writeFile(path, bytes);
    await assert.rejects(wal.read(1, 2), isWalCorruptionError);
    await wal.close();
  });
});
