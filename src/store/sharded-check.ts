/**
 * Checks a recorded history of the store against the consistency level its requests
 * asked for, with the matching checker of `distkit/check`.
 *
 * @module
 */

import {
  checkBoundedStaleness,
  checkCausalConsistency,
  checkConvergence,
  checkLinearizability,
  checkMonotonicReads,
  checkReadYourWrites,
  checkSequentialConsistency,
  type Operation,
  registerModel,
} from '../check/index.js';
import type { ConsistencyLevel } from './sharded-store.js';

/** Options of {@link checkConsistencyLevel}. */
export interface ConsistencyLevelCheckOptions {
  /** `bounded-staleness`: the bound the requests asked for, plus any allowance. */
  readonly stalenessMsMax?: number;
  /** `eventual`: how long after a key's last write every read must agree. Default 500. */
  readonly settleMs?: number;
}

/** The verdict of {@link checkConsistencyLevel}. */
export interface ConsistencyLevelCheckResult {
  /** The level judged. */
  readonly level: ConsistencyLevel;
  /** The checker that judged it. */
  readonly checker: string;
  /** `'ok'`, `'violation'`, or `'unknown'` when a checker ran out of budget. */
  readonly verdict: 'ok' | 'violation' | 'unknown';
  /** Violations found: keys not linearizable (sequential), or the session checkers' count. */
  readonly violationCount: number;
  /** The first violation, for people; `''` when ok. */
  readonly message: string;
}

function byKey(operations: readonly Operation[]): Map<string, Operation[]> {
  const keys = new Map<string, Operation[]>();
  for (const operation of operations) {
    const key = (operation as { readonly key?: string }).key ?? '';
    let list = keys.get(key);
    if (list === undefined) {
      list = [];
      keys.set(key, list);
    }
    list.push(operation);
  }
  return keys;
}

/**
 * Judges a `register` history (reads and writes of unique values, with keys) by the
 * checker that matches `level`: `linearizable` → `checkLinearizability` per key (a local
 * property, so per key is the whole verdict); `sequential` → `checkSequentialConsistency`
 * per key (sequential consistency is not local: this is the per-key part);
 * `causal` → `checkCausalConsistency`; `read-your-writes` and `monotonic-reads` → the
 * session checkers; `bounded-staleness` → `checkBoundedStaleness` with `stalenessMsMax`
 * (each key's writes must not overlap); `eventual` → `checkConvergence` after `settleMs`.
 *
 * @example
 * ```ts
 * const result = checkConsistencyLevel('read-your-writes', workload.history.operations());
 * if (result.verdict !== 'ok') console.log(result.message);
 * ```
 */
export function checkConsistencyLevel(
  level: ConsistencyLevel,
  operations: readonly Operation[],
  options: ConsistencyLevelCheckOptions = {},
): ConsistencyLevelCheckResult {
  if (level === 'linearizable' || level === 'sequential') {
    let violationCount = 0;
    let unknown = false;
    let message = '';
    for (const [key, list] of byKey(operations)) {
      const result =
        level === 'linearizable'
          ? checkLinearizability(registerModel(), list)
          : checkSequentialConsistency(registerModel(), list);
      if (result.verdict === 'violation') {
        violationCount += 1;
        message ||= `key ${key}: ${result.explanation.message}`;
      } else if (result.verdict === 'unknown') {
        unknown = true;
      }
    }
    return {
      level,
      checker: level === 'linearizable' ? 'checkLinearizability' : 'checkSequentialConsistency',
      verdict: violationCount > 0 ? 'violation' : unknown ? 'unknown' : 'ok',
      violationCount,
      message,
    };
  }
  if (level === 'causal') {
    const result = checkCausalConsistency(operations);
    return {
      level,
      checker: 'checkCausalConsistency',
      verdict: result.verdict,
      violationCount: result.verdict === 'violation' ? result.violations.length : 0,
      message: result.verdict === 'violation' ? result.message : '',
    };
  }
  const result =
    level === 'read-your-writes'
      ? checkReadYourWrites(operations)
      : level === 'monotonic-reads'
        ? checkMonotonicReads(operations)
        : level === 'bounded-staleness'
          ? checkBoundedStaleness(operations, {
              staleMsMax: options.stalenessMsMax ?? Number.POSITIVE_INFINITY,
            })
          : checkConvergence(operations, { settleMs: options.settleMs ?? 500 });
  const checker =
    level === 'read-your-writes'
      ? 'checkReadYourWrites'
      : level === 'monotonic-reads'
        ? 'checkMonotonicReads'
        : level === 'bounded-staleness'
          ? 'checkBoundedStaleness'
          : 'checkConvergence';
  return {
    level,
    checker,
    verdict: result.verdict,
    violationCount: result.verdict === 'violation' ? result.violationCount : 0,
    message: result.verdict === 'violation' ? result.message : '',
  };
}
