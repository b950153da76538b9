/**
 * `freqreg train`: a new FR network from a folder of photos and masks, or an existing one
 * fine-tuned. The command reads and checks the data (src/node/train-data.ts over the core's
 * src/train/data.ts), then drives the core's Trainer (src/train/trainer.ts): a progress line,
 * a JSON line per evaluation (--json, --log), checkpoints at intervals and on Ctrl-C, the best
 * model written through a temporary file, and an HTML report.
 */
import { promises as fs } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { createEngine } from '../engines/index.js';
import type { EngineName } from '../engines/engine.js';
import { FreqregError } from '../errors.js';
import { readPacked, writePacked } from '../formats/packed.js';
import { writeTorchZip } from '../formats/torch-write.js';
import { checkInputSize } from '../input.js';
import { DEFAULT_AUGMENT, NO_AUGMENT, type AugmentOptions, type Sample } from '../train/augment.js';
import { coefficientsOf, coefficientTensors, randomCoefficients } from '../train/coefficients.js';
import { loadSamples, pairFolders, parseManifest, splitValidation, type PairProblem, type PairSpec } from '../train/data.js';
import { readCheckpointBytes } from '../train/checkpoint.js';
import { Rng } from '../train/rng.js';
import { crc32 } from '../formats/zip.js';
import { classDice, Trainer, type EngineFactory, type EvalRecord, type TrainOptions, type TrainStart } from '../train/trainer.js';
import { EXIT, type Command } from './command.js';
import { parseEngineName } from './engines.js';
import { readRegularFile, samePath, writeFileAtomic } from './files.js';
import { defaultThreads, loadKernels } from './kernels.js';
import { loadModelFile } from './load.js';
import { formatDuration, Progress } from './progress.js';
import { nodeDataFiles } from './train-data.js';
import { writeTrainReport } from './train-report.js';

export const TRAIN_DEFAULTS = {
  width: 64,
  classes: 2,
  channels: 3,
  ranks: 33,
  size: '240x160',
  epochs: 30,
  lr: 0.02,
  lrFineTune: 0.01,
  batch: 1,
  seed: 1,
  zoom: 1.25,
  warmup: 10,
  checkpointMinutes: 5,
  out: 'model.frq',
  panels: 4,
} as const;

/** Largest training checkpoint read back (bytes). */
const MAX_CHECKPOINT_BYTES = 512 * 2 ** 20;
/** Largest manifest read (bytes). */
const MAX_MANIFEST_BYTES = 64 * 2 ** 20;

function usage(detail: string): never {
  throw new FreqregError('cli', 'USAGE', detail);
}

function positiveInt(values: Record<string, unknown>, flag: string): number | undefined {
  const raw = values[flag];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) usage(`--${flag} must be a positive integer, got "${String(raw)}"`);
  return n;
}

function positiveNumber(values: Record<string, unknown>, flag: string): number | undefined {
  const raw = values[flag];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!(n > 0) || !Number.isFinite(n)) usage(`--${flag} must be a positive number, got "${String(raw)}"`);
  return n;
}

export function parseSize(raw: string): { width: number; height: number } {
  const m = /^(\d+)x(\d+)$/i.exec(raw.trim());
  if (!m) usage(`--size must be WxH, e.g. 240x160, got "${raw}"`);
  const width = Number(m[1]), height = Number(m[2]);
  try {
    checkInputSize(width, height);
  } catch (e) {
    usage(`--size ${raw}: ${(e as Error).message}`);
  }
  return { width, height };
}

/** --augment: none, or flip and/or zoom; the default (no flag) is DEFAULT_AUGMENT, the flip alone. */
export function parseAugment(raw: string | undefined, zoom: number): AugmentOptions {
  if (raw === undefined) return { ...DEFAULT_AUGMENT };
  if (raw === 'none') return { ...NO_AUGMENT };
  const parts = raw.split(',').map((p) => p.trim());
  for (const p of parts) if (p !== 'flip' && p !== 'zoom') usage(`--augment takes flip, zoom (comma-separated) or none, got "${p}"`);
  return { flip: parts.includes('flip'), maxZoom: parts.includes('zoom') ? zoom : 1 };
}

/** Where the data flags point: a manifest file, or a photo folder with its mask folder. */
interface DataSpec {
  path: string;
  masks?: string;
  maskName?: string;
}

/** The mask folder beside a photo folder: `DIR_masks` (Carvana), `../mask` or `../masks` (the upstream test images). */
async function findMaskFolder(photos: string): Promise<string> {
  const candidates = [`${photos}_masks`, `${photos}-masks`, join(dirname(photos), 'mask'), join(dirname(photos), 'masks'), join(photos, 'masks')];
  for (const c of candidates) {
    if (await samePath(c, photos)) continue;
    const st = await fs.stat(c).catch(() => undefined);
    if (st?.isDirectory()) return c;
  }
  return usage(`no mask folder found beside ${photos} (looked for ${candidates.map((c) => basename(c)).join(', ')}); give --masks DIR`);
}

async function readPairs(spec: DataSpec): Promise<{ pairs: PairSpec[]; problems: PairProblem[]; description: string }> {
  const files = nodeDataFiles();
  const st = await fs.stat(spec.path).catch(() => undefined);
  if (!st) throw new FreqregError('cli', 'DATA_MISSING', `${spec.path} does not exist`);
  if (st.isFile()) {
    const text = new TextDecoder().decode(await readRegularFile(spec.path, MAX_MANIFEST_BYTES));
    const r = parseManifest(text, dirname(resolve(spec.path)), files.join);
    return { ...r, description: `manifest ${spec.path}` };
  }
  const masks = spec.masks ?? await findMaskFolder(resolve(spec.path));
  const r = await pairFolders(files, resolve(spec.path), resolve(masks), spec.maskName);
  return { ...r, description: `photos ${spec.path}, masks ${masks}` };
}

/** Engines built for training: the spectral engine on a thread pool, or the float64 reference. */
export function trainingEngines(name: EngineName, threads: number): EngineFactory {
  return async (model, ranks) => {
    if (name === 'reference') return createEngine('reference', model, undefined, { train: { ranks } });
    const context = await loadKernels(threads);
    try {
      return await createEngine(name, model, context, { train: { ranks } });
    } catch (e) {
      await context.parallel.dispose();
      throw e;
    }
  };
}

/** The model file written: `.pt` a PyTorch checkpoint, anything else the packed format. */
export function modelBytes(path: string, start: TrainStart['arch'], values: Float64Array[]): Uint8Array {
  const tensors = coefficientTensors(start, values);
  if (extname(path).toLowerCase() === '.pt') return writeTorchZip(tensors);
  const bytes = writePacked(tensors);
  const again = writePacked(readPacked(bytes));
  if (again.length !== bytes.length || again.some((b, i) => b !== bytes[i])) throw new FreqregError('packed', 'INTERNAL', 'the packed model does not read back to the same bytes');
  return bytes;
}

function formatEval(e: EvalRecord): string {
  const d = Number.isNaN(e.dice) ? 'no validation' : `val dice ${e.dice.toFixed(4)}${e.best ? ' (best)' : ''}`;
  return `epoch ${e.epoch} step ${e.step}: train loss ${e.trainLoss.toFixed(4)}, ${d}, ranks ${e.ranks}, ${formatDuration(e.elapsedMs)}`;
}

async function exists(path: string): Promise<boolean> {
  return fs.lstat(path).then(() => true, () => false);
}

export const trainCommand: Command = {
  summary: 'train a new FR network (or fine-tune one) from photos and masks',
  usage: '--data MANIFEST.csv|PHOTOS [--masks DIR] [--val ...|--val-split F] [--init random|MODEL] [--ranks R] [--size WxH] [--steps N|--epochs N|--minutes M] [--out FILE] ...',
  options: {
    data: { type: 'string' }, masks: { type: 'string' }, 'mask-name': { type: 'string' },
    val: { type: 'string' }, 'val-masks': { type: 'string' }, 'val-split': { type: 'string' },
    init: { type: 'string' }, width: { type: 'string' }, classes: { type: 'string' }, channels: { type: 'string' },
    ranks: { type: 'string' }, 'start-ranks': { type: 'string' }, size: { type: 'string' },
    steps: { type: 'string' }, epochs: { type: 'string' }, minutes: { type: 'string' },
    lr: { type: 'string' }, batch: { type: 'string' }, seed: { type: 'string' }, threads: { type: 'string' }, engine: { type: 'string' },
    augment: { type: 'string' }, zoom: { type: 'string' }, warmup: { type: 'string' }, 'eval-every': { type: 'string' },
    out: { type: 'string', short: 'o' }, overwrite: { type: 'boolean' },
    checkpoint: { type: 'string' }, 'checkpoint-every': { type: 'string' }, resume: { type: 'string' },
    report: { type: 'string' }, json: { type: 'boolean' }, log: { type: 'string' }, quiet: { type: 'boolean' },
  },
  help: {
    '--data PATH': 'a CSV manifest (image,mask per line, paths relative to it) or a folder of photos (PNG or JPEG) (required)',
    '--masks DIR': 'the masks\' folder for a photo folder (DIR_masks, ../mask or ../masks beside it)',
    '--mask-name TEMPLATE': 'a mask\'s name from its photo\'s: {stem} the name without extension, {digits} its number, e.g. {stem}_mask.gif or gt{digits}.png (auto: same stem, stem_mask, or same number)',
    '--val PATH': 'validation data, as --data (none)',
    '--val-masks DIR': 'the masks\' folder for --val (found as for --masks)',
    '--val-split F': 'hold out this fraction of --data for validation, chosen by --seed (none)',
    '--init random|MODEL': 'a new network with random coefficients, or fine-tune MODEL (.tar.xz, .pt, .frq) (random)',
    '--width N': `channels of the first level of a new network (${TRAIN_DEFAULTS.width}, as upstream)`,
    '--classes N': `classes of a new network (${TRAIN_DEFAULTS.classes})`,
    '--channels N': `input channels of a new network: 3 RGB, 1 grey (${TRAIN_DEFAULTS.channels})`,
    '--ranks R': `coefficients kept per layer, zig-zag ranks 0…R−1 (${TRAIN_DEFAULTS.ranks})`,
    '--start-ranks R0': 'start with R0 per layer and drop the highest ranks over the first half of training down to R (= R)',
    '--size WxH': `photos resized to this (masks by nearest neighbour) (${TRAIN_DEFAULTS.size})`,
    '--steps N': 'stop after N steps',
    '--epochs N': `stop after N passes over the data (${TRAIN_DEFAULTS.epochs} when no budget is given)`,
    '--minutes M': 'stop after M minutes of training (the schedule then follows the clock, so runs differ)',
    '--lr X': `peak learning rate of Adam, after warm-up, decaying by a cosine to 5% (${TRAIN_DEFAULTS.lr} from random, ${TRAIN_DEFAULTS.lrFineTune} fine-tuning)`,
    '--batch N': `images per step, gradients averaged (${TRAIN_DEFAULTS.batch})`,
    '--seed N': `seed of every random choice: initialisation, order, augmentation, split (${TRAIN_DEFAULTS.seed})`,
    '--threads N': `threads to use (${defaultThreads()}, the cores available)`,
    '--engine NAME': 'spectral or reference (float64, slow: for checks) (spectral)',
    '--augment LIST': 'flip (left-right, half the time), zoom (random window of 1/1…1/zoom of the photo, resized back), both, or none (flip)',
    '--zoom Z': `largest zoom of the random window (${TRAIN_DEFAULTS.zoom})`,
    '--warmup N': `steps of linear learning-rate warm-up (${TRAIN_DEFAULTS.warmup})`,
    '--eval-every N': 'validate every N steps as well as after each epoch (0)',
    '--out, -o FILE': `the model written: .frq packed, .pt PyTorch (${TRAIN_DEFAULTS.out})`,
    '--overwrite': 'replace --out and the checkpoint if they exist (off)',
    '--checkpoint FILE': 'training state for --resume (FILE = OUT.ckpt)',
    '--checkpoint-every M': `write the checkpoint every M minutes, and on Ctrl-C (${TRAIN_DEFAULTS.checkpointMinutes})`,
    '--resume FILE': 'go on from a checkpoint (its data and settings; budget flags may extend it)',
    '--report DIR': 'write an HTML report there: loss and Dice curves, validation panels (none)',
    '--json': 'print each evaluation and the summary as JSON lines on stdout (off)',
    '--log FILE': 'append each evaluation as a JSON line to FILE (none)',
    '--quiet': 'no progress line (off)',
  },
  run: runTrain,
};

export async function runTrain(values: Record<string, unknown>): Promise<number> {
  const json = values.json === true;
  const say = (line: string): void => { if (!json) console.log(line); };
  const warn = (line: string): void => console.error(line);
  const overwrite = values.overwrite === true;

  // The run's description: from the flags, or from the checkpoint being resumed.
  let checkpointBytes: Uint8Array | undefined;
  let meta: Record<string, unknown> = { ...values };
  if (values.resume !== undefined) {
    checkpointBytes = await readRegularFile(String(values.resume), MAX_CHECKPOINT_BYTES);
    const saved = (readCheckpointBytes(checkpointBytes).header as { meta?: Record<string, unknown> }).meta ?? {};
    meta = { ...saved };
    for (const k of ['steps', 'epochs', 'minutes', 'out', 'report', 'log', 'json', 'quiet', 'threads', 'checkpoint', 'checkpoint-every', 'overwrite'] as const) {
      if (values[k] !== undefined) meta[k] = values[k];
    }
    if (values.steps !== undefined || values.epochs !== undefined || values.minutes !== undefined) {
      delete meta.steps; delete meta.epochs; delete meta.minutes;
      for (const k of ['steps', 'epochs', 'minutes'] as const) if (values[k] !== undefined) meta[k] = values[k];
    }
  }
  if (typeof meta.data !== 'string') usage('--data is required (a manifest or a folder of photos)');
  const threads = positiveInt(meta, 'threads') ?? defaultThreads();
  const engineName = parseEngineName(meta.engine ?? 'spectral');
  if (engineName !== 'spectral' && engineName !== 'reference') usage('--engine for training is spectral or reference');
  const out = resolve(String(meta.out ?? TRAIN_DEFAULTS.out));
  const checkpointPath = resolve(String(meta.checkpoint ?? `${out}.ckpt`));
  const checkpointMinutes = positiveNumber(meta, 'checkpoint-every') ?? TRAIN_DEFAULTS.checkpointMinutes;
  const resuming = checkpointBytes !== undefined;
  // Refuse now what would be refused after the run. A resumed run may replace the model it wrote itself.
  const written = meta.written as { path?: string; crc?: number } | undefined;
  const ownOutput = resuming && written?.path === out && await exists(out)
    && crc32(await readRegularFile(out, MAX_CHECKPOINT_BYTES)) === written.crc;
  if (!overwrite && !ownOutput && await exists(out)) throw new FreqregError('file', 'OUTPUT_EXISTS', 'use --overwrite to replace it', { file: out });
  if (!overwrite && await exists(checkpointPath) && !(resuming && await samePath(String(values.resume), checkpointPath))) {
    throw new FreqregError('file', 'OUTPUT_EXISTS', 'a checkpoint is there; --resume it, or use --overwrite', { file: checkpointPath });
  }
  const reportDir = meta.report !== undefined ? resolve(String(meta.report)) : undefined;
  if (reportDir && !overwrite && await exists(join(reportDir, 'index.html'))) throw new FreqregError('file', 'OUTPUT_EXISTS', 'use --overwrite to replace the report', { file: join(reportDir, 'index.html') });

  const size = parseSize(String(meta.size ?? TRAIN_DEFAULTS.size));
  const seed = meta.seed === undefined ? TRAIN_DEFAULTS.seed : Number(meta.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) usage(`--seed must be an integer 0…4294967295, got "${String(meta.seed)}"`);
  const ranks = positiveInt(meta, 'ranks') ?? TRAIN_DEFAULTS.ranks;
  const startRanks = positiveInt(meta, 'start-ranks');
  if (startRanks !== undefined && startRanks < ranks) usage(`--start-ranks ${startRanks} must be at least --ranks ${ranks}`);

  // The network to start from.
  let start: TrainStart;
  const init = String(meta.init ?? 'random');
  if (init === 'random') {
    const arch = { width: positiveInt(meta, 'width') ?? TRAIN_DEFAULTS.width, classes: positiveInt(meta, 'classes') ?? TRAIN_DEFAULTS.classes, inChannels: positiveInt(meta, 'channels') ?? TRAIN_DEFAULTS.channels };
    if (arch.classes < 2 || arch.classes > 256) usage('--classes must be 2 to 256');
    start = { arch, values: randomCoefficients(arch, startRanks ?? ranks, new Rng(seed)), from: 'random' };
  } else {
    for (const k of ['width', 'classes', 'channels'] as const) if (meta[k] !== undefined) usage(`--${k} is for a new network; ${init} has its own`);
    const loaded = await loadModelFile(init);
    const { values: coefficients, dropped } = coefficientsOf(loaded.model, startRanks ?? ranks);
    if (dropped > 0) warn(`${init}: ${dropped} non-zero coefficients beyond rank ${startRanks ?? ranks} are dropped`);
    if (loaded.model.layers.some((l) => l.bias)) warn(`${init}: biases are kept out of training and out of the written model`);
    start = { arch: loaded.model.arch, values: coefficients, from: basename(init) };
  }

  // The data.
  const { pairs, problems, description } = await readPairs({ path: meta.data, masks: meta.masks as string | undefined, maskName: meta['mask-name'] as string | undefined });
  let valPairs: PairSpec[] = [];
  const valProblems: PairProblem[] = [];
  if (typeof meta.val === 'string') {
    const v = await readPairs({ path: meta.val, masks: meta['val-masks'] as string | undefined, maskName: meta['mask-name'] as string | undefined });
    valPairs = v.pairs;
    valProblems.push(...v.problems);
  }
  const progressOff = json || meta.quiet === true || values.quiet === true;
  const loadOptions = { width: size.width, height: size.height, classes: start.arch.classes, inChannels: start.arch.inChannels };
  const reading = new Progress(pairs.length + valPairs.length, { noun: 'pair', silent: progressOff });
  const train = await loadSamples(nodeDataFiles(), pairs, { ...loadOptions, onPair: () => reading.tick() });
  const val = await loadSamples(nodeDataFiles(), valPairs, { ...loadOptions, onPair: () => reading.tick() });
  reading.finish();
  const skipped = [...problems, ...train.problems, ...valProblems, ...val.problems];
  for (const p of skipped) warn(`skipped ${p.name}: ${p.message} [${p.code}]`);
  let trainSamples: Sample[] = train.samples, valSamples: Sample[] = val.samples;
  const split = positiveNumber(meta, 'val-split');
  if (split !== undefined) {
    if (typeof meta.val === 'string') usage('give --val or --val-split, not both');
    if (split >= 1) usage('--val-split is a fraction below 1');
    ({ train: trainSamples, val: valSamples } = splitValidation(train.samples, split, new Rng(seed ^ 0x5eed)));
  }
  if (trainSamples.length === 0) throw new FreqregError('cli', 'DATA_MISSING', `no usable training pairs in ${description}`);
  say(`data: ${trainSamples.length} training and ${valSamples.length} validation pairs at ${size.width}×${size.height} (${description})${skipped.length ? `; ${skipped.length} skipped` : ''}`);

  const budget = { steps: positiveInt(meta, 'steps'), epochs: positiveInt(meta, 'epochs'), minutes: positiveNumber(meta, 'minutes') };
  if (budget.steps === undefined && budget.epochs === undefined && budget.minutes === undefined) budget.epochs = TRAIN_DEFAULTS.epochs;
  const zoom = positiveNumber(meta, 'zoom') ?? TRAIN_DEFAULTS.zoom;
  if (zoom < 1) usage('--zoom must be at least 1');
  const options: TrainOptions = {
    ranks, startRanks, lr: positiveNumber(meta, 'lr') ?? (init === 'random' ? TRAIN_DEFAULTS.lr : TRAIN_DEFAULTS.lrFineTune), batch: positiveInt(meta, 'batch') ?? TRAIN_DEFAULTS.batch, seed,
    ...budget, augment: parseAugment(meta.augment as string | undefined, zoom),
    warmupSteps: meta.warmup === undefined ? TRAIN_DEFAULTS.warmup : Number(meta.warmup), evalEvery: meta['eval-every'] === undefined ? 0 : Number(meta['eval-every']),
  };
  if (!Number.isInteger(options.warmupSteps) || options.warmupSteps < 0) usage('--warmup must be a whole number of steps');
  if (!Number.isInteger(options.evalEvery) || options.evalEvery < 0) usage('--eval-every must be a whole number of steps');

  const engines = trainingEngines(engineName, threads);
  const data = { train: trainSamples, val: valSamples };
  const trainer = checkpointBytes
    ? await Trainer.resume(data, checkpointBytes, engines, undefined, budget)
    : await Trainer.start(data, options, start, engines);
  const storedMeta: Record<string, unknown> = { ...meta };
  delete storedMeta.resume;
  delete storedMeta.written;
  trainer.meta = storedMeta;
  say(`model: ${trainer.from === 'random' ? 'random' : trainer.from}, width ${trainer.arch.width}, ${trainer.arch.inChannels} input channels, ${trainer.arch.classes} classes; ranks ${trainer.options.startRanks ?? trainer.options.ranks}${trainer.options.startRanks ? ` → ${trainer.options.ranks}` : ''}; engine ${engineName}, ${threads} thread${threads > 1 ? 's' : ''}${resuming ? `; resumed at step ${trainer.stepCount}` : ''}`);

  const logPath = meta.log !== undefined ? resolve(String(meta.log)) : undefined;
  const emit = async (record: object): Promise<void> => {
    const line = JSON.stringify(record, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
    if (json) console.log(line);
    if (logPath) await fs.appendFile(logPath, `${line}\n`);
  };

  const total = trainer.totalSteps();
  const byTime = total === undefined;
  const progress = new Progress(byTime ? Math.round(trainer.options.minutes! * 60) : total, {
    noun: byTime ? 'second' : 'step', silent: progressOff,
    initial: byTime ? Math.floor(trainer.trainingMs / 1000) : trainer.stepCount, // a resumed run's part done
  });
  const report = (line: string): void => {
    if (!progressOff) progress.log(line);
    else if (!json) console.log(line);
  };
  let lastDice = NaN;
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    report('interrupted: finishing this step, then writing the checkpoint (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onSignal);
  const saveCheckpoint = async (): Promise<void> => writeFileAtomic(checkpointPath, trainer.checkpoint(), true);
  let lastCheckpoint = performance.now();
  try {
    // The starting model is scored too, so a fine-tuned model is never kept if it scores below it.
    if (trainer.stepCount === 0 && valSamples.length > 0) {
      const e = await trainer.evaluate();
      lastDice = e.dice;
      report(formatEval(e));
      await emit({ type: 'evaluation', ...e });
    }
    while (!trainer.done && !interrupted) {
      const step = await trainer.trainStep();
      if (trainer.evaluationDue()) {
        const e = await trainer.evaluate();
        lastDice = e.dice;
        report(formatEval(e));
        await emit({ type: 'evaluation', ...e });
      }
      const label = `loss ${step.loss.toFixed(4)}  val dice ${Number.isNaN(lastDice) ? '—' : lastDice.toFixed(4)}  ranks ${step.ranks}${byTime ? `  step ${step.step}` : ''}`;
      progress.update(byTime ? Math.floor(trainer.trainingMs / 1000) : trainer.stepCount, label);
      if (performance.now() - lastCheckpoint >= checkpointMinutes * 60000) {
        await saveCheckpoint();
        lastCheckpoint = performance.now();
      }
    }
    if (!interrupted && (trainer.evals.length === 0 || trainer.evals[trainer.evals.length - 1].step !== trainer.stepCount)) {
      const e = await trainer.evaluate();
      report(formatEval(e));
      await emit({ type: 'evaluation', ...e });
    }
    progress.finish();

    const result = trainer.result();
    const bytes = modelBytes(out, trainer.arch, result.values);
    await writeFileAtomic(out, bytes, overwrite || ownOutput);
    trainer.meta.written = { path: out, crc: crc32(bytes) };
    await saveCheckpoint();
    const summary = {
      type: 'summary', out, bytes: bytes.length, checkpoint: checkpointPath, steps: trainer.stepCount, epochs: trainer.epochCount,
      trainingSeconds: trainer.trainingMs / 1000, msPerStep: trainer.trainingMs / Math.max(1, trainer.stepCount),
      keptStep: result.step, keptDice: result.dice, bestByValidation: result.best, ranks: trainer.options.ranks, coefficients: result.values.reduce((n, v) => n + v.length, 0),
      interrupted, skipped: skipped.map((p) => ({ name: p.name, code: p.code, message: p.message })),
    };
    say(`${interrupted ? 'interrupted' : 'done'} after ${trainer.stepCount} steps (${formatDuration(trainer.trainingMs)}, ${(trainer.trainingMs / Math.max(1, trainer.stepCount)).toFixed(0)} ms per step)`);
    say(`wrote ${out} (${bytes.length.toLocaleString('en-US')} bytes, ${summary.coefficients} coefficients, ${result.best ? `best validation Dice ${result.dice.toFixed(4)} at step ${result.step}` : `step ${result.step}`})`);
    say(`checkpoint ${checkpointPath}${interrupted ? ` (resume with --resume ${checkpointPath})` : ''}`);
    await emit(summary);

    if (reportDir) {
      const shown = valSamples.slice(0, TRAIN_DEFAULTS.panels);
      const preds = await trainer.predictKept(shown);
      const files = await writeTrainReport(reportDir, {
        steps: trainer.steps, evals: trainer.evals, engine: engineName, threads,
        panels: shown.map((sample, i) => ({ sample, pred: preds[i], dice: classDice(preds[i], sample.target, trainer.arch.classes) })),
        rows: {
          data: description, 'training pairs': String(trainSamples.length), 'validation pairs': String(valSamples.length), size: `${size.width}×${size.height}`,
          'started from': trainer.from, ranks: `${trainer.options.startRanks ?? trainer.options.ranks} → ${trainer.options.ranks}`,
          steps: String(trainer.stepCount), 'training time': formatDuration(trainer.trainingMs), 'per step': `${summary.msPerStep.toFixed(0)} ms`,
          'kept model': `${basename(out)}, ${bytes.length} bytes, ${result.best ? `validation Dice ${result.dice.toFixed(4)} at step ${result.step}` : `last step`}`,
          'learning rate': String(trainer.options.lr), batch: String(trainer.options.batch), seed: String(trainer.options.seed),
          augmentation: trainer.options.augment.flip || trainer.options.augment.maxZoom > 1 ? `${trainer.options.augment.flip ? 'flip ' : ''}${trainer.options.augment.maxZoom > 1 ? `zoom ≤ ${trainer.options.augment.maxZoom}` : ''}`.trim() : 'none',
        },
      }, true);
      say(`report ${files.index}`);
    }
    return interrupted ? 130 : skipped.length > 0 ? EXIT.SOME_FAILED : EXIT.OK;
  } finally {
    process.off('SIGINT', onSignal);
    await trainer.dispose();
  }
}
