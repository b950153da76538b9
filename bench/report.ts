/**
 * The shape of a `npm run bench` result (bench/results/bench-<date>.json) and its Markdown tables
 * (docs/benchmarks.md is written from them).
 *
 *   node dist-bench/bench/report.js bench/results/bench-<date>.json > tables.md
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Ceiling } from './ceiling.js';
import type { CliCaseResult } from './cli-case.js';
import type { TrainBench } from './train.js';

export interface KernelRow {
  /** Kernel build: 'simd' (build/kernels*.wasm) or 'fma' (build/kernels-fma*.wasm); absent in runs before the FMA build. */
  build?: string; variant: string; name: string; shape: string; threads: number; gflop: number; cold_s: number; median_s: number; runs: number;
  gflops: number; executed_gflops: number; gbs: number; ceiling_share: number | null; twin_gflops: number | null; speedup: number | null; valid: boolean;
}
export interface ConvTotal { build?: string; threads: number; variant: string; gflop: number; gflops: number; seconds: number; ceiling_share: number }
export interface KernelsResult { ceiling: Ceiling; ceilingFma?: Ceiling; rows: KernelRow[]; totals: ConvTotal[] }
export interface SpectralKernel {
  build?: string; name: string; calls: number; msPerImage: number; gflopPerImage: number; gflops: number; gbs: number;
  twinGflops?: number; speedup?: number; ceilingShare: number;
}
export interface CaseResult {
  /** Kernel build forced for the row (FREQREG_KERNELS); absent: the one Node picks. */
  build?: string;
  engine: string; form: string; threads: number; width: number; height: number;
  loadSeconds: number; coldSeconds: number; medianSeconds: number; warmSeconds: number[];
  imagesPerSecond?: number; peakRssMiB: number; peakRssAfterBatchMiB?: number; maskPixelsDifferent?: number;
  maskPixelsDifferentFromFreqreg?: number; atNearTies?: number; largestMarginDifferent?: number;
  /** Size of the kernel module's WebAssembly memory after the runs (its peak), and the engine's estimate of its working memory. */
  wasmMemoryMiB?: number; activationEstimateMiB?: number;
  /** 1-minute load average when the case ended. */
  load?: number;
}
/** One training row: forward + backward (engine.gradients) against the forward alone (engine.run). */
export interface TrainResult {
  width: number; height: number; threads: number; ranks: number;
  forwardSeconds: number; trainSeconds: number; timeRatio: number;
  forwardPeakRssMiB: number; trainPeakRssMiB: number; memoryRatio: number; warmSeconds: number[];
}
export interface BenchResult {
  date: string; quick: boolean; peers: boolean;
  machine: { cpu?: string; cores: number; memoryGiB: number; node: string; v8: string; platform: string; loadBefore: number[]; loadAfter: number[] };
  ceiling: Ceiling; ceilingFma?: Ceiling; kernels: KernelRow[]; convTotals: ConvTotal[];
  spectralKernels: SpectralKernel[]; spectralTwinLogitsRelative?: number;
  endToEnd: CaseResult[]; peerResults: CaseResult[];
  /** Configurations an engine refused (code) or that failed. */
  refused?: { config: Record<string, string | number>; code?: string; reason: string }[];
  ratios: { threads: number; freqreg: string; peer: string; ratio: number }[];
  onnx?: { bytes: number; seconds: number; opset: number };
  /** The whole `freqreg segment` process (bench/cli-case.ts): one photo, and the 16 in one command. */
  wholeProcess?: CliCaseResult[];
  /** Forward + backward against the forward alone (bench/backward-case.ts). */
  backward?: TrainResult[];
  /** Training steps, freqreg and PyTorch (bench/train-step-case.ts, bench/torch_train_step.py). */
  training?: TrainBench;
}

const f = (x: number | null | undefined, d = 2) => (x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(d));
const pct = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? '—' : `${(100 * x).toFixed(0)}%`);
const table = (head: string[], rows: (string | number)[][]) =>
  [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

export function renderMarkdown(r: BenchResult): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(`Measured ${r.date.slice(0, 10)} on ${m.cpu} (${m.cores} cores, ${m.memoryGiB} GiB), Node ${m.node} (V8 ${m.v8}), ${m.platform}; ` +
    `load averages ${m.loadBefore.join(' / ')} before, ${m.loadAfter.join(' / ')} after${r.quick ? '; --quick run' : ''}.`);
  const c = r.ceiling;
  out.push('', '**SIMD ceiling** (independent `f32x4` multiply-add chains, 8 flop per step):', '',
    table(['chains', ...c.chains.map((x) => String(x.chains))], [['GFLOP/s, 1 thread', ...c.chains.map((x) => f(x.gflops, 1))]]), '',
    `Ceiling: **${f(c.best.gflops, 1)} GFLOP/s** on 1 thread (${c.best.chains} chains), **${f(c.twoThreads, 1)}** on 2 threads.`);
  const cf = r.ceilingFma;
  if (cf) {
    out.push('', '**FMA ceiling** (the same chains as one `f32x4.relaxed_madd`, the FMA build\'s ceiling):', '',
      table(['chains', ...cf.chains.map((x) => String(x.chains))], [['GFLOP/s, 1 thread', ...cf.chains.map((x) => f(x.gflops, 1))]]), '',
      `FMA ceiling: **${f(cf.best.gflops, 1)} GFLOP/s** on 1 thread (${cf.best.chains} chains), **${f(cf.twoThreads, 1)}** on 2 threads.`);
  }
  const build = (b: string | undefined) => b ?? 'simd';

  const key = (k: KernelRow) => `${k.name}|${k.variant}|${build(k.build)}`;
  const two = new Map(r.kernels.filter((k) => k.threads === 2).map((k) => [key(k), k]));
  const rows = r.kernels.filter((k) => k.threads === 1).map((k) => {
    const t = two.get(key(k));
    return [
      `${k.name}${k.variant === 'simd' ? '' : ` (${k.variant})`}`, build(k.build), `\`${k.shape.replace(/^\S+ /, '')}\``,
      f(k.median_s * 1e3, 2), f(k.gflops), f(k.gbs), pct(k.ceiling_share), k.speedup ? `×${f(k.speedup, 1)}` : '—',
      t ? f(t.gflops) : '—', t ? pct(t.ceiling_share) : '—', k.valid && (!t || t.valid) ? '' : 'INVALID',
    ];
  });
  out.push('', '**Kernels** at the upstream shapes (959×640 input). GFLOP/s are nominal (a 3×3 output = 9 multiply-adds; Winograd `f23` rows count the direct convolution\'s work, and their ceiling share counts the 16/36 of it they execute); ceiling share = executed GFLOP/s ÷ the ceiling of the row\'s build (plain SIMD or FMA) with as many threads; SIMD × = against the scalar twin; concatenation is pure traffic (GB/s only).', '',
    table(['kernel', 'build', 'shape', 'ms (1 thread)', 'GFLOP/s', 'GB/s', 'of ceiling', 'SIMD ×', 'GFLOP/s, 2 threads', 'of 2-thread ceiling', ''], rows));
  if (r.convTotals.length) {
    out.push('', table(['all convolutions of one 959×640 image', 'build', 'threads', 'GFLOP (direct)', 's', 'GFLOP/s', 'of ceiling'],
      r.convTotals.map((t) => [`3×3 ${t.variant === 'f23' ? 'Winograd F(2×2,3×3)' : 'direct'}`, build(t.build), t.threads, f(t.gflop, 1), f(t.seconds, 2), f(t.gflops, 1), pct(t.ceiling_share)])));
  }
  if (r.spectralKernels.length) {
    out.push('', '**Spectral engine kernels**, timed in place (every call of a 959×640 forward pass, 1 thread):', '',
      table(['kernel', 'build', 'calls', 'ms/image', 'GFLOP/image', 'GFLOP/s', 'GB/s', 'of its build\'s ceiling', 'SIMD ×'],
        r.spectralKernels.map((k) => [k.name, build(k.build), k.calls, f(k.msPerImage, 1), f(k.gflopPerImage, 3), f(k.gflops), f(k.gbs), pct(k.ceilingShare), k.speedup ? `×${f(k.speedup, 1)}` : '—'])));
  }
  const e2e = (list: CaseResult[], peer: boolean) => table(
    ['engine', 'threads', 'image', 'load s', 'cold s', 'median s', 'runs', 'images/s', 'peak RSS MiB', 'after batch', 'WASM memory MiB', 'working memory estimate MiB', peer ? 'mask ≠ freqreg dense' : 'mask ≠ upstream', 'load avg'],
    list.map((x) => [
      `${x.form === x.engine ? x.engine : `${x.engine} (${x.form})`}${x.build ? ` [${x.build}]` : ''}`, x.threads, `${x.width}×${x.height}`, f(x.loadSeconds), f(x.coldSeconds, 3), `**${f(x.medianSeconds, 3)}**`, x.warmSeconds.length,
      f(x.imagesPerSecond ?? 1 / x.medianSeconds), f(x.peakRssMiB, 0), x.peakRssAfterBatchMiB === undefined ? '—' : f(x.peakRssAfterBatchMiB, 0),
      f(x.wasmMemoryMiB, 0), f(x.activationEstimateMiB, 0),
      peer ? (x.maskPixelsDifferentFromFreqreg === undefined ? '—' : `${x.maskPixelsDifferentFromFreqreg} px${x.maskPixelsDifferentFromFreqreg ? ` (${x.atNearTies} at margin < 1e-3)` : ''}`) : (x.maskPixelsDifferent === undefined ? '—' : `${x.maskPixelsDifferent} px`),
      f(x.load, 2),
    ]));
  out.push('', '**End to end**, upstream model, `in0000.png` (1918×1280: scaled ×2, nearest neighbour); one process per row; every run into one kept logits array; images/s from a batch where measured, else 1 / median; peak RSS of the process after the cold and warm runs, and after the batch:', '', e2e(r.endToEnd, false));
  for (const x of r.refused ?? []) {
    out.push('', `Not run: \`${x.config.engine ?? x.config.peer}\`, ${x.config.threads} thread(s), image ×${x.config.scale ?? 1}: ${x.code ? `refused (${x.code}) — ` : ''}${x.reason}.`);
  }
  if (r.wholeProcess?.length) {
    out.push('', '**Whole process**: the built `freqreg segment` command with the upstream model, 2 threads, timed from spawn to exit (Node\'s start, imports, model, kernels, threads, decoding, the engine, encoding and writing):', '',
      table(['command', 'build', 'runs', 'median s', 'images/s'], r.wholeProcess.flatMap((w) => w.builds.map((b) => [
        w.mode === 'one' ? '`freqreg segment in0000.png`' : `${w.images} images through \`segment\` (one command)`,
        b.build, b.seconds.length, `**${f(b.medianSeconds, 3)}**`, f(b.imagesPerSecond),
      ]))));
  }
  if (r.backward?.length) {
    out.push('', '**Backward**: the spectral engine\'s forward + backward (built for training, R = 33) against the inference forward alone, upstream model; times from one process alternating the two passes, peak RSS from one process each:', '',
      table(['image', 'threads', 'forward ms', 'forward + backward ms', 'ratio', 'peak RSS MiB', 'runs'], r.backward.map((b) => [
        `${b.width}×${b.height}`, b.threads, f(1000 * b.forwardSeconds, 1), `**${f(1000 * b.trainSeconds, 1)}**`, `×${f(b.timeRatio)}`,
        `${f(b.forwardPeakRssMiB, 0)} → ${f(b.trainPeakRssMiB, 0)} (×${f(b.memoryRatio)})`, b.warmSeconds.length,
      ])));
  }
  if (r.training?.freqreg.length) {
    const torch = (x: TrainBench['freqreg'][number]) => r.training!.pytorch.find((p) => p.threads === x.threads && p.width === x.width && p.height === x.height);
    out.push('', '**Training step** (forward, backward, Adam, the new coefficients; upstream model, ranks 0…32, batch 1), freqreg beside PyTorch on the same step:', '',
      table(['threads', 'image', 'freqreg ms (CPU)', 'PyTorch ms (CPU)', 'ratio', 'peak RSS MiB (freqreg / PyTorch)'], r.training.freqreg.map((x) => {
        const p = torch(x);
        return [x.threads, `${x.width}×${x.height}`, `**${f(1000 * x.medianSeconds, 1)}** (${f(1000 * x.medianCpuSeconds, 1)})`,
          p ? `${f(1000 * p.medianSeconds, 0)} (${f(1000 * p.medianCpuSeconds, 0)})` : '—', p ? `${f(p.medianSeconds / x.medianSeconds, 0)}×` : '—',
          `${f(x.peakRssMiB, 0)} / ${p ? f(p.peakRssMiB, 0) : '—'}`];
      })));
  }
  if (r.peerResults.length) {
    out.push('', `**Peers**: the same model exported by \`freqreg export --onnx\` (dense, opset 13${r.onnx ? `, ${(r.onnx.bytes / 2 ** 20).toFixed(1)} MiB, written in ${f(r.onnx.seconds)} s` : ''}), same image, each run right after freqreg's runs with as many threads:`, '', e2e(r.peerResults, true));
    out.push('', table(['threads', 'peer', '÷ freqreg spectral', '÷ freqreg auto', '÷ freqreg dense'],
      [...new Set(r.ratios.map((x) => `${x.threads}|${x.peer}`))].map((k) => {
        const [t, peer] = k.split('|');
        const get = (ours: string) => r.ratios.find((x) => `${x.threads}|${x.peer}` === k && x.freqreg === ours)?.ratio;
        const x = (v: number | undefined, d: number) => (v === undefined ? '—' : `${f(v, d)}×`);
        return [t!, peer!, x(get('spectral'), 1), x(get('auto'), 1), x(get('dense'), 2)];
      })), '', 'A ratio is the peer\'s median seconds per image divided by freqreg\'s: above 1, freqreg is faster.');
  }
  return out.join('\n') + '\n';
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: node dist-bench/bench/report.js bench/results/bench-<date>.json');
  process.stdout.write(renderMarkdown(JSON.parse(readFileSync(file, 'utf8')) as BenchResult));
}
