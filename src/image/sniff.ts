/**
 * Which image decoder a file's first bytes call for: PNG or JPEG by their signatures (what other
 * bytes look like, for messages, is src/formats/magic.ts's `describeBytes`).
 */

export type ImageFormat = 'png' | 'jpeg';

/** PNG: the 8-byte signature (PNG spec §5.2). JPEG: SOI followed by the 0xFF of the next marker (T.81 B.1.1.2). */
export function imageFormatOf(b: Uint8Array): ImageFormat | undefined {
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  return undefined;
}
