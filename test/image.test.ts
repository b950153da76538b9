/**
 * PNG checks and decoding, dice, the report panel and page, and the progress line.
 *
 * Crafted PNGs are built by a test-side writer (test/support/png-builder.ts: CRC from node:zlib,
 * its own bit packer, filters and Adam7 split), so the decoder is not checked against itself;
 * pngjs decodes the same files as an independent oracle.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 as zcrc32, deflateSync } from 'node:zlib';
import pngjs from 'pngjs';
import { FreqregError, type ErrorCode } from '../src/errors.js';
import { decodePng, encodeGreyPng, encodePng, encodeRgbPng, inspectPng } from '../src/node/png.js';
import { dice, maskFromGrey, maskToGrey, meanDice } from '../src/metrics.js';
import { PANEL_GAP, panelPng, panelSize, reportHtml, writeReport, escapeHtml } from '../src/node/report.js';
import { Progress, formatDuration } from '../src/node/progress.js';
import { rng, upstreamDir } from './helpers.js';
import { IEND, SIG, be32, cat, chunk, ihdr, makePngCase as makeCase, png, validRgb, zeroRows } from './support/png-builder.js';
import { adler32Bitwise } from './support/checksums.js';
import { decodePng as decodePngPortable } from '../src/image/png-fflate.js';

const { PNG } = pngjs;

/** reference.json stores float32 dice; `dice` emulates PyTorch's float32 steps, so it is exact. The brief's bound: */
const TOL_DICE = 1e-6;

/** Asserts `fn` throws a FreqregError with `code`. */
function throwsCode(t: Test, fn: () => unknown, code: ErrorCode, msg: string): void {
  try {
    fn();
    t.fail(`${msg}: expected ${code}, nothing thrown`);
  } catch (e) {
    if (!(e instanceof FreqregError)) {
      t.fail(`${msg}: expected FreqregError ${code}, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
      return;
    }
    t.equal(e.code, code, `${msg} → ${code} (${e.message})`);
  }
}

/** Decode and (for faults found before inflating) inspect both refuse with `code`. */
function refuses(t: Test, bytes: Uint8Array, code: ErrorCode, msg: string, inspectToo = true): void {
  throwsCode(t, () => decodePng(bytes), code, `decode: ${msg}`);
  if (inspectToo) throwsCode(t, () => inspectPng(bytes), code, `inspect: ${msg}`);
}

// ---------------------------------------------------------------------------------------------
// Header and structure checks

t.test('not a PNG → NOT_PNG', async (t) => {
  const cases: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['7 bytes of the signature', Uint8Array.from(SIG.slice(0, 7))],
    ['JPEG', Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 74, 70, 73, 70, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0])],
    ['GIF', Uint8Array.from(Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1'))],
    ['HTML', Uint8Array.from(Buffer.from('<!doctype html><html><body>404</body></html>'))],
    ['CR-LF mangled signature', cat(SIG.slice(0, 4), [0x0d, 0x0d, 0x0a, 0x1a, 0x0a], ...validRgb())],
    ['LF→CRLF lost', cat(SIG.slice(0, 4), [0x0a, 0x1a, 0x0a], ...validRgb())],
  ];
  for (const [name, bytes] of cases) refuses(t, bytes, 'NOT_PNG', name);
  try { decodePng(Uint8Array.from([0xff, 0xd8, 0xff, 0, 0, 0, 0, 0])); } catch (e) {
    t.match((e as Error).message, /byte 0 is 255, should be 137 \(it looks like a JPEG\)/, 'the message says what was expected and where');
  }
});

t.test('dimension bombs are refused from the 33-byte IHDR, before anything is allocated', async (t) => {
  for (const [w, h, colorType] of [[20000, 20000, 6], [60000, 60000, 6], [16384, 16384, 2], [1, 16385, 0], [2 ** 31 - 1, 1, 0]]) {
    const bytes = png(ihdr({ width: w, height: h, colorType }), chunk('IDAT', deflateSync(new Uint8Array(4))), IEND);
    const t0 = performance.now();
    refuses(t, bytes, 'IMAGE_TOO_LARGE', `${w}×${h} type ${colorType} in ${bytes.length} bytes`);
    t.ok(performance.now() - t0 < 250, `refused fast (${(performance.now() - t0).toFixed(1)} ms)`);
  }
  const bomb = png(ihdr({ width: 20000, height: 20000, colorType: 6 }), chunk('IDAT', deflateSync(new Uint8Array(4))), IEND);
  t.ok(bomb.length < 70, `the bomb is ${bomb.length} bytes`);
  // Configurable limits
  const small = png(...validRgb(40, 30));
  throwsCode(t, () => decodePng(small, { maxPixels: 1000 }), 'IMAGE_TOO_LARGE', '40×30 with maxPixels 1000');
  throwsCode(t, () => decodePng(small, { maxWidth: 39 }), 'IMAGE_TOO_LARGE', '40×30 with maxWidth 39');
  throwsCode(t, () => decodePng(small, { maxHeight: 29 }), 'IMAGE_TOO_LARGE', '40×30 with maxHeight 29');
  t.equal(decodePng(small, { maxPixels: 1200, maxWidth: 40, maxHeight: 30 }).width, 40, 'exactly at the limits is accepted');
  // A big image is fine when allowed
  const wide = png(ihdr({ width: 20000, height: 1, colorType: 0 }), chunk('IDAT', deflateSync(zeroRows(20000, 1, 8))), IEND);
  t.equal(decodePng(wide, { maxWidth: 20000 }).data.length, 20000, '20000×1 with maxWidth 20000');
}, );

t.test('zero or out-of-range dimensions → IMAGE_DIMENSIONS', async (t) => {
  for (const [w, h] of [[0, 10], [10, 0], [0, 0], [2 ** 31, 1], [1, 2 ** 32 - 1]]) {
    refuses(t, png(ihdr({ width: w, height: h }), chunk('IDAT', deflateSync(new Uint8Array(1))), IEND), 'IMAGE_DIMENSIONS', `${w}×${h}`);
  }
});

t.test('IHDR faults → PNG_HEADER or PNG_CRC', async (t) => {
  const good = png(...validRgb());
  const badCrc = good.slice();
  badCrc[29] ^= 1;
  refuses(t, badCrc, 'PNG_CRC', 'IHDR CRC byte flipped');
  const badField = good.slice();
  badField[17] ^= 1; // width changed, CRC left
  refuses(t, badField, 'PNG_CRC', 'IHDR width byte flipped (xhdn0g08-like)');

  const illegal: [number, number][] = [[2, 1], [2, 2], [2, 4], [3, 16], [4, 1], [4, 2], [4, 4], [6, 1], [6, 2], [6, 4], [0, 3], [0, 32], [1, 8], [5, 8], [7, 8]];
  for (const [colorType, depth] of illegal) {
    refuses(t, png(ihdr({ width: 4, height: 3, colorType, depth }), chunk('IDAT', deflateSync(new Uint8Array(64))), IEND), 'PNG_HEADER', `colour type ${colorType} depth ${depth}`);
  }
  refuses(t, png(ihdr({ width: 4, height: 3, compression: 1 }), ...validRgb().slice(1)), 'PNG_HEADER', 'compression method 1');
  refuses(t, png(ihdr({ width: 4, height: 3, filter: 1 }), ...validRgb().slice(1)), 'PNG_HEADER', 'filter method 1');
  refuses(t, png(ihdr({ width: 4, height: 3, interlace: 2 }), ...validRgb().slice(1)), 'PNG_HEADER', 'interlace method 2');
  refuses(t, png(chunk('IHDR', [...be32(4), ...be32(3), 8, 2, 0, 0, 0, 0]), ...validRgb().slice(1)), 'PNG_HEADER', 'IHDR length 14');
  refuses(t, png(chunk('tEXt', [65, 0, 66]), ...validRgb()), 'PNG_HEADER', 'first chunk is not IHDR');
  refuses(t, Uint8Array.from(SIG), 'PNG_HEADER', 'signature only');
  refuses(t, good.subarray(0, 30), 'PNG_HEADER', 'file ends inside IHDR');
});

t.test('chunk structure faults → PNG_STRUCTURE or PNG_CRC', async (t) => {
  const [h, idat] = validRgb();
  const cases: [string, Uint8Array, ErrorCode][] = [
    ['data after IEND', cat(png(h, idat, IEND), [0]), 'PNG_STRUCTURE'],
    ['a chunk after IEND', png(h, idat, IEND, chunk('tEXt', [65, 0, 66])), 'PNG_STRUCTURE'],
    ['no IEND', png(h, idat), 'PNG_STRUCTURE'],
    ['IEND cut short', png(h, idat, IEND.subarray(0, 8)), 'PNG_STRUCTURE'],
    ['IEND with data', png(h, idat, chunk('IEND', [0])), 'PNG_STRUCTURE'],
    ['second IHDR', png(h, h, idat, IEND), 'PNG_STRUCTURE'],
    ['no IDAT (xdtn0g01-like)', png(h, IEND), 'PNG_STRUCTURE'],
    ['IDAT not consecutive', png(h, chunk('IDAT', idat.subarray(8, 12)), chunk('tEXt', [65, 0, 66]), chunk('IDAT', idat.subarray(12, idat.length - 4)), IEND), 'PNG_STRUCTURE'],
    ['unknown critical chunk', png(h, chunk('CRIT', [1, 2, 3]), idat, IEND), 'PNG_STRUCTURE'],
    ['chunk type not letters', png(h, chunk('t3Xt', [1]), idat, IEND), 'PNG_STRUCTURE'],
    ['chunk length past EOF', png(h, Uint8Array.from([...be32(1000), ...Buffer.from('tEXt'), 1, 2, 3]), idat, IEND), 'PNG_STRUCTURE'],
    ['chunk length ≥ 2^31', png(h, Uint8Array.from([...be32(2 ** 31), ...Buffer.from('tEXt'), 1, 2, 3, 4])), 'PNG_STRUCTURE'],
    ['file cut inside IDAT', png(h, idat).subarray(0, 33 + 10), 'PNG_STRUCTURE'],
    ['tRNS with alpha (type 6)', png(ihdr({ width: 1, height: 1, colorType: 6 }), chunk('tRNS', [0, 0]), chunk('IDAT', deflateSync(new Uint8Array(5))), IEND), 'PNG_STRUCTURE'],
    ['tRNS wrong length for RGB', png(h, chunk('tRNS', [0, 0]), idat, IEND), 'PNG_STRUCTURE'],
    ['tRNS after IDAT', png(h, idat, chunk('tRNS', [0, 0, 0, 0, 0, 0]), IEND), 'PNG_STRUCTURE'],
  ];
  const badIdatCrc = png(h, idat, IEND);
  badIdatCrc[33 + 10] ^= 0x40; // xcsn0g01-like: IDAT data byte changed, CRC left
  cases.push(['IDAT CRC mismatch', badIdatCrc, 'PNG_CRC']);
  const ancillary = chunk('tEXt', [65, 0, 66]);
  ancillary[ancillary.length - 1] ^= 1;
  cases.push(['ancillary chunk CRC mismatch', png(h, ancillary, idat, IEND), 'PNG_CRC']);
  for (const [name, bytes, code] of cases) refuses(t, bytes, code, name);
  // Unknown ancillary chunks are skipped
  t.equal(decodePng(png(h, chunk('zzZz', [9, 9]), idat, chunk('tEXt', [65, 0, 66]), IEND)).width, 4, 'unknown ancillary chunks are skipped');
});

t.test('palette faults → PNG_PALETTE', async (t) => {
  const h = ihdr({ width: 2, height: 2, colorType: 3, depth: 8 });
  const idat = chunk('IDAT', deflateSync(Uint8Array.from([0, 0, 1, 0, 1, 0])));
  const plte = chunk('PLTE', [255, 0, 0, 0, 255, 0]);
  t.same(Array.from(decodePng(png(h, plte, idat, IEND)).data), [255, 0, 0, 0, 255, 0, 0, 255, 0, 255, 0, 0], 'the valid palette image decodes');
  const cases: [string, Uint8Array][] = [
    ['palette without PLTE', png(h, idat, IEND)],
    ['PLTE length not a multiple of 3', png(h, chunk('PLTE', [1, 2, 3, 4]), idat, IEND)],
    ['PLTE empty', png(h, chunk('PLTE', []), idat, IEND)],
    ['PLTE with 257 entries', png(h, chunk('PLTE', new Array(257 * 3).fill(7)), idat, IEND)],
    ['PLTE with 3 entries at depth 1', png(ihdr({ width: 2, height: 2, colorType: 3, depth: 1 }), chunk('PLTE', new Array(9).fill(1)), idat, IEND)],
    ['tRNS longer than PLTE', png(h, plte, chunk('tRNS', [1, 2, 3]), idat, IEND)],
    ['tRNS before PLTE', png(h, chunk('tRNS', [1]), plte, idat, IEND)],
    ['PLTE in a grey image', png(ihdr({ width: 2, height: 2, colorType: 0 }), chunk('PLTE', [1, 2, 3]), idat, IEND)],
  ];
  for (const [name, bytes] of cases) refuses(t, bytes, 'PNG_PALETTE', name);
  const outOfRange = png(h, plte, chunk('IDAT', deflateSync(Uint8Array.from([0, 0, 2, 0, 1, 0]))), IEND);
  t.same(inspectPng(outOfRange).colorType, 3, 'an index past the palette passes inspection (it needs the pixels)');
  throwsCode(t, () => decodePng(outOfRange), 'PNG_PALETTE', 'pixel index ≥ palette size');
  // A suggested palette in an RGB image is allowed and ignored
  t.equal(decodePng(png(ihdr({ width: 4, height: 3 }), plte, ...validRgb().slice(1))).channels, 3, 'PLTE in an RGB image is ignored');
});

t.test('image data faults → IMAGE_TRUNCATED, IMAGE_DATA, PNG_DATA', async (t) => {
  const h64 = ihdr({ width: 64, height: 64, colorType: 6 });
  refuses(t, png(h64, chunk('IDAT', deflateSync(new Uint8Array(100))), IEND), 'IMAGE_TRUNCATED', '64×64 RGBA inflating to 100 bytes', false);
  const exact = 64 * (1 + 64 * 4);
  refuses(t, png(h64, chunk('IDAT', deflateSync(new Uint8Array(exact - 1))), IEND), 'IMAGE_TRUNCATED', 'one byte short', false);
  refuses(t, png(h64, chunk('IDAT', deflateSync(new Uint8Array(exact + 1))), IEND), 'IMAGE_DATA', 'one byte long', false);
  t.equal(decodePng(png(h64, chunk('IDAT', deflateSync(new Uint8Array(exact))), IEND)).data.length, 64 * 64 * 4, 'exact length decodes');
  const z = deflateSync(new Uint8Array(exact));
  refuses(t, png(h64, chunk('IDAT', z.subarray(0, z.length - 6)), IEND), 'IMAGE_TRUNCATED', 'zlib stream cut short', false);
  refuses(t, png(h64, chunk('IDAT', []), IEND), 'IMAGE_TRUNCATED', 'empty IDAT', false);
  const badAdler = Uint8Array.from(z);
  badAdler[badAdler.length - 1] ^= 1;
  refuses(t, png(h64, chunk('IDAT', badAdler), IEND), 'PNG_DATA', 'Adler-32 mismatch', false);
  refuses(t, png(h64, chunk('IDAT', [1, 2, 3, 4, 5]), IEND), 'PNG_DATA', 'not a zlib stream', false);
  const badFilter = new Uint8Array(exact);
  badFilter[3 * (1 + 64 * 4)] = 5;
  refuses(t, png(h64, chunk('IDAT', deflateSync(badFilter)), IEND), 'PNG_DATA', 'row 3 filter type 5', false);

  // Interlaced bomb: 16×16 Adam7 whose IDAT inflates to 16 MiB of zeros; stops after the expected size + 1.
  const bomb = png(ihdr({ width: 16, height: 16, colorType: 6, interlace: 1 }), chunk('IDAT', deflateSync(new Uint8Array(16 * 2 ** 20))), IEND);
  const t0 = performance.now();
  refuses(t, bomb, 'IMAGE_DATA', `16×16 Adam7 with 16 MiB of zeros in a ${bomb.length}-byte file`, false);
  t.ok(performance.now() - t0 < 500, `bounded (${(performance.now() - t0).toFixed(1)} ms)`);
});

t.test('only FreqregError escapes: seeded mutations with CRCs fixed up', async (t) => {
  const seeds = [
    makeCase(9, 17, 3, 2, 1, true, 1).png,
    makeCase(5, 4, 6, 16, 0, false, 2).png,
    makeCase(8, 3, 0, 1, 1, true, 3).png,
  ];
  const rand = rng(42);
  const INTERESTING = [0, 1, 0x7f, 0x80, 0xff];
  let decoded = 0, refused = 0;
  const codes = new Set<string>();
  for (let i = 0; i < 3000; i++) {
    const b = seeds[i % seeds.length].slice();
    const kind = Math.floor(rand() * 4);
    let bytes: Uint8Array = b;
    if (kind === 0) b[8 + Math.floor(rand() * (b.length - 8))] ^= 1 << Math.floor(rand() * 8);
    else if (kind === 1) b[8 + Math.floor(rand() * (b.length - 8))] = INTERESTING[Math.floor(rand() * INTERESTING.length)];
    else if (kind === 2) bytes = b.subarray(0, Math.floor(rand() * b.length));
    else b[16 + Math.floor(rand() * 13)] = Math.floor(rand() * 256); // an IHDR field
    // Fix up CRCs so mutations reach the deeper checks
    for (let pos = 8; pos + 12 <= bytes.length;) {
      const len = ((bytes[pos] << 24) | (bytes[pos + 1] << 16) | (bytes[pos + 2] << 8) | bytes[pos + 3]) >>> 0;
      if (pos + 12 + len > bytes.length) break;
      const crc = zcrc32(bytes.subarray(pos + 4, pos + 8 + len));
      bytes.set(be32(crc), pos + 8 + len);
      pos += 12 + len;
    }
    try {
      decodePng(bytes, { maxPixels: 65536, maxWidth: 4096, maxHeight: 4096 });
      decoded++;
    } catch (e) {
      if (!(e instanceof FreqregError)) {
        t.fail(`case ${i}: ${(e as Error)?.name}: ${(e as Error)?.message}`);
        return;
      }
      refused++;
      codes.add(e.code);
    }
  }
  t.pass(`3000 mutants: ${decoded} decoded, ${refused} refused with ${[...codes].sort().join(', ')}`);
});

// ---------------------------------------------------------------------------------------------
// Decoding every variant

t.test('decode every colour type, bit depth, tRNS and interlace; pixels equal the source and pngjs', async (t) => {
  const kinds: [number, number[], boolean][] = [
    [0, [1, 2, 4, 8, 16], true], [2, [8, 16], true], [3, [1, 2, 4, 8], true], [4, [8, 16], false], [6, [8, 16], false],
  ];
  const sizes = [[1, 1], [3, 5], [9, 17], [33, 7]];
  let seed = 100;
  for (const [colorType, depths, canTrns] of kinds) {
    for (const depth of depths) {
      for (const trns of canTrns ? [false, true] : [false]) {
        for (const interlace of [0, 1]) {
          for (const [w, h] of sizes) {
            const c = makeCase(w, h, colorType, depth, interlace, trns, seed++);
            const info = inspectPng(c.png);
            const img = decodePng(c.png);
            const ok =
              info.width === w && info.height === h && info.bitDepth === depth && info.colorType === colorType && info.interlaced === (interlace === 1) &&
              img.channels === c.expected.channels && info.channels === img.channels && img.bitDepth === c.expected.bitDepth &&
              (depth === 16 ? img.data instanceof Uint16Array : img.data instanceof Uint8Array) &&
              img.data.length === c.expected.data.length;
            let firstBad = -1;
            for (let i = 0; ok && i < img.data.length; i++) if (img.data[i] !== c.expected.data[i]) { firstBad = i; break; }
            // pngjs oracle: RGBA; 16-bit compared unscaled
            const ref = PNG.sync.read(Buffer.from(c.png), { skipRescale: depth === 16 });
            let oracleBad = -1;
            const ch = img.channels;
            for (let p = 0; ok && p < w * h && oracleBad < 0; p++) {
              const mine = Array.from(img.data.subarray(p * ch, p * ch + ch));
              const rgba = ch >= 3 ? mine.slice(0, 3) : [mine[0], mine[0], mine[0]];
              const alpha = ch === 2 || ch === 4 ? mine[ch - 1] : undefined;
              const theirs = Array.from((ref.data as unknown as ArrayLike<number>) as number[]).slice(p * 4, p * 4 + 4);
              if (alpha !== undefined && theirs[3] !== alpha) oracleBad = p;
              // pngjs zeroes the colour of tRNS-keyed pixels; compare colour elsewhere
              if (!(trns && colorType !== 3 && alpha === 0) && rgba.some((v, k) => v !== theirs[k])) oracleBad = p;
            }
            t.ok(ok && firstBad < 0 && oracleBad < 0, `${c.name}${!ok ? ' header/shape mismatch' : firstBad >= 0 ? ` sample ${firstBad}: ${img.data[firstBad]} vs ${c.expected.data[firstBad]}` : oracleBad >= 0 ? ` pngjs differs at pixel ${oracleBad}` : ''}`);
          }
        }
      }
    }
  }
});

t.test('encodePng round trips 8/16-bit, 1–4 channels; pngjs reads the result', async (t) => {
  const rand = rng(7);
  for (const channels of [1, 2, 3, 4] as const) {
    for (const depth of [8, 16]) {
      for (const [w, h] of [[1, 1], [5, 3], [17, 9]]) {
        const n = w * h * channels;
        const data = depth === 16 ? Uint16Array.from({ length: n }, () => Math.floor(rand() * 65536)) : Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
        const bytes = encodePng({ data, width: w, height: h, channels });
        const back = decodePng(bytes);
        const ref = PNG.sync.read(Buffer.from(bytes), { skipRescale: true });
        let same = back.channels === channels && back.bitDepth === depth && back.data.length === n;
        for (let i = 0; same && i < n; i++) same = back.data[i] === data[i];
        let oracle = true;
        for (let p = 0; p < w * h && oracle; p++) oracle = (ref.data as unknown as ArrayLike<number>)[p * 4] === data[p * channels];
        t.ok(same && oracle, `channels ${channels} depth ${depth} ${w}×${h}`);
      }
    }
  }
  const grey = Uint8Array.from({ length: 12 }, (_, i) => (i % 2) * 255);
  t.same(Array.from(decodePng(encodeGreyPng(grey, 4, 3)).data), Array.from(grey), 'encodeGreyPng');
  const rgb = Uint8Array.from({ length: 36 }, (_, i) => i * 7);
  const dec = decodePng(encodeRgbPng(rgb, 4, 3));
  t.same([dec.channels, ...dec.data], [3, ...rgb], 'encodeRgbPng');
  // A mask of runs (unfiltered rows, run-length deflate): the same pixels through our decoder and pngjs.
  const mw = 959, mh = 64, mask = new Uint8Array(mw * mh);
  for (let y = 0; y < mh; y++) for (let x = 0; x < mw; x++) mask[y * mw + x] = (x - 3 * y) % 97 < 40 ? 255 : 0;
  const maskBytes = encodeGreyPng(mask, mw, mh);
  t.same(Array.from(decodePng(maskBytes).data), Array.from(mask), 'encodeGreyPng: a mask of runs decodes to itself');
  const viaPngjs = PNG.sync.read(Buffer.from(maskBytes));
  t.ok(viaPngjs.width === mw && viaPngjs.height === mh && mask.every((v, p) => viaPngjs.data[4 * p] === v), 'encodeGreyPng: pngjs reads the same mask');
  throwsCode(t, () => encodeGreyPng(grey, 5, 3), 'IMAGE_DIMENSIONS', 'encode with the wrong sample count');
  throwsCode(t, () => encodeGreyPng(new Uint8Array(0), 0, 0), 'IMAGE_DIMENSIONS', 'encode 0×0');
});

t.test('upstream images decode as pngjs decodes them', async (t) => {
  const dir = upstreamDir(t);
  if (!dir) return;
  for (const file of ['testimgs/input/in0000.png', 'testimgs/input/in0015.png', 'testimgs/mask/gt0003.png', 'reference/pred0009.png']) {
    const bytes = readFileSync(join(dir, file));
    const img = decodePng(bytes);
    const ref = PNG.sync.read(bytes);
    let bad = -1;
    for (let p = 0; p < img.width * img.height && bad < 0; p++) {
      for (let c = 0; c < 3; c++) if (ref.data[p * 4 + c] !== img.data[p * img.channels + (img.channels >= 3 ? c : 0)]) bad = p;
    }
    t.ok(img.width === 959 && img.height === 640 && bad < 0, `${file}: ${img.width}×${img.height}×${img.channels}${bad >= 0 ? `, differs at pixel ${bad}` : ''}`);
  }
});

// ---------------------------------------------------------------------------------------------
// Metrics

t.test('dice, maskFromGrey, maskToGrey on hand examples', async (t) => {
  t.equal(dice([1, 1, 0, 0], [1, 0, 1, 0]), Math.fround(Math.fround(2 + Math.fround(1e-6)) / Math.fround(4 + Math.fround(1e-6))), 'half overlap');
  t.equal(dice([0, 0, 0], [0, 0, 0]), 1, 'both empty → 1 (sets_sum = inter)');
  t.equal(dice([1, 1], [1, 1]), 1, 'identical');
  t.ok(dice([1, 1, 1], [0, 0, 0]) < 1e-6, 'one empty → ~0');
  t.equal(dice([2, 2, 0], [2, 0, 0], 2), dice([1, 1, 0], [1, 0, 0]), 'foreground class chosen');
  throwsCode(t, () => dice([1], [1, 0]), 'MASK_INVALID', 'sizes differ');
  t.equal(meanDice([0.5, 1]), 0.75, 'meanDice');
  t.same(Array.from(maskToGrey([0, 1, 1, 0], 2)), [0, 255, 255, 0], 'two classes: 0/255');
  t.same(Array.from(maskToGrey([0, 1, 2], 3)), [0, 128, 255], 'three classes spread');
  throwsCode(t, () => maskToGrey([2], 2), 'MASK_INVALID', 'class 2 of 2');
  t.same(Array.from(maskFromGrey({ data: Uint8Array.of(0, 255, 200, 10), width: 2, height: 2 })), [0, 1, 1, 0], 'grey to classes');
  t.same(Array.from(maskFromGrey({ data: Uint8Array.of(0, 0, 0, 255, 255, 255), width: 2, height: 1, channels: 3 })), [0, 1], 'first channel of RGB');
  t.same(Array.from(maskFromGrey({ data: Uint16Array.of(0, 65535), width: 2, height: 1 })), [0, 1], '16-bit');
  t.same(Array.from(maskFromGrey({ data: maskToGrey([0, 1, 2, 3], 4), width: 4, height: 1 }, 4)), [0, 1, 2, 3], 'maskToGrey inverts');
});

t.test('dice reproduces reference.json for the 16 upstream predictions', async (t) => {
  const dir = upstreamDir(t);
  if (!dir) return;
  const ref = JSON.parse(readFileSync(join(dir, 'reference', 'reference.json'), 'utf8')) as {
    average_dice: number;
    per_image: { mask: string; prediction: string; dice: number; foreground_pixels: number }[];
  };
  t.equal(ref.per_image.length, 16);
  const scores: number[] = [];
  for (const e of ref.per_image) {
    const pred = maskFromGrey(decodePng(readFileSync(join(dir, e.prediction))));
    const truth = maskFromGrey(decodePng(readFileSync(join(dir, e.mask))));
    const d = dice(pred, truth);
    scores.push(d);
    t.ok(Math.abs(d - e.dice) <= TOL_DICE, `${e.prediction}: ${d} vs ${e.dice} (diff ${Math.abs(d - e.dice)})`);
    t.equal(pred.reduce((n, v) => n + v, 0), e.foreground_pixels, `${e.prediction} foreground pixels`);
  }
  t.ok(Math.abs(meanDice(scores) - ref.average_dice) <= TOL_DICE, `average ${meanDice(scores)} vs ${ref.average_dice}`);
});

// ---------------------------------------------------------------------------------------------
// Report

t.test('panelPng lays out photo | truth | prediction with a gap', async (t) => {
  const w = 5, h = 3;
  const photo = { data: Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 11) % 256), width: w, height: h, channels: 3 };
  const truth = Uint8Array.from({ length: w * h }, (_, i) => i % 2);
  const pred = Uint8Array.from({ length: w * h }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const img = decodePng(panelPng(photo, truth, pred, w, h));
  t.same([img.width, img.height, img.channels], [3 * w + 2 * PANEL_GAP, h, 3], 'size with ground truth');
  t.same(panelSize(w, h, true), { width: img.width, height: img.height }, 'panelSize agrees');
  const at = (x: number, y: number) => Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));
  t.same(at(2, 1), Array.from(photo.data.subarray((1 * w + 2) * 3, (1 * w + 2) * 3 + 3)), 'photo pixel');
  t.same(at(w, 0), [255, 255, 255], 'gap is white');
  t.same(at(w + PANEL_GAP + 1, 0), [255, 255, 255], 'truth class 1 is white');
  t.same(at(w + PANEL_GAP, 0), [0, 0, 0], 'truth class 0 is black');
  t.same(at(2 * (w + PANEL_GAP), 0), [255, 255, 255], 'prediction class 1 is white');
  t.same(at(2 * (w + PANEL_GAP) + 1, 0), [0, 0, 0], 'prediction class 0 is black');
  const two = decodePng(panelPng({ data: new Uint16Array(w * h).fill(65535), width: w, height: h, channels: 1 }, undefined, pred, w, h));
  t.same([two.width, two.height, ...two.data.subarray(0, 3)], [2 * w + PANEL_GAP, h, 255, 255, 255], 'no ground truth: 2 panels; 16-bit grey photo');
  throwsCode(t, () => panelPng(photo, truth, pred.subarray(1), w, h), 'MASK_INVALID', 'prediction of the wrong size');
});

t.test('panelPng of an upstream image has the right size', async (t) => {
  const dir = upstreamDir(t);
  if (!dir) return;
  const photo = decodePng(readFileSync(join(dir, 'testimgs/input/in0000.png')));
  const truth = maskFromGrey(decodePng(readFileSync(join(dir, 'testimgs/mask/gt0000.png'))));
  const pred = maskFromGrey(decodePng(readFileSync(join(dir, 'reference/pred0000.png'))));
  const info = inspectPng(panelPng(photo, truth, pred, photo.width, photo.height));
  t.same([info.width, info.height, info.colorType, info.bitDepth], [3 * 959 + 2 * PANEL_GAP, 640, 2, 8]);
});

t.test('writeReport writes panels and an escaped index.html, never over outputs or inputs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'freqreg-report-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const panel = panelPng({ data: new Uint8Array(12), width: 2, height: 2, channels: 3 }, Uint8Array.of(0, 1, 1, 0), Uint8Array.of(0, 1, 0, 0), 2, 2);
  const entries = [
    { name: 'cars/in0000.png', panel, dice: 0.9787697792053223, ms: 812.5 },
    { name: '<img src=x onerror=alert(1)>.png', panel, dice: 0.5 },
    { name: 'IN0000.PNG', panel },
  ];
  const run = { engine: 'spectral & <dense>', threads: 2, timings: { 'model load': 12.25, total: 12345 } };
  const files = await writeReport(dir, entries, run);
  t.same(readdirSync(join(dir, 'panels')).sort(), ['IN0000-2.png', '_img_src_x_onerror_alert_1__.png', 'in0000.png'].sort(), 'panel names are safe and unique ignoring case');
  t.equal(files.panels.length, 3);
  const html = readFileSync(files.index, 'utf8');
  t.notMatch(html, /<img src=x/, 'no raw markup from names');
  t.match(html, /&lt;img src=x onerror=alert\(1\)&gt;\.png/, 'names are escaped');
  t.match(html, /spectral &amp; &lt;dense&gt;/, 'engine escaped');
  t.match(html, /0\.739385/, 'average dice of the two scored images');
  t.match(html, /\(2 with ground truth\)/);
  t.match(html, /model load<\/th><td>12\.3 ms/);
  t.match(html, /12\.3 s/, 'long timings in seconds');
  t.match(html, /src="panels\/in0000\.png"/);
  t.equal(readdirSync(dir).filter((n) => n.endsWith('.tmp')).length, 0, 'no temporary files left');
  await t.rejects(writeReport(dir, entries, run), { code: 'OUTPUT_EXISTS' }, 'a second run without overwrite is refused');
  await t.resolves(writeReport(dir, entries, run, { overwrite: true }), 'overwrite replaces');
  // An input inside the output folder under a panel's name is never replaced
  const input = join(dir, 'panels', 'photo.png');
  writeFileSync(input, 'precious');
  await t.rejects(writeReport(dir, [{ name: 'photo.png', panel, source: input }], run, { overwrite: true }), { code: 'OUTPUT_PATH' });
  t.equal(readFileSync(input, 'utf8'), 'precious', 'the input is untouched');
  t.equal(escapeHtml(`a"b'c`), 'a&quot;b&#39;c');
  t.match(reportHtml([], [], { engine: 'x', threads: 1 }), /average dice<\/th><td>—/, 'no scores: a dash');
});

// ---------------------------------------------------------------------------------------------
// Progress

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 200, write: (s: string) => writes.push(s) } };
}

t.test('progress: TTY redraws in place, logs print plain throttled lines, silent prints nothing', async (t) => {
  let now = 0;
  const clock = () => now;
  const tty = fakeStream(true);
  const p = new Progress(4, { stream: tty.stream, now: clock });
  now = 1000; p.tick('in0000.png');
  now = 2000; p.tick('in0001.png');
  p.log('skipped bad.png: not a PNG');
  now = 4000; p.tick(); p.tick('in0003.png'); p.finish();
  t.ok(tty.writes.every((w) => w.startsWith('\r\x1b[K') || w === '\n'), 'every TTY write redraws the line');
  t.match(tty.writes[0], /image 1 of 4  \[#####\.+\]  25%  elapsed 0:01  ETA 0:03  in0000\.png/);
  t.ok(tty.writes.some((w) => w === '\r\x1b[Kskipped bad.png: not a PNG\n'), 'a log line clears the bar first');
  t.match(tty.writes.at(-2)!, /image 4 of 4 .*100%.*ETA 0:00/);
  t.equal(tty.writes.at(-1), '\n', 'finish ends the line');

  now = 0;
  const log = fakeStream(false);
  const q = new Progress(100, { stream: log.stream, now: clock, logIntervalMs: 2000 });
  for (let i = 0; i < 100; i++) { now += 100; q.tick(`f${i}\x1b[31m`); }
  q.finish();
  t.ok(log.writes.every((w) => !w.includes('\r') && w.endsWith('\n') && !w.includes('\x1b')), 'plain lines, control characters stripped');
  t.ok(log.writes.length >= 5 && log.writes.length <= 7, `throttled to ${log.writes.length} lines for 100 items over 10 s`);
  t.match(log.writes.at(-1)!, /image 100 of 100/);

  const quiet = fakeStream(true);
  const s = new Progress(3, { stream: quiet.stream, silent: true, now: clock });
  s.tick(); s.log('x'); s.finish();
  t.same(quiet.writes, [], 'silent');

  // A resumed run: 600 of 1000 steps done before; 100 more in 10 s here leave 300 steps, 30 s.
  now = 0;
  const resumed = fakeStream(false);
  const r = new Progress(1000, { stream: resumed.stream, now: clock, noun: 'step', initial: 600 });
  now = 10_000; r.update(700);
  t.match(resumed.writes.at(-1)!, /step 700 of 1000 .* 70%  elapsed 0:10  ETA 0:30/, 'resumed: the ETA from this run\'s rate');

  t.same([formatDuration(0), formatDuration(61_000), formatDuration(3_725_000), formatDuration(NaN)], ['0:00', '1:01', '1:02:05', '--:--']);
});

t.test('Adler-32: both decoders check it, on a zlib stream written by hand (stored block, Adler-32 from its definition)', async (t) => {
  const h = ihdr({ width: 4, height: 2, colorType: 0 });
  const rows = Uint8Array.from([0, 10, 20, 30, 40, 0, 50, 60, 70, 80]); // filter 0, then 4 grey samples, twice
  const zlib = (adler: number) => Uint8Array.from([0x78, 0x01, 0x01, rows.length, 0, ~rows.length & 0xff, 0xff, ...rows, ...be32(adler)]);
  const good = png(h, chunk('IDAT', zlib(adler32Bitwise(rows))), IEND);
  for (const [name, decode] of [['node', decodePng], ['portable', decodePngPortable]] as const) {
    t.same([...decode(good).data], [10, 20, 30, 40, 50, 60, 70, 80], `${name}: the right Adler-32 decodes`);
    for (const delta of [1, 0x10000]) {
      throwsCode(t, () => decode(png(h, chunk('IDAT', zlib((adler32Bitwise(rows) + delta) >>> 0)), IEND)), 'PNG_DATA', `${name}: Adler-32 off by ${delta} (${delta === 1 ? 'sum a' : 'sum b'})`);
    }
  }
});
