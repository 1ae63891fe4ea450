/**
 * The lab's HTML report: one self-contained page (inline CSS and SVG, no script, nothing
 * fetched) with the table, and per cell a chart of operations and latency over time with
 * the fault window shaded, and the timeline of the cell's first anomaly.
 *
 * @module
 */

import { describeOperation, escapeHtml, type Operation } from '../check/index.js';
import { type LabCell, type LabReport, labTableHeaders, labTableRows } from './lab.js';

/** Options of {@link renderLabReportHtml}. */
export interface LabReportHtmlOptions {
  /** When the run happened, for people (the CLI passes the date). Default: not shown. */
  readonly generatedAt?: string;
  /** The command that reproduces the run. Default: not shown. */
  readonly command?: string;
}

const style = `
body { font: 13px/1.45 system-ui, sans-serif; margin: 1.5em; color: #1d1d1f; background: #fff; max-width: 1200px; }
h1 { font-size: 1.4em; margin: 0 0 .3em; }
h2 { font-size: 1.15em; margin: 1.8em 0 .5em; border-bottom: 1px solid #ddd; }
h3 { font-size: 1em; margin: 1.2em 0 .3em; }
table.matrix { border-collapse: collapse; font-variant-numeric: tabular-nums; }
table.matrix th, table.matrix td { border: 1px solid #ddd; padding: .2em .5em; text-align: right; }
table.matrix td:nth-child(-n+2), table.matrix th:nth-child(-n+2) { text-align: left; }
table.matrix tr.first td { border-top: 2px solid #999; }
td.bad { background: #fbd5d5; } td.good { background: #e3f4e6; } td.unknown { background: #f3ecc8; }
.cell { border: 1px solid #e3e3e3; border-radius: 4px; padding: .5em .8em; margin: .8em 0; }
.meta { color: #555; }
.anomaly { background: #fff6f6; border-left: 3px solid #c0392b; padding: .3em .6em; }
.none { color: #2e7d32; }
svg text { font: 10px system-ui, sans-serif; fill: #444; }
dl.columns dt { font-weight: 600; } dl.columns dd { margin: 0 0 .4em 1.2em; }
`;

function cellClass(header: string, value: string): string {
  if (['lin', 'ryw', 'mr'].includes(header)) {
    return value === '✓' ? 'good' : value === '✗' ? 'bad' : 'unknown';
  }
  if (['stale', 'lost'].includes(header)) {
    return /^0( \(0\))?$/.test(value) ? '' : 'bad';
  }
  return '';
}

function renderTable(report: LabReport): string {
  const rows = labTableRows(report);
  const head = labTableHeaders.map((header) => `<th>${escapeHtml(header)}</th>`).join('');
  const body = rows
    .map((row, index) => {
      const first = index === 0 || rows[index - 1]?.[0] !== row[0];
      const cells = row
        .map((value, column) => {
          const header = labTableHeaders[column] as string;
          const link =
            column === 1
              ? `<a href="#${escapeHtml(`${row[0]}-${row[1]}`)}">${escapeHtml(value)}</a>`
              : escapeHtml(value);
          const className = cellClass(header, value);
          return `<td${className === '' ? '' : ` class="${className}"`}>${link}</td>`;
        })
        .join('');
      return `<tr${first ? ' class="first"' : ''}>${cells}</tr>`;
    })
    .join('\n');
  return `<table class="matrix"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const chartWidth = 560;
const chartHeight = 110;
const chartLeft = 40;

function scale(valueMax: number, value: number): number {
  return valueMax === 0 ? 0 : (value / valueMax) * chartHeight;
}

/** Operations ok (green) and failed (red) per bucket, stacked, with the window shaded. */
function operationsChart(cell: LabCell, endMs: number): string {
  const buckets = cell.timeSeries;
  const countMax = Math.max(1, ...buckets.map((bucket) => bucket.ok + bucket.failed));
  const x = (timeMs: number): number => chartLeft + (timeMs / endMs) * chartWidth;
  const width = Math.max(1, chartWidth / Math.max(1, buckets.length) - 1);
  const bars = buckets
    .map((bucket) => {
      const okHeight = scale(countMax, bucket.ok);
      const failedHeight = scale(countMax, bucket.failed);
      const left = x(bucket.startMs).toFixed(1);
      return (
        `<rect x="${left}" y="${(chartHeight - okHeight).toFixed(1)}" width="${width.toFixed(1)}" height="${okHeight.toFixed(1)}" fill="#5aa469"><title>${bucket.startMs} ms: ${bucket.ok} ok</title></rect>` +
        `<rect x="${left}" y="${(chartHeight - okHeight - failedHeight).toFixed(1)}" width="${width.toFixed(1)}" height="${failedHeight.toFixed(1)}" fill="#d9534f"><title>${bucket.startMs} ms: ${bucket.failed} failed</title></rect>`
      );
    })
    .join('');
  return svgFrame(cell, endMs, `ops / ${bucketWidth(cell)} ms (max ${countMax})`, bars);
}

function bucketWidth(cell: LabCell): number {
  const [first, second] = cell.timeSeries;
  return first !== undefined && second !== undefined ? second.startMs - first.startMs : 100;
}

/** Median and p99 latency of the ok operations per bucket, as two lines. */
function latencyChart(cell: LabCell, endMs: number): string {
  const buckets = cell.timeSeries;
  const latencyMax = Math.max(1, ...buckets.map((bucket) => bucket.latencyP99Ms ?? 0));
  const x = (timeMs: number): number => chartLeft + (timeMs / endMs) * chartWidth;
  const half = bucketWidth(cell) / 2;
  const line = (pick: (bucket: (typeof buckets)[number]) => number | undefined, color: string) => {
    const points = buckets
      .filter((bucket) => pick(bucket) !== undefined)
      .map(
        (bucket) =>
          `${x(bucket.startMs + half).toFixed(1)},${(chartHeight - scale(latencyMax, pick(bucket) as number)).toFixed(1)}`,
      )
      .join(' ');
    return points === ''
      ? ''
      : `<polyline points="${points}" fill="none" stroke="${color}" stroke-width="1.5"/>`;
  };
  return svgFrame(
    cell,
    endMs,
    `latency ms (max ${latencyMax.toFixed(0)}): p50 blue, p99 orange`,
    line((bucket) => bucket.latencyP50Ms, '#3b6fb6') +
      line((bucket) => bucket.latencyP99Ms, '#e08a1e'),
  );
}

function svgFrame(cell: LabCell, endMs: number, label: string, content: string): string {
  const x = (timeMs: number): number => chartLeft + (timeMs / endMs) * chartWidth;
  const shade = `<rect x="${x(cell.window.startMs).toFixed(1)}" y="0" width="${(x(cell.window.endMs) - x(cell.window.startMs)).toFixed(1)}" height="${chartHeight}" fill="#f7d9a8" opacity="0.55"><title>fault window ${cell.window.startMs}-${cell.window.endMs} ms</title></rect>`;
  const ticks: string[] = [];
  const step = endMs > 4_000 ? 1_000 : 500;
  for (let timeMs = 0; timeMs <= endMs; timeMs += step) {
    ticks.push(
      `<line x1="${x(timeMs).toFixed(1)}" y1="${chartHeight}" x2="${x(timeMs).toFixed(1)}" y2="${chartHeight + 4}" stroke="#888"/><text x="${x(timeMs).toFixed(1)}" y="${chartHeight + 14}" text-anchor="middle">${timeMs / 1_000}s</text>`,
    );
  }
  return `<svg width="${chartLeft + chartWidth + 10}" height="${chartHeight + 34}" role="img" aria-label="${escapeHtml(label)}">${shade}${content}<line x1="${chartLeft}" y1="${chartHeight}" x2="${chartLeft + chartWidth}" y2="${chartHeight}" stroke="#888"/>${ticks.join('')}<text x="${chartLeft}" y="${chartHeight + 28}">${escapeHtml(label)}</text></svg>`;
}

/** The anomaly's operations as bars on a time axis, one row per operation. */
function anomalyTimeline(cell: LabCell): string {
  const anomaly = cell.firstAnomaly;
  if (anomaly === undefined) {
    return '<p class="none">No anomaly: no stale read, no lost write, and every checker passed.</p>';
  }
  const involved = anomaly.operations;
  const ends = involved.map((operation) => operation.returnTime ?? operation.invokeTime + 500);
  const startMs = Math.min(...involved.map((operation) => operation.invokeTime)) - 20;
  const endMs = Math.max(...ends, anomaly.timeMs) + 20;
  const width = 820;
  const labelWidth = 380;
  const rowHeight = 22;
  const x = (timeMs: number): number =>
    labelWidth + ((timeMs - startMs) / Math.max(1, endMs - startMs)) * (width - labelWidth - 10);
  const rows = involved
    .map((operation: Operation, index) => {
      const end = operation.returnTime ?? endMs;
      const y = index * rowHeight + 4;
      const color =
        operation.status === 'ok' ? '#c9d8ef' : operation.status === 'fail' ? '#eee' : '#f3ecc8';
      const what =
        operation.kind === 'write'
          ? `write ${operation.key ?? ''} ${String(operation.input)}`
          : `read ${operation.key ?? ''}${operation.status === 'ok' ? ` → ${String(operation.output)}` : ''}`;
      const label = `process ${String(operation.process)}: ${what} (${operation.status}, ${operation.invokeTime.toFixed(0)}-${operation.returnTime === undefined ? '?' : operation.returnTime.toFixed(0)} ms)`;
      return `<text x="0" y="${y + 13}">${escapeHtml(label)}</text><rect x="${x(operation.invokeTime).toFixed(1)}" y="${y}" width="${Math.max(3, x(end) - x(operation.invokeTime)).toFixed(1)}" height="16" fill="${color}" stroke="#4a6fa5"><title>${escapeHtml(describeOperation(operation))}</title></rect>`;
    })
    .join('');
  const height = involved.length * rowHeight + 26;
  const marker = `<line x1="${x(anomaly.timeMs).toFixed(1)}" y1="0" x2="${x(anomaly.timeMs).toFixed(1)}" y2="${height - 20}" stroke="#c0392b" stroke-dasharray="3,2"/>`;
  const axis = `<text x="${labelWidth}" y="${height - 4}">${startMs.toFixed(0)} ms</text><text x="${width - 10}" y="${height - 4}" text-anchor="end">${endMs.toFixed(0)} ms</text>`;
  return `<div class="anomaly"><strong>${escapeHtml(anomaly.kind)}</strong> at ${anomaly.timeMs.toFixed(0)} ms: ${escapeHtml(anomaly.message)}</div><svg width="${width}" height="${height}" role="img" aria-label="first anomaly">${marker}${rows}${axis}</svg>`;
}

function renderCell(report: LabReport, cell: LabCell): string {
  const endMs = report.timing.durationMs + report.timing.operationTimeoutMs;
  const counters = Object.entries(cell.modeCounters)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name} ${String(value)}`)
    .join(', ');
  return `<div class="cell" id="${escapeHtml(`${cell.mode}-${cell.scenario}`)}">
<h3>${escapeHtml(cell.mode)} × ${escapeHtml(cell.scenario)}</h3>
<p class="meta">${cell.operations.invoked} operations: ${cell.operations.ok} ok, ${cell.operations.failed} refused, ${cell.operations.unknown} unknown. Availability in the window ${(cell.availability * 100).toFixed(1)}% (whole run ${(cell.availabilityOverall * 100).toFixed(1)}%); ${cell.staleReads} stale of ${cell.reads} ok reads; ${cell.acknowledgedWritesLost} acknowledged writes lost, ${cell.concurrentWritesOverwritten} overwritten by concurrent writes; ${cell.conflictsSurfaced} reads with siblings; ${cell.divergedKeys} keys diverged at the end.${counters === '' ? '' : ` The mode counted: ${escapeHtml(counters)}.`}</p>
<p class="meta">Faults: ${cell.faultLog.length === 0 ? 'none' : escapeHtml(cell.faultLog.join('; '))}</p>
${operationsChart(cell, endMs)}
${latencyChart(cell, endMs)}
<h4>First anomaly</h4>
${anomalyTimeline(cell)}
</div>`;
}

/**
 * The report as one HTML page: the table, what each column means, and every cell's charts
 * and first anomaly. Pure: returns a string.
 *
 * @example
 * ```ts
 * const html = renderLabReportHtml(runLab({ modes: ['ll-1-1'], scenarios: ['healthy'] }));
 * ```
 */
export function renderLabReportHtml(report: LabReport, options: LabReportHtmlOptions = {}): string {
  const modes = report.modes
    .map(
      (mode) =>
        `<dt>${escapeHtml(mode.id)}: ${escapeHtml(mode.label)}</dt><dd>${escapeHtml(mode.description)}</dd>`,
    )
    .join('');
  const scenarios = report.scenarios
    .map(
      (scenario) =>
        `<dt>${escapeHtml(scenario.id)}</dt><dd>${escapeHtml(scenario.description)}</dd>`,
    )
    .join('');
  const timing = report.timing;
  const sections = report.modes
    .map((mode) => {
      const cells = report.cells.filter((cell) => cell.mode === mode.id);
      return `<h2>${escapeHtml(mode.label)}</h2>${cells.map((cell) => renderCell(report, cell)).join('\n')}`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>distkit lab report (seed ${report.seed})</title><style>${style}</style></head>
<body>
<h1>distkit lab: replication modes under faults</h1>
<p class="meta">Seed ${report.seed}${options.generatedAt === undefined ? '' : `, run ${escapeHtml(options.generatedAt)}`}${report.wallMs === undefined ? '' : `, ${(report.wallMs / 1_000).toFixed(1)} s of wall time`}${options.command === undefined ? '' : `. Reproduce: <code>${escapeHtml(options.command)}</code>`}. ${timing.replicaCount} replicas, ${timing.clientCount} clients sending to random replicas over ${timing.keyCount} keys for ${timing.durationMs} ms of simulated time; the fault window is ${timing.faultStartMs}-${timing.faultStartMs + timing.faultWindowMs} ms. Every figure comes from the run.</p>
${renderTable(report)}
<h2>Columns</h2>
<dl class="columns">
<dt>avail</dt><dd>Share of the operations invoked during the fault window that completed ok (refused and timed-out operations count against it).</dd>
<dt>p50 ms, p99 ms</dt><dd>Latency percentiles (nearest rank) of the ok operations invoked during the window, in simulated milliseconds.</dd>
<dt>stale</dt><dd>Ok reads, over the whole run, that returned a value already replaced before the read began: an ok write of the key had completed before the read was invoked, and the write of the value read (or no write, for a read of nothing) had completed before that write was invoked.</dd>
<dt>lost</dt><dd>Ok writes such that, at the end, no replica holds their value nor the value of any write of their key that had not completed before they began (the key went back in time past them). A lower bound: a lost write later overwritten by a newer write cannot be told from the final state. In parentheses, the mode's own count (acknowledgedWritesLost), where it keeps one.</dd>
<dt>overwr</dt><dd>Ok writes whose value no replica holds at the end although they were not lost: every surviving write of the key overlapped them in time, so a conflict was resolved against them without anyone reading them. In parentheses, the mode's own count (concurrentWritesOverwritten, multi-leader LWW).</dd>
<dt>confl</dt><dd>Ok reads whose reply carried two or more siblings (concurrent versions surfaced to the client).</dd>
<dt>diverged</dt><dd>Keys on which, after the settle time that follows the workload, two replicas that hold a value for the key hold different values (a replica that holds nothing for the key, such as a leaderless non-owner, is left out). Anti-entropy, read repair and log catch-up bring it to 0.</dd>
<dt>lin, seq, causal, ryw, mr</dt><dd>distkit/check verdicts on the whole history: linearizability (per key, key-value model), sequential consistency (✓ without a search when linearizable, ✗ without a search when not causal, else a search within its step budget), causal consistency, read-your-writes and monotonic reads (a session is one client). ✓ holds, ✗ violated, ? undecided within the step budget.</dd>
</dl>
<h2>Modes</h2><dl class="columns">${modes}</dl>
<h2>Scenarios</h2><dl class="columns">${scenarios}</dl>
${sections}
</body></html>
`;
}
