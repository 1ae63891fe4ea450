import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { XFetch, xfetchProbability } from '../../src/cache/xfetch.js';
import { isInvalidArgumentError, ManualClock, SeededRandom } from '../../src/core/index.js';

describe('xfetchProbability', () => {
  it('is e^(-gap / (delta * beta)) before the expiry and 1 from it on', () => {
    assert.equal(xfetchProbability(9_600, 10_000, 400), Math.exp(-1));
    assert.equal(xfetchProbability(9_200, 10_000, 400, 2), Math.exp(-1));
    assert.equal(xfetchProbability(10_000, 10_000, 400), 1);
    assert.equal(xfetchProbability(12_000, 10_000, 400), 1);
    assert.equal(xfetchProbability(9_999, 10_000, 400, 0), 0);
    assert.equal(xfetchProbability(9_999, 10_000, 0), 0);
  });

  it('rejects non-finite and negative inputs', () => {
    assert.throws(() => xfetchProbability(Number.NaN, 1, 1), isInvalidArgumentError);
    assert.throws(() => xfetchProbability(0, Number.POSITIVE_INFINITY, 1), isInvalidArgumentError);
    assert.throws(() => xfetchProbability(0, 1, -1), isInvalidArgumentError);
    assert.throws(() => xfetchProbability(0, 1, 1, -0.5), isInvalidArgumentError);
    assert.throws(() => xfetchProbability(0, 1, 1, Number.NaN), isInvalidArgumentError);
  });
});

describe('XFetch', () => {
  it('recomputes more often as the expiry nears, at the rate the formula gives', () => {
    const clock = new ManualClock();
    const xfetch = new XFetch({ random: new SeededRandom({ seed: 2015 }), clock });
    const expiresAtMs = 10_000;
    const deltaMs = 200;
    const drawCount = 20_000;
    let previousShare = -1;
    // Gaps of 5, 4, 3, 2, 1, 0.5 and 0.25 deltas before the expiry, in virtual time.
    for (const gapInDeltas of [5, 4, 3, 2, 1, 0.5, 0.25]) {
      clock.advanceToMs(expiresAtMs - gapInDeltas * deltaMs);
      let early = 0;
      for (let draw = 0; draw < drawCount; draw += 1) {
        if (xfetch.shouldRecompute(expiresAtMs, deltaMs)) {
          early += 1;
        }
      }
      const share = early / drawCount;
      const expected = Math.exp(-gapInDeltas);
      // Four binomial standard deviations: the seed fixes the draws, so this is a
      // deterministic count check that would fail for a wrong sign or scale.
      const tolerance = 4 * Math.sqrt((expected * (1 - expected)) / drawCount);
      assert.ok(
        Math.abs(share - expected) <= tolerance,
        `at ${gapInDeltas} deltas: ${share} against ${expected}`,
      );
      assert.ok(share > previousShare, 'the share rises as the expiry nears');
      previousShare = share;
    }
  });

  it('always recomputes at and after the expiry', () => {
    const clock = new ManualClock({ nowMs: 500 });
    const xfetch = new XFetch({ beta: 0, random: new SeededRandom({ seed: 1 }), clock });
    assert.equal(xfetch.shouldRecompute(500, 100), true);
    clock.advanceMs(1);
    assert.equal(xfetch.shouldRecompute(500, 100), true);
  });

  it('never recomputes early with beta 0 or a zero delta', () => {
    const clock = new ManualClock();
    const never = new XFetch({ beta: 0, random: new SeededRandom({ seed: 3 }), clock });
    const beta1 = new XFetch({ random: new SeededRandom({ seed: 3 }), clock });
    for (let nowMs = 0; nowMs < 10_000; nowMs += 1) {
      clock.advanceToMs(nowMs);
      assert.equal(never.shouldRecompute(10_000, 5_000), false);
      assert.equal(beta1.shouldRecompute(10_000, 0), false);
    }
  });

  it('starts a recomputation before the expiry in a stream of reads, earlier for larger beta', () => {
    // Reads every millisecond of virtual time; the first early recomputation of each seeded
    // run is recorded as its lead time before the expiry.
    const expiresAtMs = 60_000;
    const deltaMs = 100;
    const meanLead = (beta: number): number => {
      let totalLeadMs = 0;
      for (let seed = 1; seed <= 200; seed += 1) {
        // Start 20 scales out, where a read recomputes with probability e^-20.
        const clock = new ManualClock({ nowMs: expiresAtMs - 20 * deltaMs * beta });
        const xfetch = new XFetch({ beta, random: new SeededRandom({ seed }), clock });
        while (!xfetch.shouldRecompute(expiresAtMs, deltaMs)) {
          clock.advanceMs(1);
        }
        const leadMs = expiresAtMs - clock.nowMs();
        assert.ok(leadMs > 0, `seed ${seed}: no early recomputation before the expiry`);
        totalLeadMs += leadMs;
      }
      return totalLeadMs / 200;
    };
    const half = meanLead(0.5);
    const one = meanLead(1);
    const two = meanLead(2);
    assert.ok(half < one && one < two, `mean leads ${half}, ${one}, ${two} ms`);
    console.log(`mean lead before expiry, beta 0.5/1/2: ${half} / ${one} / ${two} ms`);
    // With one read per ms and s = delta * beta, the chance that no read recomputes in
    // the last g ms is about exp(-s e^(-g/s)), a Gumbel law: the mean lead is about
    // s (ln s + 0.577), 518 ms for beta 1.
    assert.ok(one > 430 && one < 610, `mean lead ${one} ms at beta 1`);
  });

  it('validates its options and inputs', () => {
    assert.throws(() => new XFetch({ beta: -1 }), isInvalidArgumentError);
    assert.throws(() => new XFetch({ beta: Number.POSITIVE_INFINITY }), isInvalidArgumentError);
    assert.throws(() => new XFetch({ random: {} as never }), isInvalidArgumentError);
    assert.throws(() => new XFetch({ clock: 5 as never }), isInvalidArgumentError);
    const xfetch = new XFetch({ random: new SeededRandom({ seed: 1 }), clock: new ManualClock() });
    assert.equal(xfetch.beta, 1);
    assert.throws(() => xfetch.shouldRecompute(Number.NaN, 10), isInvalidArgumentError);
    assert.throws(() => xfetch.shouldRecompute(10, -1), isInvalidArgumentError);
    assert.throws(() => xfetch.shouldRecomputeAt(Number.NaN, 10, 1), isInvalidArgumentError);
  });
});
