/**
 * JPEG for every runtime: freqreg's own reader walks the whole marker structure (T.81 Annex B)
 * and checks everything a decoder could be tricked by before a pixel is decoded — SOI; every
 * segment's length against the bytes left; one frame (SOF0 baseline, SOF1 extended, SOF2
 * progressive; 8-bit samples; 1 or 3 components) with its dimensions against the image limits;
 * table and component references of each scan; entropy-coded data running up to a marker; EOI —
 * then jpeg-js decodes the pixels (pure JS, no Buffer with `useTArray`) under a memory cap
 * computed from the frame header, so a decoder that disagreed with this reader still could not
 * allocate more than the header implies.
 *
 * EXIF orientation (APP1 "Exif", IFD0 tag 0x0112) is applied, so the pixels, and the mask made
 * from them, are the way a viewer shows the photo. A malformed EXIF block is ignored (as browsers
 * do): the photo is then taken as stored.
 *
 * Refused, with their codes: 12-bit samples, lossless, hierarchical and arithmetic-coded JPEGs
 * (JPEG_UNSUPPORTED); CMYK and YCCK (4 components: JPEG_UNSUPPORTED, convert to RGB first).
 */
import { fail, FreqregError } from '../errors.js';
import { jpegJsDecode } from './jpeg-js.js';
import { resolvePngLimits, type DecodedPng, type PngLimits } from './png.js';
import { describeBytes } from '../formats/magic.js';

/** Scans in one image. libjpeg writes 10 for a progressive colour photo; each scan costs a pass over the image's blocks. */
export const MAX_JPEG_SCANS = 128;

// Marker codes (T.81 Table B.1): the byte after 0xFF.
const SOF0 = 0xc0, SOF1 = 0xc1, SOF2 = 0xc2, DHT = 0xc4, DAC = 0xcc, RST0 = 0xd0, RST7 = 0xd7;
const SOI = 0xd8, EOI = 0xd9, SOS = 0xda, DQT = 0xdb, DNL = 0xdc, DRI = 0xdd, DHP = 0xde, EXP = 0xdf;
const APP0 = 0xe0, APP1 = 0xe1, APP14 = 0xee, APP15 = 0xef, COM = 0xfe;

/** The frame types no decoder here reads, by SOF marker. */
const UNSUPPORTED_FRAMES: Record<number, string> = {
  0xc3: 'lossless', 0xc5: 'differential sequential', 0xc6: 'differential progressive', 0xc7: 'differential lossless',
  0xc9: 'arithmetic-coded sequential', 0xca: 'arithmetic-coded progressive', 0xcb: 'arithmetic-coded lossless',
  0xcd: 'differential arithmetic-coded sequential', 0xce: 'differential arithmetic-coded progressive', 0xcf: 'differential arithmetic-coded lossless',
};

export interface JpegComponent {
  id: number;
  /** Horizontal and vertical sampling factors, 1–4. */
  h: number;
  v: number;
  /** Quantization table id, 0–3. */
  tq: number;
}

export interface JpegInfo {
  /** As stored in the frame header. */
  width: number;
  height: number;
  components: JpegComponent[];
  /** How the 1 or 3 components map to colour: grey, YCbCr (the JFIF default) or RGB (Adobe transform 0, or ids 'R','G','B'). */
  colour: 'grey' | 'ycbcr' | 'rgb';
  progressive: boolean;
  scans: number;
  /** EXIF orientation 1–8 (1 when absent or unreadable). */
  orientation: number;
  /** Width and height as shown: orientations 5–8 swap them. */
  displayWidth: number;
  displayHeight: number;
  /** What jpeg-js will allocate for this image by its own count (blocks, planes, output, tables). */
  decoderBytes: number;
}

function u16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

function hex(m: number): string {
  return `0xFF${m.toString(16).toUpperCase().padStart(2, '0')}`;
}

function truncated(o: number, what: string): never {
  fail('jpeg', 'IMAGE_TRUNCATED', `the file ends ${what}, before the EOI marker`, { offset: o });
}

/**
 * EXIF orientation from an APP1 payload (`Exif\0\0`, then a TIFF header and IFD0), or 1 when the
 * block is not EXIF or is malformed in any way. Every read is bounds-checked.
 */
export function exifOrientation(b: Uint8Array, start: number, end: number): number {
  if (end - start < 14 || String.fromCharCode(...b.subarray(start, start + 6)) !== 'Exif\0\0') return 1;
  const tiff = start + 6;
  const little = b[tiff] === 0x49 && b[tiff + 1] === 0x49;
  if (!little && !(b[tiff] === 0x4d && b[tiff + 1] === 0x4d)) return 1;
  const r16 = (o: number) => (little ? b[o] | (b[o + 1] << 8) : (b[o] << 8) | b[o + 1]);
  const r32 = (o: number) => (little ? (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 2 ** 24 : b[o] * 2 ** 24 + ((b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]));
  if (r16(tiff + 2) !== 42) return 1;
  const ifd = tiff + r32(tiff + 4);
  if (ifd + 2 > end) return 1;
  const count = r16(ifd);
  if (ifd + 2 + 12 * count > end) return 1;
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + 12 * i;
    // Tag 0x0112 Orientation: type SHORT (3), count 1, the value in the entry's first two bytes.
    if (r16(e) === 0x0112) {
      if (r16(e + 2) !== 3 || r32(e + 4) !== 1) return 1;
      const value = r16(e + 8);
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}

/**
 * What jpeg-js allocates for a frame by its own count (lib/decoder.js: prepareComponents, 256
 * bytes per 8×8 block including the blocks that pad the last MCU; buildComponentData, one byte
 * per sample of the block-aligned plane; getData's interleaved samples and the RGB output), not
 * counting the tables.
 */
function decoderFrameBytes(width: number, height: number, comps: readonly JpegComponent[]): number {
  const maxH = Math.max(...comps.map((c) => c.h));
  const maxV = Math.max(...comps.map((c) => c.v));
  const mcusPerLine = Math.ceil(width / 8 / maxH);
  const mcusPerColumn = Math.ceil(height / 8 / maxV);
  // The RGB output, and the interleaved samples jpeg-js makes before copying them there (getData).
  let total = width * height * 3 + width * height * comps.length;
  for (const c of comps) {
    total += mcusPerColumn * c.v * mcusPerLine * c.h * 256;
    const blocksPerLine = Math.ceil((Math.ceil(width / 8) * c.h) / maxH);
    const blocksPerColumn = Math.ceil((Math.ceil(height / 8) * c.v) / maxV);
    total += blocksPerLine * 8 * blocksPerColumn * 8;
  }
  return total;
}

/**
 * Walks the marker structure and returns the frame and what decoding will take. Refuses, in file
 * order: a missing SOI (IMAGE_FORMAT); a segment running past the end, or the file ending before
 * EOI (IMAGE_TRUNCATED); markers out of place, lengths that disagree with their contents,
 * undefined tables or components, a second frame (JPEG_STRUCTURE); frame types and sample
 * formats not read here (JPEG_UNSUPPORTED); a zero dimension (IMAGE_DIMENSIONS); dimensions or
 * decoder memory past the limits (IMAGE_TOO_LARGE, at the frame header, before anything else).
 */
export function readJpegLayout(bytes: Uint8Array, limits?: Partial<PngLimits>): JpegInfo {
  const lim = resolvePngLimits(limits);
  if (bytes.length < 2 || bytes[0] !== 0xff || bytes[1] !== SOI) {
    fail('jpeg', 'IMAGE_FORMAT', `no JPEG start-of-image marker (0xFFD8) at byte 0: ${describeBytes(bytes)}`, { offset: 0 });
  }
  let frame: { width: number; height: number; components: JpegComponent[]; progressive: boolean; bytes: number } | undefined;
  const dcTables = new Set<number>(), acTables = new Set<number>(), quantTables = new Set<number>();
  let tableBytes = 0;
  let scans = 0;
  let orientation = 0; // 0: no EXIF block seen yet
  let adobeTransform: number | undefined;
  let o = 2;
  for (;;) {
    // A marker: 0xFF, optional 0xFF fill bytes, then its code (B.1.1.2).
    if (o >= bytes.length) truncated(o, 'between segments');
    if (bytes[o] !== 0xff) fail('jpeg', 'JPEG_STRUCTURE', `expected a marker (0xFF), found 0x${bytes[o].toString(16)}`, { offset: o });
    while (o < bytes.length && bytes[o] === 0xff) o++;
    if (o >= bytes.length) truncated(o, 'inside a marker');
    const m = bytes[o++];
    const at = o - 2;
    if (m === EOI) break;
    if (m === 0x00 || m === SOI || (m >= RST0 && m <= RST7) || m === 0x01) {
      fail('jpeg', 'JPEG_STRUCTURE', `marker ${hex(m)} is not allowed between segments`, { offset: at });
    }
    if (o + 2 > bytes.length) truncated(o, `inside the length of segment ${hex(m)}`);
    const length = u16(bytes, o);
    if (length < 2) fail('jpeg', 'JPEG_STRUCTURE', `segment ${hex(m)} has length ${length}, at least 2 is needed`, { offset: o });
    const end = o + length;
    if (end > bytes.length) truncated(at, `inside segment ${hex(m)} (it declares ${length} bytes, ${bytes.length - o} remain)`);
    const body = o + 2;

    if (m === SOF0 || m === SOF1 || m === SOF2) {
      if (frame) fail('jpeg', 'JPEG_STRUCTURE', 'a second frame header (SOF): only single-frame JPEGs exist outside hierarchical mode', { offset: at });
      if (length < 8) fail('jpeg', 'JPEG_STRUCTURE', `frame header length ${length}, at least 8 is needed`, { offset: o });
      const precision = bytes[body];
      const height = u16(bytes, body + 1);
      const width = u16(bytes, body + 3);
      const n = bytes[body + 5];
      if (length !== 8 + 3 * n) fail('jpeg', 'JPEG_STRUCTURE', `frame header length ${length} does not fit its ${n} components (${8 + 3 * n})`, { offset: o });
      if (precision !== 8) fail('jpeg', 'JPEG_UNSUPPORTED', `${precision}-bit samples; only 8-bit JPEGs are read`, { offset: body });
      if (width === 0 || height === 0) {
        fail('jpeg', 'IMAGE_DIMENSIONS', `${width}×${height}: width and height must be at least 1 (a height given later by a DNL marker is not supported)`, { offset: body + 1 });
      }
      if (width > lim.maxWidth || height > lim.maxHeight) {
        fail('jpeg', 'IMAGE_TOO_LARGE', `${width}×${height} exceeds the ${lim.maxWidth}×${lim.maxHeight} limit`, { offset: body + 1 });
      }
      if (width * height > lim.maxPixels) {
        fail('jpeg', 'IMAGE_TOO_LARGE', `${width}×${height} is ${width * height} pixels, the limit is ${lim.maxPixels}`, { offset: body + 1 });
      }
      if (n === 4) fail('jpeg', 'JPEG_UNSUPPORTED', '4 components (CMYK or YCCK): convert the photo to RGB', { offset: body + 5 });
      if (n !== 1 && n !== 3) fail('jpeg', 'JPEG_UNSUPPORTED', `${n} components; only greyscale (1) and colour (3) are read`, { offset: body + 5 });
      const components: JpegComponent[] = [];
      for (let i = 0; i < n; i++) {
        const c = body + 6 + 3 * i;
        const comp = { id: bytes[c], h: bytes[c + 1] >> 4, v: bytes[c + 1] & 15, tq: bytes[c + 2] };
        if (components.some((k) => k.id === comp.id)) fail('jpeg', 'JPEG_STRUCTURE', `component id ${comp.id} appears twice`, { offset: c });
        if (comp.h < 1 || comp.h > 4 || comp.v < 1 || comp.v > 4) fail('jpeg', 'JPEG_STRUCTURE', `component ${comp.id}: sampling factors ${comp.h}×${comp.v}, each must be 1 to 4`, { offset: c + 1 });
        if (comp.tq > 3) fail('jpeg', 'JPEG_STRUCTURE', `component ${comp.id}: quantization table ${comp.tq}, must be 0 to 3`, { offset: c + 2 });
        components.push(comp);
      }
      const need = decoderFrameBytes(width, height, components);
      if (need > lim.maxJpegDecoderBytes) {
        fail('jpeg', 'IMAGE_TOO_LARGE', `${width}×${height} with sampling ${components.map((c) => `${c.h}×${c.v}`).join(', ')} needs ${need} bytes to decode, the limit is ${lim.maxJpegDecoderBytes}`, { offset: body + 1 });
      }
      frame = { width, height, components, progressive: m === SOF2, bytes: need };
    } else if (m in UNSUPPORTED_FRAMES) {
      fail('jpeg', 'JPEG_UNSUPPORTED', `${UNSUPPORTED_FRAMES[m]} JPEG (${hex(m)}); only baseline, extended and progressive Huffman-coded JPEGs are read`, { offset: at });
    } else if (m === DAC || m === DHP || m === EXP) {
      fail('jpeg', 'JPEG_UNSUPPORTED', `${m === DAC ? 'arithmetic coding' : 'hierarchical mode'} (${hex(m)})`, { offset: at });
    } else if (m === DHT) {
      // Tables fill the segment exactly: class/id, 16 code counts, the values (B.2.4.2).
      for (let p = body; p < end;) {
        const tc = bytes[p] >> 4, th = bytes[p] & 15;
        if (tc > 1 || th > 3) fail('jpeg', 'JPEG_STRUCTURE', `Huffman table class ${tc} id ${th}; class must be 0 or 1 and id 0 to 3`, { offset: p });
        if (p + 17 > end) fail('jpeg', 'JPEG_STRUCTURE', 'Huffman table code counts run past the segment', { offset: p });
        let count = 0;
        for (let i = 1; i <= 16; i++) count += bytes[p + i];
        if (count > 256) fail('jpeg', 'JPEG_STRUCTURE', `Huffman table with ${count} codes, at most 256`, { offset: p });
        if (p + 17 + count > end) fail('jpeg', 'JPEG_STRUCTURE', 'Huffman table values run past the segment', { offset: p });
        (tc === 0 ? dcTables : acTables).add(th);
        tableBytes += 16 + count;
        p += 17 + count;
      }
    } else if (m === DQT) {
      for (let p = body; p < end;) {
        const pq = bytes[p] >> 4, tq = bytes[p] & 15;
        if (pq > 1 || tq > 3) fail('jpeg', 'JPEG_STRUCTURE', `quantization table precision ${pq} id ${tq}; precision must be 0 or 1 and id 0 to 3`, { offset: p });
        const size = 1 + 64 * (pq + 1);
        if (p + size > end) fail('jpeg', 'JPEG_STRUCTURE', 'quantization table runs past the segment', { offset: p });
        quantTables.add(tq);
        tableBytes += 256;
        p += size;
      }
    } else if (m === DRI || m === DNL) {
      if (length !== 4) fail('jpeg', 'JPEG_STRUCTURE', `segment ${hex(m)} has length ${length}, should be 4`, { offset: o });
    } else if (m === SOS) {
      if (!frame) fail('jpeg', 'JPEG_STRUCTURE', 'a scan (SOS) before the frame header (SOF)', { offset: at });
      if (++scans > MAX_JPEG_SCANS) fail('jpeg', 'JPEG_STRUCTURE', `more than ${MAX_JPEG_SCANS} scans`, { offset: at });
      const ns = bytes[body];
      if (ns < 1 || ns > 4 || length !== 6 + 2 * ns) fail('jpeg', 'JPEG_STRUCTURE', `scan header length ${length} with ${ns} components (1 to 4, length 6 + 2 × components)`, { offset: o });
      const ss = bytes[body + 1 + 2 * ns], se = bytes[body + 2 + 2 * ns], ah = bytes[body + 3 + 2 * ns] >> 4, al = bytes[body + 3 + 2 * ns] & 15;
      if (frame.progressive) {
        // G.1.1.1.1: DC scans (Ss = Se = 0) may interleave components, AC scans (1 ≤ Ss ≤ Se ≤ 63) carry one.
        if (se > 63 || ss > se || (ss === 0 && se !== 0) || (ss > 0 && ns !== 1) || ah > 13 || al > 13) {
          fail('jpeg', 'JPEG_STRUCTURE', `progressive scan with spectral selection ${ss}–${se}, approximation ${ah}/${al} and ${ns} components`, { offset: body });
        }
      } else if (ss !== 0 || se !== 63 || ah !== 0 || al !== 0) {
        fail('jpeg', 'JPEG_STRUCTURE', `sequential scan with spectral selection ${ss}–${se} and approximation ${ah}/${al} (must be 0–63, 0/0)`, { offset: body });
      }
      const seen = new Set<number>();
      for (let i = 0; i < ns; i++) {
        const c = body + 1 + 2 * i;
        const id = bytes[c], td = bytes[c + 1] >> 4, ta = bytes[c + 1] & 15;
        if (!frame.components.some((k) => k.id === id) || seen.has(id)) fail('jpeg', 'JPEG_STRUCTURE', `scan names component ${id}, which the frame does not have or the scan names twice`, { offset: c });
        seen.add(id);
        // Which tables the scan decodes with: DC first scans need a DC table, AC scans an AC table; refinements of DC need none.
        const needsDc = ss === 0 && (!frame.progressive || ah === 0);
        const needsAc = se > 0;
        if ((needsDc && !dcTables.has(td)) || (needsAc && !acTables.has(ta))) {
          fail('jpeg', 'JPEG_STRUCTURE', `scan uses Huffman table ${needsDc && !dcTables.has(td) ? `DC ${td}` : `AC ${ta}`}, which is not defined before it`, { offset: c + 1 });
        }
      }
      // Entropy-coded data up to the next marker: 0xFF 0x00 is a stuffed 0xFF, 0xFF 0xD0–D7 a restart, 0xFF 0xFF fill.
      let p = end;
      for (;;) {
        if (p >= bytes.length) truncated(p, 'inside the entropy-coded data of a scan');
        if (bytes[p] !== 0xff) { p++; continue; }
        if (p + 1 >= bytes.length) truncated(p, 'inside the entropy-coded data of a scan');
        const next = bytes[p + 1];
        if (next === 0x00 || (next >= RST0 && next <= RST7)) { p += 2; continue; }
        if (next === 0xff) { p++; continue; }
        break;
      }
      o = p;
      continue;
    } else if ((m >= APP0 && m <= APP15) || m === COM) {
      if (m === APP1 && orientation === 0 && bytes[body] === 0x45) orientation = exifOrientation(bytes, body, end);
      if (m === APP14 && length >= 14 && String.fromCharCode(...bytes.subarray(body, body + 6)) === 'Adobe\0') adobeTransform = bytes[body + 11];
    } else {
      fail('jpeg', 'JPEG_STRUCTURE', `unknown or reserved marker ${hex(m)}`, { offset: at });
    }
    o = end;
  }
  if (!frame) fail('jpeg', 'JPEG_STRUCTURE', 'no frame header (SOF) before EOI', { offset: o });
  if (scans === 0) fail('jpeg', 'JPEG_STRUCTURE', 'no scan (SOS) before EOI', { offset: o });
  for (const c of frame.components) {
    if (!quantTables.has(c.tq)) fail('jpeg', 'JPEG_STRUCTURE', `component ${c.id} uses quantization table ${c.tq}, which is never defined`, { offset: o });
  }
  const decoderBytes = frame.bytes + tableBytes;
  if (decoderBytes > lim.maxJpegDecoderBytes) {
    fail('jpeg', 'IMAGE_TOO_LARGE', `decoding needs ${decoderBytes} bytes with the tables, the limit is ${lim.maxJpegDecoderBytes}`, { offset: 0 });
  }
  const { width, height, components, progressive } = frame;
  // libjpeg's rule (jdapimin.c default_decompress_parms): 3 components are RGB when Adobe says
  // "no transform", or when their ids are 'R', 'G', 'B'; otherwise YCbCr.
  const rgbIds = components.length === 3 && components[0].id === 0x52 && components[1].id === 0x47 && components[2].id === 0x42;
  const colour = components.length === 1 ? 'grey' : adobeTransform === 0 || (adobeTransform === undefined && rgbIds) ? 'rgb' : 'ycbcr';
  const turned = orientation >= 5;
  const finalOrientation = orientation || 1;
  const displayWidth = turned ? height : width;
  const displayHeight = turned ? width : height;
  if (displayWidth > lim.maxWidth || displayHeight > lim.maxHeight) {
    fail('jpeg', 'IMAGE_TOO_LARGE', `${displayWidth}×${displayHeight} as shown (EXIF orientation ${finalOrientation}) exceeds the ${lim.maxWidth}×${lim.maxHeight} limit`, { offset: 0 });
  }
  return {
    width, height, components, colour, progressive, scans, orientation: finalOrientation, displayWidth, displayHeight,
    decoderBytes,
  };
}

/**
 * Pixels as shown for an EXIF orientation: `src` is `w × h × c` as stored; the result is
 * `W × H × c` with W, H swapped for orientations 5–8. Per orientation, the stored pixel shown at
 * (x, y) (EXIF 2.3, tag 0x0112: 1 as stored, 2 mirrored, 3 turned 180°, 4 mirrored vertically,
 * 5 transposed, 6 turned 90° clockwise, 7 transversed, 8 turned 90° anticlockwise).
 */
export function applyOrientation(src: Uint8Array, w: number, h: number, c: number, orientation: number): Uint8Array {
  if (orientation <= 1 || orientation > 8) return src;
  const turned = orientation >= 5;
  const W = turned ? h : w, H = turned ? w : h;
  const out = new Uint8Array(src.length);
  // Source column and row for the shown pixel (x, y).
  const at: (x: number, y: number) => number = {
    2: (x: number, y: number) => y * w + (w - 1 - x),
    3: (x: number, y: number) => (h - 1 - y) * w + (w - 1 - x),
    4: (x: number, y: number) => (h - 1 - y) * w + x,
    5: (x: number, y: number) => x * w + y,
    6: (x: number, y: number) => (h - 1 - x) * w + y,
    7: (x: number, y: number) => (h - 1 - x) * w + (w - 1 - y),
    8: (x: number, y: number) => x * w + (w - 1 - y),
  }[orientation]!;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const s = at(x, y) * c, d = (y * W + x) * c;
      for (let k = 0; k < c; k++) out[d + k] = src[s + k];
    }
  }
  return out;
}

/**
 * Decodes a baseline, extended or progressive JPEG to 8-bit samples as shown (EXIF orientation
 * applied): 1 channel for greyscale, 3 (RGB) for colour. Limits default to W, H ≤ 16,384, ≤ 2^26
 * pixels and the decoder memory of `maxJpegDecoderBytes`. Throws only FreqregError.
 */
export function decodeJpeg(bytes: Uint8Array, limits?: Partial<PngLimits>): DecodedPng {
  if (!(bytes instanceof Uint8Array)) fail('jpeg', 'IMAGE_FORMAT', `expected the file's bytes as a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`);
  const lim = resolvePngLimits(limits);
  const info = readJpegLayout(bytes, lim);
  let rgb: Uint8Array;
  try {
    const out = jpegJsDecode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      colorTransform: info.colour === 'ycbcr',
      tolerantDecoding: true,
      // Backstops: the header walk above has already checked both.
      maxResolutionInMP: (lim.maxPixels + 1) / 1e6, // + 1: the division must not round the limit below maxPixels
      maxMemoryUsageInMB: info.decoderBytes / 2 ** 20,
    });
    if (out.width !== info.width || out.height !== info.height || out.data.length !== info.width * info.height * 3) {
      fail('jpeg', 'INTERNAL', `the decoder returned ${out.width}×${out.height} (${out.data.length} samples) for a ${info.width}×${info.height} frame`);
    }
    rgb = out.data;
  } catch (e) {
    if (e instanceof FreqregError) throw e;
    if (e instanceof RangeError && /allocation failed|out of memory|Array buffer allocation/i.test(e.message)) fail('jpeg', 'OUT_OF_MEMORY', e.message);
    const message = e instanceof Error ? e.message : String(e);
    // The decoder's own caps firing means this reader let through what it should have refused: a bug here.
    if (/maxMemoryUsageInMB|maxResolutionInMP/.test(message)) fail('jpeg', 'INTERNAL', `the decoder's cap fired after the header check passed: ${message}`);
    // Anything else is the compressed data failing to decode (bad Huffman codes, a marker inside a scan…).
    fail('jpeg', 'JPEG_DATA', `decoder: ${message}`);
  }
  let data = rgb;
  let channels: 1 | 3 = 3;
  if (info.colour === 'grey') {
    // jpeg-js repeats grey to RGB; keep one sample per pixel.
    data = new Uint8Array(info.width * info.height);
    for (let p = 0; p < data.length; p++) data[p] = rgb[3 * p];
    channels = 1;
  }
  data = applyOrientation(data, info.width, info.height, channels, info.orientation);
  return { data, width: info.displayWidth, height: info.displayHeight, channels, bitDepth: 8 };
}
