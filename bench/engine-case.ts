/**
 * One end-to-end configuration, run in its own process so its peak RSS is its own:
 *
 *   node dist-bench/bench/engine-case.js --engine=spectral --threads=2 --scale=1 --runs=5 [--batch=16] [--logits-out=FILE]
 *
 * Loads the upstream model (timed), segments in0000.png (scaled ×scale, nearest neighbour) once
 * cold and `runs` times warm, then `batch` more images for images per second, each run into one
 * kept logits array (`engine.run(…, into)`, as a caller running many images does and as
 * `freqreg segment` does: a fresh array of megabytes costs its page faults on every run), and prints one JSON
 * line: seconds, peak RSS, the kernel memory (its WebAssembly memory's size at the end: memory only
 * grows, so this is its peak) beside the engine's estimate of its working memory
 * (src/engines/budget.ts), and the mask's agreement with the upstream prediction (scale 1).
 * --logits-out writes the logits (float32, (classes, H, W)) for the peers' mask comparison
 * (bench/peer-case.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { argmaxClasses } from '../src/engines/reference.js';
import { parseEngineName, createNodeEngine } from '../src/node/engines.js';
import { findDataDir } from '../src/node/data.js';
import { loadModelFile } from '../src/node/load.js';
import { loadKernels } from '../src/node/kernels.js';
import { activationBytes } from '../src/engines/budget.js';
import { decodePng } from '../src/node/png.js';
import { imageToTensor } from '../src/input.js';
import { maskFromGrey } from '../src/metrics.js';
import { upscale } from './image.js';

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const engineName = parseEngineName(arg('engine', 'spectral'));
const threads = Number(arg('threads', '1'));
const scale = Number(arg('scale', '1'));
const runs = Number(arg('runs', '5'));
const batch = Number(arg('batch', '0'));
const logitsOut = arg('logits-out', '');

const dir = findDataDir();
if (!dir) throw new Error('upstream data not found: set FREQREG_DATA');

const tLoad = performance.now();
const { model } = await loadModelFile(join(dir, 'unet_fr.tar.xz'));
let memory: WebAssembly.Memory | undefined;
const engine = await createNodeEngine(engineName, model, threads, {
  loadKernels: async (n) => {
    const context = await loadKernels(n);
    memory = context.kernels.memory;
    return context;
  },
});
const loadSeconds = (performance.now() - tLoad) / 1000;

const photo = upscale(decodePng(readFileSync(join(dir, 'testimgs', 'input', 'in0000.png'))), scale);
const input = imageToTensor(photo, model.arch.inChannels);

const into = new Float32Array(model.arch.classes * photo.width * photo.height);
const t0 = performance.now();
const logits = await engine.run(input, photo.width, photo.height, into);
const coldSeconds = (performance.now() - t0) / 1000;
const warm: number[] = [];
for (let r = 0; r < runs; r++) {
  const s = performance.now();
  await engine.run(input, photo.width, photo.height, into);
  warm.push((performance.now() - s) / 1000);
}
let imagesPerSecond: number | undefined;
// Peak RSS of a process that has segmented this image (cold + warm runs), before the batch.
const peakRssOneImageMiB = process.resourceUsage().maxRSS / 1024;
if (batch > 0) {
  const s = performance.now();
  for (let i = 0; i < batch; i++) await engine.run(input, photo.width, photo.height, into);
  imagesPerSecond = batch / ((performance.now() - s) / 1000);
}
if (logitsOut) writeFileSync(logitsOut, new Uint8Array(logits.data.buffer, logits.data.byteOffset, logits.data.byteLength));
const pred = argmaxClasses({ c: logits.classes, h: logits.height, w: logits.width, data: logits.data });
let maskPixelsDifferent: number | undefined;
if (scale === 1) {
  const upstream = maskFromGrey(decodePng(readFileSync(join(dir, 'reference', 'pred0000.png'))));
  maskPixelsDifferent = pred.reduce((n, c, p) => n + (c !== upstream[p] ? 1 : 0), 0);
}
await engine.dispose();
const sorted = [...warm].sort((a, b) => a - b);
console.log(JSON.stringify({
  engine: engine.name, form: engine.form, threads: engine.threads, width: photo.width, height: photo.height,
  loadSeconds, coldSeconds, medianSeconds: sorted[sorted.length >> 1] ?? coldSeconds, warmSeconds: warm,
  imagesPerSecond, peakRssMiB: peakRssOneImageMiB, peakRssAfterBatchMiB: process.resourceUsage().maxRSS / 1024, maskPixelsDifferent,
  wasmMemoryMiB: memory && memory.buffer.byteLength / 2 ** 20,
  activationEstimateMiB: engine.form === 'reference' ? undefined : activationBytes(model, engine.form === 'dense' ? 'dense' : 'spectral', photo.width, photo.height, engine.threads) / 2 ** 20,
}));

