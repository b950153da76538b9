/**
 * JPEG files for the tests: jpeg-js's encoder (baseline, 4:4:4) for real images, a marker-segment
 * splitter and joiner for edits, an EXIF APP1 writer, and hand-made headers for what no encoder
 * here writes (CMYK, 12-bit, a 65535×65535 frame).
 */
import jpeg from 'jpeg-js';
import { concat } from './writers.js';

/** A JPEG of an 8-bit image with 1, 3 or 4 channels (alpha dropped), by jpeg-js at `quality`. */
export function encodeJpeg(image: { data: ArrayLike<number>; width: number; height: number; channels: number }, quality: number): Uint8Array {
  const { width, height, channels } = image;
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    for (let k = 0; k < 3; k++) rgba[4 * p + k] = image.data[p * channels + (channels >= 3 ? k : 0)];
    rgba[4 * p + 3] = 255;
  }
  return new Uint8Array(jpeg.encode({ data: rgba, width, height }, quality).data);
}

/** One marker segment: its code (the byte after 0xFF) and its bytes after the length field; `scan` is the entropy-coded data after an SOS. */
export interface Segment { marker: number; body: Uint8Array; scan?: Uint8Array }

/** Splits a well-formed JPEG into its segments (SOI and EOI excluded). */
export function splitJpeg(bytes: Uint8Array): Segment[] {
  const out: Segment[] = [];
  let o = 2;
  while (o < bytes.length) {
    const marker = bytes[o + 1];
    if (marker === 0xd9) break;
    const length = (bytes[o + 2] << 8) | bytes[o + 3];
    const seg: Segment = { marker, body: bytes.slice(o + 4, o + 2 + length) };
    o += 2 + length;
    if (marker === 0xda) {
      let p = o;
      while (!(bytes[p] === 0xff && bytes[p + 1] !== 0 && !(bytes[p + 1] >= 0xd0 && bytes[p + 1] <= 0xd7))) p++;
      seg.scan = bytes.slice(o, p);
      o = p;
    }
    out.push(seg);
  }
  return out;
}

/** One segment's bytes: 0xFF, the marker, the length (body + 2), the body, then any scan data. */
export function segment(marker: number, body: ArrayLike<number>, scan?: Uint8Array): Uint8Array {
  const n = body.length + 2;
  return concat(Uint8Array.of(0xff, marker, n >> 8, n & 0xff), Uint8Array.from(body), scan ?? new Uint8Array(0));
}

/** SOI, the segments, EOI. */
export function joinJpeg(segments: readonly Segment[]): Uint8Array {
  return concat(Uint8Array.of(0xff, 0xd8), ...segments.map((s) => segment(s.marker, s.body, s.scan)), Uint8Array.of(0xff, 0xd9));
}

/** An APP1 EXIF body whose IFD0 holds `entries` (tag, type, count, 4 value bytes as written), in either byte order. */
export function exifBody(entries: { tag: number; type: number; count: number; value: number }[], littleEndian: boolean): Uint8Array {
  const tiff = new Uint8Array(8 + 2 + 12 * entries.length + 4);
  const v = new DataView(tiff.buffer);
  tiff.set(littleEndian ? [0x49, 0x49] : [0x4d, 0x4d], 0);
  v.setUint16(2, 42, littleEndian);
  v.setUint32(4, 8, littleEndian);
  v.setUint16(8, entries.length, littleEndian);
  entries.forEach((e, i) => {
    const at = 10 + 12 * i;
    v.setUint16(at, e.tag, littleEndian);
    v.setUint16(at + 2, e.type, littleEndian);
    v.setUint32(at + 4, e.count, littleEndian);
    // A SHORT value sits in the first two of the four value bytes.
    if (e.type === 3) v.setUint16(at + 8, e.value, littleEndian);
    else v.setUint32(at + 8, e.value, littleEndian);
  });
  return concat(new TextEncoder().encode('Exif\0\0'), tiff);
}

/** `bytes` with an APP1 EXIF segment carrying Orientation = `orientation` right after SOI. */
export function withOrientation(bytes: Uint8Array, orientation: number, littleEndian = true): Uint8Array {
  const app1 = segment(0xe1, exifBody([{ tag: 0x010f, type: 2, count: 4, value: 0 }, { tag: 0x0112, type: 3, count: 1, value: orientation }], littleEndian));
  return concat(bytes.subarray(0, 2), app1, bytes.subarray(2));
}

/** A frame header body: precision, height, width, then (id, H×V, Tq) per component. */
export function sofBody(width: number, height: number, components: [number, number, number][], precision = 8): number[] {
  return [precision, height >> 8, height & 0xff, width >> 8, width & 0xff, components.length, ...components.flatMap(([id, hv, tq]) => [id, hv, tq])];
}
