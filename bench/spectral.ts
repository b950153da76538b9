/**
 * Spectral engine benchmark on the upstream model and image (959×640), one thread by default.
 *
 *   node dist-bench/bench/spectral.js [--runs=7] [--threads=1] [--profile] [--twins]
 *
 * Validates once against the upstream PyTorch logits (largest difference, mask pixels that differ),
 * then times one cold and `runs` warm forward passes; prints the median, GFLOP/s from the plan's
 * spectral FLOP count, and peak RSS. --profile also times each fused kernel in place (one thread:
 * every call of the warm passes, at the real shapes and data), with its work counted from the
 * call's arguments (SPECTRAL_WORK): ms per image, GFLOP/s and GB/s per kernel, printed as one JSON
 * line `{"spectralKernels": [...]}` after the summary. --twins adds one pass with every kernel
 * replaced by its scalar twin (`_ref`, same signature): the twins' rates, and the twin pass's
 * logits against the SIMD pass's (largest difference relative to the largest logit).
 * The kernel build is the one Node picks (relaxed-SIMD FMA where V8 runs it); FREQREG_KERNELS=simd
 * or fma forces one (`npm run bench` runs both).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pngjs from 'pngjs';
import { argmaxClasses } from '../src/engines/reference.js';
import { createSpectralEngine } from '../src/engines/spectral.js';
import { planSpectral } from '../src/engines/spectral-plan.js';
import { imageToTensor } from '../src/input.js';
import { findDataDir } from '../src/node/data.js';
import { loadKernels } from '../src/node/kernels.js';
import { decodeXz } from '../src/formats/xz.js';
import { loadModelFile, xzWasmModule } from '../src/node/load.js';

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const runs = Number(arg('runs', '7'));
const threads = Number(arg('threads', '1'));
const profile = process.argv.includes('--profile');
const twins = process.argv.includes('--twins');

/** Work of one spectral kernel call from its arguments (flop: multiply and add = 2; bytes: map traffic). */
type Work = (a: number[], mem: ArrayBuffer) => { flop: number; bytes: number };
/** Distinct values of the even (or odd) entries of an (n, 2) int32 pair table. */
const distinct = (mem: ArrayBuffer, ptr: number, n: number, odd: number) => {
  const t = new Int32Array(mem, ptr, 2 * n), seen = new Set<number>();
  for (let i = 0; i < n; i++) seen.add(t[2 * i + odd]!);
  return seen.size;
};
export const SPECTRAL_WORK: Record<string, Work> = {
  // (out, outMap, outRow, nOut, G, pool, poolMap, poolRow, nPool, Gp, q, qMap, qRow, na, F, channels, width, height, y0, y1, relu):
  // per pixel and channel, expand over na maps and project on nOut (and nPool per pooled pixel).
  spectral_fuse_f32: (a) => {
    const [nOut, nPool, na, ch, w, y0, y1] = [a[3]!, a[8]!, a[13]!, a[15]!, a[16]!, a[18]!, a[19]!];
    const P = w * (y1 - y0);
    return { flop: 2 * P * ch * (na + nOut) + (nPool > 0 ? (2 * P * ch * nPool) / 4 : 0), bytes: 4 * P * (na + nOut + nPool / 4) };
  },
  // (q, qMap, p, pMap, row, pairs, taps, nPairs, na, width, y0, y1): 9 taps per (a, b) pair and pixel.
  spectral_conv2d_f32_3x3p1: (a, mem) => {
    const P = a[9]! * (a[11]! - a[10]!);
    return { flop: 18 * a[7]! * P, bytes: 4 * P * (a[8]! + distinct(mem, a[5]!, a[7]!, 1)) };
  },
  // (out, outMap, outRow, p, pMap, pRow, pairs, taps, nPairs, srcW, srcH, top, left, y0, y1): each
  // output row gets 2 taps per source pixel and pair (read and write the outputs, read the sources).
  spectral_scatter_f32_2x2s2: (a, mem) => {
    const rows = Math.max(0, Math.min(a[14]!, a[11]! + 2 * a[10]!) - Math.max(a[13]!, a[11]!));
    return { flop: 4 * a[8]! * a[9]! * rows, bytes: 4 * rows * a[9]! * (distinct(mem, a[6]!, a[8]!, 0) / 2 + 4 * distinct(mem, a[6]!, a[8]!, 1)) };
  },
  // (sum, q, qMap, qRow, na, width, y0, y1): one add per map and pixel.
  spectral_sum_f64: (a) => ({ flop: a[4]! * a[5]! * (a[7]! - a[6]!), bytes: 4 * a[4]! * a[5]! * (a[7]! - a[6]!) }),
  // (cov, q, qMap, qRow, mean, na, width, y0, y1): center each map, then na(na+1)/2 dot products.
  spectral_center_cov_f64: (a) => {
    const na = a[5]!, P = a[6]! * (a[8]! - a[7]!);
    return { flop: P * (na + na * (na + 1)), bytes: 4 * P * 3 * na };
  },
};

const dir = findDataDir();
if (!dir) throw new Error('upstream data not found; fixtures/upstream or FREQREG_DATA');
const { model } = await loadModelFile(join(dir, 'unet_fr.tar.xz'));
const png = pngjs.PNG.sync.read(readFileSync(join(dir, 'testimgs', 'input', 'in0000.png')));
const { width, height } = png;
const input = imageToTensor({ data: png.data, width, height, channels: 4 }, model.arch.inChannels);
const logitsFile = join(dir, 'reference', 'logits0000.f32');
const logitsBytes = existsSync(logitsFile) ? readFileSync(logitsFile) : decodeXz(readFileSync(`${logitsFile}.xz`), xzWasmModule(), 64 << 20);
const want = new Float32Array(logitsBytes.buffer.slice(logitsBytes.byteOffset, logitsBytes.byteOffset + logitsBytes.byteLength));

const loaded = await loadKernels(threads);
let kernels = loaded.kernels;
interface Tally { ms: number; calls: number; flop: number; bytes: number }
const times: Record<string, Tally> = {};
/** Replaced by `_ref` twins when true (the --twins pass). */
let useTwins = false;
if (profile || twins) {
  // Wrap every spectral export with a timer (single thread: the engine then calls `exports` itself).
  const raw = kernels.exports as unknown as Record<string, (...a: number[]) => void>;
  const ex: Record<string, unknown> = { ...raw };
  for (const [name, fn] of Object.entries(raw)) {
    const work = SPECTRAL_WORK[name];
    if (!work || typeof fn !== 'function') continue;
    const twin = raw[`${name}_ref`]!;
    ex[name] = (...a: number[]) => {
      const t0 = performance.now();
      (useTwins ? twin : fn)(...a);
      const t = (times[name] ??= { ms: 0, calls: 0, flop: 0, bytes: 0 });
      t.ms += performance.now() - t0;
      t.calls++;
      const w = work(a, loaded.kernels.memory.buffer as ArrayBuffer);
      t.flop += w.flop;
      t.bytes += w.bytes;
    };
  }
  kernels = { ...kernels, exports: ex as unknown as typeof kernels.exports };
}
const engine = createSpectralEngine(kernels, model, { parallel: profile || twins ? undefined : loaded.parallel });

const t0 = performance.now();
const out = await engine.run(input, width, height);
const cold = (performance.now() - t0) / 1000;
let maxDiff = 0, logitMax = 0;
for (let i = 0; i < want.length; i++) {
  maxDiff = Math.max(maxDiff, Math.abs(out.data[i] - want[i]));
  logitMax = Math.max(logitMax, Math.abs(want[i]));
}
const a = argmaxClasses({ c: out.classes, h: height, w: width, data: out.data });
const b = argmaxClasses({ c: out.classes, h: height, w: width, data: want });
let maskDiff = 0;
for (let p = 0; p < a.length; p++) if (a[p] !== b[p]) maskDiff++;

for (const k of Object.keys(times)) delete times[k];
const warm: number[] = [];
for (let r = 0; r < runs; r++) {
  const s = performance.now();
  await engine.run(input, width, height);
  warm.push((performance.now() - s) / 1000);
}
warm.sort((x, y) => x - y);
const median = warm[warm.length >> 1];
const plan = planSpectral(model, width, height);
const rss = process.resourceUsage().maxRSS / 1024;
console.log(JSON.stringify({
  image: `${width}×${height}`, threads: engine.threads, coldSeconds: +cold.toFixed(3), medianSeconds: +median.toFixed(3),
  warmSeconds: warm.map((x) => +x.toFixed(3)), plannedGflop: +(plan.total.spectral.flops / 1e9).toFixed(2),
  gflopPerSecond: +(plan.total.spectral.flops / 1e9 / median).toFixed(1), peakRssMiB: +rss.toFixed(1),
  kernelMemoryMiB: +(kernels.memory.buffer.byteLength / 2 ** 20).toFixed(1),
  maxAbsLogitDiff: maxDiff, logitAbsMax: logitMax, relative: maxDiff / logitMax, maskPixelsDifferent: maskDiff,
}, null, 1));
if (profile || twins) {
  const simd = Object.entries(times).map(([name, t]) => ({ name, calls: t.calls / runs, msPerImage: t.ms / runs, gflopPerImage: t.flop / runs / 1e9, gflops: t.flop / t.ms / 1e6, gbs: t.bytes / t.ms / 1e6 }));
  let twinRates: Record<string, number> = {};
  let twinRelative: number | undefined;
  if (twins) {
    const fast = Float32Array.from(out.data); // the engine may hand back the same buffer each run
    for (const k of Object.keys(times)) delete times[k];
    useTwins = true;
    const slow = await engine.run(input, width, height);
    useTwins = false;
    twinRates = Object.fromEntries(Object.entries(times).map(([name, t]) => [name, t.flop / t.ms / 1e6]));
    let d = 0, m = 0;
    for (let i = 0; i < fast.length; i++) { d = Math.max(d, Math.abs(slow.data[i] - fast[i])); m = Math.max(m, Math.abs(fast[i])); }
    twinRelative = d / m;
  }
  for (const r of simd) console.log(`${r.name.padEnd(28)} ${r.msPerImage.toFixed(1).padStart(7)} ms/image ${r.gflops.toFixed(2).padStart(6)} GFLOP/s ${r.gbs.toFixed(2).padStart(6)} GB/s${twinRates[r.name] ? `  twin ${twinRates[r.name]!.toFixed(2)} ×${(r.gflops / twinRates[r.name]!).toFixed(1)}` : ''}`);
  console.log(JSON.stringify({ spectralKernels: simd.map((r) => ({ ...r, twinGflops: twinRates[r.name], speedup: twinRates[r.name] ? r.gflops / twinRates[r.name]! : undefined })), twinLogitsRelative: twinRelative }));
}
await engine.dispose();
