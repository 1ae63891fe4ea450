/**
 * One call of a pipeline whose layers are distkit's own policies, run with one promise for
 * the whole call instead of one per layer. Internal to `distkit/resilience`.
 *
 * Each layer is entered in turn, outermost first (`[enterStep]`: admit the call, return
 * the context for the layers inside), then the work runs, and one reaction to the work's
 * promise leaves the layers in turn, innermost first (`[leaveStep]`: release a slot,
 * cancel a timer, record an outcome), and settles the call's promise. A layer that cannot
 * admit a call synchronously (a bulkhead that must queue, say) runs itself and the layers
 * inside it through `[runStep]`, as a pipeline of policies of other libraries does, and
 * the layers outside it leave when that settles. A layer that replaces the outcome (a
 * retry after a failure) returns a promise, and the layers outside it leave when that
 * settles. A timeout that fires leaves the layers outside it at once; what the layers
 * inside it report later stops at the timeout.
 *
 * @module
 */

import {
  type ExecutionContext,
  enterStep,
  type FusedStepPolicy,
  leaveStep,
  type PolicyWork,
  runStep,
  type StepPolicy,
  StepRejection,
  type StepRun,
} from './policy.js';
import { isThenable } from './timeout.js';

/**
 * The most layers a run enters itself; a fifth and later ones run inside the fourth
 * through `[runStep]`. Four covers the recommended pipeline, and a fixed number lets the
 * run keep each layer's context and datum in fields of its own instead of an array.
 */
export const fusedLayerCountMax = 4;

/** One call of a fused pipeline: see the module comment. @internal */
export class PipelineRun implements StepRun {
  readonly work: PolicyWork<unknown>;
  readonly steps: readonly StepPolicy[];
  /** How many of the steps, from the outermost, are entered here (the rest run inside one). */
  readonly #fusedCount: number;
  /** The context each layer was entered with; the last one is the work's. */
  #context0: ExecutionContext | undefined;
  #context1: ExecutionContext | undefined;
  #context2: ExecutionContext | undefined;
  #context3: ExecutionContext | undefined;
  #context4: ExecutionContext | undefined;
  /** What each layer keeps between entering and leaving. */
  #datum0: unknown;
  #datum1: unknown;
  #datum2: unknown;
  #datum3: unknown;
  /** Bit `layer` is set once the layer has left (or, for a timeout, given up). */
  #leftLayers = 0;
  /**
   * With a layer that may fail the call before the work settles (a timeout), the call's
   * promise is made here and settled by hand; without one, it is the promise that the
   * reaction to the work's promise returns, which costs less.
   */
  #resolve: ((value: unknown) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;
  readonly #promise: Promise<unknown> | undefined;

  constructor(
    work: PolicyWork<unknown>,
    steps: readonly StepPolicy[],
    fusedCount: number,
    settlesEarly: boolean,
  ) {
    this.work = work;
    this.steps = steps;
    this.#fusedCount = fusedCount;
    if (settlesEarly) {
      this.#promise = new Promise((resolve, reject) => {
        this.#resolve = resolve;
        this.#reject = reject;
      });
    }
  }

  contextAt(layer: number): ExecutionContext {
    switch (layer) {
      case 0:
        return this.#context0 as ExecutionContext;
      case 1:
        return this.#context1 as ExecutionContext;
      case 2:
        return this.#context2 as ExecutionContext;
      case 3:
        return this.#context3 as ExecutionContext;
      default:
        return this.#context4 as ExecutionContext;
    }
  }

  #setContextAt(layer: number, context: ExecutionContext): void {
    switch (layer) {
      case 0:
        this.#context0 = context;
        break;
      case 1:
        this.#context1 = context;
        break;
      case 2:
        this.#context2 = context;
        break;
      case 3:
        this.#context3 = context;
        break;
      default:
        this.#context4 = context;
    }
  }

  datumAt(layer: number): unknown {
    switch (layer) {
      case 0:
        return this.#datum0;
      case 1:
        return this.#datum1;
      case 2:
        return this.#datum2;
      default:
        return this.#datum3;
    }
  }

  setDatumAt(layer: number, datum: unknown): void {
    switch (layer) {
      case 0:
        this.#datum0 = datum;
        break;
      case 1:
        this.#datum1 = datum;
        break;
      case 2:
        this.#datum2 = datum;
        break;
      default:
        this.#datum3 = datum;
    }
  }

  /** Enters the layers, runs the work and attaches the one reaction; returns the call's promise. */
  start(root: ExecutionContext): Promise<unknown> {
    const steps = this.steps;
    const fusedCount = this.#fusedCount;
    let context = root;
    let result: unknown;
    let layer = 0;
    try {
      for (; layer < fusedCount; layer += 1) {
        this.#setContextAt(layer, context);
        const entered = (steps[layer] as FusedStepPolicy)[enterStep](this, layer, context);
        if (entered instanceof StepRejection) {
          return this.#settleNow(layer - 1, true, entered.error);
        }
        if (typeof entered === 'symbol') {
          break;
        }
        context = entered;
      }
      this.#setContextAt(layer, context);
      result =
        layer < steps.length
          ? (steps[layer] as StepPolicy)[runStep](this.work, steps, layer + 1, context)
          : this.work(context);
    } catch (error) {
      return this.#settleNow(layer - 1, true, error);
    }
    if (!isThenable(result)) {
      return this.#settleNow(layer - 1, false, result);
    }
    const innermost = layer - 1;
    const reaction = (result instanceof Promise ? result : Promise.resolve(result)).then(
      (value) => this.#leave(innermost, false, value),
      (error: unknown) => this.#leave(innermost, true, error),
    );
    return this.#promise ?? reaction;
  }

  failAt(layer: number, error: unknown): void {
    const bit = 1 << layer;
    if ((this.#leftLayers & bit) === 0) {
      this.#leftLayers |= bit;
      this.#leave(layer - 1, true, error);
    }
  }

  /** Leaves the layers from `from` outwards at once, and returns the call's promise. */
  #settleNow(from: number, failed: boolean, outcome: unknown): Promise<unknown> {
    try {
      const settled = this.#leave(from, failed, outcome);
      return this.#promise ?? Promise.resolve(settled);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Leaves the layers from `from` outwards with an outcome, and settles the call: by hand
   * when the run made its promise, otherwise by returning the value, throwing the error or
   * returning a promise of them.
   */
  #leave(from: number, failed: boolean, outcome: unknown): unknown {
    const steps = this.steps;
    for (let layer = from; layer >= 0; layer -= 1) {
      const bit = 1 << layer;
      if ((this.#leftLayers & bit) !== 0) {
        // A timeout here already answered for the layers outside it.
        return undefined;
      }
      this.#leftLayers |= bit;
      const replaced = (steps[layer] as FusedStepPolicy)[leaveStep](this, layer, failed, outcome);
      if (replaced !== undefined) {
        const outer = layer - 1;
        const next = Promise.resolve(replaced).then(
          (value) => this.#leave(outer, false, value),
          (error: unknown) => this.#leave(outer, true, error),
        );
        return this.#promise === undefined ? next : undefined;
      }
    }
    if (this.#promise !== undefined) {
      if (failed) {
        (this.#reject as (error: unknown) => void)(outcome);
      } else {
        (this.#resolve as (value: unknown) => void)(outcome);
      }
      return undefined;
    }
    if (failed) {
      throw outcome;
    }
    return outcome;
  }
}
