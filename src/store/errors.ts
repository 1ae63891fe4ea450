/**
 * Typed errors of `distkit/store`. Each has a stable `code`, a brand guard, and says
 * whether the request may have taken effect, so a client knows when a retry is safe.
 *
 * @module
 */

import { DistkitError, type DistkitErrorOptions, errorGuard } from '../core/index.js';

/**
 * Why a replica could not take a request now. Nothing was applied; retrying later (or on
 * `leaderId`, when known) is safe.
 *
 * - `no-leader`: no leader is known (an election is running or a quorum is unreachable).
 * - `leader-not-ready`: the new leader has not committed an entry of its term yet.
 * - `leader-changed`: leadership moved while a read waited for its confirmation.
 * - `transferring-leadership`, `config-change-pending`: the leader refuses this for now.
 * - `overloaded`: too many requests are waiting, or too many uncommitted bytes.
 * - `not-a-member`: this node is not (or no longer) a member of the cluster.
 * - `not-applied`: the entry was replaced by another leader's entry before it committed.
 */
export type UnavailableReason =
  | 'no-leader'
  | 'leader-not-ready'
  | 'leader-changed'
  | 'transferring-leadership'
  | 'config-change-pending'
  | 'overloaded'
  | 'not-a-member'
  | 'not-applied';

/** The request was refused or dropped without taking effect; it is safe to retry. */
export class ReplicaUnavailableError extends DistkitError {
  /** Why. */
  readonly reason: UnavailableReason;
  /** The leader this replica knows of, if any. */
  readonly leaderId: string | null;

  constructor(
    reason: UnavailableReason,
    leaderId: string | null,
    message: string,
    options?: DistkitErrorOptions,
  ) {
    super('REPLICA_UNAVAILABLE', message, options);
    this.reason = reason;
    this.leaderId = leaderId;
  }
}

/** Brand guard for {@link ReplicaUnavailableError}. */
export const isReplicaUnavailableError = errorGuard<ReplicaUnavailableError>('REPLICA_UNAVAILABLE');

/**
 * A request ran out of time. For a write the outcome is unknown: it may still commit.
 * Read it back (or use compare-and-set) before writing again.
 */
export class RequestTimeoutError extends DistkitError {
  /** `'unknown'` for writes that were handed to Raft; `'not-applied'` for reads. */
  readonly outcome: 'unknown' | 'not-applied';
  /** The time the request was given, in milliseconds. */
  readonly timeoutMs: number;

  constructor(outcome: 'unknown' | 'not-applied', timeoutMs: number, message: string) {
    super('REQUEST_TIMEOUT', message);
    this.outcome = outcome;
    this.timeoutMs = timeoutMs;
  }
}

/** Brand guard for {@link RequestTimeoutError}. */
export const isRequestTimeoutError = errorGuard<RequestTimeoutError>('REQUEST_TIMEOUT');

/** The replica is closed or stopped after a storage failure; pending requests end with it. */
export class ReplicaClosedError extends DistkitError {
  constructor(message: string, options?: DistkitErrorOptions) {
    super('REPLICA_CLOSED', message, options);
  }
}

/** Brand guard for {@link ReplicaClosedError}. */
export const isReplicaClosedError = errorGuard<ReplicaClosedError>('REPLICA_CLOSED');
