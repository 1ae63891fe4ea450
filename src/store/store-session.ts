/**
 * A client session of the partitioned store, held by the caller rather than by a
 * {@link StoreClient}: what one application client has seen, per shard, as the replicas'
 * session tokens. Carried between requests (for example in an HTTP header), it lets an
 * application client keep read-your-writes and monotonic reads while its requests go
 * through different store clients or different nodes.
 *
 * @module
 */

import { InvalidArgumentError, requireInteger } from '../core/index.js';

/** Options of {@link StoreSession}. */
export interface StoreSessionOptions {
  /**
   * Shards a session remembers; past it the least recently used shard's token is
   * dropped (the session then no longer guarantees anything on that shard). Default 64.
   */
  readonly shardCountMax?: number;
}

/** Most characters {@link StoreSession.parse} reads: about 64 shards of short tokens. */
export const storeSessionTextLengthMax = 16_384;

const defaultShardCountMax = 64;

/**
 * What one application client has seen of the store: a session token per shard, the
 * latest a replica gave it. Pass it as `session` in a request's options (the client reads
 * and advances it instead of its own), and carry it between requests as the text of
 * {@link StoreSession.toString} and {@link StoreSession.parse}. A token is opaque: only
 * the replicas of its shard read it.
 *
 * @example
 * ```ts
 * import { StoreSession } from 'distkit/store';
 *
 * const session = new StoreSession();
 * session.advance('kv/0', '3:17');
 * const carried = StoreSession.parse(session.toString());
 * console.log(carried.token('kv/0')); // '3:17'
 * ```
 */
export class StoreSession {
  /** Shards remembered at most. */
  readonly shardCountMax: number;
  readonly #tokens = new Map<string, string>();

  constructor(options: StoreSessionOptions = {}) {
    this.shardCountMax = requireInteger(
      'options.shardCountMax',
      options.shardCountMax ?? defaultShardCountMax,
      { min: 1, max: 1_000_000 },
    );
  }

  /**
   * Reads a session from the text of {@link StoreSession.toString}. Throws
   * `InvalidArgumentError` naming what is wrong when the text is not one (too long, not
   * base64url, not a list of `[shard, token]` string pairs, or more shards than allowed).
   */
  static parse(text: string, options: StoreSessionOptions = {}): StoreSession {
    const session = new StoreSession(options);
    if (typeof text !== 'string' || text.length > storeSessionTextLengthMax) {
      throw new InvalidArgumentError(
        'session',
        `A store session is a string of at most ${storeSessionTextLengthMax} characters, as StoreSession.toString() gives.`,
      );
    }
    if (text === '') {
      return session;
    }
    if (!/^[A-Za-z0-9_-]+$/.test(text)) {
      throw new InvalidArgumentError(
        'session',
        'A store session is base64url text (A-Z, a-z, 0-9, - and _), as StoreSession.toString() gives.',
      );
    }
    let pairs: unknown;
    try {
      pairs = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    } catch {
      pairs = undefined;
    }
    if (
      !Array.isArray(pairs) ||
      !pairs.every(
        (pair) =>
          Array.isArray(pair) &&
          pair.length === 2 &&
          typeof pair[0] === 'string' &&
          typeof pair[1] === 'string',
      )
    ) {
      throw new InvalidArgumentError(
        'session',
        'The store session does not decode to a list of [shard, token] string pairs; pass the text StoreSession.toString() gave, unchanged.',
      );
    }
    if (pairs.length > session.shardCountMax) {
      throw new InvalidArgumentError(
        'session',
        `The store session names ${pairs.length} shards; at most ${session.shardCountMax} (shardCountMax).`,
      );
    }
    for (const [shard, token] of pairs as [string, string][]) {
      session.advance(shard, token);
    }
    return session;
  }

  /** Shards the session holds a token for. */
  get size(): number {
    return this.#tokens.size;
  }

  /** The token held for `shardId`, if any. */
  token(shardId: string): string | undefined {
    return this.#tokens.get(shardId);
  }

  /**
   * Holds `token` for `shardId` (the store client calls it with what a replica
   * returned; a token is never older than the one it replaces, the replica sees to that).
   */
  advance(shardId: string, token: string): void {
    if (typeof shardId !== 'string' || typeof token !== 'string') {
      throw new InvalidArgumentError('session', 'A shard id and its token are strings.');
    }
    this.#tokens.delete(shardId);
    if (this.#tokens.size >= this.shardCountMax) {
      this.#tokens.delete(this.#tokens.keys().next().value as string);
    }
    this.#tokens.set(shardId, token);
  }

  /** The session as base64url text (empty for an empty session), for {@link StoreSession.parse}. */
  toString(): string {
    return this.#tokens.size === 0
      ? ''
      : Buffer.from(JSON.stringify([...this.#tokens]), 'utf8').toString('base64url');
  }
}
