/**
 * The lab's expected results over many seeds (the default matrix, every mode under every
 * scenario, per seed): `DISTKIT_SIM_SEED_COUNT=N` widens the sweep, `DISTKIT_SIM_SEED=S`
 * replays one seed. Run with `node scripts/run-tests.mjs --soak test/lab`.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatLabTable, type LabCell, runLab } from '../../src/lab/index.js';
import { seedsFromEnvironment } from '../../src/sim/index.js';

const seeds = seedsFromEnvironment(process.env, [1, 2, 3, 4, 5]);
const replay = (seed: number): string =>
  `DISTKIT_SIM_SEED=${seed} node --import tsx --test test/lab/lab.soak.ts`;

describe('the lab over many seeds', () => {
  it('holds the expected results in every seed', () => {
    let sloppyOk = 0;
    let strictOk = 0;
    let sloppyStale = 0;
    let lwwOverwritten = 0;
    let asyncLost = 0;
    for (const seed of seeds) {
      const report = runLab({ seed });
      console.log(`seed ${seed}\n${formatLabTable(report).join('\n')}`);
      const where = (cell: LabCell): string => `${cell.mode}/${cell.scenario}, ${replay(seed)}`;
      for (const cell of report.cells) {
        if (cell.mode === 'raft') {
          assert.equal(cell.consistency.linearizable, 'ok', where(cell));
          assert.equal(cell.staleReads, 0, where(cell));
          assert.equal(cell.acknowledgedWritesLost, 0, where(cell));
        }
        if (cell.mode === 'lf-sync') {
          assert.equal(cell.modeCounters.acknowledgedWritesLost, 0, where(cell));
          assert.equal(cell.acknowledgedWritesLost, 0, where(cell));
          assert.equal(cell.staleReads, 0, where(cell));
        }
        if (cell.mode === 'lf-async') {
          asyncLost += cell.modeCounters.acknowledgedWritesLost ?? 0;
        }
        if (cell.mode === 'll-2-2' && cell.scenario !== 'clock-skew') {
          // W + R > N with strict quorums: no read misses a write acknowledged before it began.
          assert.equal(cell.staleReads, 0, where(cell));
        }
        if (cell.mode === 'ml-siblings') {
          assert.equal(cell.modeCounters.concurrentWritesOverwritten, 0, where(cell));
          assert.equal(cell.concurrentWritesOverwritten, 0, where(cell));
        }
        if (cell.mode === 'ml-lww') {
          lwwOverwritten += cell.modeCounters.concurrentWritesOverwritten ?? 0;
        }
        if (cell.scenario === 'minority-partition' && cell.mode === 'll-sloppy') {
          sloppyOk += cell.availability;
          sloppyStale += cell.staleReads;
        }
        if (cell.scenario === 'minority-partition' && cell.mode === 'll-2-2') {
          strictOk += cell.availability;
        }
        assert.equal(cell.divergedKeys, 0, `every mode converges after the heal: ${where(cell)}`);
      }
    }
    console.log(
      `over seeds ${seeds.join(', ')}: async leader-follower lost ${asyncLost} acknowledged writes; LWW overwrote ${lwwOverwritten} concurrent writes; minority partition availability sloppy ${(sloppyOk / seeds.length).toFixed(2)} vs strict ${(strictOk / seeds.length).toFixed(2)}, sloppy stale reads ${sloppyStale}`,
    );
    assert.ok(lwwOverwritten > 0);
    if (seeds.length > 1) {
      assert.ok(asyncLost > 0);
      assert.ok(sloppyOk > strictOk);
      assert.ok(sloppyStale > 0);
    }
  });
});
