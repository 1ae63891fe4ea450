import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  casRegisterModel,
  checkLinearizability,
  kvModel,
  parseJepsenEdn,
  parseJepsenLog,
} from '../../src/check/index.js';

// Histories other people recorded from real systems, shared between projects and never
// copied in: ../shared/testdata relative to the repository root.
const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const testdata = resolve(repositoryRoot, '..', 'shared', 'testdata');
const etcdFolder = join(testdata, 'jepsen-etcd');
const kvFolder = join(testdata, 'kv');
const missing = existsSync(testdata)
  ? false
  : `shared test data not found at ${testdata}; these conformance cases need it`;

describe('Jepsen etcd histories agree with expected.json', { skip: missing }, () => {
  const expected = existsSync(etcdFolder)
    ? (JSON.parse(readFileSync(join(etcdFolder, 'expected.json'), 'utf8')) as Record<
        string,
        boolean
      >)
    : {};
  const files = existsSync(etcdFolder)
    ? readdirSync(etcdFolder)
        .filter((name) => name.endsWith('.log'))
        .sort()
    : [];

  it('has an expected verdict for every log and a log for every verdict', () => {
    assert.equal(files.length, 52);
    assert.deepEqual(Object.keys(expected).sort(), files);
  });

  for (const file of files) {
    const linearizable = expected[file];
    it(`${file} is ${linearizable ? 'linearizable' : 'not linearizable'}`, () => {
      const history = parseJepsenLog(readFileSync(join(etcdFolder, file), 'utf8'));
      const result = checkLinearizability(casRegisterModel(), history);
      assert.equal(result.verdict, linearizable ? 'ok' : 'violation');
      if (result.verdict === 'violation') {
        const { explanation } = result;
        assert.equal(explanation.key, undefined);
        assert.ok(explanation.unplaced.includes(explanation.blocking));
        assert.ok(explanation.candidates.some((c) => c.operation === explanation.blocking));
        assert.match(explanation.message, /not linearizable for the cas-register model/);
        // The longest order found is a real partial linearization: every step legal from
        // the state before it, and no operation placed before one that completed earlier
        // than it was invoked.
        const model = casRegisterModel();
        let state = model.init();
        explanation.linearized.forEach((step, index) => {
          const next = model.step(state, step.operation);
          assert.ok(next.legal, `step ${index} of the explanation is illegal`);
          state = next.state;
          assert.equal(step.stateAfter, model.describeState(state));
          for (const later of explanation.linearized.slice(index + 1)) {
            const laterReturn = later.operation.returnTime ?? Number.POSITIVE_INFINITY;
            assert.ok(
              later.operation.status === 'unknown' || laterReturn >= step.operation.invokeTime,
            );
          }
        });
        assert.equal(explanation.stateAfterLinearized, model.describeState(state));
        assert.equal(
          explanation.linearized.length + explanation.unplaced.length,
          history.filter((operation) => operation.status !== 'fail').length,
        );
      }
    });
  }
});

describe('kv histories: *-ok.txt are linearizable, *-bad.txt are not', { skip: missing }, () => {
  const files = existsSync(kvFolder)
    ? readdirSync(kvFolder)
        .filter((name) => name.endsWith('.txt'))
        .sort()
    : [];

  it('finds the four kv histories', () => {
    assert.deepEqual(files, ['c01-bad.txt', 'c01-ok.txt', 'c10-bad.txt', 'c10-ok.txt']);
  });

  for (const file of files) {
    const linearizable = file.endsWith('-ok.txt');
    it(`${file} is ${linearizable ? 'linearizable' : 'not linearizable'}, per key`, () => {
      const history = parseJepsenEdn(readFileSync(join(kvFolder, file), 'utf8'));
      const result = checkLinearizability(kvModel(), history);
      assert.equal(result.verdict, linearizable ? 'ok' : 'violation');
      assert.ok(result.partitionCount > 1, 'the kv model checks each key alone');
      if (result.verdict === 'violation') {
        assert.equal(typeof result.explanation.key, 'string');
        assert.match(result.explanation.message, /^key "/);
      }
    });

    it(`${file} gets the same verdict without partitioning`, () => {
      const history = parseJepsenEdn(readFileSync(join(kvFolder, file), 'utf8'));
      const result = checkLinearizability(kvModel(), history, {
        partition: false,
        stepCountMax: 300_000,
      });
      // Without per-key partitions the search may not finish within the budget; when it
      // does, it must agree.
      if (result.verdict !== 'unknown') {
        assert.equal(result.verdict, linearizable ? 'ok' : 'violation');
      }
    });
  }
});
