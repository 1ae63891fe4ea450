/**
 * CRC-32C (Castagnoli): the checksum of the write-ahead log's records, snapshot files
 * and the simulator's record log.
 *
 * Slicing-by-8: eight 256-entry tables let the loop consume eight bytes per step, about
 * four times the speed of the byte-at-a-time loop on large payloads.
 *
 * @module
 */

const polynomialReversed = 0x82f63b78;

const tables: readonly Uint32Array[] = (() => {
  const made: Uint32Array[] = [];
  const first = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte += 1) {
    let value = byte;
    for (let bit = 0; bit < 8; bit += 1) {
      value = value & 1 ? (value >>> 1) ^ polynomialReversed : value >>> 1;
    }
    first[byte] = value >>> 0;
  }
  made.push(first);
  for (let level = 1; level < 8; level += 1) {
    const previous = made[level - 1] as Uint32Array;
    const table = new Uint32Array(256);
    for (let byte = 0; byte < 256; byte += 1) {
      const value = previous[byte] as number;
      table[byte] = ((value >>> 8) ^ (first[value & 0xff] as number)) >>> 0;
    }
    made.push(table);
  }
  return made;
})();

const t0 = tables[0] as Uint32Array;
const t1 = tables[1] as Uint32Array;
const t2 = tables[2] as Uint32Array;
const t3 = tables[3] as Uint32Array;
const t4 = tables[4] as Uint32Array;
const t5 = tables[5] as Uint32Array;
const t6 = tables[6] as Uint32Array;
const t7 = tables[7] as Uint32Array;

/**
 * Continues a CRC-32C over `bytes[startOffset, endOffset)`. Start with `crc = 0`; the
 * result of one call is the `crc` of the next, so a checksum can cover several buffers.
 *
 * @param crc - the checksum of what came before, or 0.
 * @param bytes - the data.
 * @param startOffset - first byte covered (default 0).
 * @param endOffset - one past the last byte covered (default `bytes.length`).
 * @returns the checksum as an unsigned 32-bit integer.
 */
export function crc32cUpdate(
  crc: number,
  bytes: Uint8Array,
  startOffset = 0,
  endOffset: number = bytes.length,
): number {
  let value = ~crc >>> 0;
  let index = startOffset;
  const eightEnd = endOffset - ((endOffset - index) & 7);
  while (index < eightEnd) {
    const low =
      (value ^
        ((bytes[index] as number) |
          ((bytes[index + 1] as number) << 8) |
          ((bytes[index + 2] as number) << 16) |
          ((bytes[index + 3] as number) << 24))) >>>
      0;
    value =
      (t7[low & 0xff] as number) ^
      (t6[(low >>> 8) & 0xff] as number) ^
      (t5[(low >>> 16) & 0xff] as number) ^
      (t4[low >>> 24] as number) ^
      (t3[bytes[index + 4] as number] as number) ^
      (t2[bytes[index + 5] as number] as number) ^
      (t1[bytes[index + 6] as number] as number) ^
      (t0[bytes[index + 7] as number] as number);
    index += 8;
  }
  while (index < endOffset) {
    value = (t0[(value ^ (bytes[index] as number)) & 0xff] as number) ^ (value >>> 8);
    index += 1;
  }
  return ~value >>> 0;
}

/**
 * CRC-32C (Castagnoli) of `bytes`, as an unsigned 32-bit integer. `crc32c` of the ASCII
 * bytes `123456789` is `0xe3069283`.
 */
export function crc32c(bytes: Uint8Array): number {
  return crc32cUpdate(0, bytes, 0, bytes.length);
}
