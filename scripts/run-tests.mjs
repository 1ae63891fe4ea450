// Runs the test suites with Node's own test runner (through tsx), which takes no glob
// arguments on Node 20: this script finds the files and passes them as a list.
//
//   node scripts/run-tests.mjs            every *.test.ts under test/
//   node scripts/run-tests.mjs --soak     every *.soak.ts under test/ (long seed sweeps), then
//                                         every *.test.ts with fresh fast-check seeds and
//                                         ten times the runs (see fast-check-setup.mjs), and
//                                         200 seeds for every seeded simulation sweep
//                                         (DISTKIT_SIM_SEED_COUNT, see src/sim/seeds.ts)
//   node scripts/run-tests.mjs test/core  only the files under the given folders or files
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const soak = args.includes('--soak');
const suffixes = soak ? ['.soak.ts', '.test.ts'] : ['.test.ts'];
const roots = args.filter((arg) => !arg.startsWith('--'));

function collect(path, found) {
  if (statSync(path).isFile()) {
    if (suffixes.some((suffix) => path.endsWith(suffix))) {
      found.push(path);
    }
    return;
  }
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) {
      continue;
    }
    collect(join(path, entry.name), found);
  }
}

const files = [];
for (const start of roots.length > 0 ? roots : ['test']) {
  collect(join(root, start), files);
}
files.sort();
if (files.length === 0) {
  console.log(`No ${suffixes.join(' or ')} files found; nothing to run.`);
  process.exit(0);
}

const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--import',
    './scripts/fast-check-setup.mjs',
    '--test',
    '--test-reporter=spec',
    `--test-concurrency=${Math.max(2, availableParallelism())}`,
    ...files.map((file) => relative(root, file)),
  ],
  {
    cwd: root,
    stdio: 'inherit',
    env: soak
      ? { ...process.env, DISTKIT_FAST_CHECK_MODE: 'explore', DISTKIT_SIM_SEED_COUNT: '200' }
      : process.env,
  },
);
process.exit(result.status ?? 1);
