import assert from 'node:assert/strict';
import { dirname, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import {
  importSpecifiers,
  moduleFolders,
  moduleOfFile,
  readText,
  sourceRoot,
  typeScriptFiles,
} from './source-tree.js';

/** The layer table of docs/architecture.md. A new module must be added here and there. */
const layerOfModule: Record<string, number> = {
  core: 0,
  resilience: 1,
  cache: 1,
  partition: 1,
  clocks: 1,
  crdt: 1,
  check: 1,
  model: 1,
  raft: 2,
  replication: 2,
  saga: 2,
  txn: 2,
  eventsourcing: 2,
  outbox: 2,
  sim: 3,
  net: 3,
  storage: 3,
  store: 4,
  cli: 4,
  lab: 4,
};

function layerOf(module: string): number | undefined {
  return module.startsWith('adapters/') ? 3 : layerOfModule[module];
}

interface Violation {
  file: string;
  specifier: string;
  rule: string;
}

function violations(): Violation[] {
  const found: Violation[] = [];
  for (const file of typeScriptFiles(sourceRoot)) {
    const module = moduleOfFile(file);
    const layer = layerOf(module) ?? Number.NaN;
    const where = relative(sourceRoot, file);
    for (const specifier of importSpecifiers(readText(file))) {
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(file), specifier);
        if (!target.startsWith(sourceRoot + sep)) {
          found.push({ file: where, specifier, rule: 'imports from outside src/' });
          continue;
        }
        const targetModule = moduleOfFile(target);
        if (targetModule === module) {
          continue;
        }
        const targetLayer = layerOf(targetModule) ?? Number.NaN;
        if (!(targetLayer <= layer)) {
          found.push({
            file: where,
            specifier,
            rule: `layer ${layer} imports layer ${targetLayer}`,
          });
        }
        if (!specifier.endsWith(`/${targetModule}/index.js`)) {
          found.push({ file: where, specifier, rule: 'imports another module past its index.ts' });
        }
      } else if (layer <= 2) {
        found.push({
          file: where,
          specifier,
          rule: `layer ${layer} imports a package or built-in`,
        });
      }
    }
  }
  return found;
}

describe('layering (docs/architecture.md)', () => {
  it('places every module folder in a layer', () => {
    const unplaced = moduleFolders().filter((name) => layerOf(name) === undefined);
    assert.deepEqual(unplaced, [], 'add new modules to the layer table');
  });

  it('lets imports point down the layer table only, through each module index, with no packages or built-ins below layer 3', () => {
    assert.deepEqual(violations(), []);
  });

  it('would notice a violation: the import scanner finds static, re-export and dynamic imports', () => {
    const specifiers = importSpecifiers(
      [
        "import { a } from '../sim/index.js';",
        "export * from './inner.js';",
        "import type { B } from 'node:net';",
        "const c = await import('../store/index.js');",
        "import './side-effect.js';",
        "// import { ignored } from '../lab/index.js';",
      ].join('\n'),
    );
    assert.deepEqual(specifiers.sort(), [
      '../sim/index.js',
      '../store/index.js',
      './inner.js',
      './side-effect.js',
      'node:net',
    ]);
  });
});
