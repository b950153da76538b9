/**
 * `npm run bench`: one run of everything, on the machine it runs on — the kernels and the spectral
 * engine on both kernel builds side by side (plain SIMD, and relaxed-SIMD FMA: src/wasm/features.ts),
 * each against its own ceiling —
 *   1. the SIMD ceiling and every kernel at the upstream shapes, 1 and 2 threads (bench/kernels.ts);
 *   2. the spectral engine's fused kernels in place, 1 thread, against their scalar twins (bench/spectral.ts);
 *   3. end to end per engine (dense, spectral, auto), 959×640 and 1918×1280, 1 and 2 threads, one
 *      process per configuration (bench/engine-case.ts): load, cold, median warm, images/s, peak RSS,
 *      the kernel memory's peak and the engine's working-memory estimate;
 *   4. with --peers: the dense ONNX export of the same model (src/onnx-export.ts) in onnxruntime-node
 *      and onnxruntime-web (WASM), 1 and 2 threads, on the same image, each run right after
 *      freqreg's runs with as many threads (bench/peer-case.ts); masks compared pixel for pixel
 *      with the dense engine's; time ratios.
 * Prints tables and writes bench/results/bench-<date>.json (machine, Node and V8 versions, load
 * averages before and after), and the tables as Markdown in dist-bench/bench-<date>.md (for
 * docs/benchmarks.md; `node dist-bench/bench/report.js FILE.json` renders any saved run again).
 *
 *   npm run bench                    # everything but the peers (about 10 minutes on 2 cores)
 *   npm run bench -- --quick         # under a minute: kernels cropped, spectral and auto at 959×640
 *   npm run bench -- --peers         # everything and the peers (add about 6 minutes)
 *   npm run bench -- --quick --peers # the quick run and the peers at 959×640 with fewer runs
 *   npm run bench -- --backward-only # only the backward rows: the spectral engine's forward +
 *                                    # backward (bench/backward-case.ts) against its forward alone,
 *                                    # 240×160 and 959×640, 1 and 2 threads (times alternated in
 *                                    # one process, peak RSS one process each)
 *   npm run bench -- --train-only    # only the training steps (5. below; about 10 minutes with PyTorch)
 *   npm run bench -- --cli-only      # only the whole-process rows (6. below; about 20 s)
 *   5. training steps per second at 240×160 and 959×640, 1 and 2 threads, beside PyTorch's step
 *      where python3 has torch (bench/train.ts).
 *   6. the whole `freqreg segment` process (bench/cli-case.ts), 2 threads: one photo (median of 5
 *      runs, seconds from spawn to exit) and the 16 upstream photos in one command (median of 3,
 *      images/s). `--cli-baseline=DIR` times another build (a folder with bin/ and dist/, e.g. a
 *      checkout of an earlier commit, built) in the same run, its runs interleaved with ours.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT, findDataDir } from '../src/node/data.js';
import { loadModelFile } from '../src/node/load.js';
import { exportOnnx } from '../src/onnx-export.js';
import { trainBench } from './train.js';
import { installPeers, peerInstalled } from './peers.js';
import { renderMarkdown, type BenchResult, type CaseResult, type KernelsResult, type SpectralKernel, type TrainResult } from './report.js';
import type { CliCaseResult } from './cli-case.js';

interface TrainCase { width: number; height: number; ranks?: number; medianSeconds: number; warmSeconds: number[]; peakRssMiB: number }
interface PairCase { forwardSeconds: number; trainSeconds: number; forwardWarm: number[]; trainWarm: number[] }

const quick = process.argv.includes('--quick');
const backwardOnly = process.argv.includes('--backward-only');
const trainOnly = process.argv.includes('--train-only');
const peers = process.argv.includes('--peers');
const cliOnly = process.argv.includes('--cli-only');
const cliBaseline = process.argv.find((a) => a.startsWith('--cli-baseline='))?.slice('--cli-baseline='.length);
const here = fileURLToPath(new URL('.', import.meta.url));
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const resultsDir = join(PACKAGE_ROOT, 'bench', 'results');
const scratchDir = join(PACKAGE_ROOT, 'dist-bench', 'scratch');
mkdirSync(resultsDir, { recursive: true });
mkdirSync(scratchDir, { recursive: true });

const dataDir = findDataDir();
if (!dataDir) throw new Error('upstream data not found: set FREQREG_DATA');

function node(script: string, args: string[], capture: boolean, env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, [join(here, script), ...args], {
    encoding: 'utf8', stdio: ['ignore', capture ? 'pipe' : 'inherit', capture ? 'pipe' : 'inherit'], maxBuffer: 1 << 26, env: { ...process.env, ...env },
  });
}
const lastJson = <T>(out: string): T => JSON.parse(out.trim().split('\n').pop()!) as T;
const load = () => loadavg().map((x) => +x.toFixed(2));

const machine = {
  cpu: cpus()[0]?.model, cores: cpus().length, memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
  node: process.version, v8: process.versions.v8, platform: `${process.platform} ${process.arch}`, loadBefore: load(), loadAfter: [] as number[],
};
console.log(`machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node} (V8 ${machine.v8}); load averages ${machine.loadBefore.join(', ')}`);

if (trainOnly) {
  const training = await trainBench(dataDir, scratchDir, quick);
  machine.loadAfter = load();
  const file = join(resultsDir, `bench-train-${stamp}.json`);
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), quick, machine, training }, null, 2));
  console.log(`\nload averages after: ${machine.loadAfter.join(', ')}\nwritten ${file}`);
  process.exit(0);
}

if (backwardOnly) {
  const backward = await backwardRows();
  machine.loadAfter = load();
  const file = join(resultsDir, `bench-backward-${stamp}.json`);
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), machine, backward }, null, 2));
  console.log(`\nload averages after: ${machine.loadAfter.join(', ')}\nwritten ${file}`);
  process.exit(0);
}

/** The whole `freqreg segment` process: one photo, and the 16 photos in one command (bench/cli-case.ts). */
function wholeProcessRows(): CliCaseResult[] {
  console.log(`\nwhole process, built command, upstream model, 2 threads${cliBaseline ? `, beside ${cliBaseline} (runs interleaved)` : ''}:`);
  const roots = [PACKAGE_ROOT, ...(cliBaseline ? [cliBaseline] : [])].join(',');
  const rows: CliCaseResult[] = [];
  for (const [mode, runs] of [['one', 5], ['batch', 3]] as const) {
    const r = lastJson<CliCaseResult>(node('cli-case.js', [`--mode=${mode}`, `--runs=${runs}`, '--threads=2', `--roots=${roots}`], true));
    rows.push(r);
    for (const b of r.builds) {
      const what = mode === 'one' ? 'freqreg segment in0000.png' : `${r.images} images through segment`;
      const figure = mode === 'one' ? `${b.medianSeconds.toFixed(3)} s` : `${b.imagesPerSecond.toFixed(2)} images/s (${b.medianSeconds.toFixed(2)} s)`;
      console.log(`  ${what.padEnd(30)} ${figure.padEnd(28)} median of ${runs}  ${b.build}  load ${load()[0]}`);
    }
  }
  return rows;
}

if (cliOnly) {
  const wholeProcess = wholeProcessRows();
  machine.loadAfter = load();
  const file = join(resultsDir, `bench-cli-${stamp}.json`);
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), machine, wholeProcess }, null, 2));
  console.log(`\nload averages after: ${machine.loadAfter.join(', ')}\nwritten ${file}`);
  process.exit(0);
}

/** Forward + backward (engine built for training, R = 33) against the forward alone: time and peak RSS. */
async function backwardRows(): Promise<TrainResult[]> {
  console.log('\nbackward: spectral forward + backward against the forward alone, upstream model; times alternated in one process, peak RSS one process each:');
  const rows: TrainResult[] = [];
  for (const size of ['240x160', '959x640']) for (const threads of [1, 2]) {
    // 240×160: 25 runs, so that the median is the steady state a trainer sees (the first few are JIT warm-up).
    const runs = size === '240x160' ? 25 : 5;
    const args = (mode: string) => [`--mode=${mode}`, `--size=${size}`, `--threads=${threads}`, `--runs=${runs}`];
    // Times from one process alternating the two passes (their ratio side by side); peak RSS from one process each.
    const pair = lastJson<PairCase>(node('backward-case.js', args('pair'), true));
    const forward = lastJson<TrainCase>(node('backward-case.js', args('forward'), true)), train = lastJson<TrainCase>(node('backward-case.js', args('train'), true));
    const row: TrainResult = {
      width: train.width, height: train.height, threads, ranks: train.ranks!, forwardSeconds: pair.forwardSeconds, trainSeconds: pair.trainSeconds,
      timeRatio: pair.trainSeconds / pair.forwardSeconds, forwardPeakRssMiB: forward.peakRssMiB, trainPeakRssMiB: train.peakRssMiB,
      memoryRatio: train.peakRssMiB / forward.peakRssMiB, warmSeconds: pair.trainWarm,
    };
    rows.push(row);
    console.log(`  ${`${row.width}×${row.height}`.padEnd(9)} ${threads} thread(s)  forward ${(1000 * row.forwardSeconds).toFixed(1)} ms  forward + backward ${(1000 * row.trainSeconds).toFixed(1)} ms` +
      ` (×${row.timeRatio.toFixed(2)})  peak RSS ${row.forwardPeakRssMiB.toFixed(0)} → ${row.trainPeakRssMiB.toFixed(0)} MiB (×${row.memoryRatio.toFixed(2)})  medians of ${runs}`);
  }
  return rows;
}

// 1. kernels and the ceiling
console.log(`\nkernels${quick ? ' (--quick: cropped rows, same per-row work)' : ''}:`);
const kernelsJson = join(scratchDir, `kernels-${stamp}.json`);
node('kernels.js', [...(quick ? ['--quick'] : []), `--json=${kernelsJson}`], false);
const kernels = JSON.parse(readFileSync(kernelsJson, 'utf8')) as KernelsResult;
rmSync(kernelsJson);

// 2. the spectral engine's fused kernels, in place, on each kernel build against its own ceiling
console.log('\nspectral engine kernels in place (1 thread, upstream model, 959×640):');
const spectral: { spectralKernels: SpectralKernel[]; twinLogitsRelative?: number } = { spectralKernels: [] };
for (const build of ['simd', 'fma'] as const) {
  const out = node('spectral.js', ['--profile', `--runs=${quick ? 1 : 3}`, ...(quick ? [] : ['--twins'])], true, { FREQREG_KERNELS: build });
  const one = lastJson<{ spectralKernels: SpectralKernel[]; twinLogitsRelative?: number }>(out);
  const ceiling = build === 'fma' ? kernels.ceilingFma! : kernels.ceiling;
  for (const r of one.spectralKernels) {
    r.build = build;
    r.ceilingShare = r.gflops / ceiling.best.gflops;
    console.log(`  ${r.name.padEnd(28)} ${build.padEnd(4)} ${r.msPerImage.toFixed(1).padStart(7)} ms/image ${r.gflops.toFixed(2).padStart(6)} GFLOP/s ${r.gbs.toFixed(2).padStart(6)} GB/s ${(100 * r.ceilingShare).toFixed(1).padStart(5)}% of the ${build} ceiling` +
      `${r.speedup ? `  twin ${r.twinGflops!.toFixed(2)} GFLOP/s, SIMD ×${r.speedup.toFixed(1)}` : ''}`);
  }
  spectral.spectralKernels.push(...one.spectralKernels);
  if (build === 'simd') spectral.twinLogitsRelative = one.twinLogitsRelative;
}

// 3 and 4. end to end, and the peers beside freqreg's runs with the same thread count
let onnx: BenchResult['onnx'];
const onnxFile = join(scratchDir, 'unet_fr.onnx');
if (peers) {
  if (!peerInstalled('onnxruntime-node') || !peerInstalled('onnxruntime-web')) {
    console.log('\ninstalling the peers in bench/peers/ (npm ci, once)');
    installPeers();
  }
  const { model } = await loadModelFile(join(dataDir, 'unet_fr.tar.xz'));
  const t0 = performance.now();
  const bytes = exportOnnx(model, { version: 'bench' });
  onnx = { bytes: bytes.length, seconds: (performance.now() - t0) / 1000, opset: 13 };
  writeFileSync(onnxFile, bytes);
  console.log(`\nONNX export of the upstream model: ${(bytes.length / 2 ** 20).toFixed(1)} MiB in ${onnx.seconds.toFixed(2)} s`);
}
const logitsFile = (threads: number) => join(scratchDir, `dense-${threads}t.f32`);

type Config = Record<string, string | number>;
const KERNEL_BUILDS = ['simd', 'fma'] as const;
const engineConfigs = (threads: number, scale: number): Config[] => {
  // The spectral engine on both kernel builds side by side; the other rows on the build Node picks.
  if (quick) return scale === 1 ? [...KERNEL_BUILDS.map((build) => ({ engine: 'spectral', build, threads, runs: 3 })), ...(threads === 2 ? [{ engine: 'auto', threads, runs: 3 }] : [])] : [];
  const light = scale === 1 ? { runs: 7, batch: 16 } : { runs: 5, batch: 4 };
  return [
    ...KERNEL_BUILDS.map((build) => ({ engine: 'spectral', build, threads, scale, ...light })),
    { engine: 'auto', threads, scale, ...light },
    // dense: a 959×640 image is 898.6 GFLOP (about 10–20 s); 1918×1280 four times that (30–80 s a
    // run, so one warm run there, and not in --quick)
    { engine: 'dense', threads, scale, runs: scale === 1 ? 5 : 1, ...(scale === 1 && peers ? { 'logits-out': logitsFile(threads) } : {}) },
  ];
};
const peerConfigs = (threads: number): Config[] => !peers ? [] : [
  ...(quick ? [{ engine: 'dense', threads, runs: 1, 'logits-out': logitsFile(threads) }] : []),
  { peer: 'ort-node', threads, runs: quick ? 1 : 5 },
  { peer: 'ort-web', threads, runs: quick ? 1 : 3 },
];
const configs: Config[] = [];
for (const scale of [1, 2]) for (const threads of [1, 2]) {
  configs.push(...engineConfigs(threads, scale));
  if (scale === 1) configs.push(...peerConfigs(threads));
}

console.log('\nend to end, upstream model, in0000.png (×2 nearest neighbour for 1918×1280), one process each:');
const endToEnd: CaseResult[] = [];
const peerResults: CaseResult[] = [];
const refused: BenchResult['refused'] = [];
for (const c of configs) {
  let r: CaseResult;
  try {
    if ('peer' in c) {
      const { peer, ...rest } = c;
      const args = Object.entries({ runtime: peer, ...rest, onnx: onnxFile, logits: logitsFile(Number(c.threads)) }).map(([k, v]) => `--${k}=${v}`);
      r = lastJson<CaseResult>(node('peer-case.js', args, true));
      peerResults.push(r);
    } else {
      // `build` goes to the case as FREQREG_KERNELS (the kernel build it loads), not as a flag.
      const { build, ...rest } = c;
      r = lastJson<CaseResult>(node('engine-case.js', Object.entries(rest).map(([k, v]) => `--${k}=${v}`), true, build ? { FREQREG_KERNELS: String(build) } : {}));
      if (build) r.build = String(build);
      endToEnd.push(r);
    }
  } catch (e) {
    // A refusal (e.g. the dense engine's working memory for 1918×1280 is over its budget) is a result too.
    const stderr = String((e as { stderr?: string }).stderr ?? '');
    const reason = /FreqregError: (.*)/.exec(stderr)?.[1] ?? (e as Error).message.split('\n')[0]!;
    const code = /code: '([A-Z_]+)'/.exec(stderr)?.[1];
    refused.push({ config: c, code, reason });
    console.log(`  ${String(c.engine ?? c.peer).padEnd(24)} ${c.threads} thread(s) ×${c.scale ?? 1}: ${code ? `refused [${code}]` : 'failed'}: ${reason}`);
    if (!code) process.stderr.write(stderr);
    continue;
  }
  r.load = load()[0];
  console.log(`  ${`${r.engine}${r.form !== r.engine ? ` (${r.form})` : ''}${r.build ? ` [${r.build}]` : ''}`.padEnd(24)} ${r.threads} thread(s) ${`${r.width}×${r.height}`.padEnd(10)} load ${r.loadSeconds.toFixed(2)} s  cold ${r.coldSeconds.toFixed(3)} s  median ${r.medianSeconds.toFixed(3)} s (of ${r.warmSeconds.length})` +
    `${r.imagesPerSecond ? `  ${r.imagesPerSecond.toFixed(2)} images/s` : ''}  peak RSS ${r.peakRssMiB.toFixed(0)} MiB` +
    `${r.wasmMemoryMiB !== undefined ? `  WASM memory ${r.wasmMemoryMiB.toFixed(0)} MiB (working memory estimate ${r.activationEstimateMiB!.toFixed(0)} MiB)` : ''}` +
    `${r.maskPixelsDifferent !== undefined ? `  mask ≠ upstream: ${r.maskPixelsDifferent} px` : ''}` +
    `${r.maskPixelsDifferentFromFreqreg !== undefined ? `  mask ≠ freqreg dense: ${r.maskPixelsDifferentFromFreqreg} px (${r.atNearTies} at margins < 1e-3)` : ''}`);
}
if (peers) for (const t of [1, 2]) rmSync(logitsFile(t), { force: true });
rmSync(onnxFile, { force: true });

// Ratios: peer seconds per image / freqreg's, same thread count, same run.
const at = (list: CaseResult[], engine: string, threads: number) =>
  list.find((r) => r.engine === engine && r.threads === threads && r.width === 959 && (r.build ?? 'fma') === 'fma');
const ratios: BenchResult['ratios'] = [];
for (const t of [1, 2]) {
  for (const ours of ['spectral', 'auto', 'dense']) {
    const o = at(endToEnd, ours, t);
    if (!o) continue;
    for (const p of peerResults.filter((r) => r.threads === t)) ratios.push({ threads: t, freqreg: ours, peer: p.form, ratio: p.medianSeconds / o.medianSeconds });
    const d = at(endToEnd, 'dense', t);
    if (ours === 'spectral' && d) ratios.push({ threads: t, freqreg: ours, peer: 'freqreg dense', ratio: d.medianSeconds / o.medianSeconds });
  }
}
if (ratios.length) console.log('\nseconds per image, peer / freqreg (same threads, same run; > 1: freqreg faster):');
for (const r of ratios) console.log(`  ${r.threads} thread(s): ${r.peer.padEnd(22)} / freqreg ${r.freqreg.padEnd(8)} = ${r.ratio.toFixed(2)}×`);

const wholeProcess = wholeProcessRows();
const backward = await backwardRows();
const training = await trainBench(dataDir, scratchDir, quick);

machine.loadAfter = load();
const result: BenchResult & { backward: TrainResult[]; training: typeof training } = {
  date: new Date().toISOString(), quick, peers, machine, ceiling: kernels.ceiling, ceilingFma: kernels.ceilingFma, kernels: kernels.rows, convTotals: kernels.totals,
  spectralKernels: spectral.spectralKernels, spectralTwinLogitsRelative: spectral.twinLogitsRelative, endToEnd, peerResults, refused, ratios, onnx,
  wholeProcess, backward, training,
};
const file = join(resultsDir, `bench-${stamp}.json`);
writeFileSync(file, JSON.stringify(result, null, 2));
const markdown = join(PACKAGE_ROOT, 'dist-bench', `bench-${stamp}.md`);
writeFileSync(markdown, renderMarkdown(result));
console.log(`\nload averages after: ${machine.loadAfter.join(', ')}\nwritten ${file}\nMarkdown tables (docs/benchmarks.md): ${markdown}`);
if (kernels.rows.some((r) => !r.valid)) process.exitCode = 1;
