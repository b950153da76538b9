/** Node: an engine by name for a model, with its kernels and thread pool. */
import { FreqregError } from '../errors.js';
import { createEngine, type EngineContext } from '../engines/index.js';
import type { EngineLimits } from '../engines/budget.js';
import type { Engine, EngineName } from '../engines/engine.js';
import type { LossSpec } from '../engines/gradients.js';
import type { FrModel } from '../model.js';
import { defaultThreads, loadKernels } from './kernels.js';

export { parseEngineName } from './command.js';

export interface NodeEngineOptions {
  /** Overrides of the engine budgets (DEFAULT_LIMITS' maxDenseWeights, maxActivationBytes). */
  limits?: Partial<EngineLimits>;
  /** Makes the kernel instance and its thread pool (default: build/ kernels, src/node/kernels.ts). */
  loadKernels?: (threads: number) => Promise<EngineContext>;
  /** Build for training (EngineOptions.train): the engine offers `gradients` and `setCoefficients`. */
  train?: { ranks: number };
  /**
   * The first kernel instance and pool, already being made (`loadKernels(threads)` started before
   * the model was loaded, so the pool's threads start while the model is read); later rebuilds
   * after a trap use `loadKernels`.
   */
  kernels?: Promise<EngineContext>;
}

/**
 * An engine whose kernel instance is replaced after a WASM trap: the trapped instance (and its
 * thread pool) is discarded, and the next `run` builds the engine again on a fresh one, so one
 * pathological input does not poison the images after it.
 */
export async function createNodeEngine(name: EngineName, model: FrModel, threads = defaultThreads(), options: NodeEngineOptions = {}): Promise<Engine> {
  const engineOptions = { limits: options.limits, train: options.train };
  if (name === 'reference') return createEngine(name, model, undefined, engineOptions);
  let early = options.kernels;
  const make = async (): Promise<Engine> => {
    const pending = early;
    early = undefined; // used once: an engine rebuilt after a trap gets a fresh instance
    const context = await (pending ?? (options.loadKernels ?? loadKernels)(threads));
    try {
      return await createEngine(name, model, context, engineOptions);
    } catch (e) {
      await context.parallel.dispose();
      throw e;
    }
  };
  let current = await make();
  let trapped = false;
  let coefficients: readonly Float64Array[] | undefined; // the trainer's last values, for a rebuilt engine
  const guarded = async <T>(call: (engine: Engine) => Promise<T>): Promise<T> => {
    if (trapped) {
      current = await make();
      if (coefficients) current.setCoefficients!(coefficients);
      trapped = false;
    }
    try {
      return await call(current);
    } catch (e) {
      if (e instanceof FreqregError && e.code === 'WASM_TRAP') trapped = true;
      throw e;
    }
  };
  return {
    get name() { return current.name; },
    get form() { return current.form; },
    get threads() { return current.threads; },
    run: (input, width, height, into) => guarded((engine) => engine.run(input, width, height, into)),
    ...(current.gradients && {
      gradients: (input: Float32Array, width: number, height: number, loss: LossSpec) => guarded((engine) => engine.gradients!(input, width, height, loss)),
      setCoefficients(values: readonly Float64Array[]) {
        current.setCoefficients!(values);
        coefficients = values.map((v) => v.slice());
      },
    }),
    dispose: () => current.dispose(),
  };
}
