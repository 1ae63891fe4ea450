import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { readText, repositoryRoot, sourceRoot } from './source-tree.js';

const run = promisify(execFile);
const docsFolder = join(repositoryRoot, 'docs');
const scratch = join(repositoryRoot, '.tmp', `doc-examples-${process.pid}`);

/** The ```ts blocks of a Markdown file that import distkit; a block tagged `ts no-run` is skipped. */
function examples(markdown: string): { line: number; code: string }[] {
  const found: { line: number; code: string }[] = [];
  const pattern = /^```ts\n([\s\S]*?)^```$/gm;
  for (const match of markdown.matchAll(pattern)) {
    const code = match[1] as string;
    if (/from 'distkit\//.test(code)) {
      found.push({ line: markdown.slice(0, match.index).split('\n').length, code });
    }
  }
  return found;
}

/** Points `distkit/<module>` imports at the sources, so examples run without a build. */
function againstSources(code: string): string {
  return code.replace(/from 'distkit\/([a-z/-]+)'/g, (_match, module: string) => {
    const target = relative(scratch, join(sourceRoot, module, 'index.js')).replaceAll('\\', '/');
    return `from '${target}'`;
  });
}

interface Example {
  name: string;
  path: string;
}

function writeExamples(): Example[] {
  mkdirSync(scratch, { recursive: true });
  const written: Example[] = [];
  for (const file of readdirSync(docsFolder).filter((name) => name.endsWith('.md'))) {
    examples(readText(join(docsFolder, file))).forEach(({ line, code }, index) => {
      const path = join(scratch, `${file.replace(/\.md$/, '')}-${index}.ts`);
      writeFileSync(path, `${againstSources(code)}\nexport {};\n`);
      written.push({ name: `docs/${file}:${line}`, path });
    });
  }
  return written;
}

// One process per example; run as many at once as there are cores (each is mostly
// Node.js and tsx start-up), with room for slow machines.
describe('runnable examples in docs/', {
  timeout: 600_000,
  concurrency: availableParallelism(),
}, () => {
  const written = writeExamples();
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('type-check against the sources', async () => {
    writeFileSync(
      join(scratch, 'tsconfig.json'),
      JSON.stringify({
        extends: '../../tsconfig.base.json',
        compilerOptions: { noEmit: true, noPropertyAccessFromIndexSignature: false },
        include: ['*.ts'],
      }),
    );
    const tsc = join(repositoryRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '-p', join(scratch, 'tsconfig.json')], {
      cwd: repositoryRoot,
      timeout: 60_000,
    }).catch((error: { stdout: string }) => ({ stdout: error.stdout }));
    assert.equal(result.stdout.trim(), '', 'examples in docs/ have type errors');
  });

  for (const { name, path } of written) {
    it(`${name} runs without error`, async () => {
      const { stderr } = await run(process.execPath, ['--import', 'tsx', path], {
        cwd: repositoryRoot,
        timeout: 60_000,
      });
      assert.equal(stderr, '', 'the example printed nothing on stderr');
    });
  }
});
