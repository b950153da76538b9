/**
 * Spectral engine benchmark on the upstream model and image (959×640), one thread by default.
 *
 *   node --import=@isaacs/ts-node-temp-fork-for-pr-2009/import bench/spectral.ts [--runs=7] [--threads=1] [--profile]
 *
 * Validates once against the upstream PyTorch logits (largest difference, mask pixels that differ),
 * then times one cold and `runs` warm forward passes; prints the median, GFLOP/s from the plan's
 * spectral FLOP count, and peak RSS. --profile also times each kernel family (one warm pass).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pngjs from 'pngjs';
import { argmaxClasses } from '../src/engines/reference.js';
import { createSpectralEngine } from '../src/engines/spectral.js';
import { planSpectral } from '../src/engines/spectral-plan.js';
import { imageToTensor } from '../src/input.js';
import { findDataDir } from '../src/node/data.js';
import { loadKernels } from '../src/node/kernels.js';
import { loadModelFile } from '../src/node/load.js';

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const runs = Number(arg('runs', '7'));
const threads = Number(arg('threads', '1'));
const profile = process.argv.includes('--profile');

const dir = findDataDir();
if (!dir) throw new Error('upstream data not found; set FREQREG_DATA');
const { model } = await loadModelFile(join(dir, 'unet_fr.tar.xz'));
const png = pngjs.PNG.sync.read(readFileSync(join(dir, 'testimgs', 'input', 'in0000.png')));
const { width, height } = png;
const input = imageToTensor({ data: png.data, width, height, channels: 4 }, model.arch.inChannels);
const want = new Float32Array(readFileSync(join(dir, 'reference', 'logits0000.f32')).buffer.slice(0));

const loaded = await loadKernels(threads);
let kernels = loaded.kernels;
const times: Record<string, number> = {};
if (profile) {
  // Wrap every spectral export with a timer (single thread: the engine then calls `exports` itself).
  const ex: Record<string, unknown> = { ...kernels.exports };
  for (const [name, fn] of Object.entries(ex)) {
    if (!name.startsWith('spectral_') || typeof fn !== 'function') continue;
    ex[name] = (...a: number[]) => {
      const t0 = performance.now();
      fn(...a);
      times[name] = (times[name] ?? 0) + performance.now() - t0;
    };
  }
  kernels = { ...kernels, exports: ex as unknown as typeof kernels.exports };
}
const engine = createSpectralEngine(kernels, model, { parallel: profile ? undefined : loaded.parallel });

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
if (profile) {
  for (const [k, v] of Object.entries(times)) console.log(`${k}\t${(v / runs).toFixed(1)} ms/image`);
}
await engine.dispose();
