/**
 * The causal consistency checker for register and key-value histories whose written values
 * are unique per key, after Bouajjani, Enea, Guerraoui and Hamza, "On Verifying Causal
 * Consistency" (POPL 2017).
 *
 * Unique values let every read name the write it observed (reads-from). The causal order
 * is session order and reads-from, transitively closed: a write precedes every read that
 * returns its value, and an operation precedes the later operations of its session. For
 * such histories the paper shows that causal consistency (its CC) fails exactly when one
 * of four bad patterns occurs:
 *
 * - CyclicCO: the causal order has a cycle (a read returns a value its own session writes
 *   only later);
 * - WriteCOInitRead: a read returns the initial value although a write of that key
 *   causally precedes it;
 * - ThinAirRead: a read returns a value no write wrote;
 * - WriteCORead: a read returns the value of a write `w` although another write `w2` of
 *   that key satisfies `w < w2 < read` in causal order (a causality inversion).
 *
 * ThinAirRead is a precondition failure here, as in the session checkers
 * (`SessionHistoryError`, problem `'unexplained-read'`); the other three are verdicts. The
 * paper's CyclicCF (conflict order) belongs to causal convergence (CCv), a stronger model,
 * and is not checked.
 *
 * The algorithm never recurses: a topological sort (Kahn) finds a cycle or an order, and
 * one bitset per operation, filled in that order, holds the writes that causally precede
 * it. Session order adds O(n) edges through join nodes (one per completion), so a session
 * whose operations overlap in time costs no more than one that runs them one at a time.
 *
 * @module
 */

import { requireInteger, requireOptions } from '../core/index.js';
import { describeOperation, type Operation } from './history.js';
import {
  indexHistory,
  observedText,
  type Read,
  type SessionCheckOptions,
  type SessionOperation,
  sessionText,
  type Write,
} from './sessions.js';

/** The bad patterns of causal consistency the checker finds (names after the paper's). */
export type CausalPattern =
  | 'cyclic-causal-order'
  | 'write-causal-order-initial-read'
  | 'write-causal-order-read';

/** Why one operation causally precedes the next. */
export type CausalRelation = 'session-order' | 'reads-from';

/** One step of a chain of causal order: `from` precedes `to` because of `relation`. */
export interface CausalLink {
  /** The earlier operation. */
  readonly from: Operation;
  /** The later operation. */
  readonly to: Operation;
  /**
   * `'reads-from'`: `to` returned the value `from` wrote. `'session-order'`: both belong
   * to one session and `from` completed before `to` was invoked.
   */
  readonly relation: CausalRelation;
}

/** One bad pattern found, in terms a person can follow. */
export interface CausalViolation {
  /** Which pattern. */
  readonly pattern: CausalPattern;
  /** The session of the read that shows it (for a cycle, of its first operation). */
  readonly session: number | string;
  /** The key of that read, or `undefined` for a register history without keys. */
  readonly key: string | undefined;
  /** The operations of the pattern: the writes involved, then the read. For a cycle, the cycle. */
  readonly operations: readonly Operation[];
  /** The chains of causal order that make it a violation, link by link. */
  readonly links: readonly CausalLink[];
  /** The pattern, the operations and why, as a paragraph. */
  readonly message: string;
}

/** Options for {@link checkCausalConsistency}. */
export interface CausalCheckOptions extends SessionCheckOptions {
  /**
   * Most operations the check accepts; a longer history gets verdict `'unknown'`. The
   * memory grows with its square: at most about `operationCountMax² / 4` bytes (25 MB at
   * the default 10,000).
   */
  readonly operationCountMax?: number;
}

/** Counts every verdict of {@link checkCausalConsistency} carries. */
export interface CausalCheckStatistics {
  /** Operations given, failed ones included. */
  readonly operationCount: number;
}

/** The history is causally consistent. */
export interface CausalCheckOk extends CausalCheckStatistics {
  /** `'ok'`. */
  readonly verdict: 'ok';
  /** Reads judged (completed `ok`). */
  readonly readCount: number;
  /** Writes in the causal order (not failed). */
  readonly writeCount: number;
}

/** The history shows at least one bad pattern. */
export interface CausalCheckViolation extends CausalCheckStatistics {
  /** `'violation'`. */
  readonly verdict: 'violation';
  /** Reads judged (completed `ok`). */
  readonly readCount: number;
  /** Writes in the causal order (not failed). */
  readonly writeCount: number;
  /** The violations found, in the order of the reads, at most `violationCountMax`. */
  readonly violations: readonly CausalViolation[];
  /** All violations found, including those beyond `violationCountMax`. */
  readonly violationCount: number;
  /** The first violation's message, with the count. */
  readonly message: string;
}

/** The history is longer than `operationCountMax`; nothing was checked. */
export interface CausalCheckUnknown extends CausalCheckStatistics {
  /** `'unknown'`. */
  readonly verdict: 'unknown';
  /** Which limit stopped the check. */
  readonly reason: 'operation-limit';
  /** What to do about it. */
  readonly message: string;
}

/** The verdict of {@link checkCausalConsistency}. */
export type CausalCheckResult = CausalCheckOk | CausalCheckViolation | CausalCheckUnknown;

const operationCountMaxDefault = 10_000;
const violationCountMaxDefault = 100;

type Entry = Read | Write;

/**
 * The causal graph: the writes (nodes `0..writeCount-1`, grouped by key, so a key's
 * writes are a range of bits), the reads, then one join node per completion in a session.
 */
interface CausalGraph {
  readonly writes: readonly Write[];
  readonly reads: readonly Read[];
  readonly keyRanges: ReadonlyMap<string, readonly [number, number]>;
  readonly nodeCount: number;
  readonly entryOf: (node: number) => Entry | undefined;
  readonly nodeOf: (entry: Entry) => number;
  readonly predecessorStart: Int32Array;
  readonly predecessors: Int32Array;
  readonly successorStart: Int32Array;
  readonly successors: Int32Array;
  /** Whether the edge from `from` to `to` is reads-from (rather than through a join). */
  readonly readsFrom: (from: number, to: number) => boolean;
}

function compressedRows(
  nodeCount: number,
  from: readonly number[],
  to: readonly number[],
): { start: Int32Array; items: Int32Array } {
  const start = new Int32Array(nodeCount + 1);
  for (const node of from) {
    start[node + 1] = (start[node + 1] as number) + 1;
  }
  for (let node = 0; node < nodeCount; node += 1) {
    start[node + 1] = (start[node + 1] as number) + (start[node] as number);
  }
  const fill = start.slice(0, nodeCount);
  const items = new Int32Array(from.length);
  from.forEach((node, edge) => {
    items[fill[node] as number] = to[edge] as number;
    fill[node] = (fill[node] as number) + 1;
  });
  return { start, items };
}

function buildGraph(operations: readonly SessionOperation[]): CausalGraph {
  const history = indexHistory(operations, 'the causal checker');
  const writes: Write[] = [];
  const keyRanges = new Map<string, readonly [number, number]>();
  for (const [key, list] of history.writesByKey) {
    keyRanges.set(key, [writes.length, writes.length + list.length]);
    writes.push(...list);
  }
  const reads = history.reads;
  const nodes = new Map<Entry, number>();
  for (const entry of [...writes, ...reads]) {
    nodes.set(entry, nodes.size);
  }
  const nodeOf = (entry: Entry): number => nodes.get(entry) as number;
  const from: number[] = [];
  const to: number[] = [];
  const readsFromEdges = new Set<number>();
  for (const read of reads) {
    if (read.observed !== undefined) {
      readsFromEdges.add(nodeOf(read));
      from.push(nodeOf(read.observed));
      to.push(nodeOf(read));
    }
  }
  let nodeCount = writes.length + reads.length;
  for (const entries of history.sessions.values()) {
    // `a` precedes `b` in a session when `a` completed no later than `b` was invoked
    // (ties between instantaneous operations broken by position). The operations that
    // precede `b` are a prefix of the completions in (return, invoke, position) order, so
    // a chain of join nodes, one per completion, gives every operation one edge.
    const completions = entries
      .map((entry, position) => ({ entry, position }))
      .filter(({ entry }) => Number.isFinite(entry.returnTime))
      .sort(
        (left, right) =>
          left.entry.returnTime - right.entry.returnTime ||
          left.entry.invokeTime - right.entry.invokeTime ||
          left.position - right.position,
      );
    let join = -1;
    let completed = 0;
    entries.forEach((entry, position) => {
      for (;;) {
        const next = completions[completed];
        if (
          next === undefined ||
          next.entry.returnTime > entry.invokeTime ||
          (next.entry.returnTime === entry.invokeTime &&
            (next.entry.invokeTime > entry.invokeTime ||
              (next.entry.invokeTime === entry.invokeTime && next.position >= position)))
        ) {
          break;
        }
        const node = nodeCount;
        nodeCount += 1;
        if (join !== -1) {
          from.push(join);
          to.push(node);
        }
        from.push(nodeOf(next.entry));
        to.push(node);
        join = node;
        completed += 1;
      }
      if (join !== -1) {
        from.push(join);
        to.push(nodeOf(entry));
      }
    });
  }
  const successorRows = compressedRows(nodeCount, from, to);
  const predecessorRows = compressedRows(nodeCount, to, from);
  const realCount = writes.length + reads.length;
  return {
    writes,
    reads,
    keyRanges,
    nodeCount,
    entryOf: (node) =>
      node < writes.length
        ? writes[node]
        : node < realCount
          ? reads[node - writes.length]
          : undefined,
    nodeOf,
    predecessorStart: predecessorRows.start,
    predecessors: predecessorRows.items,
    successorStart: successorRows.start,
    successors: successorRows.items,
    readsFrom: (fromNode, toNode) =>
      fromNode < writes.length &&
      readsFromEdges.has(toNode) &&
      (reads[toNode - writes.length]?.observed as Write | undefined) === writes[fromNode],
  };
}

/** Kahn's topological order; shorter than `nodeCount` when the graph has a cycle. */
function topologicalOrder(graph: CausalGraph): Int32Array {
  const { nodeCount, successorStart, successors, predecessorStart } = graph;
  const waiting = new Int32Array(nodeCount);
  const order = new Int32Array(nodeCount);
  let tail = 0;
  for (let node = 0; node < nodeCount; node += 1) {
    waiting[node] = (predecessorStart[node + 1] as number) - (predecessorStart[node] as number);
    if (waiting[node] === 0) {
      order[tail] = node;
      tail += 1;
    }
  }
  for (let head = 0; head < tail; head += 1) {
    const node = order[head] as number;
    for (
      let edge = successorStart[node] as number;
      edge < (successorStart[node + 1] as number);
      edge += 1
    ) {
      const next = successors[edge] as number;
      waiting[next] = (waiting[next] as number) - 1;
      if (waiting[next] === 0) {
        order[tail] = next;
        tail += 1;
      }
    }
  }
  return order.slice(0, tail);
}

/** A cycle among the nodes the topological order left out, in causal order. */
function findCycle(graph: CausalGraph, sorted: Int32Array): number[] {
  const done = new Uint8Array(graph.nodeCount);
  for (const node of sorted) {
    done[node] = 1;
  }
  // Every node left has a predecessor left: walk backwards until a node repeats.
  const seenAt = new Int32Array(graph.nodeCount).fill(-1);
  const walk: number[] = [];
  let node = done.indexOf(0);
  while (seenAt[node] === -1) {
    seenAt[node] = walk.length;
    walk.push(node);
    let previous = -1;
    for (
      let edge = graph.predecessorStart[node] as number;
      edge < (graph.predecessorStart[node + 1] as number);
      edge += 1
    ) {
      if (done[graph.predecessors[edge] as number] === 0) {
        previous = graph.predecessors[edge] as number;
        break;
      }
    }
    node = previous;
  }
  const cycle = walk.slice(seenAt[node]).reverse();
  // Start at an operation, not a join node: every cycle has a reads-from edge.
  const start = cycle.findIndex((member) => graph.entryOf(member) !== undefined);
  const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
  rotated.push(rotated[0] as number);
  return rotated;
}

/** The links between the operations of a path of nodes; join nodes mean session order. */
function linksOf(graph: CausalGraph, path: readonly number[]): CausalLink[] {
  const links: CausalLink[] = [];
  let previous = path[0] as number;
  let throughJoin = false;
  for (const node of path.slice(1)) {
    const entry = graph.entryOf(node);
    if (entry === undefined) {
      throughJoin = true;
      continue;
    }
    links.push({
      from: (graph.entryOf(previous) as Entry).operation,
      to: entry.operation,
      relation: !throughJoin && graph.readsFrom(previous, node) ? 'reads-from' : 'session-order',
    });
    previous = node;
    throughJoin = false;
  }
  return links;
}

function chainText(links: readonly CausalLink[]): string {
  const first = links[0];
  if (first === undefined) {
    return '';
  }
  return [
    describeOperation(first.from),
    ...links.map(
      (link) =>
        `${link.relation === 'reads-from' ? '-(read by)->' : '-(then, in the same session)->'} ${describeOperation(link.to)}`,
    ),
  ].join(' ');
}

/**
 * Checks a register or key-value history for causal consistency: whether every read can
 * be explained by a store that applies writes in causal order, where causal order is
 * session order (an operation's `session`, else its `process`; `a` precedes `b` when `a`
 * completed before `b` was invoked) and reads-from, transitively closed.
 *
 * The history must meet the preconditions of the session checkers: only `read`/`get` and
 * `write`/`put`, every written value unique per key, every value read written by some
 * write; otherwise {@link SessionHistoryError}. Failed operations and reads of unknown
 * outcome are dropped; a write of unknown outcome may be read (then it took effect) but
 * never precedes later operations of its session.
 *
 * Verdict `'violation'` lists the bad patterns found (CyclicCO, WriteCOInitRead and
 * WriteCORead of Bouajjani et al.), each with the chains of causal order that make it
 * one; a cyclic causal order is reported alone, as nothing else can be judged. Verdict
 * `'ok'` means causally consistent in the paper's sense (CC): it says nothing of
 * convergence (concurrent writes may be seen in different orders forever). Verdict
 * `'unknown'`: the history has more than `operationCountMax` operations.
 *
 * @example
 * ```ts
 * const result = checkCausalConsistency(history);
 * if (result.verdict === 'violation') console.log(result.message);
 * ```
 */
export function checkCausalConsistency(
  operations: readonly SessionOperation[],
  options?: CausalCheckOptions,
): CausalCheckResult {
  const checked = requireOptions('checkCausalConsistency options', options);
  const operationCountMax = requireInteger(
    'checkCausalConsistency options.operationCountMax',
    checked.operationCountMax ?? operationCountMaxDefault,
    { min: 1 },
  );
  const violationCountMax = requireInteger(
    'checkCausalConsistency options.violationCountMax',
    checked.violationCountMax ?? violationCountMaxDefault,
    { min: 1 },
  );
  if (Array.isArray(operations) && operations.length > operationCountMax) {
    return {
      verdict: 'unknown',
      reason: 'operation-limit',
      operationCount: operations.length,
      message: `The history has ${operations.length} operations, more than options.operationCountMax (${operationCountMax}); raise it (memory grows with its square) or check a shorter history.`,
    };
  }
  const graph = buildGraph(operations);
  const statistics = {
    operationCount: operations.length,
    readCount: graph.reads.length,
    writeCount: graph.writes.length,
  };
  const violations: CausalViolation[] = [];
  let violationCount = 0;
  const order = topologicalOrder(graph);
  if (order.length < graph.nodeCount) {
    violationCount = 1;
    violations.push(cycleViolation(graph, findCycle(graph, order)));
  } else {
    const found = findPatterns(graph, order, violationCountMax);
    violations.push(...found.violations);
    violationCount = found.count;
  }
  const first = violations[0];
  if (first === undefined) {
    return { verdict: 'ok', ...statistics };
  }
  const more = violationCount > 1 ? ` (and ${violationCount - 1} more violation(s))` : '';
  return {
    verdict: 'violation',
    ...statistics,
    violations,
    violationCount,
    message: `${first.message}${more}`,
  };
}

function cycleViolation(graph: CausalGraph, cycle: readonly number[]): CausalViolation {
  const links = linksOf(graph, cycle);
  const involved = links.map((link) => link.from);
  const firstRead = involved.find(
    (operation) => operation.kind === 'read' || operation.kind === 'get',
  );
  const start = involved[0] as Operation;
  return {
    pattern: 'cyclic-causal-order',
    session: (start as SessionOperation).session ?? start.process,
    key: (firstRead ?? start).key,
    operations: involved,
    links,
    message: `causal consistency broken (CyclicCO, a cycle in causal order): ${chainText(links)}, which is where the chain began, so an operation would have to happen before itself (a read returned a value that was written only after it, in causal order). A history whose causal order has a cycle is judged on that alone.`,
  };
}

/** Sets bit `bit` of row `row`. */
function setBit(rows: Uint32Array, row: number, bit: number): void {
  const at = row + (bit >>> 5);
  rows[at] = (rows[at] as number) | (1 << (bit & 31));
}

function hasBit(rows: Uint32Array, row: number, bit: number): boolean {
  return ((rows[row + (bit >>> 5)] as number) & (1 << (bit & 31))) !== 0;
}

/**
 * The first bit in `[start, end)` set in row `row` for which `accept` holds; -1 if none.
 */
function findBit(
  rows: Uint32Array,
  row: number,
  start: number,
  end: number,
  accept: (bit: number) => boolean,
): number {
  for (let word = start >>> 5; word <= (end - 1) >>> 5; word += 1) {
    let bits = rows[row + word] as number;
    while (bits !== 0) {
      const lowest = bits & -bits;
      const bit = word * 32 + 31 - Math.clz32(lowest);
      bits ^= lowest;
      if (bit >= start && bit < end && accept(bit)) {
        return bit;
      }
    }
  }
  return -1;
}

function findPatterns(
  graph: CausalGraph,
  order: Int32Array,
  violationCountMax: number,
): { violations: CausalViolation[]; count: number } {
  const writeCount = graph.writes.length;
  const words = (writeCount + 31) >>> 5;
  const violations: CausalViolation[] = [];
  let count = 0;
  if (words === 0) {
    return { violations, count };
  }
  // Row `node * words`: the writes that causally precede `node`.
  const past = new Uint32Array(graph.nodeCount * words);
  for (const node of order) {
    const row = node * words;
    for (
      let edge = graph.predecessorStart[node] as number;
      edge < (graph.predecessorStart[node + 1] as number);
      edge += 1
    ) {
      const previous = graph.predecessors[edge] as number;
      const previousRow = previous * words;
      for (let word = 0; word < words; word += 1) {
        past[row + word] = (past[row + word] as number) | (past[previousRow + word] as number);
      }
      if (previous < writeCount) {
        setBit(past, row, previous);
      }
    }
  }
  /** A shortest chain of causal order from write `from` to `to`, found backwards. */
  const chain = (from: number, to: number): CausalLink[] => {
    const toward = new Map<number, number>([[to, -1]]);
    const queue = [to];
    for (let head = 0; head < queue.length; head += 1) {
      const node = queue[head] as number;
      for (
        let edge = graph.predecessorStart[node] as number;
        edge < (graph.predecessorStart[node + 1] as number);
        edge += 1
      ) {
        const previous = graph.predecessors[edge] as number;
        if (toward.has(previous) || (previous !== from && !hasBit(past, previous * words, from))) {
          continue;
        }
        toward.set(previous, node);
        if (previous === from) {
          const path = [from];
          for (let next = node; next !== -1; next = toward.get(next) as number) {
            path.push(next);
          }
          return linksOf(graph, path);
        }
        queue.push(previous);
      }
    }
    return [];
  };
  for (const read of graph.reads) {
    const range = graph.keyRanges.get(read.key);
    if (range === undefined) {
      continue;
    }
    const node = graph.nodeOf(read);
    const row = node * words;
    const keyText =
      read.operation.key === undefined ? 'the register' : `key ${JSON.stringify(read.key)}`;
    if (read.observed === undefined) {
      const earlier = findBit(past, row, range[0], range[1], () => true);
      if (earlier === -1) {
        continue;
      }
      count += 1;
      if (violations.length < violationCountMax) {
        const write = graph.writes[earlier] as Write;
        const links = chain(earlier, node);
        violations.push({
          pattern: 'write-causal-order-initial-read',
          session: read.session,
          key: read.operation.key,
          operations: [write.operation, read.operation],
          links,
          message: `causal consistency broken (WriteCOInitRead) in ${sessionText(read.session)}: ${describeOperation(read.operation)} returns the initial value of ${keyText}, but ${describeOperation(write.operation)} causally precedes the read: ${chainText(links)}. A read must see every write of its key in its causal past, or a newer one.`,
        });
      }
      continue;
    }
    const observed = graph.nodeOf(read.observed);
    const overwriting = findBit(
      past,
      row,
      range[0],
      range[1],
      (bit) => bit !== observed && hasBit(past, bit * words, observed),
    );
    if (overwriting === -1) {
      continue;
    }
    count += 1;
    if (violations.length < violationCountMax) {
      const newer = graph.writes[overwriting] as Write;
      const before = chain(observed, overwriting);
      const after = chain(overwriting, node);
      violations.push({
        pattern: 'write-causal-order-read',
        session: read.session,
        key: read.operation.key,
        operations: [read.observed.operation, newer.operation, read.operation],
        links: [...before, ...after],
        message: `causal consistency broken (WriteCORead, a causality inversion) in ${sessionText(read.session)}: ${describeOperation(read.operation)} returns ${observedText(read)}, but ${describeOperation(newer.operation)} overwrote ${keyText} after that write in causal order (${chainText(before)}) and causally precedes the read (${chainText(after)}). The read saw a write its own causal past had already overwritten.`,
      });
    }
  }
  return { violations, count };
}
