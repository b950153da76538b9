/**
 * One training configuration of the spectral engine, in its own process so its peak RSS is its own:
 *
 *   node dist-bench/bench/backward-case.js --mode=forward|train|pair --size=959x640 --threads=2 --runs=5
 *
 * forward: the inference engine's forward pass (engine.run, into one kept logits array) on the image; train: an engine built
 * for training on the stored positions (R = 33, the upstream model as stored) and its forward +
 * backward pass (engine.gradients) against a mask; pair: both engines in this process (each on its
 * own kernel instance and threads), their runs alternated, so that their ratio is measured side by
 * side (the machine's speed drifts between processes). 959×640: in0000.png against its ground
 * truth gt0000.png; 240×160: the gradient fixture d's image and target. Prints one JSON line: cold
 * and median warm seconds (pair: of both), peak RSS (meaningful for forward and train).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine } from '../src/engines/index.js';
import { imageToTensor } from '../src/input.js';
import { maskFromGrey } from '../src/metrics.js';
import { findDataDir, PACKAGE_ROOT } from '../src/node/data.js';
import { loadKernels } from '../src/node/kernels.js';
import { loadModelFile } from '../src/node/load.js';
import { decodePng } from '../src/node/png.js';

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const mode = arg('mode', 'train');
const size = arg('size', '959x640');
const threads = Number(arg('threads', '1'));
const runs = Number(arg('runs', '5'));
/** The trainable ranks: the upstream model stores ranks 0…32 of every layer. */
const RANKS = 33;

const dir = findDataDir();
if (!dir) throw new Error('upstream data not found: set FREQREG_DATA');
const { model } = await loadModelFile(join(dir, 'unet_fr.tar.xz'));

let photoFile: string, targetFile: string, targetIsClassIndex: boolean;
if (size === '959x640') {
  photoFile = join(dir, 'testimgs', 'input', 'in0000.png');
  targetFile = join(dir, 'testimgs', 'mask', 'gt0000.png');
  targetIsClassIndex = false;
} else if (size === '240x160') {
  const grad = join(PACKAGE_ROOT, 'fixtures', 'pytorch', 'grad');
  photoFile = join(grad, 'd-in0000-240x160.png');
  targetFile = join(grad, 'd-in0000-240x160-target.png');
  targetIsClassIndex = true;
} else throw new Error(`--size: 959x640 or 240x160, got ${size}`);
const photo = decodePng(readFileSync(photoFile));
const input = imageToTensor(photo, model.arch.inChannels);
const mask = decodePng(readFileSync(targetFile));
const target = targetIsClassIndex ? Uint8Array.from({ length: mask.width * mask.height }, (_, p) => mask.data[p * mask.channels]) : maskFromGrey(mask);

const forwardEngine = mode === 'train' ? undefined : await createEngine('spectral', model, await loadKernels(threads));
const trainEngine = mode === 'forward' ? undefined : await createEngine('spectral', model, await loadKernels(threads), { train: { ranks: RANKS } });
const timed = async (run: () => Promise<unknown>) => {
  const s = performance.now();
  await run();
  return (performance.now() - s) / 1000;
};
// The forward writes its logits into one kept array, as the engine rows do (bench/engine-case.ts):
// a fresh 5 MB array a run would add its page faults to the forward, which the training pass
// (logits kept in kernel memory) does not have.
const logits = new Float32Array(model.arch.classes * photo.width * photo.height);
const forwardOnce = () => timed(() => forwardEngine!.run(input, photo.width, photo.height, logits));
const trainOnce = () => timed(() => trainEngine!.gradients!(input, photo.width, photo.height, { target }));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const forwardWarm: number[] = [], trainWarm: number[] = [];
const forwardCold = forwardEngine ? await forwardOnce() : undefined;
const trainCold = trainEngine ? await trainOnce() : undefined;
for (let r = 0; r < runs; r++) {
  if (forwardEngine) forwardWarm.push(await forwardOnce());
  if (trainEngine) trainWarm.push(await trainOnce());
}
const peakRssMiB = process.resourceUsage().maxRSS / 1024;
const threadsUsed = (forwardEngine ?? trainEngine)!.threads;
await forwardEngine?.dispose();
await trainEngine?.dispose();
const ranks = trainEngine ? RANKS : undefined;
if (mode === 'pair') {
  console.log(JSON.stringify({
    mode, threads: threadsUsed, width: photo.width, height: photo.height, ranks,
    forwardSeconds: median(forwardWarm), trainSeconds: median(trainWarm), forwardWarm, trainWarm,
  }));
} else {
  const warm = mode === 'train' ? trainWarm : forwardWarm;
  console.log(JSON.stringify({
    mode, threads: threadsUsed, width: photo.width, height: photo.height, ranks,
    coldSeconds: mode === 'train' ? trainCold : forwardCold, medianSeconds: median(warm), warmSeconds: warm, peakRssMiB,
  }));
}
