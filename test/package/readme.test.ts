import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { moduleCatalogue } from '../../src/cli/index.js';
import { moduleFolders, readText, repositoryRoot } from './source-tree.js';

interface Row {
  name: string;
  layer: number;
  summary: string;
  reference: string;
}

function readmeRows(): Row[] {
  const readme = readText(join(repositoryRoot, 'README.md'));
  const start = readme.indexOf('<!-- modules:start -->');
  const end = readme.indexOf('<!-- modules:end -->');
  assert.ok(start >= 0 && end > start, 'README.md has the modules:start/end markers');
  return readme
    .slice(start, end)
    .split('\n')
    .filter((line) => line.startsWith('| `distkit/'))
    .map((line) => {
      const cells = line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim());
      return {
        name: (cells[0] as string).replace(/^`distkit\/|`$/g, ''),
        layer: Number(cells[1]),
        summary: cells[2] as string,
        reference: cells[3] as string,
      };
    });
}

describe('README module table', () => {
  it('lists exactly the modules of the catalogue, with their layer and summary', () => {
    const rows = readmeRows();
    assert.deepEqual(
      rows.map(({ name, layer, summary }) => ({ name, layer, summary })),
      moduleCatalogue.map(({ name, layer, summary }) => ({ name, layer, summary })),
    );
  });

  it('and the catalogue lists exactly the module folders', () => {
    assert.deepEqual(moduleCatalogue.map((entry) => entry.name).sort(), moduleFolders());
  });

  it('links each module to its docs/<module>.md, which exists', () => {
    for (const row of readmeRows()) {
      const file = `docs/${row.name.replace('/', '-')}.md`;
      assert.equal(row.reference, `[${file}](${file})`);
      assert.ok(existsSync(join(repositoryRoot, file)), `${file} is missing`);
    }
  });
});
