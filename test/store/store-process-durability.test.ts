/**
 * A store node's durability on a write-ahead log: `StoreDurableLog` (checkpoint + log of
 * change batches) at its crash points — a torn tail, a crash between a checkpoint and the
 * log's truncation, records with no checkpoint, a damaged record in the middle — and
 * `StoreProcess` on it: writes survive a reopen, checkpoints replace the log when it
 * outgrows its bound, and a write costs a log record the size of its change, not of the
 * state.
 */

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isInvalidArgumentError, ManualClock, SeededRandom } from '../../src/core/index.js';
import {
  applyDurableChanges,
  consensus,
  type DurableChanges,
  type KeyedDurableState,
  type ReplicaCore,
  type ReplicaCoreFactory,
} from '../../src/replication/index.js';
import { isSnapshotCorruptionError, isWalCorruptionError } from '../../src/storage/index.js';
import {
  ShardedStoreLayout,
  StoreNodeCore,
  type StoreNodeDurableState,
  StoreProcess,
} from '../../src/store/index.js';
import {
  type StoreDurableBatch,
  StoreDurableLog,
  type StoreStateHeader,
  storeCheckpointFileName,
  storeWalDirectoryName,
} from '../../src/store/store-durable-log.js';
import { freePorts, temporaryFolder, testSecret } from './support.js';

const header: StoreStateHeader = {
  id: 'n1',
  mode: 'consensus',
  nodes: ['n1', 'n2', 'n3'],
  shardCount: 2,
  replicaCount: 3,
};

const shards = ['kv/0', 'kv/1'];

function emptyState(): StoreNodeDurableState {
  const state: Record<string, KeyedDurableState> = {};
  for (const shard of shards) {
    state[shard] = { format: 'test/1', meta: { step: 0 }, records: [] };
  }
  return { shards: state };
}

/** A reference model: the node's keyed state, folded batch by batch in memory. */
class Model {
  state: StoreNodeDurableState = emptyState();
  readonly #random: SeededRandom;
  #step = 0;

  constructor(seed: number) {
    this.#random = new SeededRandom({ seed });
  }

  /** A random batch: upserts and deletes on a few shards. */
  batch(): StoreDurableBatch {
    this.#step += 1;
    const batch: [string, DurableChanges][] = [];
    for (const shard of shards) {
      if (this.#random.integer(0, 2) === 0) {
        continue;
      }
      const upserts: [string, unknown][] = [];
      const deletes: string[] = [];
      const used = new Set<string>();
      for (let count = this.#random.integer(1, 4); count > 0; count -= 1) {
        const id = `r${this.#random.integer(0, 30)}`;
        if (used.has(id)) {
          continue;
        }
        used.add(id);
        if (this.#random.integer(0, 4) === 0) {
          deletes.push(id);
        } else {
          upserts.push([
            id,
            { value: `${shard}-${this.#step}`, bytes: new Uint8Array([this.#step % 256]) },
          ]);
        }
      }
      batch.push([shard, { meta: { step: this.#step }, upserts, deletes }]);
    }
    this.apply(batch);
    return batch;
  }

  apply(batch: StoreDurableBatch): void {
    const next: Record<string, unknown> = { ...this.state.shards };
    for (const [shard, changes] of batch) {
      next[shard] = applyDurableChanges(next[shard] as KeyedDurableState, [changes]);
    }
    this.state = { shards: next };
  }
}

/** The shards' records sorted by id, so states compare regardless of order. */
function normalized(state: StoreNodeDurableState | undefined): unknown {
  if (state === undefined) {
    return undefined;
  }
  const result: Record<string, unknown> = {};
  for (const [shard, keyed] of Object.entries(state.shards)) {
    const { format, meta, records } = keyed as KeyedDurableState;
    result[shard] = {
      format,
      meta,
      records: [...records].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    };
  }
  return result;
}

async function openLog(
  directory: string,
  extra: Partial<Parameters<typeof StoreDurableLog.open>[0]> = {},
) {
  return StoreDurableLog.open({ directory, header, ...extra });
}

function segmentFiles(directory: string): string[] {
  const walDirectory = join(directory, storeWalDirectoryName);
  return readdirSync(walDirectory)
    .filter((name) => name.endsWith('.seg'))
    .sort()
    .map((name) => join(walDirectory, name));
}

describe('StoreDurableLog: checkpoint + write-ahead log', () => {
  it('recovers the checkpoint with every batch after it folded in, across several reopens', async () => {
    const folder = temporaryFolder('distkit-store-wal-');
    try {
      const model = new Model(11);
      let opened = await openLog(folder.path);
      assert.equal(opened.recovery.state, undefined, 'a new folder has no state');
      await opened.log.checkpoint(model.state);
      for (let round = 0; round < 3; round += 1) {
        for (let count = 0; count < 40; count += 1) {
          await opened.log.append(opened.log.encode(model.batch()));
        }
        await opened.log.close();
        opened = await openLog(folder.path);
        assert.equal(opened.recovery.recordCount, 40 * (round + 1));
        assert.deepEqual(normalized(opened.recovery.state), normalized(model.state));
      }
      await opened.log.close();
    } finally {
      folder.remove();
    }
  });

  it('a checkpoint deletes the log segments it covers, and the state is the same after it', async () => {
    const folder = temporaryFolder('distkit-store-wal-');
    try {
      const model = new Model(12);
      const options = { segmentBytesMax: 64 * 1024, checkpointWalBytesMin: 200 * 1024 };
      let opened = await openLog(folder.path, options);
      await opened.log.checkpoint(model.state);
      let appended = 0;
      // A big payload per record, so that segments roll over quickly.
      const filler = 'x'.repeat(4_000);
      for (;;) {
        const batch = model
          .batch()
          .map(
            ([shard, changes]) =>
              [shard, { ...changes, meta: { ...(changes.meta as object), filler } }] as const,
          );
        model.apply(batch);
        const payload = opened.log.encode(batch);
        if (opened.log.checkpointDue(payload.length)) {
          break;
        }
        await opened.log.append(payload);
        appended += 1;
      }
      assert.ok(appended > 30, `records before the bound: ${appended}`);
      const before = segmentFiles(folder.path).length;
      assert.ok(before >= 3, `segments before the checkpoint: ${before}`);
      await opened.log.checkpoint(model.state);
      const after = segmentFiles(folder.path).length;
      assert.equal(after, 1, 'only the active segment is left');
      assert.equal(opened.log.statistics().walBytesSinceCheckpoint, 0);
      assert.equal(opened.log.statistics().checkpointCount, 2);
      await opened.log.append(opened.log.encode(model.batch()));
      await opened.log.close();
      opened = await openLog(folder.path, options);
      assert.equal(opened.recovery.recordCount, 1, 'only the record after the checkpoint is read');
      assert.deepEqual(normalized(opened.recovery.state), normalized(model.state));
      await opened.log.close();
    } finally {
      folder.remove();
    }
  });

  it('a crash between the checkpoint and the truncation: the covered records are skipped', async () => {
    const folder = temporaryFolder('distkit-store-wal-');
    try {
      const model = new Model(13);
      let opened = await openLog(folder.path);
      await opened.log.checkpoint(model.state);
      for (let count = 0; count < 25; count += 1) {
        await opened.log.append(opened.log.encode(model.batch()));
      }
      // The checkpoint is written, the truncation never happens (the process died).
      const covered = await opened.log.writeCheckpoint(model.state);
      assert.equal(covered, 25);
      // Folding the covered records again onto the checkpoint would be wrong: the records
      // are older than the checkpoint. The next batches go after it.
      for (let count = 0; count < 5; count += 1) {
        await opened.log.append(opened.log.encode(model.batch()));
      }
      await opened.log.close();
      opened = await openLog(folder.path);
      assert.equal(opened.recovery.recordCount, 5);
      assert.deepEqual(normalized(opened.recovery.state), normalized(model.state));
      await opened.log.close();
    } finally {
      folder.remove();
    }
  });

  it('a torn last record (a crash during an append) is cut; the batches before it remain', async () => {
    const folder = temporaryFolder('distkit-store-wal-');
    try {
      const model = new Model(14);
      let opened = await openLog(folder.path);
      await opened.log.checkpoint(model.state);
      for (let count = 0; count < 10; count += 1) {
        await opened.log.append(opened.log.encode(model.batch()));
      }
      const kept = structuredClone(model.state);
      await opened.log.append(opened.log.encode(model.batch()));
      await opened.log.close();
      const [segment] = segmentFiles(folder.path) as [string];
      truncateSync(segment, statSync(segment).size - 3);
      opened = await openLog(folder.path);
      assert.equal(opened.recovery.recordCount, 10);
      assert.ok(opened.recovery.tornBytes > 0, 'the torn bytes are reported');
      assert.deepEqual(normalized(opened.recovery.state), normalized(kept));
      await opened.log.close();
    } finally {
      folder.remove();
    }
  });

  it('refuses a log damaged in the middle with WalCorruptionError, and changes nothing', async () => {
    const folder = temporaryFolder('distkit-store-wal-');
    try {
      const model = new Model(15);
      const opened = await openLog(folder.path);
      await opened.log.checkpoint(model.state);
      for (let count = 0; count < 10; count += 1) {
        await opened.log.append(opened.log.encode(model.batch()));
      }
      await opened.log.close();
      const [segment] = segmentFiles(folder.path) as [string];
      const bytes = readFileSync(segment);
      // A byte inside the first record's payload (after the 24-byte segment header and
      // the 17-byte record header).
      bytes[24 + 17 + 5] = (bytes[24 + 17 + 5] as number) ^ 0xff;
      writeFileSync(segment, bytes);
      await assert.rejects(openLog(folder.path), (error) => isWalCorruptionError(error));
      assert.deepEqual(readFileSync(segment), bytes, 'the damaged segment is left as it was');
    } finally {
      folder.remove();
    }
  });

  it('refuses log records without their checkpoint, and a damaged checkpoint', async () => {
    const folder = temporaryFolder('distkit-store-wal-');
    try {
      const model = new Model(16);
      const opened = await openLog(folder.path);
      await opened.log.checkpoint(model.state);
      await opened.log.append(opened.log.encode(model.batch()));
      await opened.log.close();
      const checkpoint = join(folder.path, storeCheckpointFileName);
      const saved = readFileSync(checkpoint);
      const damaged = Buffer.from(saved);
      damaged[damaged.length - 1] = (damaged[damaged.length - 1] as number) ^ 0xff;
      writeFileSync(checkpoint, damaged);
      await assert.rejects(openLog(folder.path), (error) => isSnapshotCorruptionError(error));
      writeFileSync(checkpoint, '');
      truncateSync(checkpoint, 0);
      await assert.rejects(openLog(folder.path), (error) => isSnapshotCorruptionError(error));
      const { rmSync } = await import('node:fs');
      rmSync(checkpoint);
      await assert.rejects(
        openLog(folder.path),
        (error) => isWalCorruptionError(error) && /missing/.test(error.message),
      );
    } finally {
      folder.remove();
    }
  });

  it("refuses another node's folder, or another shape of cluster", async () => {
    const folder = temporaryFolder('distkit-store-wal-');
    try {
      const opened = await openLog(folder.path);
      await opened.log.checkpoint(emptyState());
      await opened.log.close();
      await assert.rejects(
        StoreDurableLog.open({ directory: folder.path, header: { ...header, id: 'n2' } }),
        (error) => isInvalidArgumentError(error) && /node n1/.test(error.message),
      );
      await assert.rejects(
        StoreDurableLog.open({ directory: folder.path, header: { ...header, shardCount: 3 } }),
        (error) => isInvalidArgumentError(error) && /2 shards/.test(error.message),
      );
    } finally {
      folder.remove();
    }
  });
});

async function openNode(
  directory: string,
  port: number,
  extra: { checkpointWalBytesMin?: number } = {},
) {
  return StoreProcess.open({
    id: 'n1',
    peers: { n1: { host: '127.0.0.1', port } },
    directory,
    mode: 'consensus',
    shardCount: 2,
    secret: testSecret,
    tickMs: 10,
    walSegmentBytesMax: 64 * 1024,
    ...extra,
  });
}

async function writeOk(node: StoreProcess, key: string, value: string): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    const result = await node.write(key, value, { consistency: 'linearizable' });
    if (result.status === 'ok') {
      return;
    }
    assert.ok(attempt < 200, `write ${key}: ${JSON.stringify(result)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function readValue(node: StoreProcess, key: string): Promise<unknown> {
  for (let attempt = 0; ; attempt += 1) {
    const result = await node.read(key, { consistency: 'linearizable' });
    if (result.status === 'ok') {
      return result.value;
    }
    assert.ok(attempt < 200, `read ${key}: ${JSON.stringify(result)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('StoreProcess on the write-ahead log', () => {
  it('a write appends a record the size of its change, not of the state', async () => {
    const folder = temporaryFolder('distkit-store-wal-node-');
    const [port] = (await freePorts(1)) as [number];
    const node = await openNode(folder.path, port);
    try {
      const value = 'v'.repeat(200);
      for (let index = 0; index < 300; index += 1) {
        await writeOk(node, `key-${index}`, value);
      }
      const before = node.status();
      await writeOk(node, 'one-more', value);
      const after = node.status();
      const records = after.walRecordCount - before.walRecordCount;
      const bytes = after.walBytes - before.walBytes;
      assert.ok(records >= 1, 'the write was logged');
      // 300 keys of 200 characters: the whole state is over 60 kB; one write's records
      // (the entry, the commit, the hard state) are a few hundred bytes each.
      const wholeState = 300 * 200;
      assert.ok(
        bytes < wholeState / 10,
        `${records} records of ${bytes} bytes for one write, against a state of ${wholeState}+`,
      );
      assert.equal(after.checkpointCount, 1, 'only the checkpoint at start');
    } finally {
      await node.close();
      folder.remove();
    }
  });

  it('recovers every write from the checkpoint and the log, with checkpoints taken on the way', async () => {
    const folder = temporaryFolder('distkit-store-wal-node-');
    const [port] = (await freePorts(1)) as [number];
    let node = await openNode(folder.path, port, { checkpointWalBytesMin: 16 * 1024 });
    const written = new Map<string, string>();
    try {
      for (let index = 0; index < 200; index += 1) {
        const key = `k${index % 50}`;
        const value = `value-${index}`;
        await writeOk(node, key, value);
        written.set(key, value);
      }
      const status = node.status();
      assert.ok(status.checkpointCount >= 3, `checkpoints: ${status.checkpointCount}`);
      assert.ok(status.walRecordCount > 0, 'writes were logged');
      assert.equal(status.stateWriteCount, status.walRecordCount + status.checkpointCount);
      assert.ok(status.walBytes <= Math.max(16 * 1024, 4 * status.checkpointBytes));
      assert.ok(segmentFiles(folder.path).length <= 3, 'covered segments were deleted');
      await node.close();
      node = await openNode(folder.path, port, { checkpointWalBytesMin: 16 * 1024 });
      for (const [key, value] of written) {
        assert.equal(await readValue(node, key), value, key);
      }
    } finally {
      await node.close();
      folder.remove();
    }
  });
});

describe('StoreNodeCore: durable records and changes per shard', () => {
  function layoutOf(factory: ReplicaCoreFactory): ShardedStoreLayout {
    return new ShardedStoreLayout({
      nodes: ['n1'],
      keyspaces: [
        {
          name: 'kv',
          keyPrefix: '',
          mode: 'consensus',
          factory,
          partitioning: { kind: 'hash', shardCount: 2 },
          replicaCount: 1,
        },
      ],
    });
  }

  function drive(core: StoreNodeCore, round: number, count: number): void {
    for (let tick = 0; tick < 40; tick += 1) {
      core.tick();
      core.drain();
    }
    for (let index = 0; index < count; index += 1) {
      for (const shard of core.shardIds()) {
        core.receive('c', {
          kind: 'store-request',
          shard,
          request: {
            id: `${shard}-${round}-${index}`,
            client: 'c',
            operation: { kind: 'write', key: `k${index}`, value: `v${round}-${index}` },
          },
        });
      }
      core.tick();
      core.drain();
    }
  }

  function fold(boot: StoreNodeDurableState, batches: [string, DurableChanges][][]) {
    const shards: Record<string, unknown> = { ...boot.shards };
    for (const batch of batches) {
      for (const [shard, changes] of batch) {
        shards[shard] = applyDurableChanges(shards[shard] as KeyedDurableState, [changes]);
      }
    }
    return { shards };
  }

  for (const [name, factory] of [
    ['a mode with takeDurableChanges', consensus()],
    // A replica without the incremental methods is kept whole (its meta is the state).
    [
      'a replica without it',
      (options: Parameters<ReplicaCoreFactory>[0]) => {
        const replica = consensus()(options);
        return {
          id: replica.id,
          request: (request) => replica.request(request),
          step: (from, message) => replica.step(from, message),
          tick: () => replica.tick(),
          drain: () => replica.drain(),
          durableState: () => replica.durableState(),
          metrics: () => replica.metrics(),
        } satisfies ReplicaCore;
      },
    ],
  ] as const) {
    it(`${name}: the folded batches give durableRecords(), and a core rebuilt from them holds the writes`, () => {
      const layout = layoutOf(factory as ReplicaCoreFactory);
      const options = { id: 'n1', layout, clock: new ManualClock(), tickMs: 10 };
      const core = new StoreNodeCore({ ...options, random: new SeededRandom({ seed: 3 }) });
      const boot = structuredClone(core.durableRecords());
      core.takeDurableChanges();
      const batches: [string, DurableChanges][][] = [];
      for (let round = 0; round < 5; round += 1) {
        drive(core, round, 10);
        batches.push(structuredClone(core.takeDurableChanges()));
      }
      assert.ok(
        batches.every((batch) => batch.length === 2),
        'every round changed both shards',
      );
      const folded = fold(boot, batches);
      assert.deepEqual(normalized(folded), normalized(core.durableRecords()));
      const again = new StoreNodeCore({
        ...options,
        random: new SeededRandom({ seed: 3 }),
        durableState: folded,
      });
      assert.deepEqual(
        again.durableState(),
        new StoreNodeCore({
          ...options,
          random: new SeededRandom({ seed: 3 }),
          durableState: core.durableState(),
        }).durableState(),
      );
    });
  }
});
