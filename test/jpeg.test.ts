/**
 * JPEG input: the decoder against libjpeg-turbo's (the files in test/fixtures/jpeg/, made by
 * scripts/make-jpeg-fixtures.mjs), baseline, progressive, restart markers, 4:2:0, greyscale and RGB
 * files; EXIF orientation against an oracle built from flips and quarter turns; `decodeImage`
 * picking the format by magic; and the refusals, each with its code, catalogue style: a 69-byte
 * file declaring 65535×65535, every truncation of a real file, unsupported variants, broken
 * structure, the scan and memory caps.
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FreqregError, type ErrorCode } from '../src/errors.js';
import { decodeImage as decodeImagePortable, decodePng as decodePngPortable } from '../src/image/png-fflate.js';
import { decodeJpeg, MAX_JPEG_SCANS, readJpegLayout } from '../src/image/jpeg.js';
import { decodeImage, decodePng, encodeRgbPng } from '../src/node/png.js';
import { PACKAGE_ROOT, rng } from './helpers.js';
import { encodeJpeg, exifBody, joinJpeg, segment, sofBody, splitJpeg, withOrientation, type Segment } from './support/jpeg-builder.js';
import { bytesOf, concat } from './support/writers.js';

const DIR = join(PACKAGE_ROOT, 'test', 'fixtures', 'jpeg');
const file = (name: string) => new Uint8Array(readFileSync(join(DIR, name)));

/**
 * Largest difference from libjpeg-turbo's decode of the same file (djpeg -dct int): jpeg-js has
 * its own integer IDCT (Loeffler, 12-bit constants) and its own YCbCr → RGB rounding; 3 levels of
 * 255 is what they leave apart on colour, 1 on grey (no colour conversion).
 */
const TOL_VS_LIBJPEG_COLOUR = 3;
const TOL_VS_LIBJPEG_GREY = 1;
/** Mean difference from libjpeg-turbo: rounding only, well under one level. */
const TOL_VS_LIBJPEG_MEAN = 1;
/** A refusal at the frame header costs microseconds; 1 ms leaves room for a shared, loaded machine. */
const MAX_HEADER_REFUSAL_US = 1000;

/** A binary PPM (P6) or PGM (P5), as djpeg writes them. */
function readPnm(name: string): { data: Uint8Array; width: number; height: number; channels: number } {
  const b = file(name);
  const head = /^P([56])\s+(\d+)\s+(\d+)\s+255\s/.exec(String.fromCharCode(...b.subarray(0, 32)))!;
  return { data: b.subarray(head[0].length), width: Number(head[2]), height: Number(head[3]), channels: head[1] === '6' ? 3 : 1 };
}

function diff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; mean: number; first: string } {
  let max = 0, sum = 0;
  let first = '';
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    if (e > max) { max = e; first = `sample ${i}: ${a[i]} vs ${b[i]}`; }
    sum += e;
  }
  return { max, mean: sum / a.length, first };
}

function codeOf(run: () => unknown): string {
  try {
    run();
    return 'OK';
  } catch (e) {
    return e instanceof FreqregError ? e.code : `escaped ${(e as Error)?.name}: ${(e as Error)?.message}`;
  }
}

/** `decodeImage` in Node and in the portable core refuse `bytes` with `code`. */
function refuses(t: Test, code: ErrorCode, bytes: Uint8Array, label: string, limits?: Parameters<typeof decodeImage>[1]): void {
  t.equal(codeOf(() => decodeImage(bytes, limits)), code, `${label} → ${code}`);
  t.equal(codeOf(() => decodeImagePortable(bytes, limits)), code, `${label} → ${code} (portable)`);
}

/** A smooth 8-bit RGB test image with hard edges, w × h. */
function picture(w: number, h: number, seed = 1): { data: Uint8Array; width: number; height: number; channels: 3 } {
  const rand = rng(seed);
  const phase = rand() * 6;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      data[o] = Math.round(127 + 120 * Math.sin(x / 3 + phase));
      data[o + 1] = Math.round((255 * y) / Math.max(1, h - 1));
      data[o + 2] = x > w / 2 ? 220 : 30;
    }
  }
  return { data, width: w, height: h, channels: 3 };
}

t.test('against libjpeg-turbo: baseline, progressive, restart markers, 4:2:0, greyscale, RGB', async (t) => {
  const cases: [string, string, 'ycbcr' | 'grey' | 'rgb', boolean][] = [
    ['baseline.jpg', 'baseline.djpeg.ppm', 'ycbcr', false],
    ['progressive.jpg', 'baseline.djpeg.ppm', 'ycbcr', true],
    ['restart.jpg', 'baseline.djpeg.ppm', 'ycbcr', false],
    ['subsampled.jpg', 'subsampled.djpeg.ppm', 'ycbcr', false],
    ['subsampled-progressive.jpg', 'subsampled.djpeg.ppm', 'ycbcr', true],
    ['grey.jpg', 'grey.djpeg.pgm', 'grey', false],
    ['grey-progressive.jpg', 'grey.djpeg.pgm', 'grey', true],
    ['rgb.jpg', 'rgb.djpeg.ppm', 'rgb', false],
  ];
  for (const [name, ref, colour, progressive] of cases) {
    const bytes = file(name);
    const info = readJpegLayout(bytes);
    t.same([info.colour, info.progressive], [colour, progressive], `${name}: ${colour}, ${progressive ? 'progressive' : 'sequential'} (${info.scans} scans)`);
    const got = decodeImage(bytes);
    const want = readPnm(ref);
    t.same([got.width, got.height, got.channels, got.bitDepth], [want.width, want.height, want.channels, 8], `${name}: ${want.width}×${want.height}, ${want.channels} channel(s), 8-bit`);
    const d = diff(got.data, want.data);
    const tol = colour === 'grey' ? TOL_VS_LIBJPEG_GREY : TOL_VS_LIBJPEG_COLOUR;
    t.ok(d.max <= tol && d.mean < TOL_VS_LIBJPEG_MEAN, `${name}: within ${tol} of libjpeg-turbo (largest ${d.max} at ${d.first}, mean ${d.mean.toFixed(3)})`);
  }
  // jpegtran rewrites the same coefficients: progressive and restart files decode to the very same pixels.
  const base = decodeImage(file('baseline.jpg')).data;
  for (const name of ['progressive.jpg', 'restart.jpg']) t.same(decodeImage(file(name)).data, base, `${name}: the same pixels as baseline.jpg`);
  t.same(decodeImage(file('subsampled-progressive.jpg')).data, decodeImage(file('subsampled.jpg')).data, 'progressive 4:2:0: the same pixels as its baseline');
  t.same(decodeImage(file('grey-progressive.jpg')).data, decodeImage(file('grey.jpg')).data, 'progressive grey: the same pixels as its baseline');
  t.equal(codeOf(() => decodeImage(file('arithmetic.jpg'))), 'JPEG_UNSUPPORTED', 'arithmetic coding (jpegtran -arithmetic) → JPEG_UNSUPPORTED');
});

t.test('jpeg-js encodes, freqreg decodes: sizes around the 8×8 block and the 16×16 MCU', async (t) => {
  for (const [w, h] of [[1, 1], [7, 9], [8, 8], [16, 16], [17, 15], [33, 47], [64, 3]]) {
    const img = picture(w, h, w * 100 + h);
    const got = decodeImage(encodeJpeg(img, 95));
    t.same([got.width, got.height, got.channels], [w, h, 3], `${w}×${h}: RGB at its size`);
    const d = diff(got.data, img.data);
    // Quality 95 keeps a smooth picture within a few levels; the hard edge rings up to ~30.
    t.ok(d.mean < 3 && d.max < 64, `${w}×${h}: close to the picture (mean ${d.mean.toFixed(2)}, largest ${d.max})`);
    t.same(decodeImagePortable(encodeJpeg(img, 95)).data, got.data, `${w}×${h}: the portable core decodes the same pixels`);
  }
});

t.test('EXIF orientation 1–8 is applied, in both byte orders; a broken EXIF block is ignored', async (t) => {
  // Oracle: the EXIF descriptions as flips and clockwise quarter turns of the stored picture.
  type Img = { data: Uint8Array; width: number; height: number };
  const flipX = (a: Img): Img => {
    const out = new Uint8Array(a.data.length);
    for (let y = 0; y < a.height; y++) for (let x = 0; x < a.width; x++) out.set(a.data.subarray((y * a.width + (a.width - 1 - x)) * 3, (y * a.width + (a.width - 1 - x)) * 3 + 3), (y * a.width + x) * 3);
    return { data: out, width: a.width, height: a.height };
  };
  const turn = (a: Img): Img => { // 90° clockwise: the stored left column, bottom up, becomes the top row
    const W = a.height, H = a.width;
    const out = new Uint8Array(a.data.length);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) { const s = ((a.height - 1 - x) * a.width + y) * 3; out.set(a.data.subarray(s, s + 3), (y * W + x) * 3); }
    return { data: out, width: W, height: H };
  };
  const turns = (a: Img, n: number): Img => (n === 0 ? a : turns(turn(a), n - 1));
  const shown: Record<number, (a: Img) => Img> = {
    1: (a) => a, 2: flipX, 3: (a) => turns(a, 2), 4: (a) => turns(flipX(a), 2),
    5: (a) => turns(flipX(a), 3), 6: (a) => turns(a, 1), 7: (a) => turns(flipX(a), 1), 8: (a) => turns(a, 3),
  };
  const jpg = encodeJpeg(picture(23, 14, 9), 90);
  const stored = decodeImage(jpg) as Img; // 8-bit: a JPEG's samples
  for (const little of [true, false]) {
    for (let o = 1; o <= 8; o++) {
      const got = decodeImage(withOrientation(jpg, o, little));
      const want = shown[o](stored);
      t.same([got.width, got.height], [want.width, want.height], `orientation ${o} (${little ? 'II' : 'MM'}): ${want.width}×${want.height}`);
      t.ok(Buffer.from(got.data).equals(Buffer.from(want.data)), `orientation ${o} (${little ? 'II' : 'MM'}): pixels as shown`);
    }
  }
  const grey = decodeImage(withOrientation(file('grey.jpg'), 6));
  t.same([grey.width, grey.height, grey.channels], [27, 41, 1], 'greyscale, orientation 6: 27×41, one channel');
  const broken: [string, Uint8Array][] = [
    ['orientation 9', withOrientation(jpg, 9)],
    ['orientation 0', withOrientation(jpg, 0)],
    ['IFD0 offset past the block', concat(jpg.subarray(0, 2), segment(0xe1, (() => { const b = exifBody([{ tag: 0x0112, type: 3, count: 1, value: 6 }], true); b[10] = 0xff; return b; })()), jpg.subarray(2))],
    ['orientation as a LONG', concat(jpg.subarray(0, 2), segment(0xe1, exifBody([{ tag: 0x0112, type: 4, count: 1, value: 6 }], true)), jpg.subarray(2))],
    ['entry count past the block', concat(jpg.subarray(0, 2), segment(0xe1, (() => { const b = exifBody([{ tag: 0x0112, type: 3, count: 1, value: 6 }], true); b[14] = 0xff; b[15] = 0xff; return b; })()), jpg.subarray(2))],
    ['not TIFF', concat(jpg.subarray(0, 2), segment(0xe1, bytesOf('Exif\0\0XX*\0\x08\0\0\0')), jpg.subarray(2))],
  ];
  for (const [label, bytes] of broken) {
    t.equal(readJpegLayout(bytes).orientation, 1, `${label}: taken as stored`);
    t.same(decodeImage(bytes).data, stored.data, `${label}: pixels as stored`);
  }
});

t.test('decodeImage picks the decoder by magic, not by name', async (t) => {
  const rgb = picture(20, 18, 3);
  const png = encodeRgbPng(rgb.data, 20, 18);
  t.same(decodeImage(png), decodePng(png), 'a PNG: decodePng\'s result');
  t.same(decodeImagePortable(png), decodePngPortable(png), 'a PNG (portable): decodePng\'s result');
  const jpg = encodeJpeg(rgb, 95);
  t.same(decodeImage(jpg), decodeJpeg(jpg), 'a JPEG: decodeJpeg\'s result');
  const others: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)], ['GIF', bytesOf('GIF89a\x01\x00\x01\x00\x00\x00\x00;')], ['HTML', bytesOf('<!doctype html><p>404')],
    ['WebP', bytesOf('RIFF\x10\0\0\0WEBPVP8 ')], ['HEIC', bytesOf('\0\0\0\x18ftypheic\0\0\0\0')], ['BMP', bytesOf('BM\x36\0\0\0')],
    ['SOI alone', Uint8Array.of(0xff, 0xd8)], ['PNG signature, 7 bytes', png.subarray(0, 7)],
  ];
  for (const [label, bytes] of others) {
    refuses(t, 'IMAGE_FORMAT', bytes, label);
  }
  const e = (() => { try { decodeImage(others[3][1]); } catch (x) { return x as FreqregError; } return undefined; })();
  t.match(e?.message, /WebP/, 'the message names what it looks like');
  t.equal(codeOf(() => decodeImage('not bytes' as unknown as Uint8Array)), 'IMAGE_FORMAT', 'a string, not bytes');
});

// ---------------------------------------------------------------------------------------------
// Refusals

/** A hand-made frame: SOI, DQT, SOF0 (given body), DHT (one DC and one AC table), SOS, a few bytes of scan, EOI. */
function crafted(sof: number[], sofMarker = 0xc0): Uint8Array {
  const dqt = segment(0xdb, [0x00, ...new Array(64).fill(1)]);
  const dht = segment(0xc4, [0x00, 0, 1, ...new Array(14).fill(0), 0, 0x10, 0, 1, ...new Array(14).fill(0), 0]);
  const n = sof[5];
  const sos = segment(0xda, [n, ...Array.from({ length: n }, (_, i) => [sof[6 + 3 * i], 0x00]).flat(), 0, 63, 0]);
  return concat(Uint8Array.of(0xff, 0xd8), dqt, segment(sofMarker, sof), dht, sos, Uint8Array.of(0, 0, 0, 0), Uint8Array.of(0xff, 0xd9));
}

t.test('a 69-byte JPEG declaring 65535×65535 is refused in microseconds, before any allocation', async (t) => {
  // SOI, SOF0 (3 components), a comment padding it to 69 bytes, EOI: the header is all there is.
  const head = concat(Uint8Array.of(0xff, 0xd8), segment(0xc0, sofBody(65535, 65535, [[1, 0x22, 0], [2, 0x11, 1], [3, 0x11, 1]])));
  const bomb = concat(head, segment(0xfe, new Array(69 - head.length - 4 - 2).fill(0x20)), Uint8Array.of(0xff, 0xd9));
  t.equal(bomb.length, 69, '69 bytes');
  refuses(t, 'IMAGE_TOO_LARGE', bomb, '65535×65535');
  for (let i = 0; i < 200; i++) codeOf(() => decodeImage(bomb)); // warm up
  const before = process.memoryUsage().arrayBuffers;
  const runs = 2000;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) codeOf(() => decodeImage(bomb));
  const us = ((performance.now() - t0) * 1000) / runs;
  // Refused from the frame header (about 30 µs here, on a loaded machine): far below the ms that
  // even a 1-Mpx decode takes; decoding this frame would need about 45 GB.
  t.ok(us < MAX_HEADER_REFUSAL_US, `${us.toFixed(1)} µs per refusal`);
  t.ok(process.memoryUsage().arrayBuffers - before < 1 << 20, 'no buffer allocated for it');
  // Within each limit on its own: width, height, pixels, and the decoder's memory.
  refuses(t, 'IMAGE_TOO_LARGE', crafted(sofBody(1000, 16, [[1, 0x11, 0]])), '1000 wide, limit 999', { maxWidth: 999 });
  refuses(t, 'IMAGE_TOO_LARGE', crafted(sofBody(16, 1000, [[1, 0x11, 0]])), '1000 tall, limit 999', { maxHeight: 999 });
  refuses(t, 'IMAGE_TOO_LARGE', crafted(sofBody(300, 300, [[1, 0x11, 0]])), '90,000 pixels, limit 2^16', { maxPixels: 65536 });
  const photo = encodeJpeg(picture(64, 48), 90);
  const need = readJpegLayout(photo).decoderBytes;
  t.equal(codeOf(() => decodeImage(photo, { maxJpegDecoderBytes: need })), 'OK', `decoder memory ${need} bytes, limit ${need}: decoded`);
  refuses(t, 'IMAGE_TOO_LARGE', photo, `decoder memory ${need} bytes, limit ${need - 1}`, { maxJpegDecoderBytes: need - 1 });
  // EXIF turning a 20×10 frame to 10×20 is checked as shown too.
  refuses(t, 'IMAGE_TOO_LARGE', withOrientation(encodeJpeg(picture(20, 10), 90), 6), '20×10 shown as 10×20, limit 19 tall', { maxHeight: 19 });
});

t.test('every truncation of a real file is IMAGE_TRUNCATED', async (t) => {
  for (const name of ['baseline.jpg', 'progressive.jpg', 'restart.jpg']) {
    const bytes = file(name);
    const wrong: string[] = [];
    for (let n = 3; n < bytes.length; n++) {
      const code = codeOf(() => decodeImage(bytes.subarray(0, n)));
      if (code !== 'IMAGE_TRUNCATED') wrong.push(`${n}: ${code}`);
    }
    t.same(wrong, [], `${name}: each of its ${bytes.length - 3} prefixes from SOI and a marker byte on`);
  }
});

t.test('unsupported variants: JPEG_UNSUPPORTED', async (t) => {
  refuses(t, 'JPEG_UNSUPPORTED', crafted(sofBody(16, 16, [[1, 0x11, 0], [2, 0x11, 0], [3, 0x11, 0], [4, 0x11, 0]])), 'CMYK (4 components)');
  refuses(t, 'JPEG_UNSUPPORTED', crafted(sofBody(16, 16, [[1, 0x11, 0], [2, 0x11, 0]])), '2 components');
  refuses(t, 'JPEG_UNSUPPORTED', crafted(sofBody(16, 16, [[1, 0x11, 0]], 12)), '12-bit samples');
  for (const [m, what] of [[0xc3, 'lossless'], [0xc5, 'hierarchical'], [0xc9, 'arithmetic'], [0xcb, 'arithmetic lossless']] as const) {
    refuses(t, 'JPEG_UNSUPPORTED', crafted(sofBody(16, 16, [[1, 0x11, 0]]), m), `${what} (0xFF${m.toString(16).toUpperCase()})`);
  }
});

t.test('broken structure: JPEG_STRUCTURE, IMAGE_DIMENSIONS, JPEG_DATA', async (t) => {
  const good = encodeJpeg(picture(24, 16), 90);
  const segs = splitJpeg(good);
  const edit = (f: (s: Segment[]) => Segment[]) => joinJpeg(f(segs.map((s) => ({ ...s, body: s.body.slice(), scan: s.scan?.slice() }))));
  const at = (m: number) => segs.findIndex((s) => s.marker === m);
  t.equal(codeOf(() => decodeImage(joinJpeg(segs))), 'OK', 'control: split and joined again, decodes');
  refuses(t, 'IMAGE_DIMENSIONS', crafted(sofBody(0, 16, [[1, 0x11, 0]])), 'width 0');
  refuses(t, 'IMAGE_DIMENSIONS', crafted(sofBody(16, 0, [[1, 0x11, 0]])), 'height 0 (DNL)');
  refuses(t, 'JPEG_STRUCTURE', edit((s) => { s.splice(at(0xc0), 0, s[at(0xc0)]); return s; }), 'two frame headers');
  refuses(t, 'JPEG_STRUCTURE', edit((s) => { const [sos] = s.splice(at(0xda), 1); s.splice(at(0xc0), 0, sos); return s; }), 'a scan before the frame');
  refuses(t, 'JPEG_STRUCTURE', edit((s) => s.filter((x) => x.marker !== 0xc4)), 'no Huffman tables');
  refuses(t, 'JPEG_STRUCTURE', edit((s) => s.filter((x) => x.marker !== 0xdb)), 'no quantization tables');
  refuses(t, 'JPEG_STRUCTURE', edit((s) => s.filter((x) => x.marker !== 0xda)), 'no scan');
  refuses(t, 'JPEG_STRUCTURE', edit((s) => s.filter((x) => x.marker !== 0xc0 && x.marker !== 0xda)), 'no frame');
  refuses(t, 'JPEG_STRUCTURE', edit((s) => { const b = s[at(0xc0)].body; b[6] = b[9]; return s; }), 'a component id twice');
  refuses(t, 'JPEG_STRUCTURE', edit((s) => { s[at(0xc0)].body[7] = 0x51; return s; }), 'sampling factor 5');
  refuses(t, 'JPEG_STRUCTURE', edit((s) => { s[at(0xda)].body[1] = 9; return s; }), 'a scan naming a component the frame lacks');
  refuses(t, 'JPEG_STRUCTURE', edit((s) => { s[at(0xda)].body[2] = 0x33; return s; }), 'a scan using Huffman tables 3, undefined');
  refuses(t, 'JPEG_STRUCTURE', edit((s) => { const b = s[at(0xda)].body; b[b.length - 2] = 40; return s; }), 'a sequential scan ending at coefficient 40');
  refuses(t, 'JPEG_STRUCTURE', edit((s) => { s[at(0xc0)].body = s[at(0xc0)].body.subarray(0, 14); return s; }), 'a frame header shorter than its components');
  refuses(t, 'JPEG_STRUCTURE', edit((s) => { s[at(0xc4)].body[0] = 0x24; return s; }), 'a Huffman table of class 2');
  refuses(t, 'JPEG_STRUCTURE', edit((s) => { s[at(0xdb)].body[0] = 0x27; return s; }), 'a quantization table of precision 2');
  refuses(t, 'JPEG_STRUCTURE', edit((s) => { s.splice(1, 0, { marker: 0xdd, body: Uint8Array.of(0, 1, 2) }); return s; }), 'a restart interval segment of length 5');
  refuses(t, 'JPEG_STRUCTURE', edit((s) => { s.splice(1, 0, { marker: 0xf3, body: Uint8Array.of(0) }); return s; }), 'a reserved marker (0xFFF3)');
  const firstEnd = 4 + ((good[4] << 8) | good[5]); // SOI, then the first segment (APP0)
  refuses(t, 'JPEG_STRUCTURE', concat(good.subarray(0, firstEnd), Uint8Array.of(0x00, 0x10), good.subarray(firstEnd)), 'no 0xFF where a marker belongs');
  refuses(t, 'JPEG_STRUCTURE', concat(good.subarray(0, 2), Uint8Array.of(0xff, 0xd0), good.subarray(2)), 'a restart marker between segments');
  refuses(t, 'JPEG_STRUCTURE', concat(good.subarray(0, 2), Uint8Array.of(0xff, 0xe0, 0x00, 0x01), good.subarray(2)), 'a segment length of 1');
  refuses(t, 'IMAGE_TRUNCATED', concat(good.subarray(0, 2), Uint8Array.of(0xff, 0xe0, 0xff, 0xff), good.subarray(2)), 'a segment longer than the file');
  // More scans than the cap: each would be a pass over every block. Empty DC refinement scans of a progressive file.
  const prog = splitJpeg(file('progressive.jpg'));
  const refine = { marker: 0xda, body: Uint8Array.of(1, 1, 0x00, 0, 0, 0x10), scan: new Uint8Array(0) };
  const many = (n: number) => joinJpeg([...prog, ...new Array<Segment>(n).fill(refine)]);
  t.equal(readJpegLayout(file('progressive.jpg')).scans, 10, 'progressive.jpg has 10 scans');
  refuses(t, 'JPEG_STRUCTURE', many(MAX_JPEG_SCANS - 9), `${MAX_JPEG_SCANS + 1} scans`);
  t.equal(readJpegLayout(many(MAX_JPEG_SCANS - 10)).scans, MAX_JPEG_SCANS, `${MAX_JPEG_SCANS} scans pass the structure check`);
  // Corrupt entropy-coded data: a marker in the middle of the scan, or bytes that are no Huffman code.
  const scan = segs[at(0xda)].scan!;
  refuses(t, 'JPEG_DATA', edit((s) => { s[at(0xda)].scan = scan.subarray(0, scan.length >> 1); return s; }), 'a scan cut in half, then EOI');
  const rand = rng(4);
  const outcomes = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const noisy = edit((s) => { const d = scan.slice(); for (let k = 0; k < 4; k++) d[Math.floor(rand() * d.length)] = Math.floor(rand() * 255); s[at(0xda)].scan = d; return s; });
    const code = codeOf(() => decodeImage(noisy));
    outcomes.add(code);
  }
  t.ok([...outcomes].every((c) => c === 'OK' || c === 'JPEG_DATA' || c === 'IMAGE_TRUNCATED' || c === 'JPEG_STRUCTURE'), `200 scans with 4 random bytes: ${[...outcomes].join(', ')}, never an escaped error`);
});
