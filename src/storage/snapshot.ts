/**
 * Snapshot files written atomically and read back with their checksum verified.
 *
 * Layout, 28 bytes then the data: magic `DKSNAPS1` (8), format version u32 LE (= 1),
 * data length u64 LE, CRC-32C of the data u32 LE, CRC-32C of the previous 24 bytes u32 LE.
 *
 * @module
 */

import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  crc32c,
  crc32cUpdate,
  InvalidArgumentError,
  LimitExceededError,
  requireInteger,
  requireOptions,
  requireString,
} from '../core/index.js';
import { SnapshotCorruptionError } from './errors.js';
import { syncDirectory, writeFully } from './files.js';

const headerBytes = 28;
const formatVersion = 1;
const magic = new TextEncoder().encode('DKSNAPS1');
const twoPower32 = 0x1_0000_0000;
const temporarySuffix = '.tmp';
const defaultBytesMax = 1024 * 1024 * 1024;

/** Options of {@link readSnapshotFile}. */
export interface ReadSnapshotOptions {
  /** Refuse a file whose data is larger than this. Default 1 GiB. */
  readonly bytesMax?: number;
}

function encodeHeader(data: Uint8Array): Uint8Array {
  const header = new Uint8Array(headerBytes);
  const view = new DataView(header.buffer);
  header.set(magic, 0);
  view.setUint32(8, formatVersion, true);
  view.setUint32(12, data.length % twoPower32, true);
  view.setUint32(16, Math.floor(data.length / twoPower32), true);
  view.setUint32(20, crc32c(data), true);
  view.setUint32(24, crc32cUpdate(0, header, 0, 24), true);
  return header;
}

/**
 * Writes `data` to `path` so that after a crash the file holds either its old content or
 * all of the new one: write `path.tmp`, fsync it, rename it over `path`, fsync the
 * folder. A leftover `path.tmp` from a crash is overwritten here and removed by
 * {@link SnapshotStore.open}.
 */
export async function writeSnapshotFile(path: string, data: Uint8Array): Promise<void> {
  requireString('path', path);
  if (!(data instanceof Uint8Array)) {
    throw new InvalidArgumentError('data', 'data must be a Uint8Array.');
  }
  const temporaryPath = `${path}${temporarySuffix}`;
  const handle = await open(temporaryPath, 'w');
  try {
    await writeFully(handle, encodeHeader(data), 0);
    await writeFully(handle, data, headerBytes);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temporaryPath).catch(() => {});
    throw error;
  }
  await handle.close();
  await rename(temporaryPath, path);
  await syncDirectory(dirname(path));
}

/**
 * Reads a file written by {@link writeSnapshotFile} and verifies its header, size and
 * checksum.
 *
 * @throws {@link SnapshotCorruptionError} when any check fails.
 * @throws LimitExceededError when the data is larger than `options.bytesMax`.
 */
export async function readSnapshotFile(
  path: string,
  options?: ReadSnapshotOptions,
): Promise<Uint8Array> {
  requireString('path', path);
  const bytesMax = requireInteger(
    'options.bytesMax',
    requireOptions<ReadSnapshotOptions>('options', options).bytesMax ?? defaultBytesMax,
    { min: 0, max: Number.MAX_SAFE_INTEGER },
  );
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size < headerBytes) {
      throw new SnapshotCorruptionError(path, `file of ${size} bytes is shorter than the header`);
    }
    const header = new Uint8Array(headerBytes);
    await handle.read(header, 0, headerBytes, 0);
    const view = new DataView(header.buffer);
    for (let position = 0; position < magic.length; position += 1) {
      if (header[position] !== magic[position]) {
        throw new SnapshotCorruptionError(path, 'not a distkit snapshot file');
      }
    }
    if (view.getUint32(24, true) !== crc32cUpdate(0, header, 0, 24)) {
      throw new SnapshotCorruptionError(path, 'header checksum mismatch');
    }
    if (view.getUint32(8, true) !== formatVersion) {
      throw new SnapshotCorruptionError(path, `unknown format version ${view.getUint32(8, true)}`);
    }
    const length = view.getUint32(16, true) * twoPower32 + view.getUint32(12, true);
    if (length !== size - headerBytes) {
      throw new SnapshotCorruptionError(
        path,
        `header says ${length} bytes of data, the file has ${size - headerBytes}`,
      );
    }
    if (length > bytesMax) {
      throw new LimitExceededError(
        bytesMax,
        `The snapshot ${path} holds ${length} bytes; options.bytesMax is ${bytesMax}.`,
      );
    }
    const data = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(data, filled, length - filled, headerBytes + filled);
      if (bytesRead === 0) {
        throw new SnapshotCorruptionError(path, 'file shrank while being read');
      }
      filled += bytesRead;
    }
    if (crc32c(data) !== view.getUint32(20, true)) {
      throw new SnapshotCorruptionError(path, 'data checksum mismatch');
    }
    return data;
  } finally {
    await handle.close();
  }
}

/** Options of {@link SnapshotStore.open}. */
export interface SnapshotStoreOptions {
  /** Folder of the snapshot files; created when missing. */
  readonly directory: string;
  /** Snapshots kept after each save, newest first. Default 2; from 1 to 100. */
  readonly retainCount?: number;
  /** Largest snapshot {@link SnapshotStore.load} accepts. Default 1 GiB. */
  readonly bytesMax?: number;
}

/** Identifies a snapshot: the last log index and term it covers. */
export interface SnapshotMetadata {
  /** Index of the last log record the snapshot includes. */
  readonly index: number;
  /** Term (or any second number the application needs) of that record. */
  readonly term: number;
}

const snapshotNamePattern = /^snapshot-(\d{20})-(\d{20})\.snap$/;

function snapshotFileName(metadata: SnapshotMetadata): string {
  return `snapshot-${String(metadata.index).padStart(20, '0')}-${String(metadata.term).padStart(20, '0')}.snap`;
}

/**
 * A folder of snapshot files named by index and term. `save` writes atomically and keeps
 * the newest `retainCount`; `open` deletes temporary files a crash left behind.
 */
export class SnapshotStore {
  /** The folder of the snapshot files. */
  readonly directory: string;
  /** Temporary files deleted by `open`. */
  readonly removedTemporaryCount: number;
  private readonly retainCount: number;
  private readonly bytesMax: number;

  private constructor(
    directory: string,
    retainCount: number,
    bytesMax: number,
    removedTemporaryCount: number,
  ) {
    this.directory = directory;
    this.retainCount = retainCount;
    this.bytesMax = bytesMax;
    this.removedTemporaryCount = removedTemporaryCount;
  }

  /** Opens (creating when missing) the folder and removes leftover temporary files. */
  static async open(options: SnapshotStoreOptions): Promise<SnapshotStore> {
    const checked = requireOptions<SnapshotStoreOptions>('SnapshotStore options', options);
    const directory = requireString('options.directory', checked.directory);
    const retainCount = requireInteger('options.retainCount', checked.retainCount ?? 2, {
      min: 1,
      max: 100,
    });
    const bytesMax = requireInteger('options.bytesMax', checked.bytesMax ?? defaultBytesMax, {
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
    });
    await mkdir(directory, { recursive: true });
    let removed = 0;
    for (const name of await readdir(directory)) {
      if (name.endsWith(temporarySuffix)) {
        await unlink(join(directory, name));
        removed += 1;
      }
    }
    if (removed > 0) {
      await syncDirectory(directory);
    }
    return new SnapshotStore(directory, retainCount, bytesMax, removed);
  }

  /** Every complete snapshot in the folder, newest (highest index) first. */
  async list(): Promise<SnapshotMetadata[]> {
    const found: SnapshotMetadata[] = [];
    for (const name of await readdir(this.directory)) {
      const match = snapshotNamePattern.exec(name);
      if (match !== null) {
        found.push({ index: Number(match[1]), term: Number(match[2]) });
      }
    }
    return found.sort((a, b) => b.index - a.index || b.term - a.term);
  }

  /** Writes a snapshot atomically, then deletes the oldest beyond `retainCount`. */
  async save(metadata: SnapshotMetadata, data: Uint8Array): Promise<void> {
    const checked = requireOptions<SnapshotMetadata>('metadata', metadata);
    requireInteger('metadata.index', checked.index, { min: 0 });
    requireInteger('metadata.term', checked.term, { min: 0 });
    await writeSnapshotFile(join(this.directory, snapshotFileName(checked)), data);
    const all = await this.list();
    for (const old of all.slice(this.retainCount)) {
      await unlink(join(this.directory, snapshotFileName(old)));
    }
    if (all.length > this.retainCount) {
      await syncDirectory(this.directory);
    }
  }

  /**
   * Reads one snapshot, verifying it.
   *
   * @throws {@link SnapshotCorruptionError} when it fails its checks.
   */
  async load(metadata: SnapshotMetadata): Promise<Uint8Array> {
    const checked = requireOptions<SnapshotMetadata>('metadata', metadata);
    requireInteger('metadata.index', checked.index, { min: 0 });
    requireInteger('metadata.term', checked.term, { min: 0 });
    return readSnapshotFile(join(this.directory, snapshotFileName(checked)), {
      bytesMax: this.bytesMax,
    });
  }

  /**
   * The newest snapshot and its data, or `undefined` when there is none. A corrupt newest
   * snapshot throws {@link SnapshotCorruptionError}; call {@link list} and {@link load}
   * to fall back to an older one deliberately.
   */
  async latest(): Promise<
    { readonly metadata: SnapshotMetadata; readonly data: Uint8Array } | undefined
  > {
    const [newest] = await this.list();
    if (newest === undefined) {
      return undefined;
    }
    return { metadata: newest, data: await this.load(newest) };
  }
}
