/**
 * `distkit/storage` benchmark: durable appends per second with group commit, against
 * the naive way (one write and one fdatasync per record), at 1, 16 and 256 concurrent
 * appenders. Every append of every case is durable before it resolves.
 *
 * One iteration: `concurrency` appenders each append `appendsPerIteration / concurrency`
 * records of 256 bytes one after another (each awaits its own durability before the
 * next). The unit is one durable append.
 *
 * The naive peer writes the bare 256 bytes with no framing or checksum, so it does less
 * work per record than the WAL; the difference that matters is the fsync count.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WriteAheadLog } from '../src/storage/index.js';
import { runBenchmarks } from './harness.js';

const payloadBytes = 256;
const payload = new Uint8Array(payloadBytes).fill(7);
const folder = mkdtempSync(join(tmpdir(), 'distkit-storage-'));

async function runAppenders(
  concurrency: number,
  appendsPerIteration: number,
  appendOne: () => Promise<unknown>,
): Promise<number> {
  const perAppender = appendsPerIteration / concurrency;
  let done = 0;
  const appenders = Array.from({ length: concurrency }, async () => {
    for (let count = 0; count < perAppender; count += 1) {
      await appendOne();
      done += 1;
    }
  });
  await Promise.all(appenders);
  return done;
}

const settings = [
  { concurrency: 1, appendsPerIteration: 32 },
  { concurrency: 16, appendsPerIteration: 128 },
  { concurrency: 256, appendsPerIteration: 512 },
];

const logs: WriteAheadLog[] = [];
const naiveFiles: FileHandle[] = [];
const comparisons = [];
for (const { concurrency, appendsPerIteration } of settings) {
  const wal = await WriteAheadLog.open({ directory: join(folder, `wal-${concurrency}`) });
  logs.push(wal);
  const naive = await open(join(folder, `naive-${concurrency}.log`), 'a');
  naiveFiles.push(naive);
  const record = [{ type: 1, payload }];
  comparisons.push({
    title: `${concurrency} concurrent appender${concurrency === 1 ? '' : 's'}, ${appendsPerIteration} durable appends of ${payloadBytes} bytes`,
    distkit: {
      name: 'distkit WriteAheadLog (group commit)',
      run: () => runAppenders(concurrency, appendsPerIteration, () => wal.append(record)),
    },
    peers: [
      {
        name: 'FileHandle.appendFile + datasync per record',
        run: () =>
          runAppenders(concurrency, appendsPerIteration, async () => {
            await naive.appendFile(payload);
            await naive.datasync();
          }),
      },
    ],
    unit: { name: 'append', countPerIteration: appendsPerIteration },
    timeBudgetMs: 2_000,
    sampleCountMin: 6,
    roundCount: 2,
  });
}

try {
  await runBenchmarks({ module: 'storage', comparisons });
  console.log('\nGroup commit: records per fsync over the whole run (segment and folder fsyncs)');
  settings.forEach(({ concurrency }, position) => {
    const statistics = (logs[position] as WriteAheadLog).statistics();
    console.log(
      `  ${concurrency} appender(s): ${statistics.recordCount.toLocaleString('en-US')} records, ` +
        `${statistics.fsyncCount.toLocaleString('en-US')} fsyncs, ` +
        `${(statistics.recordCount / statistics.fsyncCount).toFixed(1)} records per fsync`,
    );
  });
} finally {
  for (const wal of logs) {
    await wal.close();
  }
  for (const file of naiveFiles) {
    await file.close();
  }
  rmSync(folder, { recursive: true, force: true });
}
