// Runs the benchmarks, one Node.js process per bench file, one file after another so no
// two measure at the same time.
//
//   node scripts/run-bench.mjs              every bench/*.bench.ts
//   node scripts/run-bench.mjs core cache   only bench/core.bench.ts and bench/cache.bench.ts
//
// Each file runs as `node --expose-gc --import tsx bench/<name>.bench.ts`; --expose-gc lets
// mitata collect garbage between measurements instead of in the middle of one.
//
// Bench files import distkit by its package name (`distkit/core`), which Node resolves
// through package.json#exports to the build output: the script builds dist/ first. They
// must not run on the TypeScript sources through tsx, whose transform wraps every
// function it creates in a naming helper and so slows down exactly the per-call closures
// a benchmark measures. tsx is pointed at tsconfig.base.json, which has no `paths`
// mapping of `distkit/*` back to src/ (tsconfig.json has one, for the typecheck).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const suffix = '.bench.ts';

const available = readdirSync(join(root, 'bench'), { withFileTypes: true })
  .filter((entry) => entry.isFile() && entry.name.endsWith(suffix))
  .map((entry) => entry.name.slice(0, -suffix.length))
  .sort();

// Accept `core`, `core.bench.ts` and `bench/core.bench.ts` alike.
const requested = process.argv
  .slice(2)
  .map((arg) => basename(arg.replaceAll('\\', '/')))
  .map((arg) => (arg.endsWith(suffix) ? arg.slice(0, -suffix.length) : arg));

const unknown = requested.filter((name) => !available.includes(name));
if (unknown.length > 0) {
  console.error(
    `No bench file for ${unknown.map((name) => `'${name}'`).join(', ')}. ` +
      `Available: ${available.length > 0 ? available.join(', ') : '(none)'}.\n` +
      'Usage: npm run bench [name ...]  (a name is the part of bench/<name>.bench.ts)',
  );
  process.exit(2);
}

const names = requested.length > 0 ? [...new Set(requested)] : available;
if (names.length === 0) {
  console.log(`No bench/*${suffix} files found; nothing to run.`);
  process.exit(0);
}

const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], {
  cwd: root,
  stdio: 'inherit',
});
if (build.status !== 0) {
  console.error('The build failed; no benchmark was run.');
  process.exit(1);
}

const failed = [];
for (const name of names) {
  const file = `bench/${name}${suffix}`;
  if (names.length > 1) {
    console.log(`\n=== ${file}`);
  }
  const result = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', file], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, TSX_TSCONFIG_PATH: join(root, 'tsconfig.base.json') },
  });
  if (result.status !== 0) {
    failed.push(`${file} (${result.error?.message ?? `exit ${result.status ?? result.signal}`})`);
  }
}
if (failed.length > 0) {
  console.error(`\nFailed: ${failed.join(', ')}`);
  process.exit(1);
}
