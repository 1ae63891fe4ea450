/**
 * Small file helpers shared by the WAL and the snapshot files.
 *
 * @module
 */

import { type FileHandle, open } from 'node:fs/promises';

/** Writes all of `bytes` at `position`, looping over short writes. */
export async function writeFully(
  handle: FileHandle,
  bytes: Uint8Array,
  position: number,
): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const result = await handle.write(bytes, written, bytes.length - written, position + written);
    written += result.bytesWritten;
  }
}

/**
 * fsyncs a folder, so that files created, renamed or deleted in it survive a power loss.
 * Windows cannot open a folder for fsync; there the call does nothing.
 */
export async function syncDirectory(directory: string): Promise<void> {
  if (process.platform === 'win32') {
    return;
  }
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
