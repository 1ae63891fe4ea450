import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WriteAheadLog } from '../../src/storage/index.js';
import { temporaryFolderHook, textOf } from './helpers.js';

const appender = fileURLToPath(new URL('./fixtures/appender.ts', import.meta.url));

/** Runs the appender until it has acknowledged `ackCountMin` records, SIGKILLs it, returns the acknowledged indexes. */
function runAndKill(directory: string, ackCountMin: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', appender, directory], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acknowledged: number[] = [];
    let buffered = '';
    let stderr = '';
    let killed = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        acknowledged.push(Number(line));
      }
      if (!killed && acknowledged.length >= ackCountMin) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      if (signal !== 'SIGKILL') {
        reject(new Error(`appender exited without being killed: ${stderr}`));
        return;
      }
      resolve(acknowledged);
    });
  });
}

describe('WAL under SIGKILL of a real process', { timeout: 120_000 }, () => {
  const folder = temporaryFolderHook('all');

  it('every acknowledged append survives, records are intact and in order, and appending resumes', async () => {
    let expectedMinimum = 0;
    for (const ackCountMin of [200, 500, 50, 1_000]) {
      const acknowledged = await runAndKill(folder.path, ackCountMin);
      const highest = Math.max(...acknowledged);
      const wal = await WriteAheadLog.open({
        directory: folder.path,
        segmentBytesMax: 64 * 1024,
        recordBytesMax: 4096,
      });
      assert.ok(wal.lastIndex >= highest, `acknowledged ${highest}, recovered ${wal.lastIndex}`);
      assert.ok(wal.lastIndex >= expectedMinimum);
      let index = 1;
      while (index <= wal.lastIndex) {
        const records = await wal.read(index, wal.lastIndex + 1, { bytesMax: 1 << 20 });
        for (const record of records) {
          assert.equal(record.index, index);
          assert.ok(textOf(record.payload).startsWith(`record ${index} `));
          assert.equal(record.type, index % 256);
          index += 1;
        }
      }
      expectedMinimum = wal.lastIndex;
      await wal.close();
    }
    assert.ok(expectedMinimum >= 1_750, `${expectedMinimum} records after four runs`);
  });
});
