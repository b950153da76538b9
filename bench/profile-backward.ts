/**
 * Where the spectral training pass spends its time, one thread: every kernel export timed in place.
 *
 *   node dist-bench/bench/profile-backward.js --size=959x640 --runs=3
 *
 * Prints ms per pass for each kernel (forward and backward kernels alike), the JavaScript between
 * them (the rest), and the whole pass.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSpectralEngine } from '../src/engines/spectral.js';
import { trainableModel } from '../src/engines/trainable.js';
import { imageToTensor } from '../src/input.js';
import { maskFromGrey } from '../src/metrics.js';
import { findDataDir, PACKAGE_ROOT } from '../src/node/data.js';
import { loadKernels } from '../src/node/kernels.js';
import { loadModelFile } from '../src/node/load.js';
import { decodePng } from '../src/node/png.js';

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const [width, height] = arg('size', '959x640').split('x').map(Number);
const runs = Number(arg('runs', '3'));
const dir = findDataDir();
if (!dir) throw new Error('upstream data not found');
const { model } = await loadModelFile(join(dir, 'unet_fr.tar.xz'));
// 959×640: in0000 and its mask; 240×160: the gradient fixture d's image and target (as backward-case.ts).
const small = width === 240 && height === 160;
if (!small && (width !== 959 || height !== 640)) throw new Error('--size: 959x640 or 240x160');
const grad = join(PACKAGE_ROOT, 'fixtures', 'pytorch', 'grad');
const photo = decodePng(readFileSync(small ? join(grad, 'd-in0000-240x160.png') : join(dir, 'testimgs', 'input', 'in0000.png')));
const mask = decodePng(readFileSync(small ? join(grad, 'd-in0000-240x160-target.png') : join(dir, 'testimgs', 'mask', 'gt0000.png')));
const input = imageToTensor(photo, model.arch.inChannels);
const target = small ? Uint8Array.from({ length: width * height }, (_, p) => mask.data[p * mask.channels]) : maskFromGrey(mask);

const loaded = await loadKernels(1);
const raw = loaded.kernels.exports as unknown as Record<string, unknown>;
const times = new Map<string, { ms: number; calls: number }>();
const timed: Record<string, unknown> = { ...raw };
for (const [name, fn] of Object.entries(raw)) {
  if (typeof fn !== 'function' || name.endsWith('_ref')) continue;
  timed[name] = (...a: number[]) => {
    const t0 = performance.now();
    const r = (fn as (...b: number[]) => unknown)(...a);
    // The fused backward pass by case: pooled or not (nPool, argument 14), na (19), nOut (9).
    const key = name === 'spectral_backfuse_f32' ? `${name} pool=${a[14] > 0 ? 1 : 0} na=${a[19]} nOut=${a[9]} wg=${a[5] ? 1 : 0}` : name;
    const t = times.get(key) ?? { ms: 0, calls: 0 };
    t.ms += performance.now() - t0;
    t.calls++;
    times.set(key, t);
    return r;
  };
}
const kernels = { ...loaded.kernels, exports: timed as unknown as typeof loaded.kernels.exports };
const trainable = trainableModel(model, 33);
const engine = createSpectralEngine(kernels, trainable.model, { train: { ranks: trainable.ranks } });
await engine.gradients!(input, width, height, { target });
times.clear();
let total = 0;
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  await engine.gradients!(input, width, height, { target });
  total += performance.now() - t0;
}
let kernelMs = 0;
const rows = [...times].sort((a, b) => b[1].ms - a[1].ms);
for (const [name, t] of rows) {
  kernelMs += t.ms;
  console.log(`${name.padEnd(36)} ${(t.ms / runs).toFixed(1).padStart(8)} ms ${String(t.calls / runs).padStart(6)} calls`);
}
console.log(`${'the rest (JavaScript)'.padEnd(36)} ${((total - kernelMs) / runs).toFixed(1).padStart(8)} ms`);
console.log(`${'whole pass'.padEnd(36)} ${(total / runs).toFixed(1).padStart(8)} ms (${width}×${height}, 1 thread, mean of ${runs})`);
await engine.dispose();
