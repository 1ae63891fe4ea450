/**
 * A keyed set of circuit breakers: one per host, endpoint or tenant, made on first use
 * and bounded by `keyCountMax`. A failing host opens its own breaker and leaves the
 * others closed.
 *
 * When the registry is full, a new key evicts the least recently used breaker that is
 * closed and has had no failure for `evictionQuietMs`: forgetting it loses nothing worth
 * keeping. A breaker that is open, half-open, isolated or recently failing is never
 * evicted, since a new breaker for the same key would let calls through to a dependency
 * known to be down; when every breaker is like that, the new key is rejected with
 * `LimitExceededError` instead.
 *
 * @module
 */

import {
  describeValue,
  Emitter,
  type Event,
  InvalidArgumentError,
  LimitExceededError,
  requireFunction,
  requireInteger,
  requireNumber,
  requireOptions,
} from '../core/index.js';
import type { CircuitBreakerPolicy } from './circuit-breaker.js';
import type { PolicyContext, PolicyWork } from './policy.js';

/** Options for {@link BreakerRegistry}. */
export interface BreakerRegistryOptions<K> {
  /** Makes the breaker for a key on its first use; subscribe to its events here. */
  readonly create: (key: K) => CircuitBreakerPolicy;
  /** Most breakers kept at once (an integer from 1 to 10,000,000). */
  readonly keyCountMax: number;
  /**
   * A closed breaker may be evicted once it has had no failure for this long, in
   * milliseconds on its scheduler's clock (>= 0). Default 60,000.
   */
  readonly evictionQuietMs?: number;
}

/** Payload of {@link BreakerRegistry.onEvict}. */
export interface BreakerEvictEvent<K> {
  /** The key whose breaker was dropped. */
  readonly key: K;
  /** The breaker that was dropped. */
  readonly breaker: CircuitBreakerPolicy;
}

const keyCountMaxLimit = 10_000_000;

/**
 * One circuit breaker per key, at most `keyCountMax` of them; see the module comment for
 * how a full registry makes room.
 *
 * @example
 * ```ts
 * const breakers = new BreakerRegistry<string>({
 *   keyCountMax: 1_000,
 *   create: (host) =>
 *     new CircuitBreakerPolicy({
 *       name: host,
 *       strategy: { kind: 'consecutive-failures', failureCountThreshold: 5 },
 *       breakDurationMs: 10_000,
 *     }),
 * });
 * const body = await breakers.execute(url.host, ({ signal }) => fetch(url, { signal }));
 * ```
 */
export class BreakerRegistry<K> {
  /** The most breakers kept at once. */
  readonly keyCountMax: number;
  /** How long a closed breaker must have been free of failures to be evictable. */
  readonly evictionQuietMs: number;
  readonly #create: (key: K) => CircuitBreakerPolicy;
  /** In least recently used first order: a hit moves its key to the end. */
  readonly #breakers = new Map<K, CircuitBreakerPolicy>();
  readonly #evicted = new Emitter<BreakerEvictEvent<K>>();

  /** Emitted when a breaker is evicted to make room for a new key. */
  readonly onEvict: Event<BreakerEvictEvent<K>> = this.#evicted.event;

  constructor(options: BreakerRegistryOptions<K>) {
    const checked = requireOptions('BreakerRegistry options', options);
    this.#create = requireFunction('BreakerRegistry options.create', checked.create);
    this.keyCountMax = requireInteger('BreakerRegistry options.keyCountMax', checked.keyCountMax, {
      min: 1,
      max: keyCountMaxLimit,
    });
    this.evictionQuietMs = requireNumber(
      'BreakerRegistry options.evictionQuietMs',
      checked.evictionQuietMs ?? 60_000,
      { min: 0 },
    );
  }

  /** How many breakers the registry holds. */
  get size(): number {
    return this.#breakers.size;
  }

  /**
   * The breaker for `key`, made with `create` if there is none. Throws
   * `LimitExceededError` when the registry is full and no breaker can be evicted.
   */
  get(key: K): CircuitBreakerPolicy {
    const breakers = this.#breakers;
    const found = breakers.get(key);
    if (found !== undefined) {
      breakers.delete(key);
      breakers.set(key, found);
      return found;
    }
    if (breakers.size >= this.keyCountMax) {
      this.#evictOne();
    }
    const created = this.#create(key);
    if (
      typeof created !== 'object' ||
      created === null ||
      typeof created.execute !== 'function' ||
      typeof created.sinceLastFailureMs !== 'number'
    ) {
      throw new InvalidArgumentError(
        'options.create',
        'BreakerRegistry options.create must return a CircuitBreakerPolicy; it returned ' +
          `${describeValue(created)} for one key.`,
      );
    }
    breakers.set(key, created);
    return created;
  }

  /** The breaker for `key` if there is one; neither makes one nor counts as a use. */
  peek(key: K): CircuitBreakerPolicy | undefined {
    return this.#breakers.get(key);
  }

  /** Forgets the breaker for `key`; returns whether there was one. */
  delete(key: K): boolean {
    return this.#breakers.delete(key);
  }

  /** The keys and their breakers, least recently used first. */
  entries(): IterableIterator<[K, CircuitBreakerPolicy]> {
    return this.#breakers.entries();
  }

  /**
   * Runs `work` through the breaker for `key`. Rejects with `LimitExceededError` when
   * the registry is full and no breaker can be evicted.
   */
  execute<T>(key: K, work: PolicyWork<T>, parent?: AbortSignal | PolicyContext): Promise<T> {
    let breaker: CircuitBreakerPolicy;
    try {
      breaker = this.get(key);
    } catch (error) {
      return Promise.reject(error);
    }
    return breaker.execute(work, parent);
  }

  #evictOne(): void {
    const quietMs = this.evictionQuietMs;
    // Bounded by keyCountMax; only a full registry with a new key pays for the scan.
    for (const [key, breaker] of this.#breakers) {
      if (breaker.state === 'closed' && breaker.sinceLastFailureMs >= quietMs) {
        this.#breakers.delete(key);
        this.#evicted.emit({ key, breaker });
        return;
      }
    }
    throw new LimitExceededError(
      this.keyCountMax,
      `The breaker registry holds ${this.keyCountMax} breakers and none can be evicted: ` +
        `each is open, half-open, isolated or failed within the last ${quietMs} ms. ` +
        'Raise keyCountMax, lower evictionQuietMs, or key breakers more coarsely.',
    );
  }
}
