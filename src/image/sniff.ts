/**
 * What a file's first bytes say it is: the image formats freqreg decodes (PNG, JPEG) by their
 * signatures, and a few common others by theirs, for error messages that name what was given.
 */

export type ImageFormat = 'png' | 'jpeg';

/** PNG: the 8-byte signature (PNG spec §5.2). JPEG: SOI followed by the 0xFF of the next marker (T.81 B.1.1.2). */
export function imageFormatOf(b: Uint8Array): ImageFormat | undefined {
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  return undefined;
}

function ascii(b: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...b.subarray(start, end));
}

/** What a file that is not the expected image looks like, for the error message ('' when unknown). */
export function sniff(b: Uint8Array): string {
  if (b.length === 0) return 'the file is empty';
  if (b[0] === 0xff && b[1] === 0xd8) return 'it looks like a JPEG';
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'it looks like a PNG';
  if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return 'it looks like a GIF';
  if (b[0] === 0x42 && b[1] === 0x4d) return 'it looks like a BMP';
  if (ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return 'it looks like a WebP';
  if (ascii(b, 4, 8) === 'ftyp') return `it looks like an ISO media file (${ascii(b, 8, 12).trim() || 'unknown brand'}: HEIC, AVIF or video)`;
  if ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a) || (b[0] === 0x4d && b[1] === 0x4d && b[3] === 0x2a)) return 'it looks like a TIFF';
  const head = ascii(b, 0, 64).trimStart().toLowerCase();
  if (head.startsWith('<')) return 'it looks like HTML or XML';
  return '';
}
