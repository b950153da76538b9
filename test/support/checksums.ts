/**
 * Checksums for the test writers, computed bit by bit from their definitions — never with the
 * product's table-driven code (src/formats/zip.ts, src/image/png.ts), so a wrong table or
 * polynomial there cannot pass a test whose expected bytes come from here. Each is pinned by its
 * published check value in test/formats.test.ts.
 */

/** CRC-32 (ISO-HDLC: reflected polynomial 0xEDB88320, init and final XOR 0xFFFFFFFF), one bit at a time. */
export function crc32Bitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** CRC-64 (ECMA-182 reflected, polynomial 0xC96C5795D7870F42, as xz uses), one bit at a time. */
export function crc64Bitwise(bytes: Uint8Array): bigint {
  const poly = 0xc96c5795d7870f42n, mask = (1n << 64n) - 1n;
  let crc = mask;
  for (const b of bytes) {
    crc ^= BigInt(b);
    for (let k = 0; k < 8; k++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return crc ^ mask;
}

/** Adler-32 (RFC 1950 §8.2): two running sums modulo 65521. */
export function adler32Bitwise(bytes: Uint8Array): number {
  let a = 1, b = 0;
  for (const x of bytes) { a = (a + x) % 65521; b = (b + a) % 65521; }
  return ((b << 16) | a) >>> 0;
}
