/**
 * Names what a byte string looks like from its first bytes, for error messages
 * ("expected an xz stream, got a PNG image"). Pure sniffing: it never decides a format.
 */

const SIGNATURES: ReadonlyArray<readonly [string, readonly number[], number?]> = [
  ['an xz stream', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['a zip archive', [0x50, 0x4b, 0x03, 0x04]],
  ['an empty zip archive', [0x50, 0x4b, 0x05, 0x06]],
  ['a PNG image', [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  ['a JPEG image', [0xff, 0xd8, 0xff]],
  ['a GIF image', [0x47, 0x49, 0x46, 0x38]],
  ['a WebP image', [0x57, 0x45, 0x42, 0x50], 8],
  ['a HEIC image', [0x66, 0x74, 0x79, 0x70, 0x68, 0x65, 0x69], 4],
  ['an AVIF image', [0x66, 0x74, 0x79, 0x70, 0x61, 0x76, 0x69, 0x66], 4],
  ['a BMP image', [0x42, 0x4d]],
  ['a TIFF image', [0x49, 0x49, 0x2a, 0x00]],
  ['a TIFF image', [0x4d, 0x4d, 0x00, 0x2a]],
  ['a gzip stream', [0x1f, 0x8b]],
  ['a bzip2 stream', [0x42, 0x5a, 0x68]],
  ['a zstd stream', [0x28, 0xb5, 0x2f, 0xfd]],
  ['a 7-zip archive', [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]],
  ['a PDF document', [0x25, 0x50, 0x44, 0x46]],
  ['an ELF executable', [0x7f, 0x45, 0x4c, 0x46]],
  ['a WebAssembly module', [0x00, 0x61, 0x73, 0x6d]],
  ['a pickle (protocol 2+)', [0x80]],
  ['a tar archive', [0x75, 0x73, 0x74, 0x61, 0x72], 257],
];

export function startsWith(bytes: Uint8Array, signature: readonly number[], at = 0): boolean {
  if (bytes.length < at + signature.length) return false;
  for (let i = 0; i < signature.length; i++) if (bytes[at + i] !== signature[i]) return false;
  return true;
}

/** "a PNG image", "empty input", "text starting "<!DOCTYPE"", or "unrecognised bytes 12 34 …". */
export function describeBytes(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'empty input';
  for (const [what, signature, at] of SIGNATURES) if (startsWith(bytes, signature, at ?? 0)) return what;
  const head = bytes.subarray(0, 16);
  if (head.every((b) => b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b < 0x7f))) {
    return `text starting ${JSON.stringify(String.fromCharCode(...head))}`;
  }
  return `unrecognised bytes ${Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ')}`;
}
