/**
 * The typed failures of `distkit/partition`. Bad input (weights of zero or less, empty or
 * duplicate node sets, malformed keys) is `InvalidArgumentError` from `distkit/core`;
 * the errors here are the expected failures of a correct call: a request routed with an
 * old shard map, a key whose residency rule no node can satisfy, a migration step taken
 * out of order.
 *
 * @module
 */

import { DistkitError, type DistkitErrorOptions, errorGuard } from '../core/index.js';

/**
 * A request carried a shard-map version older than the current one: the caller routed
 * with a stale map and may have picked the wrong shard. Refresh the map (its version is
 * `currentVersion`) and retry.
 */
export class StaleShardMapError extends DistkitError {
  /** The version the request was routed with. */
  readonly requestVersion: number;
  /** The current version of the shard map. */
  readonly currentVersion: number;

  constructor(requestVersion: number, currentVersion: number, options?: DistkitErrorOptions) {
    super(
      'STALE_SHARD_MAP',
      `The request was routed with shard map version ${requestVersion}, but the current ` +
        `version is ${currentVersion}; reload the shard map and route the request again.`,
      options,
    );
    this.requestVersion = requestVersion;
    this.currentVersion = currentVersion;
  }
}

/** Brand guard for {@link StaleShardMapError}. */
export const isStaleShardMapError = errorGuard<StaleShardMapError>('STALE_SHARD_MAP');

/**
 * No node lies in any region a key is allowed to live in. Distkit never places the key
 * elsewhere: add a node in one of `allowedRegions` or change the key's residency rule.
 */
export class NoAllowedRegionError extends DistkitError {
  /** The key that could not be placed. */
  readonly key: string;
  /** The regions its residency rule allows. */
  readonly allowedRegions: readonly string[];

  constructor(key: string, allowedRegions: readonly string[], options?: DistkitErrorOptions) {
    super(
      'NO_ALLOWED_REGION',
      `No node is in a region that key ${JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}...` : key)} ` +
        `may live in (${allowedRegions.map((region) => JSON.stringify(region)).join(', ') || 'none'}); ` +
        'add a node in one of those regions or change the residency rule.',
      options,
    );
    this.key = key;
    this.allowedRegions = allowedRegions;
  }
}

/** Brand guard for {@link NoAllowedRegionError}. */
export const isNoAllowedRegionError = errorGuard<NoAllowedRegionError>('NO_ALLOWED_REGION');

/**
 * A migration plan was asked to take a step its current phase does not allow (cut over
 * before verifying, for example). The plan is unchanged.
 */
export class InvalidMigrationTransitionError extends DistkitError {
  /** The phase the plan was in. */
  readonly phase: string;
  /** The transition that was refused. */
  readonly transition: string;

  constructor(phase: string, transition: string, reason: string, options?: DistkitErrorOptions) {
    super(
      'INVALID_MIGRATION_TRANSITION',
      `A migration in phase '${phase}' cannot ${transition}: ${reason}`,
      options,
    );
    this.phase = phase;
    this.transition = transition;
  }
}

/** Brand guard for {@link InvalidMigrationTransitionError}. */
export const isInvalidMigrationTransitionError = errorGuard<InvalidMigrationTransitionError>(
  'INVALID_MIGRATION_TRANSITION',
);
