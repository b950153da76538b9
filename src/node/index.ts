/**
 * freqreg in Node (`import ... from 'freqreg'` under the `node` condition): the core (../index.ts)
 * plus files, the kernels from build/ and a worker-thread pool. PNG here uses node:zlib (faster
 * than the core's fflate binding; same pixels).
 */
import { createSegmenter, type Segmenter } from '../segmenter.js';
import type { EngineName } from '../engines/engine.js';
import type { Limits } from '../formats/limits.js';
import { defaultThreads, loadKernels } from './kernels.js';
import { loadModelFile, xzWasmModule } from './load.js';

export * from '../index.js';
export { decodeImage, decodePng, encodePng, encodeGreyPng, encodeRgbPng } from './png.js';
export { loadModelFile, xzWasmModule } from './load.js';
export type { LoadedModel, LoadFileOptions } from './load.js';
export { createNodeEngine } from './engines.js';
export { defaultThreads, kernelBuild, loadKernels } from './kernels.js';
export { createThreadPool } from './threads.js';

export interface NodeSegmenterOptions {
  /** A checkpoint file path (.tar.xz, .pt or .frq) or its bytes. */
  model: string | Uint8Array;
  /** Engine name (default 'auto'). */
  engine?: EngineName;
  /** Threads (default: the cores available, at most 8). */
  threads?: number;
  limits?: Partial<Limits>;
}

/** createSegmenter with build/'s kernels, build/xz.wasm and a worker-thread pool. */
export async function createNodeSegmenter(options: NodeSegmenterOptions): Promise<Segmenter> {
  const model = typeof options.model === 'string'
    ? (await loadModelFile(options.model, { limits: options.limits })).model
    : options.model;
  const engine = options.engine ?? 'auto';
  if (engine === 'reference') return createSegmenter({ model, engine, xz: xzWasmModule(), limits: options.limits });
  const { kernels, parallel } = await loadKernels(options.threads ?? defaultThreads());
  return createSegmenter({
    model,
    engine,
    xz: xzWasmModule(),
    limits: options.limits,
    kernels,
    parallel: () => parallel,
  });
}
