import assert from 'node:assert/strict';
import { copyFile, readdir, readFile, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  isAssertionError,
  isInvalidArgumentError,
  isLimitExceededError,
} from '../../src/core/index.js';
import {
  type Entry,
  type EntryType,
  type HardState,
  type Membership,
  MemoryRaftStorage,
  type RaftStorage,
  type Snapshot,
} from '../../src/raft/index.js';
import {
  DurableRaftStorage,
  isRaftStorageClosedError,
  isRaftStorageCorruptionError,
  isSnapshotCorruptionError,
  isWalCorruptionError,
  RaftLogStore,
  segmentFileName,
} from '../../src/storage/index.js';
import { bytesOf, temporaryFolderHook, textOf } from './helpers.js';

const folder = temporaryFolderHook();

const membership: Membership = { voters: ['n1', 'n2', 'n3'], votersOutgoing: [], learners: [] };

const entry = (index: number, term: number, type: EntryType = 'normal', text?: string): Entry => ({
  index,
  term,
  type,
  data: bytesOf(text ?? `${index}@${term}`),
});

/** Consecutive entries `[from, to]` of one term. */
const run = (from: number, to: number, term: number): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, offset) => entry(from + offset, term));

const hard = (term: number, commitIndex: number, vote: string | null = 'n1'): HardState => ({
  term,
  vote,
  commitIndex,
});

/** The port's answers as plain data, for comparisons. */
function view(storage: DurableRaftStorage): unknown {
  const first = storage.firstIndex();
  const last = storage.lastIndex();
  return {
    firstIndex: first,
    lastIndex: last,
    terms: Array.from({ length: last - first + 2 }, (_, offset) =>
      storage.term(first - 1 + offset),
    ),
    entries: storage
      .entries(first, last + 1, Number.MAX_SAFE_INTEGER)
      .map((item) => [item.index, item.term, item.type, textOf(item.data)]),
    snapshot: storage.snapshot().metadata,
    hardState: storage.hardState(),
  };
}

describe('DurableRaftStorage', () => {
  it('starts empty with the initial membership, and reopens with hard state, typed entries and snapshot', async () => {
    const storage = await DurableRaftStorage.open({ directory: folder.path, membership });
    assert.deepEqual(storage.initialState(), {
      hardState: { term: 0, vote: null, commitIndex: 0 },
      membership,
    });
    assert.equal(storage.firstIndex(), 1);
    assert.equal(storage.lastIndex(), 0);
    assert.equal(storage.term(0), 0);
    assert.equal(storage.snapshot().metadata.index, 0);
    await storage.save({
      hardState: hard(2, 3),
      entries: [entry(1, 1, 'config'), entry(2, 2), entry(3, 2, 'config'), entry(4, 2)],
    });
    const next: Membership = { voters: ['n1', 'n2'], votersOutgoing: [], learners: ['n4'] };
    const snapshot = await storage.createSnapshot(2, next, bytesOf('state@2'));
    assert.deepEqual(snapshot.metadata, { index: 2, term: 2, membership: next });
    const before = view(storage);
    await storage.close();

    const reopened = await DurableRaftStorage.open({ directory: folder.path, membership });
    assert.deepEqual(view(reopened), before);
    assert.deepEqual(reopened.initialState(), { hardState: hard(2, 3), membership: next });
    assert.equal(textOf(reopened.snapshot().data), 'state@2');
    assert.deepEqual(
      reopened.entries(3, 5, 1_000).map((item) => [item.index, item.type, textOf(item.data)]),
      [
        [3, 'config', '3@2'],
        [4, 'normal', '4@2'],
      ],
    );
    // entries stops at bytesMax, but returns at least one.
    assert.equal(reopened.entries(3, 5, 1).length, 1);
    await reopened.close();
  });

  it('replaces a conflicting suffix, and the replacement survives a reopen', async () => {
    const storage = await DurableRaftStorage.open({ directory: folder.path });
    await storage.save({ hardState: hard(1, 0), entries: run(1, 5, 1) });
    await storage.save({ entries: [entry(3, 2, 'normal', 'new 3'), entry(4, 2, 'config')] });
    assert.equal(storage.lastIndex(), 4);
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((index) => storage.term(index)),
      [1, 1, 2, 2, undefined],
    );
    const before = view(storage);
    await storage.close();
    const reopened = await DurableRaftStorage.open({ directory: folder.path });
    assert.deepEqual(view(reopened), before);
    assert.equal(textOf((reopened.entries(3, 4, 100)[0] as Entry).data), 'new 3');
    await reopened.close();
  });

  it('runs saves in call order and changes the memory view only once they are durable', async () => {
    const storage = await DurableRaftStorage.open({ directory: folder.path });
    const first = storage.save({ hardState: hard(1, 0), entries: run(1, 3, 1) });
    const second = storage.save({ entries: [entry(3, 2), entry(4, 2)] });
    const third = storage.save({ hardState: hard(2, 4), entries: [] });
    assert.equal(storage.lastIndex(), 0, 'nothing is visible before it is durable');
    await first;
    assert.equal(storage.lastIndex(), 3);
    assert.equal(storage.term(3), 1);
    await Promise.all([second, third]);
    assert.equal(storage.term(3), 2);
    assert.deepEqual(storage.hardState(), hard(2, 4));
    await storage.close();
  });

  it('compacts on createSnapshot, keeps trailing entries, and a reopen starts after the compaction point', async () => {
    const directory = folder.path;
    const wal = { segmentBytesMax: 4096, recordBytesMax: 1000 };
    const storage = await DurableRaftStorage.open({ directory, wal });
    for (let index = 1; index <= 30; index += 10) {
      await storage.save({
        hardState: hard(1, index + 9),
        entries: Array.from({ length: 10 }, (_, offset) =>
          entry(index + offset, 1, 'normal', 'x'.repeat(500)),
        ),
      });
    }
    const segmentsBefore = (await readdir(join(directory, 'wal'))).length;
    await storage.createSnapshot(20, membership, bytesOf('s20'), { trailingEntries: 5 });
    assert.equal(storage.firstIndex(), 16);
    assert.equal(storage.term(15), 1);
    assert.equal(storage.term(14), undefined);
    assert.equal(storage.snapshot().metadata.index, 20);
    assert.ok((await readdir(join(directory, 'wal'))).length < segmentsBefore, 'segments deleted');
    const withTrailing = view(storage);
    await storage.close();

    const reopened = await DurableRaftStorage.open({ directory, wal });
    assert.deepEqual(view(reopened), withTrailing);
    await reopened.createSnapshot(25, membership, bytesOf('s25'));
    assert.equal(reopened.firstIndex(), 26);
    assert.equal(reopened.term(25), 1);
    await assert.rejects(
      reopened.createSnapshot(24, membership, bytesOf('old')),
      isInvalidArgumentError,
    );
    await assert.rejects(
      reopened.createSnapshot(31, membership, bytesOf('beyond')),
      isInvalidArgumentError,
    );
    await reopened.close();

    const again = await DurableRaftStorage.open({ directory, wal, snapshotsKept: 1 });
    assert.equal(again.firstIndex(), 26);
    assert.equal(again.lastIndex(), 30);
    assert.equal(textOf(again.snapshot().data), 's25');
    // Entries the snapshot covers are skipped; the rest continue the log.
    await again.save({ entries: run(24, 31, 1) });
    assert.equal(again.lastIndex(), 31);
    await again.createSnapshot(28, membership, bytesOf('s28'));
    assert.deepEqual(await readdir(join(directory, 'snapshots')), [
      'snapshot-00000000000000000028-00000000000000000001.snap',
    ]);
    await again.close();
  });

  it('installs a received snapshot: drops a conflicting log, keeps a matching suffix, raises the commit index', async () => {
    const storage = await DurableRaftStorage.open({ directory: folder.path });
    await storage.save({ hardState: hard(1, 2), entries: run(1, 6, 1) });
    const received = (index: number, term: number): Snapshot => ({
      metadata: { index, term, membership },
      data: bytesOf(`leader state @${index}`),
    });

    // The log holds index 4 with term 1: the suffix 5..6 stays.
    await storage.save({ entries: [], snapshot: received(4, 1) });
    assert.equal(storage.firstIndex(), 5);
    assert.equal(storage.lastIndex(), 6);
    assert.equal(storage.term(4), 1);
    assert.deepEqual(storage.hardState(), hard(1, 4));

    // Index 8 is beyond the log: everything goes; entries in the same ready follow it.
    await storage.save({
      hardState: hard(3, 5, 'n2'),
      entries: [entry(7, 3), entry(8, 3), entry(9, 3, 'config')],
      snapshot: received(8, 3),
    });
    assert.equal(storage.firstIndex(), 9);
    assert.equal(storage.lastIndex(), 9);
    assert.equal(storage.term(8), 3);
    assert.deepEqual(storage.hardState(), hard(3, 8, 'n2'), 'commit raised to the snapshot');
    // An older snapshot changes nothing.
    await storage.save({ entries: [], snapshot: received(7, 3) });
    assert.equal(storage.snapshot().metadata.index, 8);
    const before = view(storage);
    await storage.close();

    const reopened = await DurableRaftStorage.open({ directory: folder.path });
    assert.deepEqual(view(reopened), before);
    assert.equal(textOf(reopened.snapshot().data), 'leader state @8');
    assert.deepEqual(reopened.initialState().membership, membership);
    await reopened.close();
  });

  it('recovers a crash between the snapshot file and the log reset', async () => {
    // What a node would have after writing the snapshot file of index 4, term 2: the
    // same file, made by a second storage that did the whole install.
    const leader = join(folder.path, 'other');
    const other = await DurableRaftStorage.open({ directory: leader });
    await other.save({
      entries: [],
      snapshot: { metadata: { index: 4, term: 2, membership }, data: bytesOf('s4') },
    });
    await other.close();
    const [snapshotName] = await readdir(join(leader, 'snapshots'));

    for (const variant of ['conflicting', 'matching', 'empty-wal'] as const) {
      const directory = join(folder.path, variant);
      const node = await DurableRaftStorage.open({ directory });
      const log =
        variant === 'matching'
          ? [...run(1, 2, 1), ...run(3, 6, 2)]
          : [...run(1, 3, 1), entry(4, 1), entry(5, 1)];
      await node.save({ hardState: hard(2, 2), entries: log });
      await node.close();
      await copyFile(
        join(leader, 'snapshots', snapshotName as string),
        join(directory, 'snapshots', snapshotName as string),
      );
      if (variant === 'empty-wal') {
        // The reset deleted the old segments and crashed before creating the new one.
        for (const name of await readdir(join(directory, 'wal'))) {
          await unlink(join(directory, 'wal', name));
        }
      }

      const recovered = await DurableRaftStorage.open({ directory });
      assert.equal(recovered.snapshot().metadata.index, 4, variant);
      assert.equal(recovered.firstIndex(), 5, variant);
      assert.equal(recovered.term(4), 2, variant);
      assert.equal(recovered.hardState().commitIndex, 4, variant);
      if (variant === 'matching') {
        assert.equal(recovered.lastIndex(), 6, 'the suffix after a matching index stays');
        assert.equal(recovered.term(6), 2);
      } else {
        assert.equal(recovered.lastIndex(), 4, `${variant}: the old suffix is dropped`);
        await recovered.save({ entries: [entry(5, 3)] });
      }
      const before = view(recovered);
      await recovered.close();
      const reopened = await DurableRaftStorage.open({ directory });
      assert.deepEqual(view(reopened), before, variant);
      await reopened.close();
    }
  });

  it('cuts a torn WAL tail and refuses a corrupted middle', async () => {
    const storage = await DurableRaftStorage.open({ directory: folder.path });
    await storage.save({ hardState: hard(1, 2), entries: run(1, 4, 1) });
    await storage.close();
    const segment = join(folder.path, 'wal', segmentFileName(1));
    const size = (await readFile(segment)).length;
    await truncate(segment, size - 5);

    const recovered = await DurableRaftStorage.open({ directory: folder.path });
    assert.equal(recovered.lastIndex(), 3, 'the torn last entry is gone');
    await recovered.save({ entries: [entry(4, 2, 'config')] });
    await recovered.close();
    const reopened = await DurableRaftStorage.open({ directory: folder.path });
    assert.deepEqual(
      reopened.entries(1, 5, 10_000).map((item) => [item.term, item.type]),
      [
        [1, 'normal'],
        [1, 'normal'],
        [1, 'normal'],
        [2, 'config'],
      ],
    );
    await reopened.close();

    const bytes = await readFile(segment);
    // Segment header (24), first record's header (17): flip a bit of its payload.
    bytes[24 + 17 + 3] = (bytes[24 + 17 + 3] as number) ^ 1;
    await writeFile(segment, bytes);
    await assert.rejects(DurableRaftStorage.open({ directory: folder.path }), isWalCorruptionError);
  });

  it('refuses an entry whose stored type byte is unknown', async () => {
    const log = await RaftLogStore.open({ directory: folder.path });
    await log.append([
      { index: 1, term: 1, data: new Uint8Array([0, 65]) },
      { index: 2, term: 1, data: new Uint8Array([7, 65]) },
    ]);
    await log.close();
    await assert.rejects(DurableRaftStorage.open({ directory: folder.path }), (error) => {
      assert.ok(isRaftStorageCorruptionError(error));
      assert.equal(error.index, 2);
      return true;
    });
  });

  it('raises the commit index to a snapshot taken above the saved one (a lazily saved commit index)', async () => {
    const storage = await DurableRaftStorage.open({ directory: folder.path });
    await storage.save({ hardState: hard(1, 1), entries: run(1, 5, 1) });
    await storage.createSnapshot(4, membership, bytesOf('s4'));
    assert.deepEqual(storage.hardState(), hard(1, 4));
    const before = view(storage);
    await storage.close();
    const reopened = await DurableRaftStorage.open({ directory: folder.path });
    assert.deepEqual(view(reopened), before);
    await reopened.close();
  });

  it('refuses a WAL that starts after the snapshot ends', async () => {
    // Entries 1 to 4 were compacted into a snapshot file that is now gone.
    const log = await RaftLogStore.open({ directory: folder.path });
    await log.resetToSnapshot(4);
    await log.append([{ index: 5, term: 2, data: new Uint8Array([0, 65]) }]);
    await log.close();
    await assert.rejects(DurableRaftStorage.open({ directory: folder.path }), (error) => {
      assert.ok(isRaftStorageCorruptionError(error));
      assert.equal(error.index, 1);
      return true;
    });
  });

  it('falls back to an older snapshot only when the log still covers the corrupt newer one', async () => {
    const directory = folder.path;
    const wal = { segmentBytesMax: 4096, recordBytesMax: 1000 };
    const storage = await DurableRaftStorage.open({ directory, wal });
    await storage.save({
      hardState: hard(1, 25),
      entries: Array.from({ length: 30 }, (_, offset) =>
        entry(offset + 1, 1, 'normal', 'x'.repeat(500)),
      ),
    });
    await storage.createSnapshot(3, membership, bytesOf('s3'));
    await storage.createSnapshot(6, membership, bytesOf('s6'), { trailingEntries: 10 });
    assert.equal(storage.firstIndex(), 4);
    await storage.close();
    const snapshotPath = (index: number): string =>
      join(
        directory,
        'snapshots',
        `snapshot-${String(index).padStart(20, '0')}-00000000000000000001.snap`,
      );
    const damaged = await readFile(snapshotPath(6));
    damaged[damaged.length - 1] = (damaged[damaged.length - 1] as number) ^ 1;
    await writeFile(snapshotPath(6), damaged);

    const recovered = await DurableRaftStorage.open({ directory, wal });
    assert.equal(recovered.snapshot().metadata.index, 3);
    assert.equal(textOf(recovered.snapshot().data), 's3');
    assert.equal(recovered.firstIndex(), 4);
    assert.equal(recovered.lastIndex(), 30);
    // Snapshot 3 goes (two kept: 20 and the damaged 6) and the WAL drops its early
    // segments: a damaged snapshot 20 then has nothing to fall back on.
    await recovered.createSnapshot(20, membership, bytesOf('s20'));
    await recovered.close();
    await writeFile(snapshotPath(20), 'damaged');
    await assert.rejects(DurableRaftStorage.open({ directory, wal }), isSnapshotCorruptionError);
  });

  it('validates options and arguments with typed errors, and refuses use after close', async () => {
    const bad: unknown[] = [
      undefined,
      {},
      { directory: '' },
      { directory: folder.path, snapshotsKept: 0 },
      { directory: folder.path, snapshotsKept: 1.5 },
      { directory: folder.path, pendingOperationCountMax: 0 },
      { directory: folder.path, membership: { voters: 'n1' } },
      { directory: folder.path, membership: { voters: [1], votersOutgoing: [], learners: [] } },
      { directory: folder.path, wal: 'big' },
      { directory: folder.path, wal: { segmentBytesMax: 1 } },
      { directory: folder.path, wal: { firstIndex: 5 } },
    ];
    for (const options of bad) {
      await assert.rejects(
        DurableRaftStorage.open(options as never),
        isInvalidArgumentError,
        JSON.stringify(options),
      );
    }

    const storage = await DurableRaftStorage.open({
      directory: folder.path,
      pendingOperationCountMax: 2,
    });
    const malformed: unknown[] = [
      undefined,
      { entries: 'x' },
      { entries: [{ index: 1, term: 1, type: 'other', data: new Uint8Array() }] },
      { entries: [entry(1, 1), entry(3, 1)] },
      { entries: [{ index: 1, term: 1, type: 'normal', data: 'text' }] },
      { entries: [], hardState: { term: -1, vote: null, commitIndex: 0 } },
      { entries: [], hardState: { term: 1, vote: 'x'.repeat(2000), commitIndex: 0 } },
      { entries: [], snapshot: { metadata: { index: 1, term: 1 }, data: new Uint8Array() } },
    ];
    for (const ready of malformed) {
      await assert.rejects(storage.save(ready as never), isInvalidArgumentError);
    }
    // A gap after the log is refused before anything is written; later saves still work.
    await assert.rejects(storage.save({ entries: [entry(2, 1)] }), isInvalidArgumentError);
    await storage.save({ entries: [entry(1, 1)] });
    await assert.rejects(
      storage.createSnapshot(2, membership, bytesOf('beyond the log')),
      isInvalidArgumentError,
    );
    await assert.rejects(
      storage.createSnapshot(1, membership, 'x' as never),
      isInvalidArgumentError,
    );
    await assert.rejects(
      storage.createSnapshot(1, membership, bytesOf('x'), { trailingEntries: -1 }),
      isInvalidArgumentError,
    );
    // The queue of writes is bounded.
    const queued = [storage.save({ entries: [] }), storage.save({ entries: [] })];
    await assert.rejects(storage.save({ entries: [] }), isLimitExceededError);
    await Promise.all(queued);

    const pending = storage.save({ hardState: hard(1, 1), entries: [entry(2, 1)] });
    await storage.close();
    await pending; // close waits for the writes already called
    await assert.rejects(storage.save({ entries: [] }), isRaftStorageClosedError);
    await assert.rejects(
      storage.createSnapshot(1, membership, bytesOf('x')),
      isRaftStorageClosedError,
    );
    assert.throws(() => storage.lastIndex(), isRaftStorageClosedError);
    assert.throws(() => storage.entries(1, 2, 100), isRaftStorageClosedError);
    await storage.close();
    const reopened = await DurableRaftStorage.open({ directory: folder.path });
    assert.equal(reopened.lastIndex(), 2);
    assert.throws(() => reopened.entries(0, 2, 100), isAssertionError);
    await reopened.close();
  });
});

type Operation =
  | {
      readonly kind: 'append';
      readonly back: number;
      readonly count: number;
      readonly termBump: boolean;
      readonly configMask: number;
      readonly hardState: boolean;
      readonly vote: number;
      readonly commitAdvance: number;
      readonly reopen: boolean;
    }
  | {
      readonly kind: 'create-snapshot';
      readonly back: number;
      readonly trailing: number;
      readonly membership: number;
      readonly reopen: boolean;
    }
  | {
      readonly kind: 'receive-snapshot';
      readonly ahead: number;
      readonly matching: boolean;
      readonly count: number;
      readonly hardState: boolean;
      readonly reopen: boolean;
    };

const memberships: readonly Membership[] = [
  membership,
  { voters: ['n1', 'n2'], votersOutgoing: ['n1', 'n2', 'n3'], learners: ['n4'] },
];
const votes = [null, 'n1', 'n2'] as const;

const operationArbitrary: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      back: fc.nat({ max: 4 }),
      count: fc.nat({ max: 6 }),
      termBump: fc.boolean(),
      configMask: fc.nat({ max: 63 }),
      hardState: fc.boolean(),
      vote: fc.nat({ max: 2 }),
      commitAdvance: fc.nat({ max: 3 }),
      reopen: fc.nat({ max: 4 }).map((value) => value === 0),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('create-snapshot' as const),
      back: fc.nat({ max: 3 }),
      trailing: fc.nat({ max: 4 }),
      membership: fc.nat({ max: 1 }),
      reopen: fc.nat({ max: 2 }).map((value) => value === 0),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('receive-snapshot' as const),
      ahead: fc.nat({ max: 5 }),
      matching: fc.boolean(),
      count: fc.nat({ max: 3 }),
      hardState: fc.boolean(),
      reopen: fc.boolean(),
    }),
  },
);

/** Entries with the same index and term carry the same data, as in Raft. */
const modelEntry = (index: number, term: number, config: boolean): Entry =>
  entry(index, term, config ? 'config' : 'normal', `${index}@${term}`.repeat(1 + (index % 7) * 20));

/** Every answer of the port, as plain data. */
function portAnswers(storage: RaftStorage & { hardState(): HardState }): unknown {
  const first = storage.firstIndex();
  const last = storage.lastIndex();
  const snapshot = storage.snapshot();
  const describe = (items: Entry[]): unknown[] =>
    items.map((item) => [item.index, item.term, item.type, textOf(item.data)]);
  return {
    firstIndex: first,
    lastIndex: last,
    terms: Array.from({ length: last - first + 4 }, (_, offset) =>
      storage.term(first - 2 + offset),
    ),
    entries: describe(storage.entries(first, last + 1, Number.MAX_SAFE_INTEGER)),
    entriesBounded: last >= first ? describe(storage.entries(first, last + 1, 400)) : [],
    snapshot: { metadata: snapshot.metadata, data: textOf(snapshot.data) },
    hardState: storage.hardState(),
    initialState: storage.initialState(),
  };
}

describe('DurableRaftStorage against MemoryRaftStorage (fast-check)', () => {
  it('random saves, snapshots and received snapshots give the same port answers, before and after reopen', async () => {
    let runNumber = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(operationArbitrary, { minLength: 1, maxLength: 16 }),
        async (operations) => {
          runNumber += 1;
          const options = {
            directory: join(folder.path, `run-${runNumber}`),
            membership,
            wal: { segmentBytesMax: 4096, recordBytesMax: 2048 },
          };
          const model = new MemoryRaftStorage({ membership });
          let durable = await DurableRaftStorage.open(options);
          let term = 1;
          try {
            for (const operation of operations) {
              const commit = model.hardState().commitIndex;
              if (operation.kind === 'append') {
                // Committed entries may be sent again, but never with another term.
                const start = Math.max(1, commit + 1 - operation.back, model.firstIndex() - 1);
                const from = Math.min(start, model.lastIndex() + 1);
                if (operation.termBump) {
                  term += 1;
                }
                const entries: Entry[] = [];
                // Storage truncates after the entries it is given (the core sends only from the
                // first conflict on): a resend of committed entries reaches past the commit index.
                const count = Math.max(operation.count, commit - from + 1);
                for (let index = from; index < from + count; index += 1) {
                  const existing = index <= commit ? model.term(index) : undefined;
                  entries.push(
                    modelEntry(
                      index,
                      existing ?? term,
                      ((operation.configMask >> (index % 6)) & 1) === 1,
                    ),
                  );
                }
                const lastAfter = Math.max(
                  entries.length > 0 ? from + entries.length - 1 : model.lastIndex(),
                  commit,
                );
                const hardState = operation.hardState
                  ? {
                      term,
                      vote: votes[operation.vote] ?? null,
                      commitIndex: Math.min(lastAfter, commit + operation.commitAdvance),
                    }
                  : undefined;
                model.append(entries);
                if (hardState !== undefined) {
                  model.setHardState(hardState);
                }
                await durable.save(hardState === undefined ? { entries } : { hardState, entries });
              } else if (operation.kind === 'create-snapshot') {
                const index = Math.max(commit - operation.back, model.snapshot().metadata.index);
                if (index < 1) {
                  continue;
                }
                const chosen = memberships[operation.membership] as Membership;
                const data = bytesOf(`state@${index}`);
                model.createSnapshot(index, chosen, data);
                model.compact(index - operation.trailing);
                await durable.createSnapshot(index, chosen, data, {
                  trailingEntries: operation.trailing,
                });
              } else {
                const base = Math.max(commit, model.snapshot().metadata.index);
                // A matching snapshot lands inside the uncommitted tail when there is one.
                const index =
                  operation.matching && model.lastIndex() > base
                    ? base + 1 + (operation.ahead % (model.lastIndex() - base))
                    : base + 1 + operation.ahead;
                const existing = model.term(index);
                let snapshotTerm: number;
                if (operation.matching && existing !== undefined) {
                  snapshotTerm = existing;
                } else {
                  term += 1;
                  snapshotTerm = term;
                }
                const snapshot: Snapshot = {
                  metadata: { index, term: snapshotTerm, membership: memberships[1] as Membership },
                  data: bytesOf(`leader@${index}`),
                };
                const entries = Array.from({ length: operation.count }, (_, offset) =>
                  modelEntry(index + 1 + offset, term, false),
                );
                const hardState = operation.hardState
                  ? { term, vote: null, commitIndex: index }
                  : undefined;
                model.applySnapshot(snapshot);
                model.append(entries);
                if (hardState !== undefined) {
                  model.setHardState(hardState);
                }
                await durable.save(
                  hardState === undefined
                    ? { entries, snapshot }
                    : { hardState, entries, snapshot },
                );
              }
              assert.deepEqual(portAnswers(durable), portAnswers(model), operation.kind);
              if (operation.reopen) {
                await durable.close();
                durable = await DurableRaftStorage.open(options);
                assert.deepEqual(portAnswers(durable), portAnswers(model), 'after reopen');
              }
            }
            await durable.close();
            durable = await DurableRaftStorage.open(options);
            assert.deepEqual(portAnswers(durable), portAnswers(model), 'after the final reopen');
          } finally {
            await durable.close();
          }
        },
      ),
      { numRuns: 25 },
    );
  });
});
