import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh folder under the OS temporary folder; `remove()` deletes it. */
export async function temporaryFolder(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'distkit-storage-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** UTF-8 bytes of `text`. */
export const bytesOf = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Text of UTF-8 `bytes`. */
export const textOf = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
