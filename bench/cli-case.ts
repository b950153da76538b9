/**
 * The whole `freqreg segment` process, as a user runs it: the built command (`node bin/freqreg.js`)
 * timed from spawn to exit, into a fresh temporary folder each run.
 *
 *   node dist-bench/bench/cli-case.js --mode=one --runs=5 [--threads=2] [--roots=DIR,DIR]
 *   node dist-bench/bench/cli-case.js --mode=batch --runs=3 [--threads=2] [--roots=DIR,DIR]
 *
 * `one`: `segment in0000.png` with the upstream model; median wall seconds of `runs`.
 * `batch`: `segment testimgs/input` (the 16 upstream photos, one command); median images per
 * second of `runs`. Every run must exit 0 and write every mask. `--roots` times other builds of
 * freqreg (folders holding bin/freqreg.js and its dist/) in the same run, their runs interleaved
 * with these (same machine load); default: this package. Prints one JSON line.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { findDataDir, PACKAGE_ROOT } from '../src/node/data.js';

export interface CliCaseResult {
  mode: 'one' | 'batch';
  threads: number;
  images: number;
  /** Per build ('this build', or another build's folder name): wall seconds of every run, and the median. */
  builds: { build: string; seconds: number[]; medianSeconds: number; imagesPerSecond: number }[];
}

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const mode = arg('mode', 'one') === 'batch' ? 'batch' : 'one';
const runs = Number(arg('runs', mode === 'one' ? '5' : '3'));
const threads = Number(arg('threads', '2'));
const roots = arg('roots', PACKAGE_ROOT).split(',').map((r) => resolve(r));

const dir = findDataDir();
if (!dir) throw new Error('upstream data not found: set FREQREG_DATA');
const folder = join(dir, 'testimgs', 'input');
const input = mode === 'one' ? join(folder, 'in0000.png') : folder;
const images = mode === 'one' ? 1 : readdirSync(folder).filter((n) => /\.png$/i.test(n)).length;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Wall seconds of one `freqreg segment` process of the build at `root`. */
function timeOnce(root: string): number {
  const out = mkdtempSync(join(tmpdir(), 'freqreg-bench-cli-'));
  try {
    const args = [join(root, 'bin', 'freqreg.js'), 'segment', input, '--model', join(dir!, 'unet_fr.tar.xz'), '--out', out, '--threads', String(threads)];
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
    const seconds = (performance.now() - t0) / 1000;
    const masks = readdirSync(out).filter((n) => n.endsWith('-mask.png')).length;
    if (r.status !== 0 || masks !== images) throw new Error(`${root}: exit ${r.status}, ${masks} of ${images} masks: ${r.stderr}`);
    return seconds;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const seconds = roots.map(() => [] as number[]);
for (let r = 0; r < runs; r++) roots.forEach((root, i) => seconds[i]!.push(timeOnce(root)));
const result: CliCaseResult = {
  mode, threads, images,
  builds: roots.map((root, i) => {
    const m = median(seconds[i]!);
    return { build: root === PACKAGE_ROOT ? 'this build' : basename(root), seconds: seconds[i]!, medianSeconds: m, imagesPerSecond: images / m };
  }),
};
console.log(JSON.stringify(result));
