/**
 * A timeline view of a history as one self-contained HTML page: per partition (kv key),
 * one row per process, each operation a bar from its invocation to its completion.
 * Operations of unknown outcome are drawn open-ended to the right edge. For a violation,
 * the partition that failed comes first, the instant where every order fails (the
 * completion of the blocking operation) is marked with a line, and the blocking operation
 * and the candidates that could not be placed are highlighted.
 *
 * Pure: returns a string. The page has inline CSS only, no scripts and nothing fetched.
 *
 * @module
 */

import { describeOperation, formatValue, type Operation } from './history.js';
import type { CheckResult, ViolationExplanation } from './linearizability.js';

/** Options for {@link renderTimelineHtml}. */
export interface TimelineOptions {
  /** The verdict of checking `operations`; a violation's explanation drives the highlight. */
  readonly result?: CheckResult;
  /** The page's title, for example the history's file name. Default `'distkit history timeline'`. */
  readonly title?: string;
  /** The model's name, shown in the heading. */
  readonly modelName?: string;
  /**
   * Most operations drawn per partition; the rest are counted but not drawn, so that a
   * huge history still gives a page a browser can open. Default 5,000.
   */
  readonly operationCountMax?: number;
}

const operationCountMaxDefault = 5000;

/** Replaces the five characters that matter in HTML text and attribute values. */
/**
 * Escapes `&`, `<`, `>`, `"` and `'` so that text can go into HTML content or an attribute
 * value; the self-contained reports (this timeline, the lab's) share it.
 */
export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

const style = `
body { font: 13px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d1d1f; background: #fff; }
h1 { font-size: 1.3em; margin: 0 0 .3em; }
h2 { font-size: 1.05em; margin: 1.6em 0 .4em; }
.verdict { font-weight: 600; padding: .15em .5em; border-radius: 3px; }
.verdict-ok { background: #d9f2dd; }
.verdict-violation { background: #fbd5d5; }
.verdict-unknown { background: #f3ecc8; }
pre.explanation { white-space: pre-wrap; background: #fafafa; border: 1px solid #ddd; padding: .6em; }
.legend span { display: inline-block; margin-right: 1.2em; }
.swatch { display: inline-block; width: 1.4em; height: .8em; vertical-align: middle; margin-right: .3em; border: 1px solid #666; }
.timeline { position: relative; border: 1px solid #ccc; padding: .4em 0; }
.overlay { position: absolute; top: 0; bottom: 0; left: 9em; right: 0; pointer-events: none; }
.row { display: flex; align-items: center; height: 1.9em; border-bottom: 1px dotted #eee; }
.process { box-sizing: border-box; width: 9em; flex: none; padding: 0 .5em; text-align: right; color: #555; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.track { position: relative; flex: 1; height: 1.5em; }
.op { position: absolute; top: .15em; height: 1.2em; min-width: 3px; box-sizing: border-box; border: 1px solid #4a6fa5; background: #c9d8ef; border-radius: 2px; overflow: hidden; white-space: nowrap; font-size: 11px; line-height: 1.1em; padding: 0 2px; }
.op-fail { background: #eee; border-color: #aaa; color: #888; text-decoration: line-through; }
.op-unknown { background: linear-gradient(to right, #f3ecc8, rgba(243, 236, 200, 0)); border-color: #b59a2a; border-right: none; border-style: dashed; border-right-style: none; z-index: 0; opacity: .85; }
.op-linearized { border-color: #2f7d3a; background: #d9f2dd; }
.op-candidate { border: 2px solid #d97706; background: #fde7c4; z-index: 2; }
.op-blocking { border: 2px solid #c0262d; background: #fbd5d5; z-index: 3; font-weight: 600; }
.fail-line { position: absolute; top: 0; bottom: 0; width: 0; border-left: 2px solid #c0262d; z-index: 4; }
.fail-label { position: absolute; top: 0; left: 4px; color: #c0262d; font-size: 11px; white-space: nowrap; background: rgba(255, 255, 255, .8); }
.axis { display: flex; justify-content: space-between; margin-left: 9em; color: #777; font-size: 11px; padding: 0 .5em; }
.note { color: #777; }
`;

interface Highlight {
  readonly explanation: ViolationExplanation;
  readonly order: Map<Operation, number>;
  readonly candidates: Set<Operation>;
}

/**
 * Renders `operations` as a self-contained HTML page: per partition (the operations'
 * `key`), one row per process, each operation a bar from invocation to completion (open
 * to the right edge for an unknown outcome, struck through for a failed one). Pass the
 * `result` of {@link checkLinearizability} to show the verdict; for a violation the failing
 * partition comes first, the instant where every order fails is marked
 * (`data-role="fail-point"`), the blocking operation (`data-role="blocking"`) and the
 * candidates that could not be placed (`data-role="candidate"`) are highlighted, and the
 * operations of the longest order found carry their position in it. All text is escaped.
 *
 * @example
 * ```ts
 * const operations = parseJepsenLog(text);
 * const html = renderTimelineHtml(operations, {
 *   result: checkLinearizability(casRegisterModel(), operations),
 *   title: 'etcd_000.log',
 * });
 * ```
 */
export function renderTimelineHtml(
  operations: readonly Operation[],
  options: TimelineOptions = {},
): string {
  const title = options.title ?? 'distkit history timeline';
  const operationCountMax = options.operationCountMax ?? operationCountMaxDefault;
  const result = options.result;
  const explanation = result?.verdict === 'violation' ? result.explanation : undefined;
  const highlight: Highlight | undefined =
    explanation === undefined
      ? undefined
      : {
          explanation,
          order: new Map(explanation.linearized.map((step, index) => [step.operation, index + 1])),
          candidates: new Set(explanation.candidates.map((candidate) => candidate.operation)),
        };

  const partitions = new Map<string | undefined, Operation[]>();
  for (const operation of operations) {
    const list = partitions.get(operation.key);
    if (list === undefined) {
      partitions.set(operation.key, [operation]);
    } else {
      list.push(operation);
    }
  }
  const keys = [...partitions.keys()].sort(compareKeys);
  if (explanation !== undefined && partitions.has(explanation.key)) {
    keys.splice(keys.indexOf(explanation.key), 1);
    keys.unshift(explanation.key);
  }

  const parts: string[] = [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${style}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(title)}</h1>`,
  ];
  parts.push(renderSummary(operations.length, keys.length, options.modelName, result));
  parts.push(renderLegend(explanation !== undefined));
  for (const key of keys) {
    const partition = partitions.get(key) as Operation[];
    const failing = explanation !== undefined && key === explanation.key;
    parts.push(renderPartition(key, partition, failing ? highlight : undefined, operationCountMax));
  }
  parts.push('</body>', '</html>', '');
  return parts.join('\n');
}

function compareKeys(left: string | undefined, right: string | undefined): number {
  if (left === right) {
    return 0;
  }
  if (left === undefined) {
    return -1;
  }
  if (right === undefined) {
    return 1;
  }
  return left.localeCompare(right, 'en', { numeric: true });
}

function renderSummary(
  operationCount: number,
  partitionCount: number,
  modelName: string | undefined,
  result: CheckResult | undefined,
): string {
  const model = modelName === undefined ? '' : ` against the ${escapeHtml(modelName)} model`;
  const counts = `${operationCount} operations in ${partitionCount} ${partitionCount === 1 ? 'partition' : 'partitions'}${model}.`;
  if (result === undefined) {
    return `<p>${counts}</p>`;
  }
  const verdict = `<span class="verdict verdict-${result.verdict}" data-role="verdict">${result.verdict}</span>`;
  if (result.verdict === 'ok') {
    return `<p>${verdict} linearizable: ${counts}</p>`;
  }
  if (result.verdict === 'unknown') {
    return `<p>${verdict} ${counts}</p>\n<pre class="explanation">${escapeHtml(result.message)}</pre>`;
  }
  const where =
    result.explanation.key === undefined
      ? ''
      : ` The failing key is ${escapeHtml(JSON.stringify(result.explanation.key))}, drawn first.`;
  return `<p>${verdict} not linearizable: ${counts}${where}</p>\n<pre class="explanation">${escapeHtml(result.explanation.message)}</pre>`;
}

function renderLegend(violation: boolean): string {
  const entries = [
    ['', 'ok: invocation to completion'],
    ['op-unknown', 'unknown outcome: open-ended'],
    ['op-fail', 'failed: no effect'],
  ];
  if (violation) {
    entries.push(
      ['op-linearized', '#n: position in the longest order found'],
      ['op-blocking', 'blocking: completed, but no order places it'],
      ['op-candidate', 'candidate that could not be placed'],
    );
  }
  const items = entries
    .map(
      ([kind, text]) =>
        `<span><span class="swatch op ${kind}" style="position: static"></span>${escapeHtml(text as string)}</span>`,
    )
    .join('');
  return `<p class="legend">${items}</p>`;
}

function renderPartition(
  key: string | undefined,
  operations: readonly Operation[],
  highlight: Highlight | undefined,
  operationCountMax: number,
): string {
  const drawn = operations.slice(0, operationCountMax);
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (const operation of drawn) {
    start = Math.min(start, operation.invokeTime);
    end = Math.max(end, operation.invokeTime);
    if (operation.status !== 'unknown' && operation.returnTime !== undefined) {
      end = Math.max(end, operation.returnTime);
    }
  }
  if (!Number.isFinite(start)) {
    start = 0;
    end = 1;
  }
  // Leave room on the right so open-ended bars visibly run past the last completion.
  const span = end > start ? (end - start) * 1.05 : 1;
  const percent = (time: number): number => ((time - start) / span) * 100;

  const processes = new Map<string, Operation[]>();
  for (const operation of drawn) {
    const name = String(operation.process);
    const list = processes.get(name);
    if (list === undefined) {
      processes.set(name, [operation]);
    } else {
      list.push(operation);
    }
  }
  const names = [...processes.keys()].sort((left, right) =>
    left.localeCompare(right, 'en', { numeric: true }),
  );

  const heading = key === undefined ? 'History' : `Key ${JSON.stringify(key)}`;
  const failing = highlight !== undefined;
  const lines: string[] = [
    `<section class="partition" data-key="${escapeHtml(key ?? '')}"${failing ? ' data-failing="true"' : ''}>`,
    `<h2>${escapeHtml(heading)} (${operations.length} operations, ${names.length} ${names.length === 1 ? 'process' : 'processes'})${failing ? ' — every order fails here' : ''}</h2>`,
  ];
  if (drawn.length < operations.length) {
    lines.push(
      `<p class="note">Only the first ${drawn.length} of ${operations.length} operations are drawn.</p>`,
    );
  }
  lines.push('<div class="timeline">');
  const blocking = highlight?.explanation.blocking;
  for (const name of names) {
    lines.push(
      `<div class="row" data-process="${escapeHtml(name)}"><div class="process">process ${escapeHtml(name)}</div><div class="track">`,
    );
    for (const operation of processes.get(name) as Operation[]) {
      lines.push(renderBar(operation, percent, highlight));
    }
    lines.push('</div></div>');
  }
  if (blocking !== undefined && blocking.returnTime !== undefined) {
    // Every order fails at the blocking operation's completion: it must have taken effect by
    // then and nothing could place it. One line across all the rows marks that instant.
    lines.push(
      `<div class="overlay"><div class="fail-line" data-role="fail-point" style="left: ${percent(blocking.returnTime).toFixed(3)}%"><span class="fail-label">every order fails here (time ${escapeHtml(String(blocking.returnTime))})</span></div></div>`,
    );
  }
  lines.push('</div>');
  lines.push(
    `<div class="axis"><span>${escapeHtml(String(start))}</span><span>${escapeHtml(String(end))}</span></div>`,
  );
  lines.push('</section>');
  return lines.join('\n');
}

function renderBar(
  operation: Operation,
  percent: (time: number) => number,
  highlight: Highlight | undefined,
): string {
  const classes = ['op'];
  let role = '';
  let prefix = '';
  if (operation.status === 'unknown') {
    classes.push('op-unknown');
  } else if (operation.status === 'fail') {
    classes.push('op-fail');
  }
  if (highlight !== undefined) {
    const position = highlight.order.get(operation);
    if (operation === highlight.explanation.blocking) {
      classes.push('op-blocking');
      role = ' data-role="blocking"';
      prefix = 'blocking: ';
    } else if (highlight.candidates.has(operation)) {
      classes.push('op-candidate');
      role = ' data-role="candidate"';
    } else if (position !== undefined) {
      classes.push('op-linearized');
      prefix = `#${position} `;
    }
  }
  const left = percent(operation.invokeTime);
  const right =
    operation.status === 'unknown' || operation.returnTime === undefined
      ? 100
      : percent(operation.returnTime);
  const width = Math.max(0, Math.min(100, right) - left);
  const input =
    operation.input === undefined || operation.input === null
      ? ''
      : ` ${formatValue(operation.input)}`;
  const output =
    operation.status === 'ok' && operation.output !== undefined
      ? ` → ${formatValue(operation.output)}`
      : operation.status === 'unknown'
        ? ' → ?'
        : '';
  const label = `${prefix}${operation.kind}${input}${output}`;
  return `<div class="${classes.join(' ')}"${role} style="left: ${left.toFixed(3)}%; width: ${width.toFixed(3)}%" title="${escapeHtml(describeOperation(operation))}">${escapeHtml(label)}</div>`;
}
