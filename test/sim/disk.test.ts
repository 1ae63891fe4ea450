import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { crc32c, isInvalidArgumentError, SeededRandom } from '../../src/core/index.js';
import {
  appendRecord,
  decodeRecords,
  encodeRecord,
  isDiskWriteError,
  readRecords,
  SimDisk,
  type SimDiskOptions,
  Simulation,
} from '../../src/sim/index.js';

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);
const text = (value: string): Uint8Array => new TextEncoder().encode(value);
const disk = (options: SimDiskOptions = {}, seed = 1): SimDisk =>
  new SimDisk(new SeededRandom({ seed }), options);

describe('SimDisk', () => {
  it('keeps synced bytes and loses unsynced ones on a crash under "lose"', () => {
    const subject = disk({ unsyncedOnCrash: 'lose' });
    subject.append('log', bytes(1, 2));
    subject.sync('log');
    subject.append('log', bytes(3, 4));
    assert.deepEqual(subject.read('log'), bytes(1, 2, 3, 4), 'the node sees its own writes');
    assert.equal(subject.durableSize('log'), 2);
    subject.crash();
    assert.deepEqual(subject.read('log'), bytes(1, 2));
    assert.equal(subject.statistics.lostFileCount, 1);
  });

  it('keeps a strict prefix of the unsynced bytes under "tear"', () => {
    const sizes = new Set<number>();
    for (let seed = 1; seed <= 40; seed += 1) {
      const subject = disk({ unsyncedOnCrash: 'tear' }, seed);
      subject.append('log', bytes(9));
      subject.sync('log');
      subject.append('log', bytes(1, 2, 3, 4, 5, 6, 7, 8));
      subject.crash();
      const after = subject.read('log');
      assert.deepEqual(after, bytes(9, 1, 2, 3, 4, 5, 6, 7, 8).slice(0, after.length));
      assert.ok(after.length >= 1 && after.length < 9);
      sizes.add(after.length);
    }
    assert.ok(sizes.size > 3, `tears at different places: ${[...sizes]}`);
  });

  it('keeps everything under "keep"', () => {
    const subject = disk({ unsyncedOnCrash: 'keep' });
    subject.append('log', bytes(1));
    subject.crash();
    assert.deepEqual(subject.read('log'), bytes(1));
  });

  it('replaces a file atomically: a crash before sync brings the old content back', () => {
    const subject = disk({ unsyncedOnCrash: 'lose' });
    subject.replace('meta', text('term=1'));
    subject.sync('meta');
    subject.replace('meta', text('term=2'));
    subject.replace('meta', text('term=3'));
    subject.crash();
    assert.deepEqual(subject.read('meta'), text('term=1'));
    subject.replace('meta', text('term=4'));
    subject.sync('meta');
    subject.crash();
    assert.deepEqual(subject.read('meta'), text('term=4'));
  });

  it('never mixes old and new content of a replace, whatever the crash does', () => {
    for (let seed = 1; seed <= 30; seed += 1) {
      const subject = disk({ unsyncedOnCrash: 'lose-or-tear' }, seed);
      subject.replace('meta', text('old-value'));
      subject.sync('meta');
      subject.replace('meta', text('new'));
      subject.crash();
      const after = new TextDecoder().decode(subject.read('meta'));
      assert.ok(after === 'old-value' || after === 'new', after);
    }
  });

  it('truncates, and a truncation below the durable size is not undone by a crash', () => {
    const subject = disk({ unsyncedOnCrash: 'lose' });
    subject.append('log', bytes(1, 2, 3, 4));
    subject.sync('log');
    subject.truncate('log', 2);
    subject.append('log', bytes(7));
    subject.crash();
    assert.deepEqual(subject.read('log'), bytes(1, 2));
    assert.throws(() => subject.truncate('log', 5), isInvalidArgumentError);
    assert.throws(() => subject.truncate('log', 1.5), isInvalidArgumentError);
  });

  it('fails writes with DiskWriteError when told to, writing nothing', () => {
    const subject = disk({ writeErrorProbability: 1 });
    assert.throws(
      () => subject.append('log', bytes(1)),
      (error: unknown) => isDiskWriteError(error) && error.file === 'log',
    );
    assert.equal(subject.size('log'), 0);
    assert.equal(subject.exists('log'), false);
    assert.equal(subject.statistics.writeErrorCount, 1);
  });

  it('fails writes beyond its capacity', () => {
    const subject = disk({ capacityBytes: 4 });
    subject.append('a', bytes(1, 2, 3));
    assert.throws(
      () => subject.append('b', bytes(1, 2)),
      (error: unknown) => isDiskWriteError(error) && /disk full/.test(error.message),
    );
    subject.delete('a');
    subject.append('b', bytes(1, 2, 3, 4));
    assert.deepEqual(subject.files(), ['b']);
  });

  it('corrupts reads, not the stored bytes, when told to', () => {
    const subject = disk({ readCorruptionProbability: 1 });
    const original = text('hello world');
    subject.append('data', original);
    const first = subject.read('data');
    assert.notDeepEqual(first, original);
    let differingBits = 0;
    for (let index = 0; index < original.length; index += 1) {
      let difference = (first[index] as number) ^ (original[index] as number);
      while (difference !== 0) {
        differingBits += difference & 1;
        difference >>= 1;
      }
    }
    assert.equal(differingBits, 1);
    assert.equal(subject.statistics.readCorruptionCount, 1);
  });

  it('rejects bad options and arguments', () => {
    assert.throws(() => disk({ unsyncedOnCrash: 'maybe' as never }), isInvalidArgumentError);
    assert.throws(() => disk({ writeErrorProbability: 1.5 }), isInvalidArgumentError);
    assert.throws(() => disk().append('', bytes(1)), isInvalidArgumentError);
    assert.throws(() => disk().append('log', [1, 2] as never), isInvalidArgumentError);
  });

  it('belongs to its node: writes survive a node crash and restart as configured', () => {
    const simulation = new Simulation({ seed: 3 });
    const recovered: number[][] = [];
    const node = simulation.addNode({
      id: 'n',
      disk: { unsyncedOnCrash: 'lose' },
      program: (host) => {
        recovered.push([...host.disk.read('log')]);
        host.disk.append('log', bytes(host.incarnation));
        if (host.incarnation === 1) {
          host.disk.sync('log');
        }
        return { onMessage() {} };
      },
    });
    simulation.runForMs(1);
    node.crash();
    node.restart();
    node.crash();
    node.restart();
    assert.deepEqual(recovered, [[], [1], [1]]);
  });
});

describe('record log', () => {
  it('computes CRC-32C', () => {
    assert.equal(crc32c(text('123456789')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(0)), 0);
  });

  it('round-trips any list of records', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (records) => {
        const subject = disk();
        for (const record of records) {
          appendRecord(subject, 'log', record);
        }
        const decoded = readRecords(subject, 'log');
        assert.equal(decoded.end, 'clean');
        assert.deepEqual(decoded.records, records);
        assert.equal(decoded.validBytes, subject.size('log'));
      }),
    );
  });

  it('finds a torn tail after a crash and keeps every record before it', () => {
    let torn = 0;
    for (let seed = 1; seed <= 50; seed += 1) {
      const subject = disk({ unsyncedOnCrash: 'tear' }, seed);
      appendRecord(subject, 'log', text('durable'));
      subject.sync('log');
      appendRecord(subject, 'log', text('unsynced record'));
      subject.crash();
      const decoded = readRecords(subject, 'log');
      assert.deepEqual(decoded.records, [text('durable')]);
      assert.equal(decoded.validBytes, encodeRecord(text('durable')).length);
      if (decoded.end === 'torn') {
        torn += 1;
      }
    }
    assert.ok(torn > 40, `torn tails detected: ${torn} of 50`);
  });

  it('catches every single-bit corruption with the checksum', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 32 }), { minLength: 1, maxLength: 8 }),
        fc.nat(),
        (records, bitSeed) => {
          const frames = records.map(encodeRecord);
          const total = frames.reduce((sum, frame) => sum + frame.length, 0);
          const file = new Uint8Array(total);
          let offset = 0;
          for (const frame of frames) {
            file.set(frame, offset);
            offset += frame.length;
          }
          const bit = bitSeed % (total * 8);
          file[bit >> 3] = (file[bit >> 3] as number) ^ (1 << (bit & 7));
          const decoded = decodeRecords(file);
          assert.notEqual(decoded.end, 'clean');
          assert.ok(decoded.records.length < records.length);
          assert.deepEqual(decoded.records, records.slice(0, decoded.records.length));
        },
      ),
    );
  });

  it('rejects payloads that are not bytes', () => {
    assert.throws(() => encodeRecord('text' as never), isInvalidArgumentError);
  });
});
