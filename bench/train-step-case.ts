/**
 * One training-step configuration, in its own process so its peak RSS is its own:
 *
 *   node dist-bench/bench/train-step-case.js --engine=spectral --threads=2 --width=240 --height=160 --steps=10
 *
 * Fine-tunes the upstream model (ranks 0…32 of every layer trainable) on in0000.png and its mask,
 * brought to W×H as `freqreg train` brings them, one image per step, no augmentation: each step is
 * the forward and backward pass, Adam and the new coefficients (src/train/trainer.ts). Prints one
 * JSON line: the first (cold) step, the median of the rest, steps per second, peak RSS, and the
 * median CPU seconds per step of this process (its worker threads included), which a busy machine
 * inflates less than the wall time.
 */
import { join } from 'node:path';
import { findDataDir } from '../src/node/data.js';
import { loadModelFile } from '../src/node/load.js';
import { nodeDataFiles } from '../src/node/train-data.js';
import { trainingEngines } from '../src/node/train.js';
import { parseEngineName } from '../src/node/engines.js';
import { NO_AUGMENT } from '../src/train/augment.js';
import { coefficientsOf } from '../src/train/coefficients.js';
import { loadSample } from '../src/train/data.js';
import { Trainer } from '../src/train/trainer.js';

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const engineName = parseEngineName(arg('engine', 'spectral'));
const threads = Number(arg('threads', '1'));
const width = Number(arg('width', '240'));
const height = Number(arg('height', '160'));
const steps = Number(arg('steps', '10'));
const ranks = Number(arg('ranks', '33'));

const dir = findDataDir();
if (!dir) throw new Error('upstream data not found: set FREQREG_DATA');
const { model } = await loadModelFile(join(dir, 'unet_fr.tar.xz'));
const sample = await loadSample(nodeDataFiles(), {
  name: 'in0000.png', image: join(dir, 'testimgs', 'input', 'in0000.png'), mask: join(dir, 'testimgs', 'mask', 'gt0000.png'),
}, { width, height, classes: model.arch.classes, inChannels: model.arch.inChannels });
const trainer = await Trainer.start(
  { train: [sample], val: [] },
  { ranks, lr: 1e-3, batch: 1, seed: 1, steps: steps + 1, augment: NO_AUGMENT, warmupSteps: 0, evalEvery: 0 },
  { arch: model.arch, values: coefficientsOf(model, ranks).values, from: 'upstream' },
  trainingEngines(engineName, threads),
);
const cpu: number[] = [];
while (!trainer.done) {
  const c0 = process.cpuUsage();
  await trainer.trainStep();
  const c = process.cpuUsage(c0);
  cpu.push((c.user + c.system) / 1e6);
}
await trainer.dispose();
const ms = trainer.steps.map((s) => s.ms);
const warm = ms.slice(1).sort((a, b) => a - b);
const median = warm[warm.length >> 1];
console.log(JSON.stringify({
  engine: engineName, threads, width, height, ranks, coldSeconds: ms[0] / 1000, medianSeconds: median / 1000, warmSeconds: ms.slice(1).map((m) => m / 1000),
  stepsPerSecond: 1000 / median, medianCpuSeconds: cpu.slice(1).sort((a, b) => a - b)[(cpu.length - 1) >> 1], firstLoss: trainer.steps[0].loss, lastLoss: trainer.steps[trainer.steps.length - 1].loss, peakRssMiB: process.resourceUsage().maxRSS / 1024,
}));
