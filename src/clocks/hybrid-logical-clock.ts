/**
 * Hybrid logical clocks (Kulkarni et al., 2014): a timestamp is the physical wall time
 * in milliseconds plus a logical counter. It stays within the clock offset of physical
 * time, never goes backwards, and orders causally related events like a Lamport clock.
 *
 * A remote timestamp too far ahead of the local physical clock (more than `maxOffsetMs`)
 * is rejected with {@link ClockOffsetError} rather than allowed to drag this clock into
 * the future: one node with a wild clock must not poison every timestamp in the cluster.
 *
 * @module
 */

import {
  type Clock,
  DistkitError,
  type DistkitErrorOptions,
  errorGuard,
  InvalidArgumentError,
  LimitExceededError,
  requireNumber,
  requireOptions,
} from '../core/index.js';
import { ClockEncodingError } from './encoding.js';

/** A hybrid timestamp: wall milliseconds, then a logical counter for ties. */
export interface HybridTimestamp {
  /** Wall-clock milliseconds since the Unix epoch (an integer). */
  readonly wallMs: number;
  /** Orders events within one `wallMs`. */
  readonly logical: number;
}

/** The largest logical counter: 2^32 - 1 events within one millisecond. */
export const hybridLogicalMax = 0xffff_ffff;

/** A remote timestamp is further ahead of the local clock than `maxOffsetMs` allows. */
export class ClockOffsetError extends DistkitError {
  /** The rejected timestamp. */
  readonly remote: HybridTimestamp;
  /** The local physical time when it was rejected. */
  readonly physicalMs: number;
  /** The bound it broke. */
  readonly maxOffsetMs: number;

  constructor(
    remote: HybridTimestamp,
    physicalMs: number,
    maxOffsetMs: number,
    options?: DistkitErrorOptions,
  ) {
    super(
      'CLOCK_OFFSET',
      `remote timestamp ${formatHybridTimestamp(remote)} is ${remote.wallMs - physicalMs} ms ahead of the local clock, beyond maxOffsetMs ${maxOffsetMs}; check the sender's clock synchronisation.`,
      options,
    );
    this.remote = remote;
    this.physicalMs = physicalMs;
    this.maxOffsetMs = maxOffsetMs;
  }
}

/** Brand guard for {@link ClockOffsetError}. */
export const isClockOffsetError = errorGuard<ClockOffsetError>('CLOCK_OFFSET');

/** Options for {@link HybridLogicalClock}. */
export interface HybridLogicalClockOptions {
  /** Where physical time comes from; its `wallMs()` is read. */
  readonly clock: Clock;
  /** How far ahead of local physical time a remote timestamp may be. */
  readonly maxOffsetMs: number;
  /** The last timestamp issued before a restart, so the clock never goes back. */
  readonly last?: HybridTimestamp;
}

/**
 * A hybrid logical clock.
 *
 * @example
 * ```ts
 * const clock = new ManualClock({ wallMs: 1_700_000_000_000 });
 * const hlc = new HybridLogicalClock({ clock, maxOffsetMs: 500 });
 * const sent = hlc.now();
 * const other = new HybridLogicalClock({ clock, maxOffsetMs: 500 });
 * const received = other.update(sent); // after `sent`
 * compareHybridTimestamps(sent, received) < 0; // true
 * ```
 */
export class HybridLogicalClock {
  readonly #clock: Clock;
  /** The offset bound remote timestamps are held to. */
  readonly maxOffsetMs: number;
  #wallMs = 0;
  #logical = 0;

  constructor(options: HybridLogicalClockOptions) {
    requireOptions('HybridLogicalClock options', options);
    if (options.clock === undefined || typeof options.clock.wallMs !== 'function') {
      throw new InvalidArgumentError(
        'HybridLogicalClock options.clock',
        'HybridLogicalClock options.clock must be a Clock.',
      );
    }
    this.#clock = options.clock;
    this.maxOffsetMs = requireNumber(
      'HybridLogicalClock options.maxOffsetMs',
      options.maxOffsetMs,
      {
        min: 0,
      },
    );
    if (options.last !== undefined) {
      requireHybridTimestamp('HybridLogicalClock options.last', options.last);
      this.#wallMs = options.last.wallMs;
      this.#logical = options.last.logical;
    }
  }

  /** The latest timestamp issued or observed. */
  get last(): HybridTimestamp {
    return { wallMs: this.#wallMs, logical: this.#logical };
  }

  /** A timestamp for a local event or a send: after every earlier one. */
  now(): HybridTimestamp {
    const physicalMs = this.#physicalMs();
    if (physicalMs > this.#wallMs) {
      this.#wallMs = physicalMs;
      this.#logical = 0;
    } else {
      this.#logical = this.#nextLogical(this.#logical);
    }
    return { wallMs: this.#wallMs, logical: this.#logical };
  }

  /**
   * Takes in a timestamp from a received message; returns the receive event's timestamp,
   * after both the remote one and every local one. Throws {@link ClockOffsetError}, and
   * changes nothing, when `remote` is more than `maxOffsetMs` ahead of physical time.
   */
  update(remote: HybridTimestamp): HybridTimestamp {
    requireHybridTimestamp('HybridLogicalClock.update remote', remote);
    const physicalMs = this.#physicalMs();
    if (remote.wallMs - physicalMs > this.maxOffsetMs) {
      throw new ClockOffsetError(remote, physicalMs, this.maxOffsetMs);
    }
    const wallMs = Math.max(this.#wallMs, remote.wallMs, physicalMs);
    let logical: number;
    if (wallMs === this.#wallMs && wallMs === remote.wallMs) {
      logical = this.#nextLogical(Math.max(this.#logical, remote.logical));
    } else if (wallMs === this.#wallMs) {
      logical = this.#nextLogical(this.#logical);
    } else if (wallMs === remote.wallMs) {
      logical = this.#nextLogical(remote.logical);
    } else {
      logical = 0;
    }
    this.#wallMs = wallMs;
    this.#logical = logical;
    return { wallMs, logical };
  }

  #physicalMs(): number {
    return Math.floor(this.#clock.wallMs());
  }

  #nextLogical(logical: number): number {
    if (logical >= hybridLogicalMax) {
      throw new LimitExceededError(
        hybridLogicalMax,
        'HybridLogicalClock: the logical counter overflowed within one millisecond; the physical clock is probably stuck.',
      );
    }
    return logical + 1;
  }
}

/** Orders hybrid timestamps: by wall time, then logical counter. Negative, zero or positive. */
export function compareHybridTimestamps(a: HybridTimestamp, b: HybridTimestamp): number {
  return a.wallMs - b.wallMs || a.logical - b.logical;
}

/** `1700000000000.3` style text: wall milliseconds, a dot, the logical counter. */
export function formatHybridTimestamp(timestamp: HybridTimestamp): string {
  return `${timestamp.wallMs}.${timestamp.logical}`;
}

/** Bytes of {@link encodeHybridTimestamp}'s output. */
export const hybridTimestampBytes = 12;

/**
 * Twelve bytes, big-endian: 8 for `wallMs`, 4 for `logical`. Byte-wise order equals
 * timestamp order, so encoded timestamps sort correctly as keys in any byte-ordered store.
 */
export function encodeHybridTimestamp(timestamp: HybridTimestamp): Uint8Array {
  requireHybridTimestamp('encodeHybridTimestamp timestamp', timestamp);
  const bytes = new Uint8Array(hybridTimestampBytes);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, Math.floor(timestamp.wallMs / 0x1_0000_0000));
  view.setUint32(4, timestamp.wallMs % 0x1_0000_0000);
  view.setUint32(8, timestamp.logical);
  return bytes;
}

/** Reads {@link encodeHybridTimestamp}'s bytes; throws {@link ClockEncodingError}. */
export function decodeHybridTimestamp(bytes: Uint8Array): HybridTimestamp {
  if (!(bytes instanceof Uint8Array) || bytes.length !== hybridTimestampBytes) {
    throw new ClockEncodingError(
      `hybrid timestamp bytes: expected ${hybridTimestampBytes} bytes; got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}.`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const wallMs = view.getUint32(0) * 0x1_0000_0000 + view.getUint32(4);
  if (!Number.isSafeInteger(wallMs)) {
    throw new ClockEncodingError('hybrid timestamp bytes: wall time beyond 2^53.');
  }
  return { wallMs, logical: view.getUint32(8) };
}

/** JSON form: the {@link formatHybridTimestamp} text. */
export function hybridTimestampToJSON(timestamp: HybridTimestamp): string {
  requireHybridTimestamp('hybridTimestampToJSON timestamp', timestamp);
  return formatHybridTimestamp(timestamp);
}

/** Reads the JSON form; throws {@link ClockEncodingError}. */
export function hybridTimestampFromJSON(value: unknown): HybridTimestamp {
  const match = typeof value === 'string' ? /^(0|[1-9]\d*)\.(0|[1-9]\d*)$/.exec(value) : null;
  const wallMs = Number(match?.[1]);
  const logical = Number(match?.[2]);
  if (match === null || !Number.isSafeInteger(wallMs) || logical > hybridLogicalMax) {
    throw new ClockEncodingError(
      `hybrid timestamp JSON: expected "wallMs.logical" with integers in range; got ${JSON.stringify(value)}.`,
    );
  }
  return { wallMs, logical };
}

function requireHybridTimestamp(name: string, value: HybridTimestamp): void {
  if (
    typeof value !== 'object' ||
    value === null ||
    !Number.isSafeInteger(value.wallMs) ||
    value.wallMs < 0 ||
    !Number.isInteger(value.logical) ||
    value.logical < 0 ||
    value.logical > hybridLogicalMax
  ) {
    throw new InvalidArgumentError(
      name,
      `${name} must be { wallMs: integer >= 0, logical: integer in [0, 2^32 - 1] }; got ${JSON.stringify(value)}.`,
    );
  }
}
