import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { moduleFolders, readText, repositoryRoot, sourceRoot } from './source-tree.js';

interface PackageJson {
  exports: Record<string, string | { types: string; default: string }>;
  bin: { distkit: string };
  type: string;
  engines: { node: string };
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

const packageJson = JSON.parse(readText(join(repositoryRoot, 'package.json'))) as PackageJson;

function exportedModules(): string[] {
  return Object.keys(packageJson.exports)
    .filter((key) => key !== './package.json')
    .map((key) => key.replace(/^\.\//, ''))
    .sort();
}

describe('package.json#exports and the module folders', () => {
  it('exports exactly one subpath per module folder, in both directions', () => {
    const folders = moduleFolders();
    const exported = exportedModules();
    const missingExport = folders.filter((name) => !exported.includes(name));
    const missingFolder = exported.filter((name) => !folders.includes(name));
    assert.deepEqual(
      missingExport,
      [],
      `src/ folders with no package.json export: ${missingExport}`,
    );
    assert.deepEqual(
      missingFolder,
      [],
      `package.json exports with no src/ folder: ${missingFolder}`,
    );
  });

  it('gives every module an index.ts entry point', () => {
    for (const name of moduleFolders()) {
      assert.ok(existsSync(join(sourceRoot, name, 'index.ts')), `src/${name}/index.ts is missing`);
    }
  });

  it('points each subpath at the build output of that folder, types first', () => {
    for (const name of exportedModules()) {
      const target = packageJson.exports[`./${name}`];
      assert.deepEqual(
        target,
        { types: `./dist/${name}/index.d.ts`, default: `./dist/${name}/index.js` },
        `exports["./${name}"]`,
      );
      assert.deepEqual(
        Object.keys(target as object),
        ['types', 'default'],
        'types must come first',
      );
    }
  });

  it('is an ESM package for Node.js 20 or later with no runtime dependencies', () => {
    assert.equal(packageJson.type, 'module');
    assert.equal(packageJson.engines.node, '>=20');
    assert.deepEqual(Object.keys(packageJson.dependencies ?? {}), []);
    // A module that needs a library (distkit/net's frame codec) takes it as an optional
    // peer dependency: users of the other modules never install it.
    for (const name of Object.keys(packageJson.peerDependencies ?? {})) {
      assert.equal(packageJson.peerDependenciesMeta?.[name]?.optional, true, `${name} is optional`);
      assert.ok(
        packageJson.devDependencies?.[name] !== undefined,
        `${name} is a dev dependency for the tests`,
      );
    }
    assert.equal(packageJson.bin.distkit, './dist/cli/bin.js');
  });
});
