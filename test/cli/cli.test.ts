import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exitCodes, moduleCatalogue, runCli } from '../../src/cli/index.js';

function capture(args: string[]): { code: number; out: string; err: string } {
  const out: string[] = [];
  const err: string[] = [];
  const code = runCli(
    args,
    { writeLine: (line) => out.push(line), writeErrorLine: (line) => err.push(line) },
    '9.9.9',
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('the distkit command', () => {
  it('prints every module and its capabilities by default and for "modules"', () => {
    for (const args of [[], ['modules']]) {
      const { code, out, err } = capture(args);
      assert.equal(code, exitCodes.success);
      assert.equal(err, '');
      for (const entry of moduleCatalogue) {
        assert.match(out, new RegExp(`^${entry.name}  \\(layer ${entry.layer}\\)`, 'm'));
        for (const capability of entry.capabilities) {
          assert.ok(out.includes(`  - ${capability}`), capability);
        }
      }
    }
  });

  it('prints usage for --help, -h and help', () => {
    for (const flag of ['--help', '-h', 'help']) {
      const { code, out } = capture([flag]);
      assert.equal(code, exitCodes.success);
      assert.match(out, /^Usage: distkit \[command\]/);
    }
  });

  it('prints the version it is given', () => {
    assert.deepEqual(capture(['--version']), { code: 0, out: '9.9.9', err: '' });
  });

  it('rejects an unknown command or stray arguments with the usage exit code', () => {
    const unknown = capture(['frobnicate']);
    assert.equal(unknown.code, exitCodes.usage);
    assert.match(unknown.err, /Unknown command or option: frobnicate/);
    assert.equal(unknown.out, '');
    const stray = capture(['modules', 'extra']);
    assert.equal(stray.code, exitCodes.usage);
    assert.match(stray.err, /takes no arguments/);
  });
});
