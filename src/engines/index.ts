/** Engines by name. `auto` runs each layer in the form the planner finds cheaper. */
import { FreqregError, toFreqregError } from '../errors.js';
import { DEFAULT_LIMITS } from '../formats/limits.js';
import type { FrModel } from '../model.js';
import type { KernelInstance } from '../wasm/instance.js';
import type { Parallel } from '../wasm/parallel.js';
import type { Engine, EngineName, Logits } from './engine.js';
import { checkDenseWeights, checkSpectralTables, guardEngine, type EngineLimits } from './budget.js';
import { referenceForward } from './reference.js';
import { referenceGradientsAt } from './reference-backward.js';
import { setTrainableValues, trainableModel, type TrainableModel } from './trainable.js';
import type { GradientResult } from './gradients.js';
import { createDenseEngine } from './dense.js';
import { createSpectralEngine } from './spectral.js';
import { chooseForm } from './spectral-plan.js';

export interface EngineContext {
  kernels: KernelInstance;
  parallel: Parallel;
}

export interface EngineOptions {
  /** Overrides of DEFAULT_LIMITS' engine budgets (maxDenseWeights, maxActivationBytes). */
  limits?: Partial<EngineLimits>;
  /** Build for training: R trainable coefficients per layer (its first R zig-zag positions). */
  train?: { ranks: number };
}

/**
 * An engine by name. Budgets are checked before anything is allocated (src/engines/budget.ts):
 * the dense weights before expansion, the spectral tables before they are built, and each image's
 * working memory before it runs. The engine's `run` throws only FreqregError; after a WASM trap
 * the engine is retired.
 */
export async function createEngine(name: EngineName, model: FrModel, context?: EngineContext, options: EngineOptions = {}): Promise<Engine> {
  const limits: EngineLimits = { maxDenseWeights: DEFAULT_LIMITS.maxDenseWeights, maxActivationBytes: DEFAULT_LIMITS.maxActivationBytes, ...options.limits };
  const mark = context?.kernels.arena.mark();
  try {
    if (options.train) {
      // Training: every layer lists its first R zig-zag positions first (src/engines/trainable.ts).
      const trainable = trainableModel(model, options.train.ranks);
      const engine = name === 'reference'
        ? (checkDenseWeights(trainable.model, limits), createReferenceTrainer(trainable))
        : await createUnguarded(name, trainable.model, limits, context, trainable.ranks);
      if (!engine.gradients) {
        await engine.dispose();
        throw new FreqregError('engine', 'ENGINE_UNAVAILABLE', `the ${name} engine has no backward pass; use spectral or reference`);
      }
      return guardEngine(engine, trainable.model, limits);
    }
    return guardEngine(await createUnguarded(name, model, limits, context), model, limits);
  } catch (e) {
    if (mark !== undefined) context!.kernels.arena.release(mark); // what a failed build allocated
    throw toFreqregError(e, 'engine');
  }
}

async function createUnguarded(name: EngineName, model: FrModel, limits: EngineLimits, context?: EngineContext, trainRanks?: readonly number[]): Promise<Engine> {
  if (name === 'reference') {
    checkDenseWeights(model, limits);
    return createReferenceEngine(model);
  }
  if (!context) throw new FreqregError('engine', 'ENGINE_UNAVAILABLE', `the ${name} engine needs the kernel module`);
  const form = name === 'auto' ? chooseForm(model) : name;
  if (form === 'dense') checkDenseWeights(model, limits);
  else checkSpectralTables(model, limits);
  switch (name) {
    case 'dense':
      return createDenseEngine(context.kernels, model, context.parallel);
    case 'spectral':
      return createSpectralEngine(context.kernels, model, { parallel: context.parallel, name, ...(trainRanks && { train: { ranks: trainRanks } }) });
    case 'auto':
      return form === 'dense'
        ? withName(createDenseEngine(context.kernels, model, context.parallel), 'auto', 'dense')
        : withName(await createSpectralEngine(context.kernels, model, { parallel: context.parallel, name, ...(trainRanks && { train: { ranks: trainRanks } }) }), 'auto', 'spectral');
  }
}

// The form `auto` runs in is the planner's choice (in spectral-plan.ts, which a caller can import
// without the engines).
export { AUTO_PLAN_SIZE, chooseForm } from './spectral-plan.js';

function withName(engine: Engine, name: EngineName, form: string): Engine {
  return Object.assign(engine, { name, form });
}

/**
 * The float64 reference built for training: `run` as the reference engine, `gradients` by the
 * reference backward at the trainable positions, `setCoefficients` writing the R values back.
 */
function createReferenceTrainer(trainable: TrainableModel): Engine {
  const { model, ranks } = trainable;
  return {
    ...createReferenceEngine(model),
    async gradients(input, width, height, loss): Promise<GradientResult> {
      const at = model.layers.map((layer, l) => ({
        positions: layer.indices.slice(0, 4 * ranks[l]),
        values: Float64Array.from(layer.values.subarray(0, ranks[l])),
      }));
      return referenceGradientsAt(model, input, width, height, loss, at);
    },
    setCoefficients(values) {
      setTrainableValues(trainable, values);
    },
  };
}

/** The float64 reference (slow: for tests and checks on small inputs). */
function createReferenceEngine(model: FrModel): Engine {
  return {
    name: 'reference',
    form: 'reference',
    threads: 1,
    async run(input, width, height, into): Promise<Logits> {
      const x = { c: model.arch.inChannels, h: height, w: width, data: Float64Array.from(input) };
      const out = referenceForward(model, x);
      const data = into ?? new Float32Array(out.data.length);
      data.set(out.data);
      return { classes: out.c, height, width, data };
    },
    async dispose() {},
  };
}
