/**
 * Training data: the GIF decoder (against a real LZW encoder, test/support/gif-builder.ts), masks
 * (0/255, class indices, palette PNG and GIF; colour photos and stray levels refused), manifest
 * and folder pairing (Carvana's and the upstream names), bad pairs skipped, resampling and
 * augmentation.
 */
import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FreqregError, type ErrorCode } from '../src/errors.js';
import { decodeGif } from '../src/image/gif.js';
import { encodePng } from '../src/node/png.js';
import { augmentPair, NO_AUGMENT, plainPair, type Sample } from '../src/train/augment.js';
import { loadSamples, matchMasks, pairFolders, parseManifest } from '../src/train/data.js';
import { decodeMask } from '../src/train/mask.js';
import { resizeNearest, resizePlanar } from '../src/train/resize.js';
import { Rng } from '../src/train/rng.js';
import { nodeDataFiles } from '../src/node/train-data.js';
import { rng } from './helpers.js';
import { encodeGif, lzwEncode } from './support/gif-builder.js';
import { chunk, ihdr, IEND, png } from './support/png-builder.js';
import { deflateSync } from 'node:zlib';

function throwsCode(t: Test, fn: () => unknown, code: ErrorCode, msg: string): void {
  try {
    fn();
    t.fail(`${msg}: expected ${code}, nothing thrown`);
  } catch (e) {
    if (!(e instanceof FreqregError)) t.fail(`${msg}: expected FreqregError ${code}, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
    else t.equal(e.code, code, `${msg} → ${code}`);
  }
}

function randomIndices(n: number, colours: number, seed: number, runs = false): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(n);
  let v = 0;
  for (let i = 0; i < n; i++) {
    if (!runs || r() < 0.05) v = Math.floor(r() * colours);
    out[i] = v;
  }
  return out;
}

const BW = [[0, 0, 0], [255, 255, 255]];

/** Byte equality (tap's deep comparison is slow on long typed arrays). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

t.test('GIF: LZW round trip over sizes, colour counts, interlacing and tables', async (t) => {
  const sizes: [number, number][] = [[1, 1], [3, 5], [16, 16], [17, 9], [64, 48], [200, 150]];
  for (const [w, h] of sizes) {
    for (const colours of [2, 4, 16, 256]) {
      for (const interlaced of [false, true]) {
        const indices = randomIndices(w * h, colours, w * 31 + h + colours, colours === 2);
        const palette = Array.from({ length: colours }, (_, i) => [i, 255 - i, (i * 7) & 255]);
        const gif = encodeGif(indices, w, h, { palette, interlaced, localTable: colours === 16, extension: colours === 4 });
        const decoded = decodeGif(gif);
        t.equal(decoded.width, w);
        t.equal(decoded.height, h);
        t.ok(sameBytes(decoded.indices, indices), `${w}×${h} ${colours} colours${interlaced ? ' interlaced' : ''}`);
        t.equal(decoded.palette.length, 3 * (1 << Math.max(1, Math.ceil(Math.log2(colours)))));
      }
    }
  }
  // 300×200 of noise fills the 4,096-code table several times over: CLEAR and regrowth.
  const big = randomIndices(300 * 200, 256, 7);
  t.ok(sameBytes(decodeGif(encodeGif(big, 300, 200, { palette: Array.from({ length: 256 }, () => [0, 0, 0]) })).indices, big), 'table full, cleared, regrown');
});

t.test('GIF: refusals', async (t) => {
  const good = encodeGif(randomIndices(40 * 30, 2, 3, true), 40, 30, { palette: BW });
  throwsCode(t, () => decodeGif(new Uint8Array(0)), 'NOT_GIF', 'empty');
  throwsCode(t, () => decodeGif(Uint8Array.from([...'GIF87b'].map((c) => c.charCodeAt(0)))), 'NOT_GIF', 'bad version');
  throwsCode(t, () => decodeGif(good.subarray(0, 10)), 'GIF_STRUCTURE', 'header cut');
  const huge = good.slice();
  huge[6] = 0xff; huge[7] = 0xff; huge[8] = 0xff; huge[9] = 0xff;
  throwsCode(t, () => decodeGif(huge), 'IMAGE_TOO_LARGE', '65535×65535 screen');
  const zero = good.slice();
  zero[6] = 0; zero[7] = 0;
  throwsCode(t, () => decodeGif(zero), 'IMAGE_DIMENSIONS', 'zero width');
  // Cut inside the image data: the sub-block chain runs past the end.
  throwsCode(t, () => decodeGif(good.subarray(0, good.length - 20)), 'GIF_STRUCTURE', 'data cut');
  // The LZW data holds fewer pixels than the frame: a 40×30 stream in a 40×31 frame.
  const short = good.slice();
  const desc = short.indexOf(0x2c, 13 + 6);
  short[desc + 7] = 31;
  short[8] = 31;
  throwsCode(t, () => decodeGif(short), 'IMAGE_TRUNCATED', 'too few pixels');
  // More pixels than the frame: the same stream in a 40×29 frame.
  const long = good.slice();
  long[desc + 7] = 29;
  long[8] = 29;
  throwsCode(t, () => decodeGif(long), 'IMAGE_DATA', 'too many pixels');
  // A code beyond the table.
  const codes = Uint8Array.from([0x04 | (0x07 << 3), 0]); // clear (4), then code 7 with 3-bit codes… (table has 6)
  const bad = Uint8Array.from([...'GIF89a'].map((c) => c.charCodeAt(0)).concat([2, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 255, 255, 255, 0x2c, 0, 0, 0, 0, 2, 0, 1, 0, 0, 2, 2, codes[0], codes[1], 0, 0x3b]));
  throwsCode(t, () => decodeGif(bad), 'GIF_DATA', 'code not in the table');
  throwsCode(t, () => decodeGif(good.subarray(0, 13 + 6)), 'GIF_STRUCTURE', 'no image');
  t.ok(lzwEncode(Uint8Array.of(0, 1, 0, 1), 2).length > 0);
});

/** A grey or palette PNG of 8-bit samples. */
function greyPng(data: Uint8Array, w: number, h: number): Uint8Array {
  return encodePng({ data, width: w, height: h, channels: 1 });
}

function palettePng(indices: Uint8Array, w: number, h: number, entries: number): Uint8Array {
  const raw = new Uint8Array(h * (w + 1));
  for (let y = 0; y < h; y++) raw.set(indices.subarray(y * w, (y + 1) * w), y * (w + 1) + 1);
  const plte = new Uint8Array(entries * 3);
  for (let i = 0; i < entries; i++) plte.set([i * 40, 255 - i * 40, 7], 3 * i);
  return png(ihdr({ width: w, height: h, depth: 8, colorType: 3 }), chunk('PLTE', plte), chunk('IDAT', deflateSync(raw)), IEND);
}

t.test('masks: 0/255, class indices, palette PNG, GIF; refusals', async (t) => {
  const w = 9, h = 7;
  const classes = randomIndices(w * h, 2, 11);
  t.same(decodeMask(greyPng(classes.map((c) => c * 255), w, h), 2).classes, classes, '0/255 grey → 0/1');
  t.same(decodeMask(greyPng(classes, w, h), 2).classes, classes, 'grey class indices 0/1');
  const three = randomIndices(w * h, 3, 12);
  t.same(decodeMask(greyPng(three, w, h), 3).classes, three, 'grey class indices 0…2');
  t.same(decodeMask(palettePng(three, w, h, 3), 3).classes, three, 'palette PNG → its indices, not colours');
  t.same(decodeMask(encodeGif(classes, w, h, { palette: BW }), 2).classes, classes, 'GIF → its indices');
  const rgb = new Uint8Array(w * h * 3);
  for (let p = 0; p < w * h; p++) rgb.fill(classes[p] * 255, 3 * p, 3 * p + 3);
  t.same(decodeMask(encodePng({ data: rgb, width: w, height: h, channels: 3 }), 2).classes, classes, 'RGB with equal channels → grey');
  const s16 = new Uint16Array(w * h).map((_, p) => classes[p] * 65535);
  t.same(decodeMask(encodePng({ data: s16, width: w, height: h, channels: 1 }), 2).classes, classes, '16-bit 0/65535');

  const photo = new Uint8Array(w * h * 3).map((_, i) => (i * 37) & 255);
  throwsCode(t, () => decodeMask(encodePng({ data: photo, width: w, height: h, channels: 3 }), 2), 'NOT_A_MASK', 'a colour photo');
  throwsCode(t, () => decodeMask(greyPng(new Uint8Array(w * h).map((_, i) => (i * 5) & 255), w, h), 2), 'NOT_A_MASK', 'a grey picture');
  throwsCode(t, () => decodeMask(greyPng(three, w, h), 2), 'MASK_CLASS', 'class 2 with 2 classes');
  throwsCode(t, () => decodeMask(palettePng(three, w, h, 3), 2), 'MASK_CLASS', 'palette index 2 with 2 classes');
  throwsCode(t, () => decodeMask(encodeGif(three, w, h, { palette: [...BW, [9, 9, 9]] }), 2), 'MASK_CLASS', 'GIF index 2 with 2 classes');
  throwsCode(t, () => decodeMask(greyPng(classes.map((c) => c * 128), w, h), 2), 'MASK_CLASS', '0/128');
});

t.test('manifest parsing', async (t) => {
  const join = (a: string, b: string) => `${a}/${b}`;
  const text = '\uFEFFimage,mask\r\n# comment\n\na.png,a_mask.gif\n"b,1.png","b ""m"".png"\nonly-one-field\nc.jpg , c.png \n"open,x\n';
  const { pairs, problems } = parseManifest(text, 'base', join);
  t.same(pairs, [
    { name: 'a.png', image: 'base/a.png', mask: 'base/a_mask.gif' },
    { name: 'b,1.png', image: 'base/b,1.png', mask: 'base/b "m".png' },
    { name: 'c.jpg', image: 'base/c.jpg', mask: 'base/c.png' },
  ]);
  t.same(problems.map((p) => [p.name, p.code]), [['line 6', 'MANIFEST'], ['line 8', 'MANIFEST']]);
});

t.test('folder pairing: Carvana, upstream, templates, ambiguity', async (t) => {
  const carvana = matchMasks(['0cdf5b5d0ce1_01.jpg', '0cdf5b5d0ce1_02.jpg', 'fff9b3a5373f_16.jpg', 'notes.txt'], ['0cdf5b5d0ce1_01_mask.gif', '0cdf5b5d0ce1_02_mask.gif']);
  t.same(carvana.pairs, [{ image: '0cdf5b5d0ce1_01.jpg', mask: '0cdf5b5d0ce1_01_mask.gif' }, { image: '0cdf5b5d0ce1_02.jpg', mask: '0cdf5b5d0ce1_02_mask.gif' }], 'Carvana by auto');
  t.same(carvana.problems.map((p) => [p.name, p.code]), [['fff9b3a5373f_16.jpg', 'MASK_MISSING']], 'the photo without a mask is reported');
  const carvanaT = matchMasks(['0cdf5b5d0ce1_01.jpg'], ['0cdf5b5d0ce1_01_mask.gif'], '{stem}_mask.gif');
  t.same(carvanaT.pairs, [{ image: '0cdf5b5d0ce1_01.jpg', mask: '0cdf5b5d0ce1_01_mask.gif' }], 'Carvana by template');
  const upstream = matchMasks(['in0000.png', 'in0001.png', 'in0015.png'], ['gt0000.png', 'gt0001.png', 'gt0015.png']);
  t.same(upstream.pairs.map((p) => p.mask), ['gt0000.png', 'gt0001.png', 'gt0015.png'], 'upstream by auto (same digits)');
  t.same(matchMasks(['in0000.png'], ['gt0000.png'], 'gt{digits}.png').pairs, [{ image: 'in0000.png', mask: 'gt0000.png' }], 'upstream by template');
  t.same(matchMasks(['a.png'], ['a.png']).pairs, [{ image: 'a.png', mask: 'a.png' }], 'same name in another folder');
  const ambiguous = matchMasks(['x1.png'], ['a1.png', 'b1.png']);
  t.equal(ambiguous.pairs.length, 0);
  t.equal(ambiguous.problems[0].code, 'MASK_MISSING', 'two candidates → reported');
});

function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'freqreg-train-data-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function photoPng(w: number, h: number, seed: number): Uint8Array {
  const r = rng(seed);
  return encodePng({ data: new Uint8Array(w * h * 3).map(() => Math.floor(r() * 256)), width: w, height: h, channels: 3 });
}

t.test('loading from folders and a manifest: good pairs read, bad pairs reported and skipped', async (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, 'train'));
  mkdirSync(join(dir, 'train_masks'));
  const w = 40, h = 32;
  const ok = randomIndices(w * h, 2, 5, true);
  writeFileSync(join(dir, 'train', 'car_01.png'), photoPng(w, h, 1));
  writeFileSync(join(dir, 'train_masks', 'car_01_mask.gif'), encodeGif(ok, w, h, { palette: BW }));
  writeFileSync(join(dir, 'train', 'car_02.png'), photoPng(w, h, 2));
  writeFileSync(join(dir, 'train_masks', 'car_02_mask.gif'), encodeGif(ok, w, h - 1 + 1, { palette: BW }));
  writeFileSync(join(dir, 'train', 'missing_03.png'), photoPng(w, h, 3)); // no mask
  writeFileSync(join(dir, 'train', 'small_04.png'), photoPng(w, h, 4));
  writeFileSync(join(dir, 'train_masks', 'small_04_mask.gif'), encodeGif(ok.subarray(0, w * (h - 2)), w, h - 2, { palette: BW })); // size mismatch
  writeFileSync(join(dir, 'train', 'range_05.png'), photoPng(w, h, 5));
  writeFileSync(join(dir, 'train_masks', 'range_05_mask.png'), greyPng(randomIndices(w * h, 3, 9), w, h)); // class 2
  writeFileSync(join(dir, 'train', 'photo_06.png'), photoPng(w, h, 6));
  writeFileSync(join(dir, 'train_masks', 'photo_06_mask.png'), photoPng(w, h, 7)); // a photo as mask
  writeFileSync(join(dir, 'train', 'broken_07.png'), photoPng(w, h, 8).subarray(0, 60)); // truncated photo
  writeFileSync(join(dir, 'train_masks', 'broken_07_mask.gif'), encodeGif(ok, w, h, { palette: BW }));

  const files = nodeDataFiles();
  const { pairs, problems } = await pairFolders(files, join(dir, 'train'), join(dir, 'train_masks'));
  t.same(problems.map((p) => [p.name, p.code]), [['missing_03.png', 'MASK_MISSING']]);
  const loaded = await loadSamples(files, pairs, { width: 20, height: 16, classes: 2, inChannels: 3 });
  t.same(loaded.samples.map((s) => s.name), ['car_01.png', 'car_02.png'], 'the good pairs');
  t.same(loaded.problems.map((p) => [p.name, p.code]).sort(), [
    ['broken_07.png', 'PNG_STRUCTURE'], ['photo_06.png', 'NOT_A_MASK'], ['range_05.png', 'MASK_CLASS'], ['small_04.png', 'MASK_SIZE'],
  ].sort(), 'each bad pair with its error');
  t.match(loaded.problems.find((p) => p.name === 'range_05.png')!.message, /range_05_mask\.png/, 'the message names the mask file');
  const s = loaded.samples[0];
  t.equal(s.photo.length, 3 * 20 * 16);
  t.same(s.target, resizeNearest(ok, w, h, 20, 16), 'mask resized by nearest neighbour');

  writeFileSync(join(dir, 'list.csv'), 'image,mask\ntrain/car_01.png,train_masks/car_01_mask.gif\ntrain/nothing.png,train_masks/car_01_mask.gif\n');
  const manifest = parseManifest('image,mask\ntrain/car_01.png,train_masks/car_01_mask.gif\ntrain/nothing.png,train_masks/car_01_mask.gif\n', dir, files.join);
  const fromManifest = await loadSamples(files, manifest.pairs, { width: 20, height: 16, classes: 2, inChannels: 3 });
  t.same(fromManifest.samples[0].photo, s.photo, 'the manifest reads the same pair');
  t.same(fromManifest.problems.map((p) => p.code), ['FILE_READ'], 'a missing photo is reported');
});

t.test('resampling', async (t) => {
  const flat = new Float32Array(2 * 30 * 20).fill(0.25);
  t.ok(resizePlanar(flat, 2, 30, 20, 7, 5).every((v) => Math.abs(v - 0.25) < 1e-6), 'a flat image stays flat (weights sum to 1)');
  // 2× down of a checkerboard averages to the mean.
  const board = new Float32Array(8 * 8).map((_, i) => ((i % 8) + Math.floor(i / 8)) % 2);
  const half = resizePlanar(board, 1, 8, 8, 4, 4);
  t.ok(half.every((v) => Math.abs(v - 0.5) < 0.13), `2× down of a checkerboard is about grey (${Math.min(...half)}…${Math.max(...half)})`);
  const same = resizePlanar(board, 1, 8, 8, 8, 8);
  t.same(Array.from(same), Array.from(board), 'same size is the identity');
  t.same(Array.from(resizeNearest(Uint8Array.of(0, 1, 2, 3), 4, 1, 2, 1)), [1, 3], 'nearest takes ⌊(x+½)·4/2⌋ = 1, 3');
});

t.test('augmentation', async (t) => {
  const w = 24, h = 16;
  const r = rng(3);
  const sample: Sample = { name: 's', width: w, height: h, channels: 3, photo: new Uint8Array(3 * w * h).map(() => Math.floor(r() * 256)), target: randomIndices(w * h, 2, 4) };
  const plain = plainPair(sample);
  const same = augmentPair(sample, new Rng(1), NO_AUGMENT);
  t.same(same.input, plain.input, 'no augmentation: the sample as it is');
  // Flip only: find a seed whose first draw flips, and check the mirror exactly.
  let seed = 0;
  while (new Rng(seed).next() >= 0.5) seed++;
  const flipped = augmentPair(sample, new Rng(seed), { flip: true, maxZoom: 1 });
  let mirrored = true;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    if (flipped.target[y * w + x] !== sample.target[y * w + w - 1 - x]) mirrored = false;
    if (Math.abs(flipped.input[y * w + x] - plain.input[y * w + w - 1 - x]) > 1e-6) mirrored = false;
  }
  t.ok(mirrored, 'a flip mirrors photo and mask');
  const zoomed = augmentPair(sample, new Rng(5), { flip: false, maxZoom: 2 });
  t.ok(zoomed.target.every((c) => c === 0 || c === 1), 'zoomed mask keeps classes');
  t.ok(zoomed.input.every((v) => v >= 0 && v <= 1), 'zoomed photo stays in [0, 1]');
  const a = augmentPair(sample, new Rng(9), { flip: true, maxZoom: 1.5 });
  const b = augmentPair(sample, new Rng(9), { flip: true, maxZoom: 1.5 });
  t.same(a, b, 'same generator state, same augmentation');
});
