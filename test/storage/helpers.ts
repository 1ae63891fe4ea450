import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach } from 'node:test';

/** A fresh folder under the OS temporary folder; `remove()` deletes it. */
export async function temporaryFolder(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'distkit-storage-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * Registers hooks that give the calling file (or `describe`) a fresh temporary folder:
 * for each test (`'each'`, the default) or once for all its tests (`'all'`). Read
 * `path` inside a test; the folder is deleted after the test (or the suite).
 */
export function temporaryFolderHook(scope: 'each' | 'all' = 'each'): {
  readonly path: string;
  remove(): Promise<void>;
} {
  let folder: { path: string; remove: () => Promise<void> } | undefined;
  const current = (): { path: string; remove: () => Promise<void> } => {
    if (folder === undefined) {
      throw new Error('the temporary folder exists only while a test runs');
    }
    return folder;
  };
  (scope === 'each' ? beforeEach : before)(async () => {
    folder = await temporaryFolder();
  });
  (scope === 'each' ? afterEach : after)(async () => {
    await current().remove();
    folder = undefined;
  });
  return {
    get path() {
      return current().path;
    },
    remove: () => current().remove(),
  };
}

/** UTF-8 bytes of `text`. */
export const bytesOf = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Text of UTF-8 `bytes`. */
export const textOf = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
