/** Node: an engine by name for a model, with its kernels and thread pool. */
import { FreqregError } from '../errors.js';
import { createEngine } from '../engines/index.js';
import { ENGINE_NAMES, type Engine, type EngineName } from '../engines/engine.js';
import type { FrModel } from '../model.js';
import { defaultThreads, loadKernels } from './kernels.js';

export function parseEngineName(raw: unknown): EngineName {
  const name = (raw ?? 'auto') as EngineName;
  if (!ENGINE_NAMES.includes(name)) {
    throw new FreqregError('cli', 'USAGE', `--engine must be one of ${ENGINE_NAMES.join(', ')}, got "${String(raw)}"`);
  }
  return name;
}

export async function createNodeEngine(name: EngineName, model: FrModel, threads = defaultThreads()): Promise<Engine> {
  if (name === 'reference') return createEngine(name, model);
  const { kernels, parallel } = await loadKernels(threads);
  return createEngine(name, model, { kernels, parallel });
}
