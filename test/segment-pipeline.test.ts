/**
 * `freqreg segment` over many images sends them to its worker ahead of time (each read and checked
 * before its turn; the main thread writes one mask while the worker runs the next image): its
 * masks are, byte for byte, those of one image at a time through the library; outcomes come in
 * input order; a slow image is still stopped by --timeout and the images sent ahead after it still
 * run; a mask name two inputs share is still refused for the second.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { argmaxClasses } from '../src/engines/reference.js';
import type { EngineName } from '../src/engines/engine.js';
import { imageToTensor } from '../src/input.js';
import { maskToGrey } from '../src/metrics.js';
import { createNodeEngine } from '../src/node/engines.js';
import { loadModelFile } from '../src/node/load.js';
import { decodeImage, encodeGreyPng, encodeRgbPng } from '../src/node/png.js';
import { fixturesDir, PACKAGE_ROOT, upstreamDir } from './helpers.js';
import { encodeJpeg } from './support/jpeg-builder.js';

const BIN = join(PACKAGE_ROOT, 'bin', 'freqreg.js');
const THREADS = Math.min(2, availableParallelism());

function freqreg(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 600_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The mask PNG bytes of each image, one at a time in this process: decode, engine, argmax, grey, encode. */
async function masksOneAtATime(model: string, engineName: EngineName, threads: number, images: string[]): Promise<Map<string, Uint8Array>> {
  const { model: m } = await loadModelFile(model);
  const engine = await createNodeEngine(engineName, m, threads);
  const out = new Map<string, Uint8Array>();
  try {
    for (const file of images) {
      const image = decodeImage(readFileSync(file));
      const logits = await engine.run(imageToTensor(image, m.arch.inChannels), image.width, image.height);
      const classes = argmaxClasses({ c: logits.classes, h: logits.height, w: logits.width, data: logits.data });
      out.set(file, encodeGreyPng(maskToGrey(classes, logits.classes), image.width, image.height));
    }
  } finally {
    await engine.dispose();
  }
  return out;
}

/** A deterministic RGB photo of w × h (smooth shapes, so the masks are not all one class). */
function photo(w: number, h: number, seed: number): Uint8Array {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = Math.round(127.5 + 127.5 * Math.sin((x * (c + 1) + y * (seed + 2)) / 7 + seed));
  return data;
}

/** The lines of stdout naming a written mask, as input base names, in order. */
const writtenOrder = (stdout: string) => [...stdout.matchAll(/^(\S+) → /gm)].map((m) => m[1]!.split('/').pop()!);

t.test('a folder of many sizes, PNG and JPEG, with bad files between: the masks of one image at a time, byte for byte, in order', async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  const model = join(dir, 'tiny-sparse.pt');
  const work = mkdtempSync(join(tmpdir(), 'freqreg-pipeline-'));
  const inputs = join(work, 'in'), out = join(work, 'out');
  mkdirSync(inputs);
  copyFileSync(join(dir, 'tiny-sparse-input.png'), join(inputs, 'a.png'));
  writeFileSync(join(inputs, 'b.png'), encodeRgbPng(photo(40, 24, 1), 40, 24));
  writeFileSync(join(inputs, 'c-bad.png'), readFileSync(join(dir, 'tiny-sparse-input.png')).subarray(0, 60)); // cut short
  writeFileSync(join(inputs, 'd.jpg'), encodeJpeg({ data: photo(33, 17, 2), width: 33, height: 17, channels: 3 }, 90));
  writeFileSync(join(inputs, 'e-small.png'), encodeRgbPng(photo(8, 8, 3), 8, 8)); // under the smallest side the UNet takes
  writeFileSync(join(inputs, 'f.png'), encodeRgbPng(photo(40, 24, 4), 40, 24)); // b's size again
  writeFileSync(join(inputs, 'g.png'), encodeRgbPng(photo(64, 48, 5), 64, 48));
  const good = ['a.png', 'b.png', 'd.jpg', 'f.png', 'g.png'];
  for (const engine of ['auto', 'dense'] as const) {
    const r = freqreg(['segment', inputs, '--model', model, '--out', out, '--engine', engine, '--threads', String(THREADS), '--overwrite']);
    t.equal(r.code, 1, `${engine}: exit 1 (some failed): ${r.stderr}`);
    t.match(r.stdout, /5 of 7 images segmented, 2 failed:/, `${engine}: summary`);
    t.same(writtenOrder(r.stdout), good, `${engine}: masks reported in input order`);
    t.match(r.stdout, /c-bad\.png: .*\[PNG_STRUCTURE\]/, `${engine}: the cut file reported`);
    t.match(r.stdout, /e-small\.png: .*\[INPUT_TOO_SMALL\]/, `${engine}: the 8×8 image refused before decoding`);
    const want = await masksOneAtATime(model, engine, THREADS, good.map((n) => join(inputs, n)));
    for (const name of good) {
      const mask = `${name.replace(/\.[a-z]+$/, '')}-mask.png`;
      t.same(readFileSync(join(out, mask)), Buffer.from(want.get(join(inputs, name))!), `${engine}: ${mask} byte for byte`);
    }
  }
});

t.test('the upstream photos through segment: the masks of one image at a time, byte for byte', async (t) => {
  const dir = upstreamDir(t);
  if (!dir) return;
  const work = mkdtempSync(join(tmpdir(), 'freqreg-pipeline-up-'));
  const inputs = join(work, 'in'), out = join(work, 'out');
  mkdirSync(inputs);
  const names = ['in0000.png', 'in0001.png', 'in0002.png', 'in0003.png'];
  for (const n of names) copyFileSync(join(dir, 'testimgs', 'input', n), join(inputs, n));
  const model = join(dir, 'unet_fr.tar.xz');
  const r = freqreg(['segment', inputs, '--model', model, '--out', out, '--threads', String(THREADS)]);
  t.equal(r.code, 0, `exit 0: ${r.stderr}`);
  t.same(writtenOrder(r.stdout), names, 'in input order');
  const want = await masksOneAtATime(model, 'auto', THREADS, names.map((n) => join(inputs, n)));
  for (const n of names) t.same(readFileSync(join(out, n.replace('.png', '-mask.png'))), Buffer.from(want.get(join(inputs, n))!), `${n}: byte for byte`);
});

t.test('--timeout stops a slow image in a batch; the images sent ahead after it go to a fresh worker and are done', async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  const model = join(dir, 'tiny-sparse.pt');
  const work = mkdtempSync(join(tmpdir(), 'freqreg-pipeline-timeout-'));
  const inputs = join(work, 'in'), out = join(work, 'out');
  mkdirSync(inputs);
  copyFileSync(join(dir, 'tiny-sparse-input.png'), join(inputs, 'a.png'));
  // 2048×2048 through the float64 reference engine: about 10 s on a quiet machine, far over 3 s.
  writeFileSync(join(inputs, 'b-slow.png'), encodeRgbPng(new Uint8Array(2048 * 2048 * 3), 2048, 2048));
  writeFileSync(join(inputs, 'c.png'), encodeRgbPng(photo(40, 24, 6), 40, 24));
  writeFileSync(join(inputs, 'd.png'), encodeRgbPng(photo(32, 32, 7), 32, 32));
  const r = freqreg(['segment', inputs, '--model', model, '--out', out, '--engine', 'reference', '--threads', '1', '--timeout', '3']);
  t.equal(r.code, 1, `exit 1: ${r.stderr}`);
  t.match(r.stderr, /skipped \S+b-slow\.png: .*not done within 3 s; its worker was terminated.*\[TIMEOUT\]/, 'the slow image is stopped and reported');
  t.same(writtenOrder(r.stdout), ['a.png', 'c.png', 'd.png'], 'the others are done, in order');
  t.match(r.stdout, /3 of 4 images segmented, 1 failed:/, 'summary');
  const want = await masksOneAtATime(model, 'reference', 1, ['a.png', 'c.png', 'd.png'].map((n) => join(inputs, n)));
  for (const n of ['a', 'c', 'd']) t.same(readFileSync(join(out, `${n}-mask.png`)), Buffer.from(want.get(join(inputs, `${n}.png`))!), `${n}-mask.png byte for byte`);
  t.notOk(readdirSync(out).includes('b-slow-mask.png'), 'no mask for the stopped image');
});

t.test('two inputs with one mask name: the second is refused, even when it was sent ahead of the first\'s write', async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  const model = join(dir, 'tiny-sparse.pt');
  const work = mkdtempSync(join(tmpdir(), 'freqreg-pipeline-names-'));
  const out = join(work, 'out');
  for (const sub of ['a', 'b']) mkdirSync(join(work, sub));
  copyFileSync(join(dir, 'tiny-sparse-input.png'), join(work, 'a', 'x.png'));
  writeFileSync(join(work, 'b', 'x.png'), encodeRgbPng(photo(40, 24, 8), 40, 24));
  const want = await masksOneAtATime(model, 'auto', 1, [join(work, 'a', 'x.png')]);
  for (const extra of [[], ['--overwrite']]) {
    const r = freqreg(['segment', join(work, 'a', 'x.png'), join(work, 'b', 'x.png'), '--model', model, '--out', out, '--threads', '1', ...extra]);
    const label = extra.join(' ') || 'no flags';
    t.equal(r.code, 1, `${label}: exit 1`);
    t.match(r.stdout, /b\/x\.png: .*another input already wrote \S+x-mask\.png .*\[OUTPUT_PATH\]/, `${label}: the second input is refused`);
    t.same(readFileSync(join(out, 'x-mask.png')), Buffer.from(want.get(join(work, 'a', 'x.png'))!), `${label}: the mask is the first input's`);
  }
});
