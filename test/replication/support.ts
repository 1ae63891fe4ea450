/**
 * Test support shared by the tests of every replication mode.
 */

import {
  type CheckResult,
  checkLinearizability,
  type Operation,
  registerModel,
} from '../../src/check/index.js';

/**
 * The history split by key, each key's part checked against a register on its own (a
 * key-value history is linearizable when each key's is), lazily: a caller that wants
 * only the first violation stops there.
 */
export function* linearizabilityByKey(
  operations: readonly Operation[],
): Generator<readonly [key: string, check: CheckResult]> {
  const byKey = new Map<string, Operation[]>();
  for (const operation of operations) {
    const key = operation.key ?? '';
    byKey.set(key, [...(byKey.get(key) ?? []), operation]);
  }
  for (const [key, history] of byKey) {
    yield [key, checkLinearizability(registerModel(), history)];
  }
}
