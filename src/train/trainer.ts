/**
 * The training loop: the frequency coefficients of an FR UNet trained directly, with any engine
 * that offers `gradients` and `setCoefficients` (src/engines/engine.ts). Runs anywhere the core
 * runs (a browser Worker too): data come in as samples at the training size, engines from a
 * factory, time from an injected clock; every random draw comes from one seeded generator whose
 * state is saved, so a run with the same seed and threads, or resumed from a checkpoint, gives
 * the same model byte for byte (except a `minutes` budget, whose schedule follows the clock).
 *
 * A step: the next `batch` images of the epoch's shuffled order, each augmented, through
 * `engine.gradients` with the loss of src/engines/gradients.ts (cross-entropy + Dice); the mean
 * of their gradients goes to Adam with the scheduled learning rate (src/train/schedule.ts).
 * Each image is normalized alone (the network's norm uses one image's statistics), so a batch is
 * the mean over images. Validation runs the model as it would be written (coefficients rounded to
 * float16) over the validation samples and scores Dice as the demo does; the best model by
 * validation Dice, once the ranks have reached their final count, is the one kept.
 */
import type { Engine } from '../engines/engine.js';
import type { GradientResult } from '../engines/gradients.js';
import { argmaxClasses } from '../engines/reference.js';
import { fail, FreqregError } from '../errors.js';
import { crc32 } from '../formats/zip.js';
import { dice, meanDice } from '../metrics.js';
import type { FrModel, UNetArch } from '../model.js';
import { adamState, adamStep, truncateAdam, type AdamState } from './adam.js';
import { augmentPair, plainPair, type AugmentOptions, type Sample } from './augment.js';
import { readCheckpointBytes, writeCheckpoint, type NamedArray } from './checkpoint.js';
import { halfPrecisionValues, modelOf, trainableLayers, truncateRanks } from './coefficients.js';
import { Rng } from './rng.js';
import { learningRate, ranksAt } from './schedule.js';

export interface TrainOptions {
  /** Coefficients kept per layer at the end (zig-zag ranks 0…R−1). */
  ranks: number;
  /** Coefficients per layer at the start, dropped to `ranks` over the first half (default `ranks`). */
  startRanks?: number;
  /** Peak learning rate of Adam. */
  lr: number;
  /** Images per step. */
  batch: number;
  seed: number;
  /** Stop after this many steps, epochs or minutes of training, whichever comes first. */
  steps?: number;
  epochs?: number;
  minutes?: number;
  augment: AugmentOptions;
  /** Steps of linear learning-rate warm-up. */
  warmupSteps: number;
  /** Validate every this many steps as well as at each epoch's end (0: epochs only). */
  evalEvery: number;
}

/** A new engine built for training a model with `ranks` coefficients per layer. */
export type EngineFactory = (model: FrModel, ranks: number) => Promise<Engine>;

export interface TrainData {
  train: readonly Sample[];
  val: readonly Sample[];
}

export interface StepRecord {
  step: number;
  epoch: number;
  loss: number;
  ce: number;
  diceLoss: number;
  lr: number;
  ranks: number;
  ms: number;
}

export interface EvalRecord {
  step: number;
  epoch: number;
  /** Mean validation Dice (NaN without validation data). */
  dice: number;
  /** Per validation image. */
  perImage: number[];
  /** Mean training loss since the previous evaluation. */
  trainLoss: number;
  ranks: number;
  /** Whether this is the best model so far (kept). */
  best: boolean;
  elapsedMs: number;
}

interface Best {
  dice: number;
  step: number;
  values: Float64Array[];
}

/** Initial coefficients: a random model or an existing one, at the start ranks. */
export interface TrainStart {
  arch: UNetArch;
  values: Float64Array[];
  /** What the run started from ("random", a file name). */
  from: string;
}

const OPTION_KEYS = ['ranks', 'startRanks', 'lr', 'batch', 'seed', 'steps', 'epochs', 'minutes', 'augment', 'warmupSteps', 'evalEvery'] as const;

export class Trainer {
  readonly arch: UNetArch;
  readonly options: TrainOptions;
  readonly from: string;
  readonly width: number;
  readonly height: number;
  readonly steps: StepRecord[] = [];
  readonly evals: EvalRecord[] = [];
  /** The caller's own description of the run (JSON), kept in checkpoints (the CLI keeps its data flags). */
  meta: Record<string, unknown> = {};
  private values: Float64Array[];
  private adam: AdamState;
  private rng: Rng;
  private step = 0;
  private epoch = 0;
  private cursor = 0;
  private order: Uint32Array;
  private ranks: number;
  private best: Best | undefined;
  private elapsedMs = 0;
  private engine: Engine | undefined;
  private lossSinceEval: number[] = [];
  /** The engine's trainable positions were checked against ours (once per engine). */
  private positionsChecked = false;
  private epochEnded = false;

  private constructor(
    private readonly data: TrainData,
    private readonly engines: EngineFactory,
    private readonly now: () => number,
    init: { arch: UNetArch; options: TrainOptions; from: string; values: Float64Array[]; rng: Rng; ranks: number; order: Uint32Array },
  ) {
    this.arch = init.arch;
    this.options = init.options;
    this.from = init.from;
    this.values = init.values;
    this.adam = adamState(init.values);
    this.rng = init.rng;
    this.ranks = init.ranks;
    this.order = init.order;
    const first = data.train[0] ?? data.val[0];
    if (!first) fail('train', 'DATA_MISSING', 'no training samples');
    this.width = first.width;
    this.height = first.height;
    for (const s of [...data.train, ...data.val]) {
      if (s.width !== this.width || s.height !== this.height || s.channels !== this.arch.inChannels) {
        fail('train', 'INPUT_SHAPE', `sample ${s.name} is ${s.width}×${s.height}×${s.channels}, the run trains at ${this.width}×${this.height}×${this.arch.inChannels}`);
      }
    }
  }

  /** A new run from `start` (coefficients at options.startRanks ?? options.ranks). */
  static async start(data: TrainData, options: TrainOptions, start: TrainStart, engines: EngineFactory, now: () => number = () => performance.now()): Promise<Trainer> {
    checkOptions(options);
    if (data.train.length === 0) fail('train', 'DATA_MISSING', 'no training samples');
    const startRanks = options.startRanks ?? options.ranks;
    const rng = new Rng(options.seed);
    const trainer = new Trainer(data, engines, now, {
      arch: start.arch, options, from: start.from, values: truncateRanks(start.values, startRanks), rng, ranks: startRanks,
      order: rng.permutation(data.train.length),
    });
    await trainer.buildEngine();
    return trainer;
  }

  /** A run resumed from checkpoint bytes (the data must be the same samples in the same order). */
  static async resume(data: TrainData, checkpoint: Uint8Array, engines: EngineFactory, now: () => number = () => performance.now(), overrides: Partial<Pick<TrainOptions, 'steps' | 'epochs' | 'minutes'>> = {}): Promise<Trainer> {
    const { header, arrays } = readCheckpointBytes(checkpoint);
    const h = header as unknown as CheckpointHeader;
    const mismatch = (detail: string): never => fail('train', 'CHECKPOINT_MISMATCH', detail);
    if (typeof h.dataKey !== 'number' || !h.arch || !h.options) mismatch('the checkpoint lacks its run description');
    if (h.dataKey !== dataKey(data)) mismatch('the training and validation samples differ from the checkpoint\'s (names, order or size)');
    const options = { ...h.options, ...overrides } as TrainOptions;
    checkOptions(options);
    const layers = trainableLayers(h.arch, h.ranks);
    const f64 = (name: string, length: number): Float64Array => {
      const a = arrays.get(name);
      if (!(a instanceof Float64Array) || a.length !== length) return mismatch(`array ${name} missing or of the wrong length`);
      return a;
    };
    const values = layers.map((l, i) => f64(`values.${i}`, l.positions.length / 4));
    const rng = new Rng(0);
    rng.state = h.rngState >>> 0;
    const order = arrays.get('order');
    if (!(order instanceof Uint32Array) || order.length !== data.train.length || order.some((i) => i >= data.train.length)) mismatch('the epoch order does not fit the data');
    const trainer = new Trainer(data, engines, now, { arch: h.arch, options, from: h.from, values, rng, ranks: h.ranks, order: order as Uint32Array });
    trainer.adam = { t: h.adamT, m: layers.map((l, i) => f64(`adam.m.${i}`, values[i].length)), v: layers.map((l, i) => f64(`adam.v.${i}`, values[i].length)) };
    trainer.step = h.step;
    trainer.epoch = h.epoch;
    trainer.cursor = h.cursor;
    trainer.elapsedMs = h.elapsedMs;
    trainer.epochEnded = h.epochEnded;
    trainer.lossSinceEval = h.lossSinceEval;
    trainer.meta = h.meta ?? {};
    trainer.steps.push(...h.steps);
    trainer.evals.push(...h.evals.map((e) => ({ ...e, dice: e.dice ?? NaN })));
    if (h.best) {
      const bestLayers = trainableLayers(h.arch, options.ranks);
      trainer.best = { dice: h.best.dice, step: h.best.step, values: bestLayers.map((l, i) => f64(`best.${i}`, l.positions.length / 4)) };
    }
    await trainer.buildEngine();
    return trainer;
  }

  /** Steps taken so far. */
  get stepCount(): number {
    return this.step;
  }

  get epochCount(): number {
    return this.epoch;
  }

  get currentRanks(): number {
    return this.ranks;
  }

  get trainingMs(): number {
    return this.elapsedMs;
  }

  /** Fraction of the budget done, the largest over steps, epochs and minutes. */
  progress(): number {
    const o = this.options;
    const n = this.data.train.length;
    let p = 0;
    if (o.steps) p = Math.max(p, this.step / o.steps);
    // After an epoch's last step the cursor stays at its end until the next step draws a new order.
    if (o.epochs) p = Math.max(p, (this.cursor >= n ? this.epoch : this.epoch + this.cursor / n) / o.epochs);
    if (o.minutes) p = Math.max(p, this.elapsedMs / (o.minutes * 60000));
    return Math.min(1, p);
  }

  /** The budget is used up. */
  get done(): boolean {
    return this.progress() >= 1;
  }

  /** Steps the budget allows (undefined for a time budget alone). */
  totalSteps(): number | undefined {
    const o = this.options;
    const perEpoch = Math.ceil(this.data.train.length / o.batch);
    const candidates = [o.steps, o.epochs ? o.epochs * perEpoch : undefined].filter((x): x is number => x !== undefined);
    return candidates.length ? Math.min(...candidates) : undefined;
  }

  /** One optimizer step over the next batch. */
  async trainStep(): Promise<StepRecord> {
    const t0 = this.now();
    if (this.cursor >= this.order.length) {
      this.order = this.rng.permutation(this.data.train.length);
      this.cursor = 0;
    }
    this.epochEnded = false;
    const p = this.progress();
    const ranks = ranksAt(this.options.startRanks ?? this.options.ranks, this.options.ranks, p);
    if (ranks !== this.ranks) await this.dropRanks(ranks);
    const lr = learningRate(this.options.lr, this.step, p, this.options.warmupSteps);
    const batch = this.order.subarray(this.cursor, Math.min(this.order.length, this.cursor + this.options.batch));
    const sum = this.values.map((v) => new Float64Array(v.length));
    let loss = 0, ce = 0, diceLoss = 0;
    for (const index of batch) {
      const sample = this.data.train[index];
      const pair = augmentPair(sample, this.rng, this.options.augment);
      const result = await this.engine!.gradients!(pair.input, this.width, this.height, { target: pair.target });
      if (!Number.isFinite(result.loss)) fail('train', 'INTERNAL', `loss ${result.loss} on ${sample.name} at step ${this.step}`);
      if (result.layers.length !== sum.length) fail('train', 'INTERNAL', `the engine gave gradients for ${result.layers.length} layers, the model has ${sum.length}`);
      if (!this.positionsChecked) this.checkPositions(result.layers);
      for (let l = 0; l < sum.length; l++) {
        const g = result.layers[l].grads, s = sum[l];
        if (g.length < s.length) fail('train', 'INTERNAL', `the engine gave ${g.length} gradients for layer ${result.layers[l].name}, ${s.length} are trained`);
        for (let k = 0; k < s.length; k++) s[k] += g[k];
      }
      loss += result.loss;
      ce += result.ce;
      diceLoss += result.diceLoss;
    }
    const n = batch.length;
    for (const s of sum) for (let k = 0; k < s.length; k++) s[k] /= n;
    adamStep(this.values, sum, this.adam, lr);
    this.engine!.setCoefficients!(this.values);
    this.cursor += n;
    this.step++;
    if (this.cursor >= this.order.length) {
      this.epoch++;
      this.epochEnded = true;
    }
    const ms = this.now() - t0;
    this.elapsedMs += ms;
    const record: StepRecord = { step: this.step, epoch: this.epoch, loss: loss / n, ce: ce / n, diceLoss: diceLoss / n, lr, ranks: this.ranks, ms };
    this.steps.push(record);
    this.lossSinceEval.push(record.loss);
    return record;
  }

  /** Whether a validation is due after the step just taken (an epoch's end, `evalEvery`, or the end). */
  evaluationDue(): boolean {
    const every = this.options.evalEvery;
    return this.epochEnded || (every > 0 && this.step % every === 0) || this.done;
  }

  /** Scores the model as it would be written on the validation samples and keeps it if it is the best. */
  async evaluate(): Promise<EvalRecord> {
    const t0 = this.now();
    const rounded = halfPrecisionValues(this.values);
    const perImage: number[] = [];
    if (this.data.val.length > 0) {
      this.engine!.setCoefficients!(rounded);
      try {
        for (const s of this.data.val) perImage.push(await this.scoreSample(s));
      } finally {
        this.engine!.setCoefficients!(this.values);
      }
    }
    const score = perImage.length ? meanDice(perImage) : NaN;
    const final = this.ranks === this.options.ranks;
    const isBest = final && perImage.length > 0 && (this.best === undefined || score > this.best.dice);
    if (isBest) this.best = { dice: score, step: this.step, values: rounded };
    this.elapsedMs += this.now() - t0;
    const record: EvalRecord = {
      step: this.step, epoch: this.epoch, dice: score, perImage, trainLoss: this.lossSinceEval.length ? meanDice(this.lossSinceEval) : NaN,
      ranks: this.ranks, best: isBest, elapsedMs: this.elapsedMs,
    };
    this.lossSinceEval = [];
    this.evals.push(record);
    return record;
  }

  /** Dice of the current coefficients on one sample. */
  private async scoreSample(s: Sample): Promise<number> {
    return classDice(await this.predict(s), s.target, this.arch.classes);
  }

  /** Predicted classes of a sample with the engine's current coefficients. */
  async predict(s: Sample): Promise<Uint8Array> {
    const logits = await this.engine!.run(plainPair(s).input, s.width, s.height);
    return argmaxClasses({ c: logits.classes, h: logits.height, w: logits.width, data: logits.data });
  }

  /** Predicted classes of validation samples with the kept model (as `result()` gives it). */
  async predictKept(samples: readonly Sample[]): Promise<Uint8Array[]> {
    const kept = this.result().values;
    const out: Uint8Array[] = [];
    const restoreRanks = kept[0].length !== this.values[0].length;
    const engine = restoreRanks ? await this.engines(modelOf(this.arch, kept), kept[0].length) : this.engine!;
    engine.setCoefficients!(kept);
    try {
      for (const s of samples) {
        const logits = await engine.run(plainPair(s).input, s.width, s.height);
        out.push(argmaxClasses({ c: logits.classes, h: logits.height, w: logits.width, data: logits.data }));
      }
    } finally {
      if (restoreRanks) await engine.dispose();
      else engine.setCoefficients!(this.values);
    }
    return out;
  }

  /**
   * The model to write: the best by validation Dice if there was validation at the final ranks,
   * else the current one; coefficients rounded to float16.
   */
  result(): { values: Float64Array[]; dice: number; step: number; best: boolean } {
    if (this.best) return { values: this.best.values.map((v) => v.slice()), dice: this.best.dice, step: this.best.step, best: true };
    const last = this.evals[this.evals.length - 1];
    return { values: halfPrecisionValues(this.values), dice: last?.step === this.step ? last.dice : NaN, step: this.step, best: false };
  }

  /** The whole state as checkpoint bytes (src/train/checkpoint.ts). */
  checkpoint(): Uint8Array {
    const options: Record<string, unknown> = {};
    for (const k of OPTION_KEYS) if (this.options[k] !== undefined) options[k] = this.options[k];
    const header: CheckpointHeader = {
      arch: this.arch, options: options as unknown as TrainOptions, from: this.from, meta: this.meta, dataKey: dataKey(this.data),
      step: this.step, epoch: this.epoch, cursor: this.cursor, epochEnded: this.epochEnded, rngState: this.rng.state, ranks: this.ranks,
      adamT: this.adam.t, elapsedMs: this.elapsedMs, lossSinceEval: this.lossSinceEval,
      best: this.best ? { dice: this.best.dice, step: this.best.step } : undefined,
      steps: this.steps, evals: this.evals.map((e) => ({ ...e, dice: Number.isNaN(e.dice) ? null : e.dice })),
    };
    const arrays: NamedArray[] = [{ name: 'order', data: this.order }];
    this.values.forEach((v, i) => arrays.push({ name: `values.${i}`, data: v }));
    this.adam.m.forEach((v, i) => arrays.push({ name: `adam.m.${i}`, data: v }));
    this.adam.v.forEach((v, i) => arrays.push({ name: `adam.v.${i}`, data: v }));
    this.best?.values.forEach((v, i) => arrays.push({ name: `best.${i}`, data: v }));
    return writeCheckpoint(header, arrays);
  }

  async dispose(): Promise<void> {
    await this.engine?.dispose();
    this.engine = undefined;
  }

  /** The engine trains the positions we hold, in our order (setCoefficients relies on it). */
  private checkPositions(layers: GradientResult['layers']): void {
    const ours = trainableLayers(this.arch, this.ranks);
    layers.forEach((g, l) => {
      const mine = ours[l].positions;
      if (g.name !== ours[l].name || g.positions.length < mine.length || mine.some((v, k) => g.positions[k] !== v)) {
        fail('train', 'INTERNAL', `the engine's trainable positions of ${g.name} differ from the trainer's (layer ${l})`);
      }
    });
    this.positionsChecked = true;
  }

  private async buildEngine(): Promise<void> {
    this.positionsChecked = false;
    const engine = await this.engines(modelOf(this.arch, this.values), this.ranks);
    if (!engine.gradients || !engine.setCoefficients) {
      await engine.dispose();
      throw new FreqregError('train', 'ENGINE_UNAVAILABLE', `the ${engine.name} engine cannot compute gradients`);
    }
    engine.setCoefficients(this.values);
    this.engine = engine;
  }

  private async dropRanks(ranks: number): Promise<void> {
    this.values = truncateRanks(this.values, ranks);
    this.adam = truncateAdam(this.adam, ranks);
    this.ranks = ranks;
    await this.engine?.dispose();
    this.engine = undefined;
    await this.buildEngine();
  }
}

interface CheckpointHeader {
  meta?: Record<string, unknown>;
  arch: UNetArch;
  options: TrainOptions;
  from: string;
  dataKey: number;
  step: number;
  epoch: number;
  cursor: number;
  epochEnded: boolean;
  rngState: number;
  ranks: number;
  adamT: number;
  elapsedMs: number;
  lossSinceEval: number[];
  best?: { dice: number; step: number };
  steps: StepRecord[];
  evals: (Omit<EvalRecord, 'dice'> & { dice: number | null })[];
}

/** Mean Dice over the foreground classes 1…classes−1 (for two classes, the demo's Dice). */
export function classDice(pred: Uint8Array, truth: Uint8Array, classes: number): number {
  let sum = 0;
  for (let c = 1; c < classes; c++) sum += dice(pred, truth, c);
  return classes > 1 ? sum / (classes - 1) : 1;
}

/** A checksum of the samples' names, sizes and targets, so a checkpoint resumes on the same data. */
function dataKey(data: TrainData): number {
  const text = [...data.train, ...data.val].map((s) => `${s.name}:${s.width}x${s.height}x${s.channels}:${crc32(s.target)}`).join('\n');
  return crc32(new TextEncoder().encode(`${data.train.length}/${data.val.length}\n${text}`));
}

function checkOptions(o: TrainOptions): void {
  const bad = (detail: string): never => fail('train', 'USAGE', detail);
  if (!Number.isInteger(o.ranks) || o.ranks < 1) bad(`ranks ${o.ranks} must be a positive integer`);
  if (o.startRanks !== undefined && (!Number.isInteger(o.startRanks) || o.startRanks < o.ranks)) bad(`start ranks ${o.startRanks} must be an integer ≥ ranks ${o.ranks}`);
  if (!(o.lr > 0 && Number.isFinite(o.lr))) bad(`learning rate ${o.lr} must be positive`);
  if (!Number.isInteger(o.batch) || o.batch < 1) bad(`batch ${o.batch} must be a positive integer`);
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff) bad(`seed ${o.seed} must be an integer 0…2^32−1`);
  if (o.steps === undefined && o.epochs === undefined && o.minutes === undefined) bad('give a budget: steps, epochs or minutes');
  for (const k of ['steps', 'epochs'] as const) if (o[k] !== undefined && (!Number.isInteger(o[k]) || o[k]! < 1)) bad(`${k} ${o[k]} must be a positive integer`);
  if (o.minutes !== undefined && !(o.minutes > 0)) bad(`minutes ${o.minutes} must be positive`);
}
