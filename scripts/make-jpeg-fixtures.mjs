// node scripts/make-jpeg-fixtures.mjs — the JPEG test files in test/fixtures/jpeg/ (see its README.md).
//
// One 41×27 picture (smooth gradients, a disc and hard edges; no randomness), encoded by jpeg-js
// (baseline, 4:4:4, quality 90), then rewritten losslessly by libjpeg-turbo's jpegtran (progressive,
// restart markers, greyscale, arithmetic coding) and encoded by its cjpeg (4:2:0, RGB without
// colour transform). djpeg's decodes are kept as PPM/PGM: an independent decoder to compare with.
// Needs jpegtran, cjpeg and djpeg (Debian: libjpeg-turbo-progs). The outputs are committed.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'test', 'fixtures', 'jpeg');
mkdirSync(out, { recursive: true });

const W = 41, H = 27;
/** The picture: (H, W, RGB). */
const rgb = new Uint8Array(W * H * 3);
for (let y = 0; y < H; y++) {
  for (let x = 0; x < W; x++) {
    const inDisc = (x - 26) ** 2 + (y - 12) ** 2 < 64;
    const bar = x >= 5 && x < 9;
    const o = (y * W + x) * 3;
    rgb[o] = inDisc ? 230 : Math.round((255 * x) / (W - 1));
    rgb[o + 1] = bar ? 20 : Math.round((255 * y) / (H - 1));
    rgb[o + 2] = inDisc ? 40 : 128 + Math.round(100 * Math.sin((x + y) / 5));
  }
}
const rgba = new Uint8Array(W * H * 4);
for (let p = 0; p < W * H; p++) { rgba.set(rgb.subarray(3 * p, 3 * p + 3), 4 * p); rgba[4 * p + 3] = 255; }
const ppm = Buffer.concat([Buffer.from(`P6\n${W} ${H}\n255\n`), Buffer.from(rgb)]);
writeFileSync(join(out, 'picture.ppm'), ppm);

const file = (name) => join(out, name);
const run = (cmd, args, input) => execFileSync(cmd, args, { input, maxBuffer: 1 << 24 });
writeFileSync(file('baseline.jpg'), jpeg.encode({ data: rgba, width: W, height: H }, 90).data);
const fromBaseline = { 'progressive.jpg': ['-progressive'], 'restart.jpg': ['-restart', '1B'], 'grey.jpg': ['-grayscale'], 'grey-progressive.jpg': ['-grayscale', '-progressive'], 'arithmetic.jpg': ['-arithmetic'] };
for (const [name, args] of Object.entries(fromBaseline)) writeFileSync(file(name), run('jpegtran', [...args, file('baseline.jpg')]));
writeFileSync(file('subsampled.jpg'), run('cjpeg', ['-quality', '90', '-sample', '2x2', '-dct', 'int'], ppm));
writeFileSync(file('subsampled-progressive.jpg'), run('jpegtran', ['-progressive', file('subsampled.jpg')]));
writeFileSync(file('rgb.jpg'), run('cjpeg', ['-quality', '90', '-rgb', '-dct', 'int'], ppm));
// libjpeg-turbo's decodes: accurate integer IDCT; -nosmooth replicates chroma samples as jpeg-js does.
writeFileSync(file('baseline.djpeg.ppm'), run('djpeg', ['-dct', 'int', '-ppm', file('baseline.jpg')]));
writeFileSync(file('subsampled.djpeg.ppm'), run('djpeg', ['-dct', 'int', '-nosmooth', '-ppm', file('subsampled.jpg')]));
writeFileSync(file('grey.djpeg.pgm'), run('djpeg', ['-dct', 'int', '-pnm', file('grey.jpg')]));
writeFileSync(file('rgb.djpeg.ppm'), run('djpeg', ['-dct', 'int', '-ppm', file('rgb.jpg')]));
// Fuzzing seeds (test/support/fuzz-targets.ts): jpeg-js's baseline at sizes around the 8×8 block and
// the 16×16 MCU, at assorted qualities, of a fixed pattern.
for (const [w, h, q] of [[1, 1, 50], [7, 9, 95], [8, 8, 10], [16, 16, 75], [17, 15, 100], [24, 16, 90], [33, 20, 60], [40, 3, 85]]) {
  const data = new Uint8Array(w * h * 4);
  for (let p = 0; p < w * h; p++) {
    for (let c = 0; c < 3; c++) { const k = 3 * p + c; data[4 * p + c] = (k * 37 + ((k * 2654435761) >>> 28) * 9) & 0xff; }
    data[4 * p + 3] = 255;
  }
  writeFileSync(file(`seed-${w}x${h}-q${q}.jpg`), jpeg.encode({ data, width: w, height: h }, q).data);
}
console.log(`wrote ${out}: ${readFileSync(file('baseline.jpg')).length} bytes baseline`);
