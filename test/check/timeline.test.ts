import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type CheckResult,
  checkLinearizability,
  kvModel,
  type Operation,
  registerModel,
  renderTimelineHtml,
} from '../../src/check/index.js';

// A stale read: process 2 reads 1 after process 1's write of 2 completed.
const stale: Operation[] = [
  { process: 1, kind: 'write', input: 1, invokeTime: 0, returnTime: 1, status: 'ok' },
  { process: 1, kind: 'write', input: 2, invokeTime: 2, returnTime: 3, status: 'ok' },
  { process: 2, kind: 'read', output: 1, invokeTime: 4, returnTime: 5, status: 'ok' },
  { process: 3, kind: 'write', input: 9, invokeTime: 1, status: 'unknown' },
];

function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(pattern)].length;
}

function rowsOf(html: string, key: string): string[] {
  const section = html.split('<section').find((part) => part.includes(`data-key="${key}"`));
  assert.ok(section !== undefined, `a section for key ${key}`);
  return [...section.matchAll(/<div class="row" data-process="([^"]*)"/g)].map(
    (match) => match[1] as string,
  );
}

describe('renderTimelineHtml', () => {
  it('is one self-contained page with no scripts and nothing fetched', () => {
    const html = renderTimelineHtml(stale, {
      result: checkLinearizability(registerModel(), stale),
    });
    assert.match(html, /^<!DOCTYPE html>/);
    assert.match(html, /<style>/);
    assert.doesNotMatch(html, /<script|<link|<img|src=|href=|@import|url\(/i);
  });

  it('draws one row per process, each operation once, unknown outcomes open-ended', () => {
    const html = renderTimelineHtml(stale);
    assert.deepEqual(rowsOf(html, ''), ['1', '2', '3']);
    assert.equal(count(html, /<div class="op[ "]/g), stale.length);
    // The unknown write runs from its invocation to the right edge.
    assert.match(html, /class="op op-unknown" style="left: 19\.048%; width: 80\.952%"/);
  });

  it('highlights the blocking operation and the fail point of a violation', () => {
    const result = checkLinearizability(registerModel(), stale);
    assert.equal(result.verdict, 'violation');
    const html = renderTimelineHtml(stale, { result, modelName: 'register' });
    assert.equal(count(html, /data-role="blocking"/g), 1);
    assert.equal(count(html, /data-role="fail-point"/g), 1);
    assert.match(html, /data-role="blocking"[^>]*title="process 2: read -&gt; 1"/);
    assert.match(html, /data-failing="true"/);
    assert.match(html, /verdict-violation/);
    assert.match(html, /not linearizable for the register model/);
  });

  it('highlights nothing for a linearizable history', () => {
    const fine = stale.map((operation) =>
      operation.kind === 'read' ? { ...operation, output: 2 } : operation,
    );
    const result = checkLinearizability(registerModel(), fine);
    assert.equal(result.verdict, 'ok');
    const html = renderTimelineHtml(fine, { result });
    assert.match(html, /verdict-ok/);
    assert.doesNotMatch(html, /data-role="(blocking|candidate|fail-point)"/);
    assert.doesNotMatch(html, /data-failing/);
  });

  it('escapes every piece of text from the history and the options', () => {
    const hostile = '<script>alert("x")</script>&\'';
    const operations: Operation[] = [
      {
        process: hostile,
        kind: 'put',
        key: hostile,
        input: hostile,
        invokeTime: 0,
        returnTime: 1,
        status: 'ok',
      },
      {
        process: 'p"2',
        kind: 'get',
        key: hostile,
        output: hostile,
        invokeTime: 2,
        returnTime: 3,
        status: 'ok',
      },
    ];
    const result: CheckResult = checkLinearizability(kvModel(), operations);
    assert.equal(result.verdict, 'ok');
    const html = renderTimelineHtml(operations, { result, title: hostile, modelName: hostile });
    assert.doesNotMatch(html, /<script/);
    assert.doesNotMatch(html, /alert\("x"\)/);
    assert.match(html, /&lt;script&gt;/);
    assert.match(html, /data-process="p&quot;2"/);
    assert.match(html, /&amp;/);
    assert.match(html, /&#39;/);
  });

  it('draws every key as its own section, the failing one first', () => {
    const operations: Operation[] = [
      { process: 1, kind: 'put', key: 'a', input: 'x', invokeTime: 0, returnTime: 1, status: 'ok' },
      {
        process: 2,
        kind: 'get',
        key: 'a',
        output: 'x',
        invokeTime: 2,
        returnTime: 3,
        status: 'ok',
      },
      { process: 1, kind: 'put', key: 'b', input: 'y', invokeTime: 4, returnTime: 5, status: 'ok' },
      { process: 2, kind: 'get', key: 'b', output: '', invokeTime: 6, returnTime: 7, status: 'ok' },
      {
        process: 3,
        kind: 'get',
        key: 'b',
        output: 'y',
        invokeTime: 6,
        returnTime: 8,
        status: 'ok',
      },
    ];
    const result = checkLinearizability(kvModel(), operations);
    assert.equal(result.verdict, 'violation');
    const html = renderTimelineHtml(operations, { result });
    const keys = [...html.matchAll(/<section class="partition" data-key="([^"]*)"/g)].map(
      (match) => match[1],
    );
    assert.deepEqual(keys, ['b', 'a']);
    assert.deepEqual(rowsOf(html, 'b'), ['1', '2', '3']);
    assert.deepEqual(rowsOf(html, 'a'), ['1', '2']);
  });

  it('draws at most operationCountMax operations per partition and says so', () => {
    const html = renderTimelineHtml(stale, { operationCountMax: 2 });
    assert.equal(count(html, /<div class="op[ "]/g), 2);
    assert.match(html, /Only the first 2 of 4 operations are drawn/);
  });
});
