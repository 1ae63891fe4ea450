/**
 * Composition: `pipeline(a, b, c)` is one policy that runs `a`, which runs `b`, which runs
 * `c`, which runs the work. Each policy receives the context of the one outside it as its
 * parent, so the attempt number, the signal and the deadline flow inwards.
 *
 * @module
 */

import { InvalidArgumentError } from '../core/index.js';
import { fusedLayerCountMax, PipelineRun } from './pipeline-run.js';
import {
  contextFrom,
  type FusedStepPolicy,
  isFusedStep,
  type Policy,
  type PolicyContext,
  type PolicyWork,
  runStep,
  type StepPolicy,
  settlesEarly,
  stepOf,
} from './policy.js';

function isPolicy(value: unknown): value is Policy {
  return (
    typeof value === 'object' && value !== null && typeof (value as Policy).execute === 'function'
  );
}

/** A policy made of others, outermost first; see {@link pipeline}. */
export class PipelinePolicy implements Policy {
  /** The policies, outermost first, with nested pipelines flattened. */
  readonly policies: readonly Policy[];
  /** The policies as steps: distkit's own as they are, others behind an adapter. */
  readonly #steps: readonly StepPolicy[];
  /** How many steps, from the outermost, a call enters and leaves without a promise of their own. */
  readonly #fusedCount: number;
  /** Whether one of those steps may fail a call before its work settles (a timeout). */
  readonly #settlesEarly: boolean;

  constructor(policies: readonly Policy[]) {
    const flat: Policy[] = [];
    policies.forEach((policy, index) => {
      if (!isPolicy(policy)) {
        throw new InvalidArgumentError(
          `policies[${index}]`,
          `pipeline() takes policies (objects with an execute method); argument ${index} is not one.`,
        );
      }
      if (policy instanceof PipelinePolicy) {
        flat.push(...policy.policies);
      } else {
        flat.push(policy);
      }
    });
    this.policies = flat;
    const steps = flat.map(stepOf);
    this.#steps = steps;
    let fusedCount = 0;
    while (
      fusedCount < steps.length &&
      fusedCount < fusedLayerCountMax &&
      isFusedStep(steps[fusedCount] as StepPolicy)
    ) {
      fusedCount += 1;
    }
    // One fused step alone gains nothing over its own path, which makes fewer objects.
    this.#fusedCount = fusedCount >= 2 ? fusedCount : 0;
    this.#settlesEarly = steps
      .slice(0, fusedCount)
      .some((step) => (step as FusedStepPolicy)[settlesEarly] === true);
  }

  execute<T>(work: PolicyWork<T>, parent?: AbortSignal | PolicyContext): Promise<T> {
    const policies = this.policies;
    const count = policies.length;
    if (count === 0) {
      const context = contextFrom(parent);
      const abortedError = context.abortError();
      return abortedError === undefined
        ? Promise.resolve().then(() => work(context))
        : Promise.reject(abortedError);
    }
    const steps = this.#steps;
    if (this.#fusedCount > 0) {
      // distkit's own policies, from the outermost: one promise and one reaction to the
      // work's promise for all of them (see pipeline-run.ts).
      return new PipelineRun(
        work as PolicyWork<unknown>,
        steps,
        this.#fusedCount,
        this.#settlesEarly,
      ).start(contextFrom(parent)) as Promise<T>;
    }
    // Each step runs the rest of the pipeline as its work through runStep, which makes no
    // closure per policy per call (only a policy of another library gets one).
    return (steps[0] as StepPolicy)[runStep](work, steps, 1, parent);
  }
}

/**
 * Composes policies, outermost first. The recommended order for a call to a dependency
 * is `pipeline(retry, breaker, timeout, bulkhead)`:
 *
 * - the retry is outermost, so each attempt passes the breaker afresh and an open breaker
 *   fails an attempt fast instead of letting it wait;
 * - the breaker sits outside the per-attempt timeout, so timeouts count as failures;
 * - the timeout sits outside the bulkhead, so time spent queueing for a slot counts
 *   against the attempt's deadline;
 * - the bulkhead is innermost, so it bounds how many attempts reach the dependency at once.
 *
 * A fallback, when wanted, goes outside everything.
 *
 * @example
 * ```ts
 * const policy = pipeline(retry, breaker, new TimeoutPolicy({ timeoutMs: 200 }), bulkhead);
 * const user = await policy.execute(({ signal }) => loadUser(id, signal));
 * ```
 */
export function pipeline(...policies: Policy[]): PipelinePolicy {
  return new PipelinePolicy(policies);
}
