/**
 * Every command and flag has a cap, and the command line survives faults: a closed stdout, an
 * unusable --out, a failing disk, a file created at a mask's name mid-run, temporaries left by a
 * killed run. Exit codes and one-line messages as the README gives them; never a stack trace.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import * as realFs from 'node:fs';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { FreqregError } from '../src/errors.js';
import { writePacked } from '../src/formats/packed.js';
import { denseWeightCount } from '../src/engines/budget.js';
import { exportOnnx } from '../src/onnx-export.js';
import { PACKAGE_ROOT } from './helpers.js';
import { modelDict } from './support/checkpoint.js';
import { chunk, ihdr, IEND, png, zeroRows } from './support/png-builder.js';
import { syntheticModel } from './support/synthetic.js';

const BIN = join(PACKAGE_ROOT, 'bin', 'freqreg.js');
const TINY_MODEL = join(PACKAGE_ROOT, 'fixtures', 'pytorch', 'tiny-sparse.pt');
const TINY_INPUT = join(PACKAGE_ROOT, 'fixtures', 'pytorch', 'tiny-sparse-input.png');

function freqreg(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const work = () => mkdtempSync(join(tmpdir(), 'freqreg-faults-'));

/** A one-line refusal: the code in brackets, no stack trace. */
function oneLine(t: Test, stderr: string, code: string, label: string): void {
  t.match(stderr, new RegExp(`\\[${code}\\]`), `${label}: ${code}`);
  t.notMatch(stderr, /\n\s+at /, `${label}: no stack trace`);
}

// ---------------- every command and flag has a cap ----------------

t.test('export --onnx: the engines\' dense-weight cap applies, checked before any weight is formed', async (t) => {
  const wide = syntheticModel({ width: 256, nnzPerLayer: 1 });
  t.ok(denseWeightCount(wide) > 256_000_000, `width 256: ${denseWeightCount(wide)} dense weights`);
  t.throws(() => exportOnnx(wide, { limits: { maxDenseWeights: 1000 } }), { code: 'MODEL_TOO_LARGE' }, 'library: a small cap');
  const dir = work();
  const frq = join(dir, 'wide.frq');
  writeFileSync(frq, writePacked(modelDict(wide)));
  t.ok(readFileSync(frq).length < 2000, `the model is ${readFileSync(frq).length} bytes`);
  const r = freqreg(['export', frq, '--onnx', join(dir, 'wide.onnx')]);
  t.equal(r.code, 3, 'exit 3: refused');
  oneLine(t, r.stderr, 'MODEL_TOO_LARGE', 'export --onnx');
  t.notOk(existsSync(join(dir, 'wide.onnx')), 'nothing written');
});

t.test('--threads: at most the cores available; --timeout: a positive number of seconds up to a day', async (t) => {
  const dir = work();
  for (const args of [['--threads', '100000'], ['--threads', String(availableParallelism() + 1)], ['--threads', '0'], ['--timeout', '3000000'], ['--timeout', '0'], ['--timeout', 'NaN']]) {
    const r = freqreg(['segment', TINY_INPUT, '--model', TINY_MODEL, '--out', join(dir, 'out'), ...args]);
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    oneLine(t, r.stderr, 'USAGE', args.join(' '));
  }
  const demo = freqreg(['demo', '--threads', '100000']);
  t.equal(demo.code, 2, 'demo --threads 100000: exit 2');
  t.match(demo.stderr, new RegExp(`at most ${availableParallelism()}`), 'says the cap');
  const ok = freqreg(['segment', TINY_INPUT, '--model', TINY_MODEL, '--out', join(dir, 'out'), '--threads', String(availableParallelism()), '--timeout', '86400']);
  t.equal(ok.code, 0, `--threads ${availableParallelism()} --timeout 86400 are accepted: ${ok.stderr}`);
});

t.test('inspect --plan: at most the largest image freqreg reads', async (t) => {
  const r = freqreg(['inspect', TINY_MODEL, '--plan', '2000000000x2000000000']);
  t.equal(r.code, 2, 'exit 2');
  oneLine(t, r.stderr, 'USAGE', '--plan 2000000000x2000000000');
  t.equal(freqreg(['inspect', TINY_MODEL, '--plan', '16384x16384']).code, 0, '--plan 16384x16384 is accepted');
});

t.test('loading the model has a time budget too (--load-timeout)', async (t) => {
  const r = freqreg(['segment', TINY_INPUT, '--model', TINY_MODEL, '--out', join(work(), 'out'), '--load-timeout', '0.001']);
  t.equal(r.code, 3, 'exit 3: the model was not loaded in time');
  oneLine(t, r.stderr, 'TIMEOUT', 'a 1 ms budget');
  t.match(r.stderr, /loading the model/);
  const bad = freqreg(['segment', TINY_INPUT, '--model', TINY_MODEL, '--out', join(work(), 'out'), '--load-timeout', '3000000']);
  t.equal(bad.code, 2, '--load-timeout 3000000: exit 2');
  oneLine(t, bad.stderr, 'USAGE', '--load-timeout 3000000');
});

t.test('working memory is checked from the PNG header, before the pixels are decoded', async (t) => {
  // 16384 × 4096 (exactly the pixel limit), valid chunks, but an IDAT that is not deflate data: a
  // decoder reaching the pixels would say PNG_DATA; the budget check must come first.
  const bogusIdat = png(ihdr({ width: 16384, height: 4096 }), chunk('IDAT', [0x78, 0x9c, 0xff, 0xff, 0xff]), IEND);
  const dir = work();
  writeFileSync(join(dir, 'huge.png'), bogusIdat);
  const r = freqreg(['segment', join(dir, 'huge.png'), '--model', TINY_MODEL, '--out', join(dir, 'out'), '--engine', 'dense']);
  t.equal(r.code, 3, 'exit 3: the only image was refused');
  t.match(r.stdout, /huge\.png.*OUT_OF_MEMORY/, 'refused for working memory, not for its data');
  // The same header with real (all-zero) pixel data: decoding would form 768 MiB of input tensor.
  writeFileSync(join(dir, 'zeros.png'), png(ihdr({ width: 16384, height: 4096 }), chunk('IDAT', deflateSync(zeroRows(16384, 4096, 24))), IEND));
  const z = freqreg(['segment', join(dir, 'zeros.png'), '--model', TINY_MODEL, '--out', join(dir, 'out'), '--engine', 'dense']);
  t.match(z.stdout, /zeros\.png.*OUT_OF_MEMORY/, 'a valid 16384×4096 image: OUT_OF_MEMORY');
});

// ---------------- the command line under faults ----------------

t.test('a closed stdout (| head -n 1) does not stop the batch', async (t) => {
  const dir = work();
  mkdirSync(join(dir, 'in'));
  for (let i = 0; i < 16; i++) copyFileSync(TINY_INPUT, join(dir, 'in', `p${String(i).padStart(2, '0')}.png`));
  const script = `"${process.execPath}" "${BIN}" segment "${join(dir, 'in')}" --model "${TINY_MODEL}" --out "${join(dir, 'out')}" --threads 1 | head -n 1; echo "exit \${PIPESTATUS[0]}" >&2`;
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 300_000 });
  t.equal(r.stdout.split('\n').filter(Boolean).length, 1, 'head printed one line');
  t.match(r.stderr, /exit 0/, 'freqreg ended with exit 0');
  t.notMatch(r.stderr, /EPIPE|\n\s+at /, 'no EPIPE stack trace');
  t.equal(readdirSync(join(dir, 'out')).filter((n) => n.endsWith('-mask.png')).length, 16, 'all 16 masks written');
});

t.test('--out that cannot be a folder: a usage error in one line, exit 2', async (t) => {
  const dir = work();
  writeFileSync(join(dir, 'file'), 'x');
  symlinkSync(join(dir, 'loop-b'), join(dir, 'loop-a'));
  symlinkSync(join(dir, 'loop-a'), join(dir, 'loop-b'));
  for (const [label, out] of [['an existing file', join(dir, 'file')], ['a symlink loop', join(dir, 'loop-a')], ['a folder under a file', join(dir, 'file', 'sub')]]) {
    const r = freqreg(['segment', TINY_INPUT, '--model', TINY_MODEL, '--out', out]);
    t.equal(r.code, 2, `${label}: exit 2`);
    oneLine(t, r.stderr, 'USAGE', label);
  }
});

t.test('stale temporaries of a killed run are removed by the next; fresh ones and other files are kept', async (t) => {
  const dir = work();
  const out = join(dir, 'out');
  mkdirSync(out);
  const old = Date.now() / 1000 - 3600;
  const stale = '.a-mask.png.4242.k3j2h1.tmp', fresh = '.b-mask.png.4243.z9y8x7.tmp', other = '.notes.4244.abc.tmp';
  for (const name of [stale, fresh, other]) writeFileSync(join(out, name), 'partial');
  utimesSync(join(out, stale), old, old);
  utimesSync(join(out, other), old, old);
  const r = freqreg(['segment', TINY_INPUT, '--model', TINY_MODEL, '--out', out]);
  t.equal(r.code, 0, r.stderr);
  const left = readdirSync(out);
  t.notOk(left.includes(stale), 'the hour-old mask temporary is gone');
  t.ok(left.includes(fresh), 'a fresh one (another run may be writing it) is kept');
  t.ok(left.includes(other), 'a file the command did not name is kept');
});

/** files.ts over a node:fs whose promises API is changed by `patch`. */
async function filesWith(t: Test, patch: Partial<typeof realFs.promises>) {
  const fsMock = { ...realFs, promises: { ...realFs.promises, ...patch } };
  return t.mockImport<typeof import('../src/node/files.js')>('../src/node/files.js', { 'node:fs': fsMock });
}

t.test('a full disk is a write failure naming the file (FILE_WRITE), and leaves no temporary', async (t) => {
  const dir = work();
  const files = await filesWith(t, {
    writeFile: (async (path: string) => {
      writeFileSync(path, 'half'); // part of it reached the disk
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    }) as typeof realFs.promises.writeFile,
  });
  const target = join(dir, 'a-mask.png');
  const e = await files.writeFileAtomic(target, new Uint8Array(8), false).then(() => undefined, (x: unknown) => x);
  t.ok(e instanceof FreqregError, 'a FreqregError');
  t.equal((e as FreqregError).code, 'FILE_WRITE');
  t.match((e as FreqregError).message, /ENOSPC/);
  t.equal((e as FreqregError).where.file, target, 'names the file');
  t.same(readdirSync(dir), [], 'no temporary left, no mask');
});

t.test('a file created at the mask\'s name while it is written is never replaced without --overwrite', async (t) => {
  const dir = work();
  const target = join(dir, 'a-mask.png');
  const files = await filesWith(t, {
    writeFile: (async (path: string, data: Uint8Array, options: realFs.WriteFileOptions) => {
      await realFs.promises.writeFile(path, data, options);
      writeFileSync(target, 'someone else'); // the race: after any existence check, before the mask lands
    }) as typeof realFs.promises.writeFile,
  });
  const e = await files.writeFileAtomic(target, new Uint8Array(8), false).then(() => undefined, (x: unknown) => x);
  t.equal((e as FreqregError)?.code, 'OUTPUT_EXISTS');
  t.equal(readFileSync(target, 'utf8'), 'someone else', 'the other file is intact');
  t.same(readdirSync(dir), ['a-mask.png'], 'no temporary left');
  await files.writeFileAtomic(target, new Uint8Array(8), true);
  t.equal(readFileSync(target).length, 8, 'with --overwrite it is replaced');
});
