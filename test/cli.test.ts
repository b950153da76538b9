/**
 * The `freqreg` command as a user runs it: inspect's figures, exit codes, and segment on a folder
 * of good and bad inputs (nothing lost, nothing overwritten).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeImage, decodePng } from '../src/node/png.js';
import { fixturesDir, PACKAGE_ROOT, readFixtures, upstreamDir } from './helpers.js';
import { encodeJpeg, segment, sofBody, withOrientation } from './support/jpeg-builder.js';
import { concat } from './support/writers.js';
import { maskToGrey } from '../src/metrics.js';
import { createNodeSegmenter } from '../src/node/index.js';

const BIN = join(PACKAGE_ROOT, 'bin', 'freqreg.js');

function freqreg(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

t.test('inspect the upstream model: 759 non-zeros in 23 tensors, 31,024,960 dense weights', async (t) => {
  const dir = upstreamDir(t);
  if (!dir) return;
  const r = freqreg(['inspect', join(dir, 'unet_fr.tar.xz'), '--json']);
  t.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  t.equal(s.nonzero.total, 759);
  t.equal(s.nonzero.weights, 759);
  t.equal(s.nonzero.biases, 0);
  t.equal(s.tensors, 23);
  t.equal(s.denseWeights, 31_024_960);
  t.equal(s.fileBytes, 4524);
  const table = freqreg(['inspect', join(dir, 'unet_fr.tar.xz')]);
  t.match(table.stdout, /non-zero parameters: 759 \(weights 759, biases 0\) in 23 tensors/);
  t.match(table.stdout, /dense weights: 31,024,960/);
});

t.test('inspect every fixture, .pt and .tar.xz: the non-zero count of fixtures.json', async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  for (const f of readFixtures(dir)) {
    for (const file of [f.model, f.model_xz]) {
      const r = freqreg(['inspect', join(dir, file), '--json']);
      t.equal(r.code, 0, r.stderr);
      const s = JSON.parse(r.stdout);
      t.equal(s.nonzero.total, f.nonzero_parameters, `${file}: ${f.nonzero_parameters} non-zeros`);
      t.same([s.arch.width, s.arch.inChannels, s.arch.classes], [f.base_width, f.in_channels, f.classes], `${file}: architecture`);
    }
  }
});

t.test('exit codes: usage 2, refused input 3, data missing 4', async (t) => {
  const v = freqreg(['--version']);
  t.same([v.code, v.stdout.trim()], [0, `freqreg ${JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version}`], '--version: the package version, exit 0');
  t.equal(freqreg([]).code, 2);
  t.equal(freqreg(['frobnicate']).code, 2);
  t.equal(freqreg(['inspect']).code, 2);
  t.equal(freqreg(['inspect', 'a', '--bogus']).code, 2);
  t.equal(freqreg(['inspect', '--help']).code, 0);
  const junk = join(mkdtempSync(join(tmpdir(), 'freqreg-cli-')), 'model.tar.xz');
  writeFileSync(junk, 'not a model');
  const r = freqreg(['inspect', junk]);
  t.equal(r.code, 3);
  t.match(r.stderr, /UNKNOWN_FORMAT/);
  const missing = freqreg(['demo', '--data', join(tmpdir(), 'no-such-folder-freqreg')]);
  t.equal(missing.code, 4);
  t.match(missing.stderr, /guanfangdong\/pytorch-frequency-regularization/);
});

t.test('segment a folder of good and bad inputs: good ones done, bad ones reported, inputs untouched', async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  const work = mkdtempSync(join(tmpdir(), 'freqreg-segment-'));
  const inputs = join(work, 'in');
  const out = join(work, 'out');
  spawnSync('mkdir', [inputs]);
  copyFileSync(join(dir, 'tiny-sparse-input.png'), join(inputs, 'a.png'));
  copyFileSync(join(dir, 'tiny-half-input.png'), join(inputs, 'b.png'));
  writeFileSync(join(inputs, 'corrupt.png'), readFileSync(join(dir, 'tiny-sparse-input.png')).subarray(0, 200));
  spawnSync('mkfifo', [join(inputs, 'fifo.png')]);
  symlinkSync('/dev/zero', join(inputs, 'zero.png'));
  const before = Object.fromEntries(['a.png', 'b.png', 'corrupt.png'].map((n) => [n, sha(join(inputs, n))]));

  const r = freqreg(['segment', inputs, '--model', join(dir, 'tiny-sparse.pt'), '--out', out, '--engine', 'dense', '--threads', '1']);
  t.equal(r.code, 1, 'non-zero exit when an input failed');
  t.same(readdirSync(out).sort(), ['a-mask.png', 'b-mask.png']);
  t.match(r.stdout, /2 of 5 images segmented, 3 failed/);
  t.match(r.stdout, /corrupt\.png.*IMAGE_TRUNCATED|corrupt\.png.*PNG_/);
  t.match(r.stdout, /fifo\.png.*FILE_NOT_REGULAR/);
  t.match(r.stdout, /zero\.png.*FILE_NOT_REGULAR/);
  for (const [n, h] of Object.entries(before)) t.equal(sha(join(inputs, n)), h, `${n} untouched`);
  t.ok(statSync(join(inputs, 'fifo.png')).isFIFO(), 'the FIFO is still a FIFO');

  const mask = decodePng(readFileSync(join(out, 'a-mask.png')));
  t.same([mask.width, mask.height, mask.channels], [61, 45, 1]);
  t.ok([...mask.data].every((v) => v === 0 || v === 255), 'mask is 0/255');

  const again = freqreg(['segment', join(inputs, 'a.png'), '--model', join(dir, 'tiny-sparse.pt'), '--out', out]);
  t.equal(again.code, 3, 'an existing mask is not replaced without --overwrite: the only input refused, exit 3');
  t.match(again.stdout, /OUTPUT_EXISTS/);
  const forced = freqreg(['segment', join(inputs, 'a.png'), '--model', join(dir, 'tiny-sparse.pt'), '--out', out, '--overwrite']);
  t.equal(forced.code, 0, forced.stderr);
});

t.test('output exists: exit 3 from every command that writes one', async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  const work = mkdtempSync(join(tmpdir(), 'freqreg-exists-'));
  const taken = join(work, 'taken');
  writeFileSync(taken, 'mine');
  const pack = freqreg(['pack', join(dir, 'tiny-sparse.pt'), '-o', taken]);
  t.same([pack.code, /OUTPUT_EXISTS/.test(pack.stderr)], [3, true], 'pack onto an existing file: 3 OUTPUT_EXISTS');
  copyFileSync(join(dir, 'tiny-sparse-input.png'), join(work, 'x.png'));
  writeFileSync(join(work, 'x-mask.png'), 'mine');
  const seg = freqreg(['segment', join(work, 'x.png'), '--model', join(dir, 'tiny-sparse.pt'), '--out', work, '--threads', '1']);
  t.same([seg.code, /OUTPUT_EXISTS/.test(seg.stdout)], [3, true], 'segment onto an existing mask: 3 OUTPUT_EXISTS');
  t.equal(readFileSync(join(work, 'taken'), 'utf8') + readFileSync(join(work, 'x-mask.png'), 'utf8'), 'minemine', 'both files untouched');
});

t.test('segment a folder of PNG and JPEG photos into itself, twice: skipped entries listed, masks never taken as inputs', async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  const model = join(dir, 'tiny-sparse.pt');
  const folder = mkdtempSync(join(tmpdir(), 'freqreg-jpeg-cli-'));
  const photo = decodePng(readFileSync(join(dir, 'tiny-sparse-input.png')));
  copyFileSync(join(dir, 'tiny-sparse-input.png'), join(folder, 'a.png'));
  const jpg = encodeJpeg(photo, 95);
  writeFileSync(join(folder, 'b.jpg'), jpg);
  writeFileSync(join(folder, 'c.JPEG'), withOrientation(jpg, 6)); // turned 90° clockwise when shown
  writeFileSync(join(folder, 'notes.txt'), 'not an image');
  spawnSync('mkdir', [join(folder, 'sub')]);
  const run = (extra: string[] = []) => freqreg(['segment', folder, '--model', model, '--out', folder, '--engine', 'dense', '--threads', '1', ...extra]);

  const first = run();
  t.equal(first.code, 0, `first run: exit 0 ${first.stderr}`);
  t.match(first.stdout, /3 of 3 images segmented/);
  t.match(first.stdout, /skipped 2 folder entries:\n.*notes\.txt: not named \.png, \.jpg or \.jpeg\n.*sub: a folder/, 'notes.txt and sub/ listed as skipped');
  const seg = await createNodeSegmenter({ model, engine: 'dense', threads: 1 });
  try {
    for (const [input, mask] of [['b.jpg', 'b-mask.png'], ['c.JPEG', 'c-mask.png']]) {
      const want = await seg.segment(decodeImage(readFileSync(join(folder, input))));
      const got = decodePng(readFileSync(join(folder, mask)));
      t.same([got.width, got.height], [want.width, want.height], `${mask}: ${want.width}×${want.height}`);
      t.same(got.data, maskToGrey(want.classes, want.classCount), `${mask}: the library's mask for ${input}`);
    }
  } finally {
    await seg.dispose();
  }
  t.same([decodePng(readFileSync(join(folder, 'c-mask.png'))).width, decodePng(readFileSync(join(folder, 'c-mask.png'))).height], [photo.height, photo.width], 'the EXIF-turned photo\'s mask is turned as the photo is shown');

  const second = run();
  t.equal(second.code, 3, 'second run without --overwrite: every input refused, exit 3');
  t.match(second.stdout, /0 of 3 images segmented, 3 failed/);
  t.match(second.stdout, /a-mask\.png: a mask in the --out folder/, 'the first run\'s masks are listed as skipped');
  const third = run(['--overwrite']);
  t.equal(third.code, 0, 'third run with --overwrite: exit 0');
  t.same(readdirSync(folder).filter((n) => n.includes('-mask-mask')), [], 'no mask of a mask, ever');
  t.same(readdirSync(folder).sort(), ['a-mask.png', 'a.png', 'b-mask.png', 'b.jpg', 'c-mask.png', 'c.JPEG', 'notes.txt', 'sub']);

  const empty = freqreg(['segment', join(folder, 'sub'), '--model', model, '--out', join(folder, 'sub')]);
  t.same([empty.code, /DATA_MISSING/.test(empty.stderr)], [4, true], 'a folder with no images: exit 4 DATA_MISSING');
});

t.test('segment refuses a JPEG declaring 65535×65535 and a truncated JPEG with their codes', async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  const work = mkdtempSync(join(tmpdir(), 'freqreg-jpeg-bad-'));
  const bomb = concat(Uint8Array.of(0xff, 0xd8), segment(0xc0, sofBody(65535, 65535, [[1, 0x22, 0], [2, 0x11, 1], [3, 0x11, 1]])), Uint8Array.of(0xff, 0xd9));
  writeFileSync(join(work, 'bomb.jpg'), bomb);
  const jpg = encodeJpeg(decodePng(readFileSync(join(dir, 'tiny-sparse-input.png'))), 90);
  writeFileSync(join(work, 'cut.jpg'), jpg.subarray(0, jpg.length >> 1));
  const r = freqreg(['segment', join(work, 'bomb.jpg'), join(work, 'cut.jpg'), '--model', join(dir, 'tiny-sparse.pt'), '--out', join(work, 'out'), '--threads', '1']);
  t.equal(r.code, 3, 'both refused: exit 3');
  t.match(r.stdout, /bomb\.jpg: .*65535×65535.*IMAGE_TOO_LARGE/, `a ${bomb.length}-byte file declaring 65535×65535: IMAGE_TOO_LARGE`);
  t.match(r.stdout, /cut\.jpg: .*IMAGE_TRUNCATED/, 'a JPEG cut in half: IMAGE_TRUNCATED');
  t.same(readdirSync(join(work, 'out')), [], 'no mask written');
});
