import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readText, repositoryRoot } from './source-tree.js';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const packageJson = JSON.parse(readText(join(repositoryRoot, 'package.json'))) as {
  version: string;
  exports: Record<string, unknown>;
};
const subpaths = Object.keys(packageJson.exports)
  .filter((key) => key !== './package.json')
  .map((key) => `distkit/${key.slice(2)}`);

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' },
    timeout: 180_000,
  });
}

describe('the packed package, installed into a scratch project', { timeout: 300_000 }, () => {
  let scratch = '';
  let packedFiles: string[] = [];

  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'distkit-pack-'));
    // npm pack runs the prepare script, which builds dist/ from src/.
    const packed = JSON.parse(
      run(npm, ['pack', '--json', '--pack-destination', scratch], repositoryRoot),
    ) as { filename: string; files: { path: string }[] }[];
    const entry = packed[0] as { filename: string; files: { path: string }[] };
    packedFiles = entry.files.map((file) => file.path);
    const tarball = join(scratch, entry.filename);
    writeFileSync(
      join(scratch, 'package.json'),
      JSON.stringify({ name: 'scratch', private: true, type: 'module' }),
    );
    // The optional peer dependencies too, as a user of the modules that need them would.
    const peers = Object.entries(
      (
        JSON.parse(readText(join(repositoryRoot, 'package.json'))) as {
          peerDependencies?: Record<string, string>;
        }
      ).peerDependencies ?? {},
    ).map(([name, range]) => `${name}@${range}`);
    // Prefer the cache, but let npm fetch what `npm ci` did not cache: it caches the
    // locked tarballs, not the registry documents a range like ^2.1.3 needs.
    run(npm, ['install', '--no-package-lock', '--prefer-offline', tarball, ...peers], scratch);
  });

  after(() => {
    if (scratch !== '') {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('packs the build output of every module and none of the sources or tests', () => {
    for (const subpath of subpaths) {
      const name = subpath.slice('distkit/'.length);
      assert.ok(packedFiles.includes(`dist/${name}/index.js`), `dist/${name}/index.js`);
      assert.ok(packedFiles.includes(`dist/${name}/index.d.ts`), `dist/${name}/index.d.ts`);
    }
    const strays = packedFiles.filter((path) => /^(src|test|bench|scripts)\//.test(path));
    assert.deepEqual(strays, []);
  });

  it('imports every subpath export and finds exports in each', () => {
    const script = `
      const subpaths = ${JSON.stringify(subpaths)};
      const counts = {};
      for (const subpath of subpaths) counts[subpath] = Object.keys(await import(subpath)).length;
      console.log(JSON.stringify(counts));
    `;
    const counts = JSON.parse(
      run(process.execPath, ['--input-type=module', '-e', script], scratch),
    );
    for (const subpath of subpaths) {
      assert.ok(counts[subpath] > 0, `${subpath} exports nothing`);
    }
  });

  it('ships type declarations that a TypeScript project resolves', () => {
    const lines = subpaths.map((subpath, index) => `import * as module${index} from '${subpath}';`);
    lines.push(`export const all = [${subpaths.map((_, index) => `module${index}`).join(', ')}];`);
    lines.push(
      "import { SeededRandom } from 'distkit/core';",
      'export const draw: number = new SeededRandom({ seed: 1 }).integer(1, 6);',
    );
    writeFileSync(join(scratch, 'check.ts'), lines.join('\n'));
    writeFileSync(
      join(scratch, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          strict: true,
          noEmit: true,
          types: [],
          skipLibCheck: false,
        },
        files: ['check.ts'],
      }),
    );
    const tsc = join(repositoryRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const typesNode = join(repositoryRoot, 'node_modules', '@types');
    // The scratch project has no @types/node of its own; point the compiler at ours,
    // which the package's own declarations may reference (AbortSignal and friends).
    const diagnostics = run(
      process.execPath,
      [tsc, '-p', 'tsconfig.json', '--typeRoots', typesNode, '--types', 'node'],
      scratch,
    );
    assert.equal(diagnostics.trim(), '', 'the scratch project type-checks');
  });

  it('installs the distkit command', () => {
    const help = run(join(scratch, 'node_modules', '.bin', 'distkit'), ['--help'], scratch);
    assert.match(help, /Usage: distkit/);
    const version = run(join(scratch, 'node_modules', '.bin', 'distkit'), ['--version'], scratch);
    assert.equal(version.trim(), packageJson.version);
  });
});
