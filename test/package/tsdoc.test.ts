import assert from 'node:assert/strict';
import { relative } from 'node:path';
import { describe, it } from 'node:test';
import { readText, sourceRoot, typeScriptFiles } from './source-tree.js';

const declaration =
  /^export\s+(?:declare\s+)?(?:abstract\s+)?(?:async\s+)?(class|function\*?|interface|type|const|let|enum)\s+([A-Za-z_$][\w$]*)/;

/** Exported declarations of `source` that have no TSDoc comment right above them. */
function undocumentedExports(source: string): string[] {
  const lines = source.split('\n');
  const missing: string[] = [];
  lines.forEach((line, index) => {
    const match = declaration.exec(line);
    if (match === null) {
      return;
    }
    let previous = index - 1;
    while (previous >= 0 && (lines[previous] as string).trim() === '') {
      previous -= 1;
    }
    const above = previous >= 0 ? (lines[previous] as string).trim() : '';
    if (!above.endsWith('*/')) {
      missing.push(`${index + 1}: ${match[2]}`);
    }
  });
  return missing;
}

describe('TSDoc on every export', () => {
  it('documents every exported declaration in src/', () => {
    const missing: string[] = [];
    for (const file of typeScriptFiles(sourceRoot)) {
      for (const entry of undocumentedExports(readText(file))) {
        missing.push(`src/${relative(sourceRoot, file)}:${entry}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('would notice an undocumented export', () => {
    const sample = ['/** Documented. */', 'export const a = 1;', '', 'export function b() {}'].join(
      '\n',
    );
    assert.deepEqual(undocumentedExports(sample), ['4: b']);
  });
});
