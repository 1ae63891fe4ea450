/**
 * Golden interaction scripts (`testdata/*.txt`): each command's output must match the
 * recorded one. After a deliberate change, rewrite them with
 * `DISTKIT_REWRITE_GOLDEN=1 node --import tsx --test test/raft/golden.test.ts` and read
 * the diff before committing.
 */

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runScript } from './interaction.js';

const folder = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
const rewrite = process.env['DISTKIT_REWRITE_GOLDEN'] === '1';

describe('raft golden interaction scripts', () => {
  for (const name of readdirSync(folder)
    .filter((file) => file.endsWith('.txt'))
    .sort()) {
    it(name, () => {
      const path = join(folder, name);
      const text = readFileSync(path, 'utf8');
      const { actual } = runScript(text);
      if (rewrite) {
        writeFileSync(path, actual);
        return;
      }
      assert.equal(
        actual,
        text,
        `${name} differs; rewrite with DISTKIT_REWRITE_GOLDEN=1 after checking the diff`,
      );
    });
  }
});
