import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isInvalidArgumentError } from '../../src/core/index.js';
import {
  formatLabTable,
  type LabTiming,
  labTableHeaders,
  quickLabTiming,
  renderLabReportHtml,
  runLab,
  staleReads,
} from '../../src/lab/index.js';

/** A small, fast shape: 2 s of workload with a 1 s fault window. */
const tiny: LabTiming = {
  ...quickLabTiming,
  durationMs: 2_000,
  faultStartMs: 500,
  faultWindowMs: 1_000,
  settleMs: 1_000,
};

describe('runLab', () => {
  const report = runLab({
    seed: 7,
    modes: ['lf-sync', 'll-1-1'],
    scenarios: ['healthy', 'majority-partition'],
    timing: tiny,
  });

  it('runs every chosen cell, in order, and every figure is recomputed from the cell history', () => {
    assert.deepEqual(
      report.cells.map((cell) => `${cell.mode}/${cell.scenario}`),
      [
        'lf-sync/healthy',
        'lf-sync/majority-partition',
        'll-1-1/healthy',
        'll-1-1/majority-partition',
      ],
    );
    for (const cell of report.cells) {
      const inWindow = cell.history.filter(
        (operation) =>
          operation.invokeTime >= cell.window.startMs && operation.invokeTime < cell.window.endMs,
      );
      assert.ok(inWindow.length > 0, `${cell.mode}/${cell.scenario}: operations in the window`);
      const ok = inWindow.filter((operation) => operation.status === 'ok').length;
      assert.equal(cell.availability, ok / inWindow.length);
      assert.equal(cell.operations.invoked, cell.history.length);
      assert.equal(cell.staleReads, staleReads(cell.history).length);
      assert.equal(
        cell.timeSeries.reduce((sum, bucket) => sum + bucket.ok + bucket.failed, 0),
        cell.history.length,
      );
    }
  });

  it('measures what the faults do: cutting every replica off costs leader-follower its writes, not W=R=1', () => {
    const cell = (mode: string, scenario: string) =>
      report.cells.find((entry) => entry.mode === mode && entry.scenario === scenario);
    assert.equal(cell('lf-sync', 'healthy')?.availability, 1);
    assert.equal(cell('ll-1-1', 'healthy')?.availability, 1);
    assert.ok((cell('lf-sync', 'majority-partition')?.availability ?? 1) < 0.8);
    assert.ok(
      (cell('ll-1-1', 'majority-partition')?.availability ?? 0) >
        (cell('lf-sync', 'majority-partition')?.availability ?? 1),
    );
    assert.ok((cell('lf-sync', 'majority-partition')?.faultLog.length ?? 0) > 0);
    assert.deepEqual(
      cell('lf-sync', 'healthy')?.faultLog.filter((line) => line.includes('start')),
      [],
    );
  });

  it('prints the table from the cells', () => {
    const lines = formatLabTable(report);
    assert.equal(lines.length, 2 + report.cells.length);
    assert.deepEqual(lines[0]?.split(/\s{2,}/), [...labTableHeaders]);
    report.cells.forEach((cell, index) => {
      const cells = (lines[index + 2] as string).trim().split(/\s{2,}/);
      assert.equal(cells[0], cell.mode);
      assert.equal(cells[1], cell.scenario);
      assert.equal(cells[2], `${(cell.availability * 100).toFixed(0)}%`);
      assert.equal(cells[5], String(cell.staleReads));
    });
  });

  it('is deterministic: the same seed gives the same figures, another seed another run', () => {
    const again = runLab({
      seed: 7,
      modes: ['ll-1-1'],
      scenarios: ['majority-partition'],
      timing: tiny,
    });
    const other = runLab({
      seed: 8,
      modes: ['ll-1-1'],
      scenarios: ['majority-partition'],
      timing: tiny,
    });
    const original = report.cells[3];
    assert.deepEqual(
      formatLabTable(again)[2],
      formatLabTable({ ...report, cells: [original] } as typeof report)[2],
    );
    assert.deepEqual(again.cells[0]?.history, original?.history);
    assert.notDeepEqual(other.cells[0]?.history, original?.history);
  });

  it('renders a self-contained HTML report: the table, charts with the window shaded, anomalies', () => {
    const html = renderLabReportHtml(report, { generatedAt: '2026-01-01T00:00:00.000Z' });
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /<table class="matrix">/);
    assert.equal((html.match(/<div class="cell"/g) ?? []).length, report.cells.length);
    assert.ok((html.match(/fault window 500-1500 ms/g) ?? []).length >= 2 * report.cells.length);
    assert.match(html, /First anomaly/);
    assert.doesNotMatch(html, /<script|<link|src="http|href="http/);
  });

  it('refuses unknown modes and scenarios and a fault window past the workload', () => {
    assert.throws(() => runLab({ modes: ['paxos' as never] }), isInvalidArgumentError);
    assert.throws(() => runLab({ scenarios: [] }), isInvalidArgumentError);
    assert.throws(
      () => runLab({ timing: { durationMs: 1_000, faultStartMs: 500, faultWindowMs: 1_000 } }),
      isInvalidArgumentError,
    );
  });
});
