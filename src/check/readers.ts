/**
 * Readers that turn history text into operations. They take strings, never paths: reading
 * files is the caller's job, so the checker stays pure computation.
 *
 * Three formats:
 *
 * - Jepsen's log lines: `INFO  jepsen.util - 3	:invoke	:write	4`.
 * - Jepsen's EDN event maps, one per line:
 *   `{:process 9, :type :invoke, :f :append, :key "0", :value "x 9 0 y"}`.
 * - JSON Lines, one event object per line (schema in {@link parseJsonLinesHistory}).
 *
 * EDN values become JavaScript values: `nil` is `null`, integers and floats are numbers,
 * strings stay strings, keywords become strings with their colon (`:timed-out`),
 * vectors and lists become arrays, maps become plain objects keyed by the keyword name.
 *
 * @module
 */

import {
  type HistoryEvent,
  type HistoryEventType,
  HistoryFormatError,
  historyFromEvents,
  type Operation,
} from './history.js';

/** Nesting deeper than this in one EDN value is rejected, so parsing stays bounded. */
const ednDepthMax = 32;

const eventTypes: readonly HistoryEventType[] = ['invoke', 'ok', 'fail', 'info'];

function isEventType(value: string): value is HistoryEventType {
  return (eventTypes as readonly string[]).includes(value);
}

/**
 * Reads Jepsen's log format: one event per line,
 * `<level>  jepsen.util - <process> <:type> <:f> <value>`, fields separated by tabs or
 * spaces. Blank lines are skipped; any other line that is not an event throws
 * {@link HistoryFormatError} with its line number. A completion whose value is
 * `:timed-out` (Jepsen logs timed-out reads as `:fail`) has an unknown outcome.
 */
export function parseJepsenLog(text: string): Operation[] {
  const events: HistoryEvent[] = [];
  const pattern = /^\s*\S+\s+jepsen\.util\s+-\s+(\S+)\s+:(\S+)\s+:(\S+)\s*(.*?)\s*$/;
  lines(text).forEach((content, index) => {
    const line = index + 1;
    if (content.trim() === '') {
      return;
    }
    const match = pattern.exec(content);
    if (match === null) {
      throw new HistoryFormatError(
        line,
        `expected a Jepsen log event like "INFO  jepsen.util - 3\t:invoke\t:write\t4"; got ${JSON.stringify(content.slice(0, 80))}.`,
      );
    }
    const [, processText, type, kind, valueText] = match as unknown as [
      string,
      string,
      string,
      string,
      string,
    ];
    if (!isEventType(type)) {
      throw new HistoryFormatError(
        line,
        `unknown event type :${type}; expected :invoke, :ok, :fail or :info.`,
      );
    }
    const process = parseProcess(processText, line);
    const value = valueText === '' ? null : parseEdnValue(valueText, line);
    events.push({
      process,
      type,
      kind,
      value,
      line,
      outcomeUnknown: value === ':timed-out',
    });
  });
  return historyFromEvents(events);
}

/**
 * Reads Jepsen's EDN event form: one map per line with `:process`, `:type`, `:f` and
 * optionally `:key`, `:value` and `:time`. Events of a process that is a keyword (Jepsen's
 * `:nemesis`) are skipped: they are faults, not client operations. Blank lines and lines
 * starting with `;` are skipped. A malformed line throws {@link HistoryFormatError}.
 */
export function parseJepsenEdn(text: string): Operation[] {
  const events: HistoryEvent[] = [];
  lines(text).forEach((content, index) => {
    const line = index + 1;
    const trimmed = content.trim();
    if (trimmed === '' || trimmed.startsWith(';')) {
      return;
    }
    const map = parseEdnValue(trimmed, line);
    if (typeof map !== 'object' || map === null || Array.isArray(map)) {
      throw new HistoryFormatError(line, 'expected an EDN map like {:process 0, :type :invoke}.');
    }
    const record = map as Record<string, unknown>;
    const process = record['process'];
    if (typeof process === 'string' && process.startsWith(':')) {
      return;
    }
    if (typeof process !== 'number' || !Number.isSafeInteger(process)) {
      throw new HistoryFormatError(line, ':process must be an integer or a keyword.');
    }
    const type = keywordName(record['type'], ':type', line);
    if (!isEventType(type)) {
      throw new HistoryFormatError(
        line,
        `:type must be :invoke, :ok, :fail or :info; got :${type}.`,
      );
    }
    const kind = keywordName(record['f'], ':f', line);
    const key = record['key'];
    const time = record['time'];
    if (time !== undefined && typeof time !== 'number') {
      throw new HistoryFormatError(line, ':time must be a number.');
    }
    const event: {
      -readonly [K in keyof HistoryEvent]: HistoryEvent[K];
    } = { process, type, kind, value: record['value'] ?? null, line };
    if (key !== undefined && key !== null) {
      event.key = typeof key === 'string' ? key : JSON.stringify(key);
    }
    if (time !== undefined) {
      event.time = time;
    }
    events.push(event);
  });
  return historyFromEvents(events);
}

/**
 * Reads JSON Lines: one JSON object per line, each an event.
 *
 * ```json
 * {"process": 0, "type": "invoke", "kind": "write", "key": "a", "value": 1, "time": 10}
 * {"process": 0, "type": "ok", "kind": "write", "key": "a", "value": 1, "time": 12}
 * ```
 *
 * - `process` (integer or string, required): the client.
 * - `type` (required): `"invoke"`, `"ok"`, `"fail"` (took no effect) or `"info"`
 *   (outcome unknown).
 * - `kind` (string, required): the operation, as the model names it.
 * - `key` (string, optional): the key, for multi-key models.
 * - `value` (optional): the argument on `invoke`, the result on `ok`.
 * - `time` (number, optional): when it happened, in any unit, never decreasing; the
 *   line order is used when absent.
 *
 * Blank lines are skipped. A malformed line throws {@link HistoryFormatError}.
 */
export function parseJsonLinesHistory(text: string): Operation[] {
  const events: HistoryEvent[] = [];
  lines(text).forEach((content, index) => {
    const line = index + 1;
    if (content.trim() === '') {
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(content);
    } catch (error) {
      throw new HistoryFormatError(line, `not valid JSON (${String(error)}).`, { cause: error });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new HistoryFormatError(line, 'expected a JSON object per line.');
    }
    const record = parsed as Record<string, unknown>;
    const process = record['process'];
    if (
      !(typeof process === 'string' && process !== '') &&
      !(typeof process === 'number' && Number.isSafeInteger(process))
    ) {
      throw new HistoryFormatError(line, '"process" must be an integer or a non-empty string.');
    }
    const type = record['type'];
    if (typeof type !== 'string' || !isEventType(type)) {
      throw new HistoryFormatError(line, '"type" must be "invoke", "ok", "fail" or "info".');
    }
    const kind = record['kind'];
    if (typeof kind !== 'string' || kind === '') {
      throw new HistoryFormatError(line, '"kind" must be a non-empty string.');
    }
    const key = record['key'];
    if (key !== undefined && typeof key !== 'string') {
      throw new HistoryFormatError(line, '"key" must be a string when present.');
    }
    const time = record['time'];
    if (time !== undefined && (typeof time !== 'number' || !Number.isFinite(time))) {
      throw new HistoryFormatError(line, '"time" must be a finite number when present.');
    }
    const event: {
      -readonly [K in keyof HistoryEvent]: HistoryEvent[K];
    } = { process, type, kind, line };
    if (record['value'] !== undefined) {
      event.value = record['value'];
    }
    if (key !== undefined) {
      event.key = key;
    }
    if (time !== undefined) {
      event.time = time;
    }
    events.push(event);
  });
  return historyFromEvents(events);
}

function lines(text: string): string[] {
  if (typeof text !== 'string') {
    throw new HistoryFormatError(0, 'history text must be a string; read the file first.');
  }
  return text.split(/\r?\n/);
}

function parseProcess(text: string, line: number): number | string {
  if (/^\d+$/.test(text)) {
    return Number(text);
  }
  if (text.startsWith(':')) {
    return text;
  }
  throw new HistoryFormatError(line, `process must be an integer or a keyword; got ${text}.`);
}

function keywordName(value: unknown, field: string, line: number): string {
  if (typeof value !== 'string' || !value.startsWith(':') || value.length < 2) {
    throw new HistoryFormatError(line, `${field} must be a keyword like :invoke.`);
  }
  return value.slice(1);
}

/** Parses one EDN value that makes up all of `text`. */
function parseEdnValue(text: string, line: number): unknown {
  const reader = new EdnReader(text, line);
  const value = reader.value(0);
  reader.skipSpace();
  if (reader.position !== text.length) {
    reader.fail('unexpected text after the value');
  }
  return value;
}

/** A small reader for the EDN subset histories use. */
class EdnReader {
  position = 0;

  constructor(
    private readonly text: string,
    private readonly line: number,
  ) {}

  fail(what: string): never {
    throw new HistoryFormatError(
      this.line,
      `malformed EDN at column ${this.position + 1}: ${what}.`,
    );
  }

  skipSpace(): void {
    while (this.position < this.text.length && /[\s,]/.test(this.text[this.position] as string)) {
      this.position += 1;
    }
  }

  value(depth: number): unknown {
    if (depth > ednDepthMax) {
      this.fail(`nesting deeper than ${ednDepthMax}`);
    }
    this.skipSpace();
    const first = this.text[this.position];
    if (first === undefined) {
      this.fail('expected a value');
    }
    if (first === '"') {
      return this.string();
    }
    if (first === '[' || first === '(') {
      return this.sequence(first === '[' ? ']' : ')', depth);
    }
    if (first === '{') {
      return this.map(depth);
    }
    const start = this.position;
    while (
      this.position < this.text.length &&
      !/[\s,[\](){}"]/.test(this.text[this.position] as string)
    ) {
      this.position += 1;
    }
    const token = this.text.slice(start, this.position);
    if (token === '') {
      this.fail(`unexpected ${JSON.stringify(first)}`);
    }
    if (token === 'nil') {
      return null;
    }
    if (token === 'true' || token === 'false') {
      return token === 'true';
    }
    if (token.startsWith(':')) {
      return token;
    }
    if (/^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?N?M?$/.test(token)) {
      return Number(token.replace(/[NM]$/, ''));
    }
    this.position = start;
    return this.fail(`unsupported token ${JSON.stringify(token)}`);
  }

  private string(): string {
    let result = '';
    this.position += 1;
    while (this.position < this.text.length) {
      const character = this.text[this.position] as string;
      this.position += 1;
      if (character === '"') {
        return result;
      }
      if (character === '\\') {
        const escaped = this.text[this.position];
        this.position += 1;
        const replacements: Record<string, string> = {
          n: '\n',
          t: '\t',
          r: '\r',
          '"': '"',
          '\\': '\\',
        };
        const replacement = escaped === undefined ? undefined : replacements[escaped];
        if (replacement === undefined) {
          this.fail('unsupported escape in a string');
        }
        result += replacement;
      } else {
        result += character;
      }
    }
    return this.fail('unterminated string');
  }

  private sequence(close: string, depth: number): unknown[] {
    const items: unknown[] = [];
    this.position += 1;
    for (;;) {
      this.skipSpace();
      if (this.text[this.position] === close) {
        this.position += 1;
        return items;
      }
      if (this.position >= this.text.length) {
        this.fail(`missing ${close}`);
      }
      items.push(this.value(depth + 1));
    }
  }

  private map(depth: number): Record<string, unknown> {
    const record: Record<string, unknown> = {};
    this.position += 1;
    for (;;) {
      this.skipSpace();
      if (this.text[this.position] === '}') {
        this.position += 1;
        return record;
      }
      if (this.position >= this.text.length) {
        this.fail('missing }');
      }
      const key = this.value(depth + 1);
      const name =
        typeof key === 'string' && key.startsWith(':') ? key.slice(1) : JSON.stringify(key);
      this.skipSpace();
      if (this.text[this.position] === '}' || this.position >= this.text.length) {
        this.fail(`map key ${name} has no value`);
      }
      record[name] = this.value(depth + 1);
    }
  }
}
