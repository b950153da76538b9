/**
 * `freqreg demo`: the paper's result on the upstream test images. Loads unet_fr.tar.xz from the
 * data folder, segments the 16 photos (inNNNN.png, or the same photos as JPEG, inNNNN.jpg), prints
 * each image's Dice against its ground truth and the average, and writes a panel PNG per image
 * plus an index.html report.
 */
import { promises as fs } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { FreqregError } from '../errors.js';
import { imageToTensor } from '../input.js';
import { argmaxClasses } from '../engines/reference.js';
import { countParameters } from '../model.js';
import type { Logits } from '../engines/engine.js';
import { dice, maskFromGrey, meanDice } from '../metrics.js';
import { intFlag, type Command } from './command.js';
import { findDataDir, resolveDataDir } from './data.js';
import { createNodeEngine, parseEngineName } from './engines.js';
import { readRegularFile } from './files.js';
import { defaultThreads } from './kernels.js';
import { loadModelFile } from './load.js';
import { decodeImage, decodePng } from './png.js';
import { Progress } from './progress.js';
import { panelPng, writeReport, type ReportEntry } from './report.js';
import { MAX_IMAGE_FILE_BYTES } from './segment.js';

export const DEFAULT_DEMO_OUT = 'out/demo';
const UPSTREAM_SOURCE = 'the public repository guanfangdong/pytorch-frequency-regularization, folder run/';

export interface DemoImageResult {
  file: string;
  dice: number;
  foregroundPixels: number;
  ms: number;
}

export interface DemoSummary {
  model: string;
  nonzeroParameters: number;
  modelBytes: number;
  engine: string;
  form: string;
  threads: number;
  images: DemoImageResult[];
  averageDice: number;
  totalMs: number;
  report: string;
}

/** A path as the user would type it: relative to the working folder when it lies inside it. */
function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** A test photo's name: inNNNN.png, or the same photo as a JPEG (inNNNN.jpg, .jpeg; any case). */
const TEST_PHOTO = /^in(\d+)\.(png|jpe?g)$/i;

/** Test photos and their masks: testimgs/input/inNNNN.{png,jpg} with testimgs/mask/gtNNNN.png (masks stay PNG). */
async function listTestImages(dataDir: string): Promise<{ input: string; mask: string }[]> {
  const inputDir = join(dataDir, 'testimgs', 'input');
  const names = await fs.readdir(inputDir).catch(() => {
    throw new FreqregError('cli', 'DATA_MISSING', `no test images in ${inputDir}`);
  });
  return names
    .filter((n) => TEST_PHOTO.test(n))
    .sort()
    .map((n) => ({ input: join(inputDir, n), mask: join(dataDir, 'testimgs', 'mask', `gt${TEST_PHOTO.exec(n)![1]}.png`) }));
}

export interface DemoOptions {
  data?: string;
  out?: string;
  engine?: unknown;
  threads?: number;
  overwrite?: boolean;
  quiet?: boolean;
  /** Called with each image's result, predicted classes and logits (for checks). */
  onImage?: (result: DemoImageResult, pred: Uint8Array, logits: Logits) => void;
}

export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const dataDir = findDataDir(options.data);
  if (!dataDir) {
    throw new FreqregError('cli', 'DATA_MISSING', `unet_fr.tar.xz not found in ${resolveDataDir(options.data)}; get the upstream files (unet_fr.tar.xz, testimgs/) from ${UPSTREAM_SOURCE} and pass --data DIR or set FREQREG_DATA`);
  }
  const say = (line: string) => { if (!options.quiet) console.log(line); };
  const outDir = resolve(options.out ?? DEFAULT_DEMO_OUT);
  const engineName = parseEngineName(options.engine);
  const threads = options.threads ?? defaultThreads();
  const started = performance.now();

  const modelFile = join(dataDir, 'unet_fr.tar.xz');
  const loaded = await loadModelFile(modelFile);
  const nonzero = countParameters(loaded.model);
  say(`model ${displayPath(modelFile)}: ${nonzero.weights + nonzero.biases} non-zero parameters, ${loaded.bytes.toLocaleString('en-US')} bytes`);
  const images = await listTestImages(dataDir);
  if (images.length === 0) throw new FreqregError('cli', 'DATA_MISSING', `no inNNNN.png (or .jpg) test images in ${join(dataDir, 'testimgs', 'input')}`);

  const engine = await createNodeEngine(engineName, loaded.model, threads);
  say(`engine ${engine.name}${engine.form !== engine.name ? ` (${engine.form})` : ''}, ${engine.threads} thread${engine.threads > 1 ? 's' : ''}; ${images.length} images`);
  const progress = new Progress(images.length, { silent: options.quiet });
  const results: DemoImageResult[] = [];
  const entries: ReportEntry[] = [];
  try {
    for (const { input, mask } of images) {
      const photo = decodeImage(await readRegularFile(input, MAX_IMAGE_FILE_BYTES));
      const truth = maskFromGrey(decodePng(await readRegularFile(mask, MAX_IMAGE_FILE_BYTES)));
      if (truth.length !== photo.width * photo.height) {
        throw new FreqregError('image', 'IMAGE_DIMENSIONS', 'the ground-truth mask and the photo differ in size', { file: mask });
      }
      const t0 = performance.now();
      const logits = await engine.run(imageToTensor(photo, loaded.model.arch.inChannels), photo.width, photo.height);
      const pred = argmaxClasses({ c: logits.classes, h: logits.height, w: logits.width, data: logits.data });
      const ms = performance.now() - t0;
      const score = dice(pred, truth);
      const foregroundPixels = pred.reduce((n, c) => n + (c === 1 ? 1 : 0), 0);
      const result = { file: basename(input), dice: score, foregroundPixels, ms };
      results.push(result);
      options.onImage?.(result, pred, logits);
      entries.push({ name: basename(input), panel: panelPng(photo, truth, pred, photo.width, photo.height), dice: score, ms, source: input });
      progress.tick(basename(input));
    }
  } finally {
    progress.finish();
    await engine.dispose();
  }
  const averageDice = meanDice(results.map((r) => r.dice));
  const totalMs = performance.now() - started;

  for (const r of results) {
    say(`${r.file}  dice ${r.dice.toFixed(6)}  foreground ${String(r.foregroundPixels).padStart(7)} px  ${r.ms.toFixed(0).padStart(6)} ms`);
  }
  say(`average dice ${averageDice.toFixed(6)} over ${results.length} images (upstream PyTorch: 0.971766)`);

  await fs.mkdir(outDir, { recursive: true });
  const overwrite = options.overwrite ?? outDir === resolve(DEFAULT_DEMO_OUT);
  const inferenceMs = results.reduce((s, r) => s + r.ms, 0);
  const files = await writeReport(outDir, entries, {
    engine: engine.name,
    threads: engine.threads,
    model: `${basename(modelFile)} (${nonzero.weights + nonzero.biases} non-zero parameters)`,
    title: 'freqreg demo',
    timings: { 'inference, all images': inferenceMs, 'per image (mean)': inferenceMs / results.length, total: totalMs },
  }, { overwrite });
  say(`report ${displayPath(files.index)}`);
  return {
    model: modelFile,
    nonzeroParameters: nonzero.weights + nonzero.biases,
    modelBytes: loaded.bytes,
    engine: engine.name,
    form: engine.form,
    threads: engine.threads,
    images: results,
    averageDice,
    totalMs,
    report: files.index,
  };
}

export const demoCommand: Command = {
  summary: 'segment the upstream test images and report Dice (the paper\'s result)',
  usage: '[--data DIR] [--out DIR] [--engine auto] [--threads N] [--json]',
  options: {
    data: { type: 'string' },
    out: { type: 'string', short: 'o' },
    engine: { type: 'string' },
    threads: { type: 'string' },
    overwrite: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  help: {
    '--data DIR': 'folder with unet_fr.tar.xz and testimgs/ ($FREQREG_DATA, else fixtures/upstream)',
    '--out, -o DIR': `folder for the panels and index.html (${DEFAULT_DEMO_OUT})`,
    '--engine NAME': 'auto, spectral, dense or reference (auto)',
    '--threads N': `threads to use (${defaultThreads()}, the cores available)`,
    '--overwrite': `replace an earlier report in --out (on for ${DEFAULT_DEMO_OUT})`,
    '--json': 'print a JSON summary instead of the table (off)',
  },
  async run(values) {
    const summary = await runDemo({
      data: values.data as string | undefined,
      out: values.out as string | undefined,
      engine: values.engine,
      threads: intFlag(values, 'threads', defaultThreads()),
      overwrite: values.overwrite === true ? true : undefined,
      quiet: values.json === true,
    });
    if (values.json) console.log(JSON.stringify(summary, null, 2));
    return 0;
  },
};
