import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  isInvalidArgumentError,
  isLimitExceededError,
  ManualClock,
  type ScheduledTask,
  SeededRandom,
  SystemScheduler,
  VirtualScheduler,
} from '../../src/core/index.js';

function assertInvalidArgument(run: () => unknown, what: string): void {
  assert.throws(run, (error: unknown) => isInvalidArgumentError(error), what);
}

/** Indices of `tasks` in the order a scheduler must run them: (due time, scheduling order). */
function dueOrder(tasks: readonly ScheduledTask[], indices: readonly number[]): number[] {
  return [...indices].sort((a, b) => {
    const difference = (tasks[a] as ScheduledTask).dueMs - (tasks[b] as ScheduledTask).dueMs;
    return difference !== 0 ? difference : a - b;
  });
}

const delayArbitrary = fc.oneof(
  fc.integer({ min: 0, max: 20 }), // small integers: plenty of ties
  fc.double({ min: 0, max: 1000, noNaN: true }),
);

describe('ManualClock', () => {
  it('starts at 0 on both readings by default', () => {
    const clock = new ManualClock();
    assert.equal(clock.nowMs(), 0);
    assert.equal(clock.wallMs(), 0);
  });

  it('starts at the given readings', () => {
    const clock = new ManualClock({ nowMs: 5, wallMs: 1_700_000_000_000 });
    assert.equal(clock.nowMs(), 5);
    assert.equal(clock.wallMs(), 1_700_000_000_000);
  });

  it('advanceMs and advanceToMs move both readings by the same amount', () => {
    const clock = new ManualClock({ nowMs: 10, wallMs: 1000 });
    clock.advanceMs(5);
    assert.equal(clock.nowMs(), 15);
    assert.equal(clock.wallMs(), 1005);
    clock.advanceMs(0);
    assert.equal(clock.nowMs(), 15);
    clock.advanceToMs(40);
    assert.equal(clock.nowMs(), 40);
    assert.equal(clock.wallMs(), 1030);
    clock.advanceToMs(40);
    assert.equal(clock.nowMs(), 40);
  });

  it('setWallMs jumps the wall clock alone, forwards or backwards', () => {
    const clock = new ManualClock({ nowMs: 100, wallMs: 5000 });
    clock.setWallMs(2000);
    assert.equal(clock.wallMs(), 2000);
    assert.equal(clock.nowMs(), 100);
    clock.advanceMs(50);
    assert.equal(clock.wallMs(), 2050);
    assert.equal(clock.nowMs(), 150);
    clock.setWallMs(9000);
    assert.equal(clock.wallMs(), 9000);
    assert.equal(clock.nowMs(), 150);
  });

  it('never goes backwards and rejects non-finite readings', () => {
    const clock = new ManualClock({ nowMs: 10 });
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '1']) {
      assertInvalidArgument(() => clock.advanceMs(bad as never), `advanceMs(${bad})`);
    }
    for (const bad of [9, Number.NaN, Number.POSITIVE_INFINITY, '20']) {
      assertInvalidArgument(() => clock.advanceToMs(bad as never), `advanceToMs(${bad})`);
    }
    for (const bad of [Number.NaN, Number.NEGATIVE_INFINITY, '0']) {
      assertInvalidArgument(() => clock.setWallMs(bad as never), `setWallMs(${bad})`);
      assertInvalidArgument(() => new ManualClock({ nowMs: bad as never }), `nowMs ${bad}`);
      assertInvalidArgument(() => new ManualClock({ wallMs: bad as never }), `wallMs ${bad}`);
    }
    assert.equal(clock.nowMs(), 10);
  });
});

describe('VirtualScheduler', () => {
  describe('properties', () => {
    it('runs every task in (due time, scheduling order) with the clock at its due time', () => {
      fc.assert(
        fc.property(
          fc.double({ min: 0, max: 1e6, noNaN: true }),
          fc.array(delayArbitrary, { maxLength: 80 }),
          (startMs, delays) => {
            const scheduler = new VirtualScheduler({ clock: new ManualClock({ nowMs: startMs }) });
            const ran: number[] = [];
            const tasks: ScheduledTask[] = [];
            delays.forEach((delayMs, index) => {
              tasks.push(
                scheduler.schedule(delayMs, () => {
                  assert.equal(scheduler.clock.nowMs(), (tasks[index] as ScheduledTask).dueMs);
                  assert.equal((tasks[index] as ScheduledTask).pending, false);
                  ran.push(index);
                }),
              );
            });
            tasks.forEach((task, index) => {
              assert.equal(task.dueMs, startMs + (delays[index] as number));
              assert.equal(task.pending, true);
            });
            assert.equal(scheduler.pendingCount, delays.length);
            const runCount = scheduler.advanceMs(1000);
            assert.equal(runCount, delays.length);
            assert.deepEqual(
              ran,
              dueOrder(
                tasks,
                delays.map((_, index) => index),
              ),
            );
            assert.equal(scheduler.pendingCount, 0);
            assert.equal(scheduler.clock.nowMs(), startMs + 1000);
          },
        ),
      );
    });

    it('agrees with a simple model under any mix of schedule, cancel, runNext and advance', () => {
      type Step =
        | { kind: 'schedule'; delayMs: number }
        | { kind: 'cancel'; pick: number }
        | { kind: 'runNext' }
        | { kind: 'advance'; deltaMs: number };
      const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
        {
          weight: 4,
          arbitrary: delayArbitrary.map((delayMs) => ({ kind: 'schedule' as const, delayMs })),
        },
        { weight: 2, arbitrary: fc.nat().map((pick) => ({ kind: 'cancel' as const, pick })) },
        { weight: 1, arbitrary: fc.constant({ kind: 'runNext' as const }) },
        {
          weight: 1,
          arbitrary: fc
            .integer({ min: 0, max: 30 })
            .map((deltaMs) => ({ kind: 'advance' as const, deltaMs })),
        },
      );
      fc.assert(
        fc.property(fc.array(stepArbitrary, { maxLength: 300, size: 'max' }), (steps) => {
          const scheduler = new VirtualScheduler();
          const handles: ScheduledTask[] = [];
          const log: string[] = [];
          // The model: pending tasks as (due, id), id being the scheduling order.
          let modelNowMs = 0;
          let model: { dueMs: number; id: number }[] = [];
          const modelLog: string[] = [];
          const modelRun = (task: { dueMs: number; id: number }): void => {
            modelNowMs = Math.max(modelNowMs, task.dueMs);
            modelLog.push(`${task.id}@${modelNowMs}`);
          };
          for (const step of steps) {
            switch (step.kind) {
              case 'schedule': {
                const id = handles.length;
                handles.push(
                  scheduler.schedule(step.delayMs, () =>
                    log.push(`${id}@${scheduler.clock.nowMs()}`),
                  ),
                );
                model.push({ dueMs: modelNowMs + step.delayMs, id });
                model.sort((a, b) => a.dueMs - b.dueMs || a.id - b.id);
                break;
              }
              case 'cancel': {
                if (handles.length > 0) {
                  const id = step.pick % handles.length;
                  const wasPending = model.some((task) => task.id === id);
                  assert.equal((handles[id] as ScheduledTask).cancel(), wasPending);
                  model = model.filter((task) => task.id !== id);
                }
                break;
              }
              case 'runNext': {
                const first = model.shift();
                assert.equal(scheduler.runNext(), first !== undefined);
                if (first !== undefined) {
                  modelRun(first);
                }
                break;
              }
              case 'advance': {
                const targetMs = modelNowMs + step.deltaMs;
                let runCount = 0;
                while (model.length > 0 && (model[0] as { dueMs: number }).dueMs <= targetMs) {
                  modelRun(model.shift() as { dueMs: number; id: number });
                  runCount += 1;
                }
                modelNowMs = targetMs;
                assert.equal(scheduler.advanceMs(step.deltaMs), runCount);
                break;
              }
            }
            assert.equal(scheduler.pendingCount, model.length);
            assert.equal(scheduler.nextDueMs(), model[0]?.dueMs);
            assert.equal(scheduler.clock.nowMs(), modelNowMs);
          }
          assert.deepEqual(log, modelLog);
          handles.forEach((handle, id) => {
            assert.equal(
              handle.pending,
              model.some((task) => task.id === id),
            );
          });
        }),
        // Enough long runs to reach heap shapes where a removal must move an element up.
        { numRuns: 400 },
      );
    });

    it('runs tasks with equal due times in scheduling order', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 60 }),
          fc.integer({ min: 0, max: 3 }),
          (count, distinctDelays) => {
            const scheduler = new VirtualScheduler();
            const ran: number[] = [];
            for (let index = 0; index < count; index += 1) {
              scheduler.schedule(distinctDelays === 0 ? 7 : index % (distinctDelays + 1), () =>
                ran.push(index),
              );
            }
            scheduler.runAll();
            const expected = Array.from({ length: count }, (_, index) => index).sort((a, b) =>
              distinctDelays === 0
                ? a - b
                : (a % (distinctDelays + 1)) - (b % (distinctDelays + 1)) || a - b,
            );
            assert.deepEqual(ran, expected);
          },
        ),
      );
    });

    it('a cancelled task never runs, and cancel() returns true exactly once', () => {
      fc.assert(
        fc.property(
          fc.array(fc.record({ delayMs: delayArbitrary, cancelled: fc.boolean() }), {
            maxLength: 80,
            size: 'max',
          }),
          fc.integer({ min: 0, max: 2 }),
          (specs, cancelMoment) => {
            const scheduler = new VirtualScheduler();
            const ran: number[] = [];
            const tasks: ScheduledTask[] = [];
            const cancelled = specs.flatMap((spec, index) => (spec.cancelled ? [index] : []));
            const cancelSubset = (): void => {
              for (const index of cancelled) {
                const task = tasks[index] as ScheduledTask;
                assert.equal(task.cancel(), true);
                assert.equal(task.pending, false);
                assert.equal(task.cancel(), false);
              }
            };
            // Moment 0: cancel before advancing. Moment 1: from inside the first task to run,
            // after some tasks are popped. Moment 2: cancel that canceller, then the subset.
            const canceller = cancelMoment === 0 ? undefined : scheduler.schedule(0, cancelSubset);
            specs.forEach((spec, index) => {
              tasks.push(scheduler.schedule(spec.delayMs, () => ran.push(index)));
            });
            if (canceller === undefined) {
              cancelSubset();
            } else if (cancelMoment === 2) {
              assert.equal(canceller.cancel(), true);
              cancelSubset();
            }
            // Only at moment 1 are the canceller and the subset still waiting here.
            const cancellerCount = cancelMoment === 1 ? 1 : 0;
            assert.equal(
              scheduler.pendingCount,
              specs.length + cancellerCount - (cancelMoment === 1 ? 0 : cancelled.length),
            );
            assert.equal(
              scheduler.advanceMs(1000),
              specs.length - cancelled.length + cancellerCount,
            );
            const kept = specs.flatMap((spec, index) => (spec.cancelled ? [] : [index]));
            assert.deepEqual(ran, dueOrder(tasks, kept));
            for (const [index, task] of tasks.entries()) {
              assert.equal(task.cancel(), false, `task ${index} already ran or was cancelled`);
            }
          },
        ),
      );
    });

    it('tasks scheduled at delay 0 from inside callbacks run in the same advance', () => {
      fc.assert(
        fc.property(
          fc.array(fc.record({ delayMs: delayArbitrary, depth: fc.integer({ min: 0, max: 5 }) }), {
            maxLength: 30,
          }),
          (specs) => {
            const scheduler = new VirtualScheduler();
            const runs: { label: string; atMs: number }[] = [];
            const chain = (label: string, depth: number): void => {
              runs.push({ label, atMs: scheduler.clock.nowMs() });
              if (depth > 0) {
                scheduler.schedule(0, () => chain(`${label}.`, depth - 1));
              }
            };
            specs.forEach((spec, index) => {
              scheduler.schedule(spec.delayMs, () => chain(String(index), spec.depth));
            });
            const expectedCount = specs.reduce((sum, spec) => sum + spec.depth + 1, 0);
            assert.equal(scheduler.advanceMs(1000), expectedCount);
            assert.equal(scheduler.pendingCount, 0);
            // Every link of a chain ran at its root's due time.
            specs.forEach((spec, index) => {
              const links = runs.filter((run) => run.label.replace(/\.+$/, '') === String(index));
              assert.equal(links.length, spec.depth + 1);
              for (const link of links) {
                assert.equal(link.atMs, spec.delayMs);
              }
            });
          },
        ),
      );
    });

    it('advancing in several steps runs the same tasks in the same order as one step', () => {
      const specArbitrary = fc.record({
        delayMs: fc.integer({ min: 0, max: 60 }),
        followUpDelayMs: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
      });
      fc.assert(
        fc.property(
          fc.array(specArbitrary, { maxLength: 40 }),
          fc.array(fc.integer({ min: 0, max: 25 }), { minLength: 1, maxLength: 8 }),
          (specs, steps) => {
            const run = (advances: readonly number[]): string[] => {
              const scheduler = new VirtualScheduler();
              const log: string[] = [];
              specs.forEach((spec, index) => {
                scheduler.schedule(spec.delayMs, () => {
                  log.push(`${index}@${scheduler.clock.nowMs()}`);
                  const followUp = spec.followUpDelayMs;
                  if (followUp !== undefined) {
                    scheduler.schedule(followUp, () => {
                      log.push(`${index}+@${scheduler.clock.nowMs()}`);
                    });
                  }
                });
              });
              let runCount = 0;
              for (const deltaMs of advances) {
                runCount += scheduler.advanceMs(deltaMs);
              }
              assert.equal(runCount, log.length);
              log.push(`end@${scheduler.clock.nowMs()}|pending ${scheduler.pendingCount}`);
              return log;
            };
            const total = steps.reduce((sum, step) => sum + step, 0);
            assert.deepEqual(run(steps), run([total]));
          },
        ),
      );
    });
  });

  describe('examples', () => {
    it('the example of advanceMs: the clock reads the due time, then the target', () => {
      const scheduler = new VirtualScheduler();
      const seen: number[] = [];
      scheduler.schedule(100, () => seen.push(scheduler.clock.nowMs()));
      assert.equal(scheduler.advanceMs(150), 1);
      assert.deepEqual(seen, [100]);
      assert.equal(scheduler.clock.nowMs(), 150);
    });

    it('a task scheduled at delay 0 inside a callback runs after tasks already due then', () => {
      const scheduler = new VirtualScheduler();
      const ran: string[] = [];
      scheduler.schedule(10, () => {
        ran.push('a');
        scheduler.schedule(0, () => ran.push('c'));
      });
      scheduler.schedule(10, () => ran.push('b'));
      scheduler.schedule(11, () => ran.push('d'));
      scheduler.advanceMs(10);
      assert.deepEqual(ran, ['a', 'b', 'c']);
      assert.equal(scheduler.pendingCount, 1);
    });

    it('advanceMs runs the tasks due by the target and leaves the later ones', () => {
      const scheduler = new VirtualScheduler();
      const ran: number[] = [];
      for (const delayMs of [5, 10, 15]) {
        scheduler.schedule(delayMs, () => ran.push(delayMs));
      }
      assert.equal(scheduler.advanceMs(10), 2);
      assert.deepEqual(ran, [5, 10]);
      assert.equal(scheduler.pendingCount, 1);
      assert.equal(scheduler.advanceMs(4), 0);
      assert.equal(scheduler.advanceToMs(15), 1);
      assert.deepEqual(ran, [5, 10, 15]);
      assert.equal(scheduler.advanceMs(0), 0);
    });

    it('uses and advances the clock it is given', () => {
      const clock = new ManualClock({ nowMs: 1000, wallMs: 50_000 });
      const scheduler = new VirtualScheduler({ clock });
      assert.equal(scheduler.clock, clock);
      const task = scheduler.schedule(25, () => {});
      assert.equal(task.dueMs, 1025);
      scheduler.advanceMs(30);
      assert.equal(clock.nowMs(), 1030);
      assert.equal(clock.wallMs(), 50_030);
    });

    it('a task whose due time the clock already passed runs at the current time', () => {
      const clock = new ManualClock();
      const scheduler = new VirtualScheduler({ clock });
      const seen: number[] = [];
      scheduler.schedule(10, () => seen.push(clock.nowMs()));
      clock.advanceMs(50); // moved behind the scheduler's back
      assert.equal(scheduler.advanceMs(0), 1);
      assert.deepEqual(seen, [50]);
    });

    it('runNext jumps to the earliest task and runs it alone', () => {
      const scheduler = new VirtualScheduler();
      assert.equal(scheduler.runNext(), false);
      const ran: string[] = [];
      scheduler.schedule(30, () => ran.push('late'));
      scheduler.schedule(20, () => ran.push('first'));
      scheduler.schedule(20, () => ran.push('second'));
      assert.equal(scheduler.runNext(), true);
      assert.deepEqual(ran, ['first']);
      assert.equal(scheduler.clock.nowMs(), 20);
      assert.equal(scheduler.runNext(), true);
      assert.deepEqual(ran, ['first', 'second']);
      assert.equal(scheduler.clock.nowMs(), 20);
      assert.equal(scheduler.runNext(), true);
      assert.equal(scheduler.clock.nowMs(), 30);
      assert.equal(scheduler.runNext(), false);
      assert.deepEqual(ran, ['first', 'second', 'late']);
    });

    it('runAll runs everything, including work scheduled on the way, jumping time', () => {
      const scheduler = new VirtualScheduler();
      const ran: string[] = [];
      scheduler.schedule(50, () => {
        ran.push(`a@${scheduler.clock.nowMs()}`);
        scheduler.schedule(1000, () => ran.push(`c@${scheduler.clock.nowMs()}`));
      });
      scheduler.schedule(70, () => ran.push(`b@${scheduler.clock.nowMs()}`));
      assert.equal(scheduler.runAll(), 3);
      assert.deepEqual(ran, ['a@50', 'b@70', 'c@1050']);
      assert.equal(scheduler.clock.nowMs(), 1050);
      assert.equal(scheduler.pendingCount, 0);
      assert.equal(scheduler.runAll(), 0);
    });

    it('nextDueMs and pendingCount follow scheduling, cancelling and running', () => {
      const scheduler = new VirtualScheduler();
      assert.equal(scheduler.nextDueMs(), undefined);
      assert.equal(scheduler.pendingCount, 0);
      const late = scheduler.schedule(40, () => {});
      const early = scheduler.schedule(10, () => {});
      scheduler.schedule(25, () => {});
      assert.equal(scheduler.nextDueMs(), 10);
      assert.equal(scheduler.pendingCount, 3);
      assert.equal(early.cancel(), true);
      assert.equal(scheduler.nextDueMs(), 25);
      assert.equal(scheduler.pendingCount, 2);
      scheduler.advanceMs(30);
      assert.equal(scheduler.nextDueMs(), 40);
      assert.equal(scheduler.pendingCount, 1);
      assert.equal(late.cancel(), true);
      assert.equal(scheduler.nextDueMs(), undefined);
      assert.equal(scheduler.pendingCount, 0);
    });

    it('cancel returns false for a task that already ran, and inside its own callback', () => {
      const scheduler = new VirtualScheduler();
      let ownCancelResult: boolean | undefined;
      const task: ScheduledTask = scheduler.schedule(5, () => {
        ownCancelResult = task.cancel();
      });
      scheduler.advanceMs(5);
      assert.equal(ownCancelResult, false);
      assert.equal(task.pending, false);
      assert.equal(task.cancel(), false);
    });

    it('a callback that throws stops the advance; the tasks not yet run stay queued', () => {
      const scheduler = new VirtualScheduler();
      const ran: string[] = [];
      const failure = new Error('callback failed');
      scheduler.schedule(10, () => ran.push('a'));
      scheduler.schedule(20, () => {
        ran.push('b');
        throw failure;
      });
      scheduler.schedule(20, () => ran.push('c'));
      scheduler.schedule(30, () => ran.push('d'));
      assert.throws(
        () => scheduler.advanceMs(100),
        (error: unknown) => error === failure,
      );
      assert.deepEqual(ran, ['a', 'b']);
      assert.equal(scheduler.pendingCount, 2);
      assert.equal(scheduler.nextDueMs(), 20);
      assert.equal(scheduler.advanceToMs(100), 2);
      assert.deepEqual(ran, ['a', 'b', 'c', 'd']);
      assert.equal(scheduler.clock.nowMs(), 100);
    });

    it('a callback that throws propagates out of runNext and runAll too', () => {
      const scheduler = new VirtualScheduler();
      const failure = new Error('boom');
      scheduler.schedule(1, () => {
        throw failure;
      });
      scheduler.schedule(2, () => {
        throw failure;
      });
      scheduler.schedule(3, () => {});
      assert.throws(
        () => scheduler.runNext(),
        (error: unknown) => error === failure,
      );
      assert.throws(
        () => scheduler.runAll(),
        (error: unknown) => error === failure,
      );
      assert.equal(scheduler.pendingCount, 1);
      assert.equal(scheduler.runAll(), 1);
    });
  });

  describe('runCountMax', () => {
    function selfRescheduling(scheduler: VirtualScheduler, delayMs: number): () => number {
      let runCount = 0;
      const again = (): void => {
        runCount += 1;
        scheduler.schedule(delayMs, again);
      };
      scheduler.schedule(delayMs, again);
      return () => runCount;
    }

    it('stops a task that reschedules itself at the same instant (advanceMs)', () => {
      const scheduler = new VirtualScheduler({ runCountMax: 100 });
      const runCount = selfRescheduling(scheduler, 0);
      assert.throws(
        () => scheduler.advanceMs(1),
        (error: unknown) => isLimitExceededError(error),
      );
      assert.equal(runCount(), 100);
      assert.equal(scheduler.pendingCount, 1);
    });

    it('stops endless work in runAll', () => {
      const scheduler = new VirtualScheduler({ runCountMax: 50 });
      const runCount = selfRescheduling(scheduler, 1);
      assert.throws(
        () => scheduler.runAll(),
        (error: unknown) => isLimitExceededError(error),
      );
      assert.equal(runCount(), 50);
    });

    it('allows exactly runCountMax tasks per call, and counts each call afresh', () => {
      const scheduler = new VirtualScheduler({ runCountMax: 3 });
      let runCount = 0;
      for (let index = 0; index < 6; index += 1) {
        scheduler.schedule(index < 3 ? 1 : 2, () => {
          runCount += 1;
        });
      }
      assert.equal(scheduler.advanceToMs(1), 3);
      assert.equal(scheduler.advanceToMs(2), 3);
      assert.equal(runCount, 6);
    });

    it('defaults to a limit large enough for real work', () => {
      const scheduler = new VirtualScheduler();
      const runCount = selfRescheduling(scheduler, 1);
      scheduler.advanceMs(100_000);
      assert.equal(runCount(), 100_000);
    });
  });

  describe('invalid arguments throw InvalidArgumentError', () => {
    it('schedule: negative, NaN or infinite delays and non-function callbacks', () => {
      const scheduler = new VirtualScheduler();
      for (const delayMs of [-1, -0.001, Number.NaN, Number.POSITIVE_INFINITY, '5', undefined]) {
        assertInvalidArgument(() => scheduler.schedule(delayMs as never, () => {}), `${delayMs}`);
      }
      for (const callback of [undefined, null, 'callback', 42, {}]) {
        assertInvalidArgument(() => scheduler.schedule(1, callback as never), `${callback}`);
      }
      assert.equal(scheduler.pendingCount, 0);
    });

    it('advancing backwards, by a negative amount or by NaN', () => {
      const scheduler = new VirtualScheduler({ clock: new ManualClock({ nowMs: 100 }) });
      for (const deltaMs of [-1, Number.NaN, Number.POSITIVE_INFINITY, '1']) {
        assertInvalidArgument(() => scheduler.advanceMs(deltaMs as never), `advanceMs ${deltaMs}`);
      }
      for (const targetMs of [99, Number.NaN, Number.POSITIVE_INFINITY, '200']) {
        assertInvalidArgument(
          () => scheduler.advanceToMs(targetMs as never),
          `advanceToMs ${targetMs}`,
        );
      }
      assert.equal(scheduler.clock.nowMs(), 100);
    });

    it('runCountMax must be a positive integer', () => {
      for (const runCountMax of [0, -1, 1.5, Number.NaN, '10']) {
        assertInvalidArgument(
          () => new VirtualScheduler({ runCountMax: runCountMax as never }),
          `${runCountMax}`,
        );
      }
    });
  });
});

// ---------------------------------------------------------------------------------------
// SystemScheduler runs on real time. These tests use tiny delays and assert only order and
// counts, never how long anything took.

/** Resolves after the current event-loop turn, when an idle scheduler lets go of its timer. */
function endOfTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function timerCount(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
}

/** Resolves once `count` callbacks made by `track()` have run. */
function completion(count: number): {
  track: (run: () => void) => () => void;
  done: Promise<void>;
} {
  let remaining = count;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  if (count === 0) {
    resolveDone();
  }
  return {
    track: (run) => () => {
      run();
      remaining -= 1;
      if (remaining === 0) {
        resolveDone();
      }
    },
    done,
  };
}

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
const coreUrl = new URL('../../src/core/index.ts', import.meta.url).href;

interface ChildResult {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs an ES module snippet in a fresh Node.js process (through tsx), killed after 20 s. */
function runChild(code: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '--eval', code],
      { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

describe('SystemScheduler', () => {
  it('fires tasks in (due time, scheduling order)', async () => {
    const scheduler = new SystemScheduler();
    const random = new SeededRandom({ seed: 101 });
    const count = 40;
    const fired: number[] = [];
    const { track, done } = completion(count);
    const tasks = Array.from({ length: count }, (_, index) =>
      scheduler.schedule(
        random.integer(0, 20),
        track(() => fired.push(index)),
      ),
    );
    await done;
    assert.deepEqual(
      fired,
      dueOrder(
        tasks,
        tasks.map((_, index) => index),
      ),
    );
    assert.equal(scheduler.pendingCount, 0);
  });

  it('never fires a cancelled task; cancel() is true exactly once', async () => {
    const scheduler = new SystemScheduler();
    const random = new SeededRandom({ seed: 102 });
    const count = 40;
    const cancelled = new Set<number>();
    const fired: number[] = [];
    const { track, done } = completion(count / 2);
    const tasks = Array.from({ length: count }, (_, index) => {
      const run = (): void => {
        fired.push(index);
      };
      return scheduler.schedule(random.integer(1, 20), index % 2 === 0 ? track(run) : run);
    });
    for (const [index, task] of tasks.entries()) {
      if (index % 2 === 1) {
        assert.equal(task.cancel(), true);
        assert.equal(task.pending, false);
        assert.equal(task.cancel(), false);
        cancelled.add(index);
      }
    }
    assert.equal(scheduler.pendingCount, count / 2);
    await done;
    // Nothing is left that could fire later.
    assert.equal(scheduler.pendingCount, 0);
    assert.ok(fired.every((index) => !cancelled.has(index)));
    assert.deepEqual(
      fired,
      dueOrder(
        tasks,
        tasks.flatMap((_, index) => (cancelled.has(index) ? [] : [index])),
      ),
    );
    for (const task of tasks) {
      assert.equal(task.cancel(), false);
    }
  });

  it('holds one platform timer for ten thousand tasks and none after cancelAll()', () => {
    const baseline = timerCount();
    const scheduler = new SystemScheduler();
    const random = new SeededRandom({ seed: 103 });
    let firedCount = 0;
    for (let index = 0; index < 10_000; index += 1) {
      scheduler.schedule(random.integer(60_000, 600_000), () => {
        firedCount += 1;
      });
    }
    assert.equal(scheduler.pendingCount, 10_000);
    assert.equal(timerCount() - baseline, 1);
    scheduler.cancelAll();
    assert.equal(scheduler.pendingCount, 0);
    assert.equal(timerCount() - baseline, 0);
    assert.equal(firedCount, 0);
  });

  it('holds one platform timer, and none once every task is cancelled one by one', async () => {
    await endOfTurn();
    const baseline = timerCount();
    const scheduler = new SystemScheduler();
    const random = new SeededRandom({ seed: 104 });
    // Decreasing delays re-arm the timer on every schedule; it must still be just one.
    const tasks = Array.from({ length: 10_000 }, (_, index) =>
      scheduler.schedule(600_000 - index * 50, () => {}),
    );
    assert.equal(timerCount() - baseline, 1);
    random.shuffle(tasks);
    for (const [index, task] of tasks.entries()) {
      assert.equal(task.cancel(), true);
      if (index === 5_000) {
        assert.equal(timerCount() - baseline, 1);
      }
    }
    assert.equal(scheduler.pendingCount, 0);
    assert.equal(timerCount() - baseline, 1, 'held until the end of the turn');
    await endOfTurn();
    assert.equal(timerCount() - baseline, 0);
  });

  it('waits for a task due beyond the platform timer limit without an overflowing timer', async () => {
    // setTimeout takes at most 2^31 - 1 ms (about 24.8 days); a longer delay warns and
    // fires after 1 ms, which would turn the platform timer into a busy loop.
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning.name);
    };
    process.on('warning', onWarning);
    try {
      const scheduler = new SystemScheduler();
      let fired = false;
      const task = scheduler.schedule(30 * 24 * 60 * 60 * 1_000, () => {
        fired = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(fired, false);
      assert.equal(task.pending, true);
      assert.equal(task.cancel(), true);
      assert.deepEqual(
        warnings.filter((name) => name === 'TimeoutOverflowWarning'),
        [],
        'no delay above the platform limit was passed to setTimeout',
      );
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('releases the platform timer when the last task fires', async () => {
    await endOfTurn();
    const baseline = timerCount();
    const scheduler = new SystemScheduler();
    const { track, done } = completion(3);
    for (const delayMs of [1, 2, 3]) {
      scheduler.schedule(
        delayMs,
        track(() => {}),
      );
    }
    assert.equal(timerCount() - baseline, 1);
    await done;
    assert.equal(timerCount() - baseline, 0);
  });

  it('lets a callback cancel other tasks, including the last one pending', async () => {
    const scheduler = new SystemScheduler();
    const events: string[] = [];
    const { track, done } = completion(1);
    const victim = scheduler.schedule(60_000, () => events.push('victim'));
    scheduler.schedule(
      1,
      track(() => {
        events.push(`cancel ${victim.cancel()}`);
        events.push(`pending ${scheduler.pendingCount}`);
      }),
    );
    await done;
    // Errors thrown by a callback surface in a microtask: give them a chance to.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(events, ['cancel true', 'pending 0']);
    assert.equal(scheduler.pendingCount, 0);
  });

  it('a pending task always holds exactly one timer, also after cancelling everything', async () => {
    await endOfTurn();
    const baseline = timerCount();
    const scheduler = new SystemScheduler();
    const first = scheduler.schedule(60_000, () => {});
    assert.equal(first.cancel(), true);
    await endOfTurn();
    assert.equal(timerCount() - baseline, 0);
    const later = scheduler.schedule(120_000, () => {});
    assert.equal(timerCount() - baseline, 1);
    assert.equal(later.cancel(), true);
    await endOfTurn();
    assert.equal(timerCount() - baseline, 0);
    const sooner = scheduler.schedule(30_000, () => {});
    assert.equal(timerCount() - baseline, 1);
    scheduler.cancelAll();
    assert.equal(sooner.pending, false);
    assert.equal(timerCount() - baseline, 0);
  });

  it('fires tasks scheduled after every earlier one was cancelled', async () => {
    const scheduler = new SystemScheduler();
    const fired: string[] = [];
    const { track, done } = completion(2);
    assert.equal(scheduler.schedule(2, () => fired.push('cancelled')).cancel(), true);
    // One due after the idle timer's due time (the timer is re-held), one before (re-armed).
    const tasks = [
      scheduler.schedule(
        8,
        track(() => fired.push('0')),
      ),
      scheduler.schedule(
        1,
        track(() => fired.push('1')),
      ),
    ];
    await done;
    assert.deepEqual(fired, dueOrder(tasks, [0, 1]).map(String));
    assert.equal(scheduler.pendingCount, 0);
  });

  it('runs a task scheduled inside a callback, even at delay 0, in a later turn', async () => {
    const scheduler = new SystemScheduler();
    const events: string[] = [];
    const { track, done } = completion(1);
    scheduler.schedule(1, () => {
      events.push('outer');
      // A microtask queued now runs when the current timer turn ends.
      queueMicrotask(() => events.push('turn ended'));
      scheduler.schedule(
        0,
        track(() => events.push('inner')),
      );
    });
    await done;
    assert.deepEqual(events, ['outer', 'turn ended', 'inner']);
  });

  it('does not let work that reschedules itself at delay 0 starve the event loop', async () => {
    const scheduler = new SystemScheduler();
    let immediateRan = false;
    let runCount = 0;
    const { track, done } = completion(1);
    const again = (): void => {
      runCount += 1;
      if (immediateRan || runCount >= 10_000) {
        track(() => {})();
        return;
      }
      scheduler.schedule(0, again);
    };
    scheduler.schedule(0, again);
    setImmediate(() => {
      immediateRan = true;
    });
    await done;
    assert.equal(immediateRan, true);
    assert.ok(runCount < 10_000, `ran ${runCount} times before the event loop got a turn`);
  });

  it('rejects invalid arguments with InvalidArgumentError', () => {
    const scheduler = new SystemScheduler();
    for (const delayMs of [-1, Number.NaN, Number.POSITIVE_INFINITY, '5']) {
      assertInvalidArgument(() => scheduler.schedule(delayMs as never, () => {}), `${delayMs}`);
    }
    for (const callback of [undefined, null, 'callback']) {
      assertInvalidArgument(() => scheduler.schedule(1, callback as never), `${callback}`);
    }
    for (const keepProcessAlive of ['yes', 1, 'false']) {
      assertInvalidArgument(
        () => new SystemScheduler({ keepProcessAlive: keepProcessAlive as never }),
        `${keepProcessAlive}`,
      );
    }
    assert.equal(scheduler.pendingCount, 0);
  });

  describe('in a child process', { concurrency: true }, () => {
    it('a throwing callback does not stop the others; every error surfaces', async () => {
      const result = await runChild(`
        import { SystemScheduler } from ${JSON.stringify(coreUrl)};
        const events = [];
        process.on('uncaughtException', (error) => events.push('caught ' + error.message));
        const scheduler = new SystemScheduler();
        // Delay 0 for all five: they are all due when the timer fires, so they run in one
        // turn. The last one schedules a check for a later turn.
        for (const index of [0, 1, 2, 3, 4]) {
          scheduler.schedule(0, () => {
            events.push('run ' + index);
            if (index === 1 || index === 3) {
              throw new Error('boom ' + index);
            }
            if (index === 4) {
              scheduler.schedule(0, () => {
                events.push('later turn');
                setImmediate(() => console.log(JSON.stringify(events)));
              });
            }
          });
        }
      `);
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(JSON.parse(result.stdout), [
        'run 0',
        'run 1',
        'run 2',
        'run 3',
        'run 4',
        'caught boom 1',
        'caught boom 3',
        'later turn',
      ]);
    });

    it('without a handler, a throwing callback crashes the process as setTimeout would', async () => {
      const result = await runChild(`
        import { writeSync } from 'node:fs';
        import { SystemScheduler } from ${JSON.stringify(coreUrl)};
        const scheduler = new SystemScheduler();
        scheduler.schedule(0, () => writeSync(1, 'run 0\\n'));
        scheduler.schedule(0, () => {
          writeSync(1, 'run 1\\n');
          throw new Error('boom from a task');
        });
        scheduler.schedule(0, () => writeSync(1, 'run 2\\n'));
        scheduler.schedule(30_000, () => writeSync(1, 'never\\n'));
      `);
      assert.equal(result.signal, null);
      assert.equal(result.status, 1);
      assert.match(result.stderr, /boom from a task/);
      assert.equal(result.stdout, 'run 0\nrun 1\nrun 2\n');
    });

    it('keepProcessAlive: false lets the process exit while a long task is pending', async () => {
      const result = await runChild(`
        import { SystemScheduler } from ${JSON.stringify(coreUrl)};
        const scheduler = new SystemScheduler({ keepProcessAlive: false });
        scheduler.schedule(60_000, () => console.log('fired'));
        scheduler.schedule(30_000, () => console.log('fired'));
        console.log('pending ' + scheduler.pendingCount);
      `);
      assert.equal(result.signal, null, 'the process exited on its own, not by the spawn timeout');
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout, 'pending 2\n');
    });

    it('by default, a pending task keeps the process alive until it fires', async () => {
      const result = await runChild(`
        import { SystemScheduler } from ${JSON.stringify(coreUrl)};
        const scheduler = new SystemScheduler();
        scheduler.schedule(50, () => console.log('fired'));
        console.log('pending ' + scheduler.pendingCount);
      `);
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout, 'pending 1\nfired\n');
    });
  });
});

describe('scheduleAt', () => {
  it('runs a task at an absolute instant, and a past instant at the next opportunity', () => {
    const scheduler = new VirtualScheduler();
    scheduler.advanceMs(50);
    const ran: string[] = [];
    scheduler.scheduleAt(80, () => ran.push(`at ${scheduler.clock.nowMs()}`));
    const past = scheduler.scheduleAt(10, () => ran.push(`past at ${scheduler.clock.nowMs()}`));
    assert.equal(past.dueMs, 50);
    scheduler.advanceMs(100);
    assert.deepEqual(ran, ['past at 50', 'at 80']);
  });

  it('rejects a non-finite instant or a non-function callback', () => {
    const scheduler = new VirtualScheduler();
    assert.throws(
      () => scheduler.scheduleAt(Number.NaN, () => {}),
      (error) => isInvalidArgumentError(error),
    );
    assert.throws(
      () => scheduler.scheduleAt(Number.POSITIVE_INFINITY, () => {}),
      (error) => isInvalidArgumentError(error),
    );
    assert.throws(
      () => scheduler.scheduleAt(5, 'no' as never),
      (error) => isInvalidArgumentError(error),
    );
    assert.throws(
      () => new SystemScheduler().scheduleAt(Number.NaN, () => {}),
      (error) => isInvalidArgumentError(error),
    );
  });

  it('on the system scheduler fires in due order with schedule()', async () => {
    const scheduler = new SystemScheduler();
    const order: string[] = [];
    const nowMs = scheduler.clock.nowMs();
    await new Promise<void>((resolve) => {
      scheduler.scheduleAt(nowMs + 4, () => order.push('second'));
      scheduler.scheduleAt(nowMs + 2, () => order.push('first'));
      scheduler.schedule(8, () => {
        order.push('third');
        resolve();
      });
    });
    assert.deepEqual(order, ['first', 'second', 'third']);
  });
});
