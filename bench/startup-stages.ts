/**
 * Where the time of a one-photo `freqreg segment` goes, stage by stage, on one thread of control
 * (the stages the command's threads overlap, run here one after the other):
 *
 *   node dist-bench/bench/startup-stages.js [--threads=2] [--image=PATH]
 *
 * Prints milliseconds per stage: Node's start until this script runs, importing the command line
 * and the engines, compiling xz.wasm, reading and parsing the model, the kernel instance with its
 * thread pool, building the engine, reading, decoding and converting the photo, the first run
 * (buffers planned for the size, the pool's first share) and a second, argmax, and the mask PNG.
 * Not part of `npm run bench`: a tool for looking at start-up (bench/cli-case.ts times the whole
 * process).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const started = performance.now(); // milliseconds since this process began
const rows: [string, number][] = [['Node start until this script runs', started]];
let last = started;
const stage = (name: string) => {
  const now = performance.now();
  rows.push([name, now - last]);
  last = now;
};

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const threads = Number(arg('threads', '2'));

await import('../src/node/cli.js');
stage('import the command line (no command)');
const { segmentCommand } = await import('../src/node/segment.js');
void segmentCommand;
stage('import segment (main thread)');
const { findDataDir } = await import('../src/node/data.js');
const { loadModelFile, xzWasmModule } = await import('../src/node/load.js');
const { loadKernels } = await import('../src/node/kernels.js');
const { createEngine } = await import('../src/engines/index.js');
const { argmaxClasses } = await import('../src/engines/reference.js');
const { imageToTensor } = await import('../src/input.js');
const { maskToGrey } = await import('../src/metrics.js');
const { decodeImage, encodeGreyPng } = await import('../src/node/png.js');
stage('import the engines, model readers and codecs');

const dir = findDataDir();
if (!dir) throw new Error('upstream data not found: set FREQREG_DATA');
const imagePath = arg('image', join(dir, 'testimgs', 'input', 'in0000.png'));
xzWasmModule();
stage('compile xz.wasm');
const { model } = await loadModelFile(join(dir, 'unet_fr.tar.xz'));
stage('read, decompress and parse the model');
const context = await loadKernels(threads);
stage(`kernel instance and pool (${threads} threads; the pool's threads boot in the background)`);
const engine = await createEngine('auto', model, context);
stage('build the engine (auto: plan, tables)');
const bytes = readFileSync(imagePath);
stage('read the photo');
const image = decodeImage(bytes);
stage(`decode the photo (${image.width}×${image.height})`);
const input = imageToTensor(image, model.arch.inChannels);
stage('photo to network input');
let logits = await engine.run(input, image.width, image.height);
stage('first run (buffers planned for the size)');
logits = await engine.run(input, image.width, image.height);
stage('second run');
const classes = argmaxClasses({ c: logits.classes, h: logits.height, w: logits.width, data: logits.data });
stage('argmax');
encodeGreyPng(maskToGrey(classes, logits.classes), image.width, image.height);
stage('mask PNG');
await engine.dispose();
stage('dispose (pool terminated)');

for (const [name, ms] of rows) console.log(`${ms.toFixed(1).padStart(8)} ms  ${name}`);
