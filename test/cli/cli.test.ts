import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type CliEnvironment,
  exitCodes,
  guessHistoryFormat,
  moduleCatalogue,
  runCli,
} from '../../src/cli/index.js';
import { ManualClock } from '../../src/core/index.js';

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

// Histories other people recorded from real systems, shared between projects and never
// copied in: ../shared/testdata relative to the repository root.
const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const testdata = resolve(repositoryRoot, '..', 'shared', 'testdata');
const missing = existsSync(testdata)
  ? false
  : `shared test data not found at ${testdata}; the check command cases on it need it`;

interface Run {
  code: number;
  out: string;
  err: string;
  written: Map<string, string>;
}

/** Runs the command against in-memory files (falling back to the real ones for reads). */
function runWith(args: string[], files: Record<string, string> = {}): Run {
  const out: string[] = [];
  const err: string[] = [];
  const written = new Map<string, string>();
  const environment: CliEnvironment = {
    readTextFile: (path) => files[path] ?? readFileSync(path, 'utf8'),
    writeTextFile: (path, text) => {
      written.set(path, text);
    },
    clock: new ManualClock(),
  };
  const code = runCli(
    args,
    { writeLine: (line) => out.push(line), writeErrorLine: (line) => err.push(line) },
    '9.9.9',
    environment,
  );
  return { code, out: out.join('\n'), err: err.join('\n'), written };
}

const staleRead = [
  '{"process": 1, "type": "invoke", "kind": "write", "value": 1, "time": 0}',
  '{"process": 1, "type": "ok", "kind": "write", "value": 1, "time": 1}',
  '{"process": 1, "type": "invoke", "kind": "write", "value": 2, "time": 2}',
  '{"process": 1, "type": "ok", "kind": "write", "value": 2, "time": 3}',
  '{"process": 2, "type": "invoke", "kind": "read", "time": 4}',
  '{"process": 2, "type": "ok", "kind": "read", "value": 1, "time": 5}',
].join('\n');

describe('distkit check', () => {
  it('lists check in the usage text', () => {
    const { out } = capture(['--help']);
    assert.match(out, /check FILE --model register\|cas-register\|kv\|counter\|set/);
    assert.match(out, /--html/);
  });

  it('reports a violation with exit 1, the time taken and a short explanation', () => {
    const { code, out, err } = runWith(['check', 'stale.jsonl', '--model', 'register'], {
      'stale.jsonl': staleRead,
    });
    assert.equal(err, '');
    assert.equal(code, exitCodes.violation);
    assert.match(out, /^violation: stale\.jsonl is not linearizable for the register model/);
    assert.match(out, /read in [\d.]+ ms, checked in [\d.]+ ms/);
    assert.match(out, /process 2: read -> 1 \(line 5\) has completed/);
    assert.match(out, /impossible from this state/);
  });

  it('accepts a linearizable history with exit 0', () => {
    const fixed = staleRead.replace('"value": 1, "time": 5', '"value": 2, "time": 5');
    const { code, out } = runWith(['check', 'fine.txt', '--model=register'], { 'fine.txt': fixed });
    assert.equal(code, exitCodes.success);
    assert.match(out, /^ok: fine\.txt is linearizable for the register model \(3 operations/);
  });

  it('judges sequential consistency with --consistency sequential', () => {
    // The stale read breaks real time only: sequentially consistent, not linearizable.
    const sequential = runWith(
      ['check', 'stale.jsonl', '--model', 'register', '--consistency', 'sequential'],
      { 'stale.jsonl': staleRead },
    );
    assert.equal(sequential.code, exitCodes.success);
    assert.match(
      sequential.out,
      /^ok: stale\.jsonl is sequentially consistent for the register model/,
    );
    // A process that reads its own write back as the old value breaks program order.
    const backwards = [
      '{"process": 1, "type": "invoke", "kind": "write", "value": 1, "time": 0}',
      '{"process": 1, "type": "ok", "kind": "write", "value": 1, "time": 1}',
      '{"process": 1, "type": "invoke", "kind": "read", "time": 2}',
      '{"process": 1, "type": "ok", "kind": "read", "value": null, "time": 3}',
    ].join('\n');
    const violated = runWith(
      ['check', 'back.jsonl', '--model', 'register', '--consistency=sequential'],
      { 'back.jsonl': backwards },
    );
    assert.equal(violated.code, exitCodes.violation);
    assert.match(
      violated.out,
      /^violation: back\.jsonl is not sequentially consistent for the register model/,
    );
    assert.match(violated.out, /is next in its process's order/);
  });

  it('prints the line number of malformed input and exits 2', () => {
    const broken = staleRead.replace('{"process": 2, "type": "invoke"', '{"process": 2, "type": ');
    const { code, out, err } = runWith(['check', 'broken.jsonl', '--model', 'register'], {
      'broken.jsonl': broken,
    });
    assert.equal(code, exitCodes.usage);
    assert.equal(out, '');
    assert.match(err, /broken\.jsonl is not a valid jsonl history at line 5:/);
  });

  it('exits 2 when the budget runs out before a verdict', () => {
    const { code, out } = runWith(
      ['check', 'stale.jsonl', '--model', 'register', '--step-count-max', '1'],
      { 'stale.jsonl': staleRead },
    );
    assert.equal(code, exitCodes.usage);
    assert.match(out, /^unknown: stale\.jsonl could not be decided/);
    assert.match(out, /--step-count-max/);
  });

  it('rejects usage errors with exit 2', () => {
    const cases: [string[], RegExp][] = [
      [['check'], /name the history file/],
      [['check', 'a.log'], /--model is required/],
      [['check', 'a.log', '--model', 'queue'], /unknown model queue/],
      [['check', 'a.log', '--model', 'kv', '--format', 'xml'], /unknown format xml/],
      [['check', 'a.log', '--model', 'kv', '--colour'], /unknown option --colour/],
      [['check', 'a.log', 'b.log', '--model', 'kv'], /one history file at a time/],
      [['check', 'a.log', '--model'], /--model needs a value/],
      [['check', 'a.log', '--model', 'kv', '--step-count-max', '0'], /positive integer/],
      [
        ['check', 'a.log', '--model', 'kv', '--consistency', 'causal'],
        /unknown consistency causal/,
      ],
    ];
    for (const [args, message] of cases) {
      const { code, err } = runWith(args);
      assert.equal(code, exitCodes.usage, args.join(' '));
      assert.match(err, message);
    }
  });

  it('exits 2 for a file it cannot read and for operations the model does not define', () => {
    const unreadable = runWith(['check', '/nonexistent/history.log', '--model', 'kv']);
    assert.equal(unreadable.code, exitCodes.usage);
    assert.match(unreadable.err, /cannot read \/nonexistent\/history\.log/);
    const wrongModel = runWith(['check', 'stale.jsonl', '--model', 'kv'], {
      'stale.jsonl': staleRead,
    });
    assert.equal(wrongModel.code, exitCodes.usage);
    assert.match(wrongModel.err, /cannot be checked against the kv model/);
  });

  it('reports that it has no file access when runCli gets no environment', () => {
    const { code, err } = capture(['check', 'a.log', '--model', 'kv']);
    assert.equal(code, exitCodes.usage);
    assert.match(err, /needs file access/);
  });

  it('writes an HTML timeline with --html', () => {
    const { code, out, written } = runWith(
      ['check', 'stale.jsonl', '--model', 'register', '--html', 'out.html'],
      { 'stale.jsonl': staleRead },
    );
    assert.equal(code, exitCodes.violation);
    assert.match(out, /timeline written to out\.html/);
    const html = written.get('out.html') ?? '';
    assert.match(html, /^<!DOCTYPE html>/);
    assert.match(html, /<title>stale\.jsonl<\/title>/);
    assert.match(html, /data-role="blocking"/);
    assert.match(html, /data-role="fail-point"/);
    assert.equal([...html.matchAll(/<div class="row"/g)].length, 2);
  });

  it('guesses the format from the extension, then from the first line', () => {
    assert.equal(guessHistoryFormat('h.jsonl', ''), 'jsonl');
    assert.equal(guessHistoryFormat('h.edn', ''), 'edn');
    assert.equal(guessHistoryFormat('h.txt', '\n{"process": 0}'), 'jsonl');
    assert.equal(guessHistoryFormat('h.txt', '{:process 0, :type :invoke}'), 'edn');
    assert.equal(
      guessHistoryFormat('h.log', 'INFO  jepsen.util - 0\t:invoke\t:read\tnil'),
      'jepsen',
    );
  });
});

describe('distkit check on shared histories', { skip: missing }, () => {
  const etcd = join(testdata, 'jepsen-etcd');
  const kv = join(testdata, 'kv');

  it('etcd_002.log (linearizable in expected.json) exits 0', () => {
    const { code, out } = runWith(['check', join(etcd, 'etcd_002.log'), '--model', 'cas-register']);
    assert.equal(code, exitCodes.success);
    assert.match(out, /^ok: .*etcd_002\.log is linearizable for the cas-register model/);
  });

  it('etcd_000.log (not linearizable in expected.json) exits 1 and explains', () => {
    const { code, out } = runWith([
      'check',
      join(etcd, 'etcd_000.log'),
      '--model',
      'cas-register',
      '--format',
      'jepsen',
    ]);
    assert.equal(code, exitCodes.violation);
    assert.match(out, /^violation: .*etcd_000\.log is not linearizable for the cas-register model/);
    assert.match(out, /the longest order found places \d+ of \d+ operations/);
    assert.match(out, /has completed, so it must already have taken effect/);
  });

  it('kv c01-ok exits 0 and c01-bad exits 1 with --model kv --format edn', () => {
    const ok = runWith(['check', join(kv, 'c01-ok.txt'), '--model', 'kv', '--format', 'edn']);
    assert.equal(ok.code, exitCodes.success);
    assert.match(ok.out, /^ok: /);
    const bad = runWith(['check', join(kv, 'c01-bad.txt'), '--model', 'kv', '--format', 'edn']);
    assert.equal(bad.code, exitCodes.violation);
    assert.match(bad.out, /^ {2}key: "/m);
  });

  it('guesses the format of both kinds of file when --format is left out', () => {
    assert.equal(
      runWith(['check', join(kv, 'c01-bad.txt'), '--model', 'kv']).code,
      exitCodes.violation,
    );
    assert.equal(
      runWith(['check', join(etcd, 'etcd_000.log'), '--model', 'cas-register']).code,
      exitCodes.violation,
    );
  });

  it('--html on a kv violation draws every key, the failing one first and highlighted', () => {
    const { code, written } = runWith([
      'check',
      join(kv, 'c01-bad.txt'),
      '--model',
      'kv',
      '--html',
      'kv.html',
    ]);
    assert.equal(code, exitCodes.violation);
    const html = written.get('kv.html') ?? '';
    const sections = [
      ...html.matchAll(/<section class="partition" data-key="[^"]*"( data-failing="true")?/g),
    ];
    assert.ok(sections.length > 1);
    assert.equal(sections[0]?.[1], ' data-failing="true"');
    assert.equal(sections.filter((match) => match[1] !== undefined).length, 1);
    assert.equal([...html.matchAll(/data-role="blocking"/g)].length, 1);
  });
});
