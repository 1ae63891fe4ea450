/**
 * A migration plan as a synchronous state machine: the steps of moving data between
 * owners without losing writes, which later modules (the replicated store, the lab) drive.
 *
 * ```text
 * planned → double-write → backfill → verify → cut-over → clean-up → done
 *                             ↑          │
 *                             └──────────┘ (verification found mismatches)
 * planned, double-write, backfill, verify → aborted
 * ```
 *
 * - **double-write**: writes go to the old and the new owner, reads to the old one, so
 *   nothing written from now on is missing at the new owner.
 * - **backfill**: the data written before double-writing is copied, move by move
 *   ({@link MigrationPlan.markBackfilled}).
 * - **verify**: the caller compares both sides and reports the moves that differ; those
 *   go back to backfill.
 * - **cut-over**: reads switch to the new owner; writes still reach both, so the
 *   migration can still be reversed by a new plan.
 * - **clean-up**: writes stop going to the old owner and its copies can be deleted.
 *
 * Every transition method returns a {@link MigrationTransitionResult} instead of
 * throwing (rule 4: protocol cores return results): a refused transition carries an
 * {@link InvalidMigrationTransitionError} and leaves the plan unchanged.
 *
 * @module
 */

import { describeValue, InvalidArgumentError, requireOptions } from '../core/index.js';
import { InvalidMigrationTransitionError } from './errors.js';

/** The phases of a {@link MigrationPlan}. */
export type MigrationPhase =
  | 'planned'
  | 'double-write'
  | 'backfill'
  | 'verify'
  | 'cut-over'
  | 'clean-up'
  | 'done'
  | 'aborted';

/** Where reads and writes of the moving ranges go in a phase. */
export interface MigrationRouting {
  /** The owner reads go to. */
  readonly readFrom: 'old' | 'new';
  /** The owners writes go to. */
  readonly writeTo: 'old' | 'old-and-new' | 'new';
}

/** The outcome of a transition: the new phase, or the refusal. */
export type MigrationTransitionResult =
  | {
      /** The transition happened. */
      readonly ok: true;
      /** The phase now. */
      readonly phase: MigrationPhase;
    }
  | {
      /** The transition was refused; the plan is unchanged. */
      readonly ok: false;
      /** Why. */
      readonly error: InvalidMigrationTransitionError;
    };

/** Options for {@link MigrationPlan}. */
export interface MigrationPlanOptions<Move> {
  /** The moves to carry out (from {@link diffHashOwnership} or {@link diffRangeOwnership}); at most 1,000,000. */
  readonly moves: readonly Move[];
}

/** The most moves one plan may hold: 1,000,000. */
export const migrationMoveCountMax = 1_000_000;

const routingByPhase: Record<MigrationPhase, MigrationRouting> = {
  planned: { readFrom: 'old', writeTo: 'old' },
  'double-write': { readFrom: 'old', writeTo: 'old-and-new' },
  backfill: { readFrom: 'old', writeTo: 'old-and-new' },
  verify: { readFrom: 'old', writeTo: 'old-and-new' },
  'cut-over': { readFrom: 'new', writeTo: 'old-and-new' },
  'clean-up': { readFrom: 'new', writeTo: 'new' },
  done: { readFrom: 'new', writeTo: 'new' },
  aborted: { readFrom: 'old', writeTo: 'old' },
};

/**
 * A migration plan over a list of moves.
 *
 * @example
 * ```ts
 * const plan = new MigrationPlan({ moves: [{ startKey: 'm', endKey: undefined, from: 'a', to: 'b' }] });
 * plan.startDoubleWrite(); // { ok: true, phase: 'double-write' }
 * plan.cutOver().ok; // false: not verified yet, and the plan is unchanged
 * ```
 */
export class MigrationPlan<Move> {
  /** The moves, in the order given. */
  readonly moves: readonly Move[];
  #phase: MigrationPhase = 'planned';
  readonly #backfilled: Uint8Array;
  #backfilledCount = 0;
  #verified = false;

  constructor(options: MigrationPlanOptions<Move>) {
    const checked = requireOptions('MigrationPlan options', options);
    if (!Array.isArray(checked.moves) || checked.moves.length > migrationMoveCountMax) {
      throw new InvalidArgumentError(
        'options.moves',
        `options.moves must be an array of at most ${migrationMoveCountMax} moves; got ${describeValue(checked.moves)}.`,
      );
    }
    this.moves = [...checked.moves];
    this.#backfilled = new Uint8Array(this.moves.length);
  }

  /** The current phase. */
  get phase(): MigrationPhase {
    return this.#phase;
  }

  /** How many moves are backfilled. */
  get backfilledCount(): number {
    return this.#backfilledCount;
  }

  /** Whether move `index` is backfilled. */
  isBackfilled(index: number): boolean {
    return this.#backfilled[index] === 1;
  }

  /** Where reads and writes of the moving ranges go now. */
  routing(): MigrationRouting {
    return routingByPhase[this.#phase];
  }

  #refuse(transition: string, reason: string): MigrationTransitionResult {
    return {
      ok: false,
      error: new InvalidMigrationTransitionError(this.#phase, transition, reason),
    };
  }

  #enter(phase: MigrationPhase): MigrationTransitionResult {
    this.#phase = phase;
    return { ok: true, phase };
  }

  /** planned → double-write: start writing to both owners. */
  startDoubleWrite(): MigrationTransitionResult {
    if (this.#phase !== 'planned') {
      return this.#refuse('start double-writing', 'double-writing starts only from planned.');
    }
    return this.#enter('double-write');
  }

  /** double-write → backfill: start copying the data written before double-writing. */
  startBackfill(): MigrationTransitionResult {
    if (this.#phase !== 'double-write') {
      return this.#refuse(
        'start backfilling',
        'backfill only after double-writing has started, or old writes would be missed.',
      );
    }
    return this.#enter('backfill');
  }

  /** Records that move `index` has been copied. Only in backfill. */
  markBackfilled(index: number): MigrationTransitionResult {
    if (this.#phase !== 'backfill') {
      return this.#refuse(
        'mark a move backfilled',
        'moves are backfilled only in the backfill phase.',
      );
    }
    if (!(Number.isInteger(index) && index >= 0 && index < this.moves.length)) {
      return this.#refuse(
        'mark a move backfilled',
        `move index must be an integer from 0 to ${this.moves.length - 1}; got ${describeValue(index)}.`,
      );
    }
    if (this.#backfilled[index] === 0) {
      this.#backfilled[index] = 1;
      this.#backfilledCount += 1;
    }
    return { ok: true, phase: this.#phase };
  }

  /** backfill → verify, once every move is backfilled. */
  startVerify(): MigrationTransitionResult {
    if (this.#phase !== 'backfill') {
      return this.#refuse('start verifying', 'verification follows the backfill.');
    }
    if (this.#backfilledCount !== this.moves.length) {
      return this.#refuse(
        'start verifying',
        `${this.moves.length - this.#backfilledCount} of ${this.moves.length} moves are not backfilled yet.`,
      );
    }
    this.#verified = false;
    return this.#enter('verify');
  }

  /**
   * Reports the verification: the indexes of the moves whose copies differ. With none,
   * the plan is verified (stays in verify, ready to cut over); otherwise those moves are
   * marked not backfilled and the plan returns to backfill.
   */
  recordVerification(mismatchedMoveIndexes: readonly number[]): MigrationTransitionResult {
    if (this.#phase !== 'verify') {
      return this.#refuse(
        'record a verification',
        'verification results belong to the verify phase.',
      );
    }
    if (!Array.isArray(mismatchedMoveIndexes)) {
      return this.#refuse('record a verification', 'mismatchedMoveIndexes must be an array.');
    }
    for (const index of mismatchedMoveIndexes) {
      if (!(Number.isInteger(index) && index >= 0 && index < this.moves.length)) {
        return this.#refuse(
          'record a verification',
          `move index must be an integer from 0 to ${this.moves.length - 1}; got ${describeValue(index)}.`,
        );
      }
    }
    if (mismatchedMoveIndexes.length === 0) {
      this.#verified = true;
      return { ok: true, phase: this.#phase };
    }
    for (const index of mismatchedMoveIndexes) {
      if (this.#backfilled[index] === 1) {
        this.#backfilled[index] = 0;
        this.#backfilledCount -= 1;
      }
    }
    return this.#enter('backfill');
  }

  /** verify (verified) → cut-over: reads switch to the new owners. */
  cutOver(): MigrationTransitionResult {
    if (this.#phase !== 'verify' || !this.#verified) {
      return this.#refuse(
        'cut over',
        'cut over only after a verification that found no mismatches.',
      );
    }
    return this.#enter('cut-over');
  }

  /** cut-over → clean-up: stop writing to the old owners; their copies may be deleted. */
  startCleanUp(): MigrationTransitionResult {
    if (this.#phase !== 'cut-over') {
      return this.#refuse('start cleaning up', 'clean up only after cutting over.');
    }
    return this.#enter('clean-up');
  }

  /** clean-up → done. */
  finish(): MigrationTransitionResult {
    if (this.#phase !== 'clean-up') {
      return this.#refuse('finish', 'a migration finishes after its clean-up.');
    }
    return this.#enter('done');
  }

  /**
   * Any phase before cut-over → aborted: reads and writes go to the old owners only. After
   * cut-over the new owners hold the truth; reverse with a new plan instead.
   */
  abort(): MigrationTransitionResult {
    if (
      this.#phase === 'cut-over' ||
      this.#phase === 'clean-up' ||
      this.#phase === 'done' ||
      this.#phase === 'aborted'
    ) {
      return this.#refuse(
        'abort',
        'only a migration that has not cut over can be aborted; plan the reverse migration instead.',
      );
    }
    return this.#enter('aborted');
  }
}
