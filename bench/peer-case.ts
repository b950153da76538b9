/**
 * One peer configuration, in its own process like bench/engine-case.ts (so its peak RSS is its
 * own): the exported dense ONNX graph of the upstream model (freqreg export --onnx) run by
 * onnxruntime-node (CPU) or onnxruntime-web (WASM SIMD backend, in Node) on in0000.png.
 *
 *   node dist-bench/bench/peer-case.js --runtime=ort-node|ort-web --threads=2 --onnx=FILE [--scale=1] [--runs=3] [--logits=FILE]
 *
 * Times the session creation (load), one cold run and `runs` warm runs, and compares its mask pixel
 * for pixel with the one from freqreg's logits in --logits (float32, (classes, H, W), written by
 * engine-case --logits-out): pixels that differ, and how many of them have a freqreg top-two
 * margin below 1e-3. Prints one JSON line.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { argmaxClasses } from '../src/engines/reference.js';
import { findDataDir } from '../src/node/data.js';
import { decodePng } from '../src/node/png.js';
import { imageToTensor } from '../src/input.js';
import { ONNX_INPUT, ONNX_OUTPUT } from '../src/onnx-export.js';
import { upscale } from './image.js';
import { importPeer, type Ort } from './peers.js';

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const runtime = arg('runtime', 'ort-node');
const threads = Number(arg('threads', '1'));
const scale = Number(arg('scale', '1'));
const runs = Number(arg('runs', '3'));
const onnxFile = arg('onnx', '');
const logitsFile = arg('logits', '');
/** Pixels whose freqreg top-two margin is below this may flip class (test/support/compare.ts NEAR_TIE_MARGIN). */
const NEAR_TIE_MARGIN = 1e-3;

const dir = findDataDir();
if (!dir) throw new Error('upstream data not found: set FREQREG_DATA');
if (!onnxFile) throw new Error('--onnx=FILE is required (freqreg export MODEL --onnx FILE)');

let ort: Ort;
let version: string;
const sessionOptions: Record<string, unknown> = { graphOptimizationLevel: 'all' };
if (runtime === 'ort-node') {
  ort = await importPeer('onnxruntime-node');
  version = ort.env.versions.node ?? '?';
  Object.assign(sessionOptions, { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' });
} else if (runtime === 'ort-web') {
  ort = await importPeer('onnxruntime-web');
  version = ort.env.versions.web ?? '?';
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
  Object.assign(sessionOptions, { executionProviders: ['wasm'] });
} else throw new Error(`--runtime must be ort-node or ort-web, got ${runtime}`);

const photo = upscale(decodePng(readFileSync(join(dir, 'testimgs', 'input', 'in0000.png'))), scale);
const input = imageToTensor(photo, 3);
const { width, height } = photo;

const tLoad = performance.now();
const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(onnxFile)), sessionOptions);
const loadSeconds = (performance.now() - tLoad) / 1000;
const feeds = { [ONNX_INPUT]: new ort.Tensor('float32', input, [1, 3, height, width]) };

const t0 = performance.now();
const first = await session.run(feeds);
const coldSeconds = (performance.now() - t0) / 1000;
const logits = Float32Array.from(first[ONNX_OUTPUT]!.data as Float32Array);
const warm: number[] = [];
for (let r = 0; r < runs; r++) {
  const s = performance.now();
  await session.run(feeds);
  warm.push((performance.now() - s) / 1000);
}
await session.release();
const classes = logits.length / (width * height);

let maskPixelsDifferent: number | undefined, atNearTies: number | undefined, largestMarginDifferent: number | undefined;
if (logitsFile) {
  const b = readFileSync(logitsFile);
  const ours = new Float32Array(b.buffer, b.byteOffset, b.length / 4);
  const shape = { c: classes, h: height, w: width };
  const a = argmaxClasses({ ...shape, data: logits }), f = argmaxClasses({ ...shape, data: ours });
  const n = width * height;
  maskPixelsDifferent = 0;
  atNearTies = 0;
  for (let p = 0; p < n; p++) {
    if (a[p] === f[p]) continue;
    maskPixelsDifferent++;
    let top = -Infinity, second = -Infinity;
    for (let c = 0; c < classes; c++) {
      const v = ours[c * n + p]!;
      if (v > top) { second = top; top = v; } else if (v > second) second = v;
    }
    const margin = top - second;
    if (margin < NEAR_TIE_MARGIN) atNearTies++;
    largestMarginDifferent = Math.max(largestMarginDifferent ?? 0, margin);
  }
}
const sorted = [...warm].sort((x, y) => x - y);
console.log(JSON.stringify({
  engine: runtime, form: `${runtime} ${version}`, threads, width, height, loadSeconds, coldSeconds,
  medianSeconds: sorted[sorted.length >> 1] ?? coldSeconds, warmSeconds: warm,
  peakRssMiB: process.resourceUsage().maxRSS / 1024, maskPixelsDifferentFromFreqreg: maskPixelsDifferent,
  atNearTies, largestMarginDifferent,
}));
process.exit(0); // onnxruntime-web's thread pool keeps the process alive
