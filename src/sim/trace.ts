/**
 * The simulation's trace: a running 64-bit hash of everything that happened (which event,
 * when, between which endpoints, and what nodes recorded), plus, when asked for, the
 * readable lines themselves. Two runs of one seed must give the same hash; a test holds
 * the simulator to that.
 *
 * @module
 */

import { requireInteger } from '../core/index.js';

const float64 = new Float64Array(1);
const float64Words = new Uint32Array(float64.buffer);

/**
 * A 64-bit running hash built from two 32-bit multiply-xorshift lanes. Fast enough to
 * absorb every event of a million-message run; not cryptographic, only a fingerprint.
 */
export class TraceHash {
  #high = 0x6a09e667;
  #low = 0xbb67ae85;

  /** Absorbs one 32-bit word (any number is taken modulo 2^32). */
  word(value: number): void {
    let low = Math.imul(this.#low ^ value, 0x85ebca6b);
    low ^= low >>> 13;
    let high = Math.imul(this.#high ^ low, 0xc2b2ae35);
    high ^= high >>> 16;
    this.#low = low;
    this.#high = high + (value | 0);
  }

  /** Absorbs a number exactly, fractional part included. */
  number(value: number): void {
    if ((value | 0) === value) {
      this.word(value);
      return;
    }
    float64[0] = value;
    this.word(float64Words[0] as number);
    this.word(float64Words[1] as number);
  }

  /** Absorbs a string, two UTF-16 units per word, then its length. */
  text(value: string): void {
    const length = value.length;
    let index = 0;
    for (; index + 1 < length; index += 2) {
      this.word(value.charCodeAt(index) | (value.charCodeAt(index + 1) << 16));
    }
    if (index < length) {
      this.word(value.charCodeAt(index));
    }
    this.word(length);
  }

  /** The hash so far, as 16 hexadecimal digits. */
  digest(): string {
    const mix = (word: number): string => (word >>> 0).toString(16).padStart(8, '0');
    return mix(this.#high) + mix(Math.imul(this.#low ^ this.#high, 0x27d4eb2f));
  }
}

/** What a simulation keeps of its trace. */
export interface TraceOptions {
  /**
   * Keep readable trace lines, up to this many (the oldest are dropped beyond it). 0, the
   * default, keeps none: only the hash.
   */
  readonly lineCountMax?: number;
  /**
   * Fold message payloads into the hash (as JSON). Costs a serialisation per message;
   * without it the hash covers each message's time, sender and receiver. Default false.
   */
  readonly hashPayloads?: boolean;
}

/** The trace of one run: a hash of every event and, optionally, the last lines. */
export class Trace {
  readonly hash = new TraceHash();
  readonly #lineCountMax: number;
  /** A ring of the last `#lineCountMax` lines; `#lineNext` is where the next one goes. */
  readonly #lines: string[] = [];
  #lineNext = 0;
  #linesDropped = 0;
  /** Whether payloads are folded into the hash. */
  readonly hashPayloads: boolean;

  constructor(options: TraceOptions = {}) {
    this.#lineCountMax = requireInteger(
      'Simulation options.trace.lineCountMax',
      options.lineCountMax ?? 0,
      { min: 0 },
    );
    this.hashPayloads = options.hashPayloads === true;
  }

  /** Whether readable lines are kept (callers skip formatting them when not). */
  get keepsLines(): boolean {
    return this.#lineCountMax > 0;
  }

  /** Adds a readable line (only when {@link Trace.keepsLines}). */
  line(text: string): void {
    if (this.#lines.length < this.#lineCountMax) {
      this.#lines.push(text);
      return;
    }
    this.#lines[this.#lineNext] = text;
    this.#lineNext = (this.#lineNext + 1) % this.#lineCountMax;
    this.#linesDropped += 1;
  }

  /** The kept lines, oldest first. */
  lines(): string[] {
    return [...this.#lines.slice(this.#lineNext), ...this.#lines.slice(0, this.#lineNext)];
  }

  /** How many lines were dropped because of `lineCountMax`. */
  get linesDropped(): number {
    return this.#linesDropped;
  }
}
