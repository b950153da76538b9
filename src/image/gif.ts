/**
 * A GIF decoder for masks (Carvana's `train_masks/*_mask.gif`): the first image of the file as
 * palette indices, never colours, since a palette mask's indices are its classes. GIF87a and
 * GIF89a, global or local colour table, interlaced or not, LZW codes up to 12 bits (the GIF89a
 * specification, section 22 and appendix F).
 *
 * Written here rather than taken from npm: the one well-known pure-JS decoder (omggif) prints a
 * warning and returns a partly filled image when the LZW data is short or long, where a mask must
 * be refused; this one checks the screen size against the limits before allocating, and the pixel
 * count must come out exact.
 */
import { fail, toFreqregError } from '../errors.js';
import { resolvePngLimits, type PngLimits } from './png.js';

export interface DecodedGif {
  width: number;
  height: number;
  /** (height × width) palette index per pixel, row-major. */
  indices: Uint8Array;
  /** The colour table the image uses: RGB triples. */
  palette: Uint8Array;
}

const HEADER_BYTES = 13; // "GIF89a" + logical screen descriptor
const MAX_CODE_BITS = 12;
const INTERLACE_PASSES: readonly (readonly [start: number, step: number])[] = [[0, 8], [4, 8], [2, 4], [1, 2]];

/** True when the bytes start with a GIF signature. */
export function isGif(bytes: Uint8Array): boolean {
  return bytes.length >= 6 && bytes[0] === 0x47 && bytes[1] === 0x49 && bytes[2] === 0x46 && bytes[3] === 0x38
    && (bytes[4] === 0x37 || bytes[4] === 0x39) && bytes[5] === 0x61;
}

/** Decodes the first image of a GIF to palette indices. Throws only FreqregError. */
export function decodeGif(bytes: Uint8Array, limits?: Partial<PngLimits>): DecodedGif {
  try {
    return decodeUnguarded(bytes, resolvePngLimits(limits));
  } catch (e) {
    throw toFreqregError(e, 'gif');
  }
}

function decodeUnguarded(bytes: Uint8Array, limits: PngLimits): DecodedGif {
  if (!isGif(bytes)) fail('gif', 'NOT_GIF', 'the file does not start with GIF87a or GIF89a', { offset: 0 });
  if (bytes.length < HEADER_BYTES) fail('gif', 'GIF_STRUCTURE', `${bytes.length} bytes is shorter than the GIF header`, { offset: 0 });
  const u16 = (at: number): number => bytes[at] | (bytes[at + 1] << 8);
  const width = u16(6), height = u16(8);
  if (width === 0 || height === 0) fail('gif', 'IMAGE_DIMENSIONS', `screen ${width}×${height}`, { offset: 6 });
  if (width > limits.maxWidth || height > limits.maxHeight || width * height > limits.maxPixels) {
    fail('gif', 'IMAGE_TOO_LARGE', `${width}×${height} is beyond the limits (${limits.maxWidth}×${limits.maxHeight}, ${limits.maxPixels} pixels)`, { offset: 6 });
  }
  const flags = bytes[10];
  const background = bytes[11];
  let at = HEADER_BYTES;
  let globalTable: Uint8Array | undefined;
  if (flags & 0x80) {
    const size = 3 << ((flags & 7) + 1);
    if (at + size > bytes.length) fail('gif', 'GIF_STRUCTURE', 'the global colour table runs past the end', { offset: at });
    globalTable = bytes.subarray(at, at + size);
    at += size;
  }
  for (;;) {
    if (at >= bytes.length) fail('gif', 'GIF_STRUCTURE', 'the file ends before its first image', { offset: at });
    const block = bytes[at];
    if (block === 0x21) {
      at = skipSubBlocks(bytes, at + 2);
    } else if (block === 0x2c) {
      return decodeImage(bytes, at, width, height, background, globalTable);
    } else if (block === 0x3b) {
      fail('gif', 'GIF_STRUCTURE', 'the file holds no image', { offset: at });
    } else {
      fail('gif', 'GIF_STRUCTURE', `unknown block 0x${block.toString(16)}`, { offset: at });
    }
  }
}

/** Offset just past a chain of data sub-blocks (length byte, data; a zero length ends it). */
function skipSubBlocks(bytes: Uint8Array, at: number): number {
  for (;;) {
    if (at >= bytes.length) fail('gif', 'GIF_STRUCTURE', 'data sub-blocks run past the end', { offset: at });
    const n = bytes[at];
    at += 1 + n;
    if (n === 0) return at;
  }
}

function decodeImage(bytes: Uint8Array, at: number, width: number, height: number, background: number, globalTable?: Uint8Array): DecodedGif {
  if (at + 10 > bytes.length) fail('gif', 'GIF_STRUCTURE', 'the image descriptor runs past the end', { offset: at });
  const u16 = (o: number): number => bytes[o] | (bytes[o + 1] << 8);
  const left = u16(at + 1), top = u16(at + 3), fw = u16(at + 5), fh = u16(at + 7);
  const flags = bytes[at + 9];
  if (fw === 0 || fh === 0 || left + fw > width || top + fh > height) {
    fail('gif', 'IMAGE_DIMENSIONS', `image ${fw}×${fh} at (${left}, ${top}) is not inside the ${width}×${height} screen`, { offset: at });
  }
  at += 10;
  let palette = globalTable;
  if (flags & 0x80) {
    const size = 3 << ((flags & 7) + 1);
    if (at + size > bytes.length) fail('gif', 'GIF_STRUCTURE', 'the local colour table runs past the end', { offset: at });
    palette = bytes.subarray(at, at + size);
    at += size;
  }
  if (!palette) fail('gif', 'GIF_STRUCTURE', 'the image has no colour table', { offset: at });
  if (at >= bytes.length) fail('gif', 'GIF_STRUCTURE', 'the image data is missing', { offset: at });
  const minCodeSize = bytes[at];
  if (minCodeSize < 2 || minCodeSize > 8) fail('gif', 'GIF_DATA', `LZW minimum code size ${minCodeSize}, should be 2 to 8`, { offset: at });
  // Gather the sub-blocks' data (bounded by the file's size).
  const end = skipSubBlocks(bytes, at + 1);
  const data = new Uint8Array(end - at - 1);
  let n = 0;
  for (let p = at + 1; bytes[p] !== 0; p += 1 + bytes[p]) {
    data.set(bytes.subarray(p + 1, p + 1 + bytes[p]), n);
    n += bytes[p];
  }
  const frame = lzwDecode(data.subarray(0, n), minCodeSize, fw * fh, at);
  const entries = palette.length / 3;
  const indices = new Uint8Array(width * height);
  if (fw !== width || fh !== height) indices.fill(background < entries ? background : 0);
  // Rows in file order: interlaced images store the 4 passes one after the other.
  const rowOrder: number[] = [];
  if (flags & 0x40) for (const [start, step] of INTERLACE_PASSES) for (let y = start; y < fh; y += step) rowOrder.push(y);
  else for (let y = 0; y < fh; y++) rowOrder.push(y);
  for (let r = 0; r < fh; r++) {
    const src = r * fw, dst = (top + rowOrder[r]) * width + left;
    for (let x = 0; x < fw; x++) {
      const index = frame[src + x];
      if (index >= entries) fail('gif', 'GIF_DATA', `pixel (${left + x}, ${top + rowOrder[r]}) uses colour ${index} of a ${entries}-colour table`);
      indices[dst + x] = index;
    }
  }
  return { width, height, indices, palette: palette.slice() };
}

/**
 * Variable-length LZW (GIF89a appendix F): codes read least significant bit first, starting at
 * minCodeSize + 1 bits and growing to 12 as the table fills; CLEAR resets the table, END stops.
 * Exactly `pixels` indices must come out.
 */
function lzwDecode(data: Uint8Array, minCodeSize: number, pixels: number, offset: number): Uint8Array {
  const clear = 1 << minCodeSize, stop = clear + 1;
  const prefix = new Uint16Array(1 << MAX_CODE_BITS); // (4096) code → the code of its string minus the last index
  const suffix = new Uint8Array(1 << MAX_CODE_BITS); //  (4096) code → the last index of its string
  const stack = new Uint8Array(1 << MAX_CODE_BITS);
  for (let c = 0; c < clear; c++) suffix[c] = c;
  const out = new Uint8Array(pixels);
  let written = 0;
  let codeSize = minCodeSize + 1, next = stop + 1, prev = -1, prevFirst = 0;
  let bit = 0;
  const totalBits = data.length * 8;
  while (bit + codeSize <= totalBits) {
    let code = 0;
    for (let k = 0; k < codeSize; k++, bit++) code |= ((data[bit >> 3] >> (bit & 7)) & 1) << k;
    if (code === clear) {
      codeSize = minCodeSize + 1;
      next = stop + 1;
      prev = -1;
      continue;
    }
    if (code === stop) break;
    let top = 0, c = code;
    if (prev < 0) {
      if (code >= clear) fail('gif', 'GIF_DATA', `code ${code} before any index`, { offset });
    } else if (code === next) {
      stack[top++] = prevFirst; // the string of prev followed by its own first index
      c = prev;
    } else if (code > next) {
      fail('gif', 'GIF_DATA', `code ${code} is not yet in the table (next ${next})`, { offset });
    }
    while (c > stop) {
      stack[top++] = suffix[c];
      c = prefix[c];
    }
    stack[top++] = c;
    const first = c;
    if (written + top > pixels) fail('gif', 'IMAGE_DATA', `the image data holds more than its ${pixels} pixels`, { offset });
    while (top > 0) out[written++] = stack[--top];
    if (prev >= 0 && next < 1 << MAX_CODE_BITS) {
      prefix[next] = prev;
      suffix[next] = first;
      next++;
      if (next === 1 << codeSize && codeSize < MAX_CODE_BITS) codeSize++;
    }
    prev = code;
    prevFirst = first;
  }
  if (written < pixels) fail('gif', 'IMAGE_TRUNCATED', `the image data holds ${written} of its ${pixels} pixels`, { offset });
  return out;
}
