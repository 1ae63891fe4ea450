/**
 * Directory-based sharding: an explicit, versioned map from keys to shards and from shards
 * to nodes, kept behind a small port ({@link ShardMapStore}) so that it can live in
 * memory here and in etcd or PostgreSQL later.
 *
 * A directory places any key anywhere (a big tenant on its own shard, a small one packed
 * with others) and moves a key by editing one entry, at the price of a lookup table that
 * must be stored, replicated and cached. Caches go stale: every request carries the
 * version of the map its sender routed with, and the receiver checks it with
 * {@link ShardMap.route}; a request routed with an older map gets a
 * {@link StaleShardMapError} carrying the current version, and the sender reloads.
 *
 * A {@link ShardMap} is an immutable value; {@link ShardMap.withChanges} makes the next
 * version and {@link ShardMapStore.compareAndSet} installs it only over the version it was
 * made from, so two concurrent editors cannot overwrite each other.
 *
 * @module
 */

import { describeValue, InvalidArgumentError, requireOptions } from '../core/index.js';
import { StaleShardMapError } from './errors.js';
import { hashKeyNamed } from './hash.js';
import { nodeIdLengthMax } from './nodes.js';

/** The most key entries a shard map may hold: 1,000,000. */
export const shardMapEntryCountMax = 1_000_000;

/** The most shards a shard map may hold: 100,000. */
export const shardCountMax = 100_000;

/** Where a key lives: its shard and the shard's node. */
export interface ShardRoute {
  /** The shard holding the key. */
  readonly shardId: string;
  /** The node serving that shard. */
  readonly nodeId: string;
}

/** Edits that make the next version of a shard map; applied in the order listed here. */
export interface ShardMapChanges {
  /** Shards to create or move: shard id → node id. */
  readonly placeShards?: Readonly<Record<string, string>>;
  /** Keys to assign or reassign: key → shard id (the shard must exist after placeShards). */
  readonly assignKeys?: Readonly<Record<string, string>>;
  /** Keys to remove from the directory. */
  readonly unassignKeys?: readonly string[];
  /** Shards to remove; no key may still be assigned to them. */
  readonly removeShards?: readonly string[];
}

/** Options for {@link ShardMap}. */
export interface ShardMapOptions {
  /** The version, an integer from 0 to 2^53 - 1. Default 0. */
  readonly version?: number;
  /** Shard id → node id. */
  readonly shards: Readonly<Record<string, string>>;
  /** Key → shard id; every shard id must be in `shards`. */
  readonly keys?: Readonly<Record<string, string>>;
}

function checkId(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > nodeIdLengthMax) {
    throw new InvalidArgumentError(
      name,
      `${name} must be a non-empty string of at most ${nodeIdLengthMax} characters; got ${describeValue(value)}.`,
    );
  }
  hashKeyNamed(value, name);
  return value;
}

function checkRecord(name: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(name, `${name} must be an object; got ${describeValue(value)}.`);
  }
  return value as Record<string, unknown>;
}

function checkVersion(name: string, value: unknown): number {
  if (!(Number.isSafeInteger(value) && (value as number) >= 0)) {
    throw new InvalidArgumentError(
      name,
      `${name} must be an integer from 0 to 2^53 - 1; got ${describeValue(value)}.`,
    );
  }
  return value as number;
}

/**
 * One version of a directory: which shard holds each key and which node serves each shard.
 *
 * @example
 * ```ts
 * const map = new ShardMap({ shards: { s1: 'node-a', s2: 'node-b' }, keys: { 'tenant:acme': 's1' } });
 * map.route('tenant:acme', 0); // { shardId: 's1', nodeId: 'node-a' }
 * const next = map.withChanges({ placeShards: { s1: 'node-c' } }); // version 1
 * next.route('tenant:acme', 0); // throws StaleShardMapError (currentVersion 1)
 * ```
 */
export class ShardMap {
  /** The version; each {@link ShardMap.withChanges} adds one. */
  readonly version: number;
  readonly #shards: ReadonlyMap<string, string>;
  readonly #keys: ReadonlyMap<string, string>;

  constructor(options: ShardMapOptions) {
    const checked = requireOptions('ShardMap options', options);
    const version =
      checked.version === undefined ? 0 : checkVersion('options.version', checked.version);
    const shards = new Map<string, string>();
    for (const [shardId, nodeId] of Object.entries(checkRecord('options.shards', checked.shards))) {
      shards.set(
        checkId('options.shards key', shardId),
        checkId(`options.shards[${JSON.stringify(shardId)}]`, nodeId),
      );
    }
    const keys = new Map<string, string>();
    for (const [key, shardId] of Object.entries(checkRecord('options.keys', checked.keys ?? {}))) {
      hashKeyNamed(key, 'options.keys key');
      ShardMap.#requireShard(shards, `options.keys[${JSON.stringify(key)}]`, shardId);
      keys.set(key, shardId as string);
    }
    ShardMap.#checkSizes(shards.size, keys.size);
    this.version = version;
    this.#shards = shards;
    this.#keys = keys;
  }

  static #requireShard(shards: ReadonlyMap<string, string>, name: string, shardId: unknown): void {
    if (typeof shardId !== 'string' || !shards.has(shardId)) {
      throw new InvalidArgumentError(
        name,
        `${name} must name an existing shard; got ${describeValue(shardId)}.`,
      );
    }
  }

  static #checkSizes(shardCount: number, keyCount: number): void {
    if (shardCount > shardCountMax || keyCount > shardMapEntryCountMax) {
      throw new InvalidArgumentError(
        'options',
        `A shard map holds at most ${shardCountMax} shards and ${shardMapEntryCountMax} keys; got ${shardCount} and ${keyCount}.`,
      );
    }
  }

  /** How many shards the map holds. */
  get shardCount(): number {
    return this.#shards.size;
  }

  /** How many keys the directory lists. */
  get keyCount(): number {
    return this.#keys.size;
  }

  /** The node serving `shardId`, or undefined for an unknown shard. */
  nodeOfShard(shardId: string): string | undefined {
    return this.#shards.get(shardId);
  }

  /** Where `key` lives, or undefined when the directory does not list it. */
  lookup(key: string): ShardRoute | undefined {
    hashKeyNamed(key, 'key');
    const shardId = this.#keys.get(key);
    if (shardId === undefined) {
      return undefined;
    }
    return { shardId, nodeId: this.#shards.get(shardId) as string };
  }

  /**
   * Where `key` lives, for a request routed with map version `requestVersion`. Throws
   * {@link StaleShardMapError} (with this map's version) when `requestVersion` is older
   * than this map, and InvalidArgumentError when it is newer (a version this map never
   * had). Returns undefined when the directory does not list the key.
   */
  route(key: string, requestVersion: number): ShardRoute | undefined {
    const version = checkVersion('requestVersion', requestVersion);
    if (version < this.version) {
      throw new StaleShardMapError(version, this.version);
    }
    if (version > this.version) {
      throw new InvalidArgumentError(
        'requestVersion',
        `requestVersion ${version} is newer than this shard map (version ${this.version}); the receiver's map is behind: reload it.`,
      );
    }
    return this.lookup(key);
  }

  /** The shard → node table as a plain object. */
  shards(): Record<string, string> {
    return Object.fromEntries(this.#shards);
  }

  /** The key → shard table as a plain object. */
  keys(): Record<string, string> {
    return Object.fromEntries(this.#keys);
  }

  /**
   * The next version of the map with `changes` applied. Throws InvalidArgumentError (and
   * changes nothing) when a change names an unknown shard or key, removes a shard that
   * still holds keys, or grows the map past its limits.
   */
  withChanges(changes: ShardMapChanges): ShardMap {
    const checked = requireOptions('changes', changes);
    const shards = new Map(this.#shards);
    const keys = new Map(this.#keys);
    for (const [shardId, nodeId] of Object.entries(
      checkRecord('changes.placeShards', checked.placeShards ?? {}),
    )) {
      shards.set(
        checkId('changes.placeShards key', shardId),
        checkId(`changes.placeShards[${JSON.stringify(shardId)}]`, nodeId),
      );
    }
    for (const [key, shardId] of Object.entries(
      checkRecord('changes.assignKeys', checked.assignKeys ?? {}),
    )) {
      hashKeyNamed(key, 'changes.assignKeys key');
      ShardMap.#requireShard(shards, `changes.assignKeys[${JSON.stringify(key)}]`, shardId);
      keys.set(key, shardId as string);
    }
    const unassign: unknown = checked.unassignKeys ?? [];
    if (!Array.isArray(unassign)) {
      throw new InvalidArgumentError(
        'changes.unassignKeys',
        'changes.unassignKeys must be an array of keys.',
      );
    }
    for (const key of unassign) {
      if (!keys.delete(key)) {
        throw new InvalidArgumentError(
          'changes.unassignKeys',
          `The directory does not list key ${describeValue(key)}.`,
        );
      }
    }
    const remove: unknown = checked.removeShards ?? [];
    if (!Array.isArray(remove)) {
      throw new InvalidArgumentError(
        'changes.removeShards',
        'changes.removeShards must be an array of shard ids.',
      );
    }
    const removing = new Set<unknown>(remove);
    for (const shardId of removing) {
      if (!shards.delete(shardId as string)) {
        throw new InvalidArgumentError(
          'changes.removeShards',
          `No shard has id ${describeValue(shardId)}.`,
        );
      }
    }
    if (removing.size > 0) {
      for (const [key, shardId] of keys) {
        if (removing.has(shardId)) {
          throw new InvalidArgumentError(
            'changes.removeShards',
            `Shard ${JSON.stringify(shardId)} still holds key ${describeValue(key)}; reassign its keys first.`,
          );
        }
      }
    }
    ShardMap.#checkSizes(shards.size, keys.size);
    return new ShardMap({
      version: this.version + 1,
      shards: Object.fromEntries(shards),
      keys: Object.fromEntries(keys),
    });
  }
}

/** The result of {@link ShardMapStore.compareAndSet}. */
export type ShardMapCommitResult =
  | {
      /** The new map is installed. */
      readonly ok: true;
      /** The installed map. */
      readonly map: ShardMap;
    }
  | {
      /** Another editor got there first: nothing was installed. */
      readonly ok: false;
      /** The map that is current, to rebase the changes on. */
      readonly current: ShardMap;
    };

/**
 * The port a directory lives behind. Reads return the current map; writes are
 * compare-and-set on the version. {@link InMemoryShardMapStore} is the embedded
 * implementation; engine adapters (etcd, PostgreSQL) implement the same two methods.
 */
export interface ShardMapStore {
  /** The current shard map. */
  read(): Promise<ShardMap>;
  /**
   * Installs `next` if and only if its version is exactly one more than the current
   * map's; otherwise installs nothing and returns the current map.
   */
  compareAndSet(next: ShardMap): Promise<ShardMapCommitResult>;
}

/**
 * The embedded {@link ShardMapStore}: one map in memory, swapped atomically.
 *
 * @example
 * ```ts
 * const store = new InMemoryShardMapStore(new ShardMap({ shards: { s1: 'node-a' } }));
 * const current = await store.read();
 * await store.compareAndSet(current.withChanges({ assignKeys: { 'tenant:acme': 's1' } })); // ok
 * await store.compareAndSet(current.withChanges({ placeShards: { s2: 'node-b' } })); // { ok: false, current }
 * ```
 */
export class InMemoryShardMapStore implements ShardMapStore {
  #current: ShardMap;

  constructor(initial: ShardMap) {
    if (!(initial instanceof ShardMap)) {
      throw new InvalidArgumentError(
        'initial',
        `initial must be a ShardMap; got ${describeValue(initial)}.`,
      );
    }
    this.#current = initial;
  }

  /** The current map, synchronously (the embedded store has no I/O). */
  get current(): ShardMap {
    return this.#current;
  }

  /** The current shard map. */
  read(): Promise<ShardMap> {
    return Promise.resolve(this.#current);
  }

  /** Installs `next` when its version is the current version plus one. */
  compareAndSet(next: ShardMap): Promise<ShardMapCommitResult> {
    if (!(next instanceof ShardMap)) {
      return Promise.reject(
        new InvalidArgumentError('next', `next must be a ShardMap; got ${describeValue(next)}.`),
      );
    }
    if (next.version !== this.#current.version + 1) {
      return Promise.resolve({ ok: false, current: this.#current });
    }
    this.#current = next;
    return Promise.resolve({ ok: true, map: next });
  }
}
