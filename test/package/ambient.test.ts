import assert from 'node:assert/strict';
import { relative } from 'node:path';
import { describe, it } from 'node:test';
import { readText, sourceRoot, sourceWithoutComments, typeScriptFiles } from './source-tree.js';

/**
 * Rule 2 of docs/architecture.md: real time and ambient randomness appear only in the
 * system implementations of src/core and in the driver layers. Everything else takes a
 * Clock, Scheduler and Random, so a seed reproduces any run.
 */
const forbidden: readonly { name: string; pattern: RegExp }[] = [
  { name: 'Math.random', pattern: /\bMath\s*\.\s*random\b/ },
  { name: 'Date.now', pattern: /\bDate\s*\.\s*now\b/ },
  { name: 'new Date()', pattern: /\bnew\s+Date\s*\(\s*\)/ },
  { name: 'performance.now', pattern: /\bperformance\s*\.\s*now\b/ },
  { name: 'process.hrtime', pattern: /\bprocess\s*\.\s*hrtime\b/ },
  { name: 'setTimeout', pattern: /\bsetTimeout\b/ },
  { name: 'setInterval', pattern: /\bsetInterval\b/ },
  { name: 'setImmediate', pattern: /\bsetImmediate\b/ },
  { name: 'randomUUID', pattern: /\brandomUUID\b/ },
  { name: 'getRandomValues', pattern: /\bgetRandomValues\b/ },
];

const allowedFile = /^(core\/system-[a-z-]+\.ts|(sim|net|storage|adapters)\/.*)$/;

/** Every forbidden use in `source`, as `line: name`. */
function ambientUses(source: string): string[] {
  const uses: string[] = [];
  sourceWithoutComments(source)
    .split('\n')
    .forEach((line, index) => {
      for (const { name, pattern } of forbidden) {
        if (pattern.test(line)) {
          uses.push(`${index + 1}: ${name}`);
        }
      }
    });
  return uses;
}

describe('no real time or ambient randomness outside core system files and drivers', () => {
  it('finds none in src/', () => {
    const found: string[] = [];
    for (const file of typeScriptFiles(sourceRoot)) {
      const path = relative(sourceRoot, file).replaceAll('\\', '/');
      if (allowedFile.test(path)) {
        continue;
      }
      for (const use of ambientUses(readText(file))) {
        found.push(`src/${path}:${use}`);
      }
    }
    assert.deepEqual(found, [], 'inject a Clock, Scheduler or Random instead');
  });

  it('would notice each forbidden use, and ignores comments', () => {
    const sample = [
      'const a = Math.random();',
      'const b = Date.now();',
      'const c = performance.now();',
      'setTimeout(f, 1); setInterval(f, 1);',
      'const d = crypto.randomUUID();',
      '// Date.now() in a comment is fine',
      '/* so is Math.random() here */',
    ].join('\n');
    assert.deepEqual(ambientUses(sample), [
      '1: Math.random',
      '2: Date.now',
      '3: performance.now',
      '4: setTimeout',
      '4: setInterval',
      '5: randomUUID',
    ]);
  });
});
