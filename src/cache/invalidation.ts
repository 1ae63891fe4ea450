/**
 * Invalidation across cache instances. A cache given an {@link InvalidationBus} publishes
 * what it invalidates locally (a key written or deleted, a tag, a prefix, a clear) and
 * applies what other instances publish, ignoring its own echoes by `origin`. This is the
 * port that a shared tier (Redis pub/sub, in a later distkit module) implements;
 * {@link LocalInvalidationBus} connects caches inside one process.
 *
 * Delivery is best effort and asynchronous in a real bus: another instance may serve its
 * old copy until the event arrives, so give entries a TTL as the bound on staleness.
 *
 * @module
 */

import {
  type Disposable,
  Emitter,
  InvalidArgumentError,
  type Listener,
  requireString,
} from '../core/index.js';

/**
 * One invalidation. Keys travel as strings (`String(key)`), so caches that share a bus
 * should use string or number keys.
 */
export type InvalidationEvent =
  | {
      /** One key's entry is stale (written or deleted elsewhere). */
      readonly kind: 'key';
      /** The key, as a string. */
      readonly key: string;
      /** The publishing instance. */
      readonly origin: string;
    }
  | {
      /** Every entry with this tag is stale. */
      readonly kind: 'tag';
      /** The tag. */
      readonly tag: string;
      /** The publishing instance. */
      readonly origin: string;
    }
  | {
      /** Every entry whose string key starts with this prefix is stale. */
      readonly kind: 'prefix';
      /** The prefix. */
      readonly prefix: string;
      /** The publishing instance. */
      readonly origin: string;
    }
  | {
      /** Every entry is stale. */
      readonly kind: 'clear';
      /** The publishing instance. */
      readonly origin: string;
    };

/** The invalidation port: fan-out of {@link InvalidationEvent}s to every subscriber. */
export interface InvalidationBus {
  /** Delivers `event` to every subscriber (including the publisher, which ignores it). */
  publish(event: InvalidationEvent): void;
  /** Subscribes `listener`; dispose the result to stop. */
  subscribe(listener: Listener<InvalidationEvent>): Disposable;
}

function requireEvent(event: InvalidationEvent): InvalidationEvent {
  if (typeof event !== 'object' || event === null) {
    throw new InvalidArgumentError(
      'InvalidationBus.publish event',
      'An invalidation event must be an object with kind and origin.',
    );
  }
  requireString('InvalidationEvent.origin', event.origin);
  switch (event.kind) {
    case 'key':
      requireString('InvalidationEvent.key', event.key, true);
      return event;
    case 'tag':
      requireString('InvalidationEvent.tag', event.tag);
      return event;
    case 'prefix':
      requireString('InvalidationEvent.prefix', event.prefix, true);
      return event;
    case 'clear':
      return event;
    default:
      throw new InvalidArgumentError(
        'InvalidationEvent.kind',
        `InvalidationEvent.kind must be 'key', 'tag', 'prefix' or 'clear'; got ${String((event as { kind?: unknown }).kind)}.`,
      );
  }
}

/**
 * An in-process {@link InvalidationBus}: `publish` calls every subscriber synchronously,
 * in subscription order. A listener that throws does not stop the others (the error is
 * rethrown from a microtask, as `Emitter` does).
 *
 * @example
 * ```ts
 * const bus = new LocalInvalidationBus();
 * const a = new Cache<string, number>({ maxEntries: 100, invalidation: { bus, origin: 'a' } });
 * const b = new Cache<string, number>({ maxEntries: 100, invalidation: { bus, origin: 'b' } });
 * b.set('x', 1);
 * a.set('x', 2); // b drops its copy of 'x'
 * b.has('x'); // false
 * ```
 */
export class LocalInvalidationBus implements InvalidationBus {
  readonly #emitter = new Emitter<InvalidationEvent>();

  /** How many subscribers are listening. */
  get subscriberCount(): number {
    return this.#emitter.listenerCount;
  }

  publish(event: InvalidationEvent): void {
    this.#emitter.emit(requireEvent(event));
  }

  subscribe(listener: Listener<InvalidationEvent>): Disposable {
    return this.#emitter.event(listener);
  }
}
