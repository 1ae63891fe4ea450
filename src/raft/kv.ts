/**
 * The state-machine port of the Raft core and a replicated key-value map on it.
 *
 * Commands are JSON in the entry's bytes. A command may carry a client session
 * (`client`, `sequence`): a command whose sequence is not above the client's last applied
 * one is not applied again (a proposal forwarded twice, or duplicated by the network,
 * takes effect once), and its first result is returned.
 *
 * @module
 */

import { InvalidArgumentError, requireInteger } from '../core/index.js';
import type { Entry } from './types.js';

/** What a replicated state machine offers the driver. */
export interface StateMachine<Result> {
  /** Applies one committed entry, in log order, and returns its result. */
  apply(entry: Entry): Result;
  /** The state as bytes, for a snapshot at the last applied index. */
  snapshot(): Uint8Array;
  /** Replaces the state with a snapshot's bytes. */
  restore(data: Uint8Array): void;
  /** The index of the last entry applied (or restored). */
  readonly appliedIndex: number;
}

/** A command of the {@link KeyValueStateMachine}. */
export type KeyValueCommand =
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'delete'; readonly key: string }
  | {
      readonly kind: 'cas';
      readonly key: string;
      /** The value the key must hold (`null`: absent) for the swap to happen. */
      readonly expected: string | null;
      readonly value: string;
    };

/** A command with its optional client session. */
export type DecodedKeyValueCommand = KeyValueCommand & {
  readonly client?: string;
  readonly sequence?: number;
};

/** The result of applying an entry. */
export type KeyValueResult =
  | { readonly status: 'ok'; readonly previous: string | null }
  | { readonly status: 'cas-failed'; readonly current: string | null }
  | { readonly status: 'no-op' }
  | { readonly status: 'invalid' };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a command (and an optional session) as entry data. */
export function encodeKeyValueCommand(
  command: KeyValueCommand,
  session?: { readonly client: string; readonly sequence: number },
): Uint8Array {
  return encoder.encode(
    JSON.stringify(session === undefined ? command : { ...command, ...session }),
  );
}

/** Decodes entry data, or `undefined` when it is not a key-value command. */
export function decodeKeyValueCommand(data: Uint8Array): DecodedKeyValueCommand | undefined {
  if (data.byteLength === 0) {
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) {
    return undefined;
  }
  const command = value as { kind?: unknown; key?: unknown };
  if (typeof command.key !== 'string') {
    return undefined;
  }
  if (command.kind === 'put' || command.kind === 'delete' || command.kind === 'cas') {
    return value as DecodedKeyValueCommand;
  }
  return undefined;
}

/**
 * A key-value map of strings replicated through Raft: `put`, `delete` and
 * compare-and-set through the log; `get` and `range` read the local state, which is
 * linearizable once the node has applied up to a read state's index.
 */
export class KeyValueStateMachine implements StateMachine<KeyValueResult> {
  #values = new Map<string, string>();
  #sessions = new Map<string, { sequence: number; result: KeyValueResult }>();
  #appliedIndex = 0;
  readonly sessionCountMax: number;

  /** @param options.sessionCountMax - client sessions remembered (oldest forgotten first). */
  constructor(options: { readonly sessionCountMax?: number } = {}) {
    this.sessionCountMax = requireInteger(
      'options.sessionCountMax',
      options.sessionCountMax ?? 10_000,
      {
        min: 1,
      },
    );
  }

  get appliedIndex(): number {
    return this.#appliedIndex;
  }

  /** The number of keys. */
  get size(): number {
    return this.#values.size;
  }

  apply(entry: Entry): KeyValueResult {
    if (entry.index <= this.#appliedIndex) {
      throw new InvalidArgumentError(
        'entry.index',
        `Entry ${entry.index} is already applied (applied index ${this.#appliedIndex}); apply each committed entry once, in order.`,
      );
    }
    this.#appliedIndex = entry.index;
    if (entry.type !== 'normal') {
      return { status: 'no-op' };
    }
    const command = decodeKeyValueCommand(entry.data);
    if (command === undefined) {
      return entry.data.byteLength === 0 ? { status: 'no-op' } : { status: 'invalid' };
    }
    const { client, sequence } = command;
    if (client !== undefined && sequence !== undefined) {
      const session = this.#sessions.get(client);
      if (session !== undefined && sequence <= session.sequence) {
        return session.sequence === sequence ? session.result : { status: 'no-op' };
      }
    }
    const result = this.#execute(command);
    if (client !== undefined && sequence !== undefined) {
      this.#sessions.delete(client);
      this.#sessions.set(client, { sequence, result });
      if (this.#sessions.size > this.sessionCountMax) {
        const oldest = this.#sessions.keys().next().value as string;
        this.#sessions.delete(oldest);
      }
    }
    return result;
  }

  #execute(command: KeyValueCommand): KeyValueResult {
    const previous = this.#values.get(command.key) ?? null;
    switch (command.kind) {
      case 'put':
        this.#values.set(command.key, command.value);
        return { status: 'ok', previous };
      case 'delete':
        this.#values.delete(command.key);
        return { status: 'ok', previous };
      case 'cas':
        if (previous !== command.expected) {
          return { status: 'cas-failed', current: previous };
        }
        this.#values.set(command.key, command.value);
        return { status: 'ok', previous };
    }
  }

  /** The value of `key`, or `null`. Linearizable only after a read state is applied. */
  get(key: string): string | null {
    return this.#values.get(key) ?? null;
  }

  /** Keys in `[startKey, endKey)` in order, at most `limit`, with their values. */
  range(startKey: string, endKey: string, limit = 1000): [string, string][] {
    requireInteger('limit', limit, { min: 1 });
    const keys = [...this.#values.keys()].filter((key) => key >= startKey && key < endKey).sort();
    return keys.slice(0, limit).map((key) => [key, this.#values.get(key) as string]);
  }

  snapshot(): Uint8Array {
    return encoder.encode(
      JSON.stringify({
        appliedIndex: this.#appliedIndex,
        values: [...this.#values.entries()],
        sessions: [...this.#sessions.entries()],
      }),
    );
  }

  restore(data: Uint8Array): void {
    const state = JSON.parse(decoder.decode(data)) as {
      appliedIndex: number;
      values: [string, string][];
      sessions: [string, { sequence: number; result: KeyValueResult }][];
    };
    this.#appliedIndex = state.appliedIndex;
    this.#values = new Map(state.values);
    this.#sessions = new Map(state.sessions);
  }
}
