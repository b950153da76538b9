/**
 * Node convenience over src/loader.ts: read a checkpoint file safely and load it.
 * The file must be a regular file (symlinks to one are followed) no larger than the input cap;
 * it is opened non-blocking and checked with fstat before any read, so a FIFO or device never
 * blocks and /dev/zero is never read.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../errors.js';
import { DEFAULT_LIMITS, type Limits } from '../formats/limits.js';
import { detectFormat, loadModel, readCheckpoint, type CheckpointFormat } from '../loader.js';
import type { CoeffTensor, FrModel } from '../model.js';
import { PACKAGE_ROOT } from './data.js';
import { readRegularFile } from './files.js';

export const XZ_WASM_PATH = join(PACKAGE_ROOT, 'build', 'xz.wasm');

let xzModule: WebAssembly.Module | undefined;

/** build/xz.wasm, compiled once per process. */
export function xzWasmModule(): WebAssembly.Module {
  if (!xzModule) {
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = new Uint8Array(readFileSync(XZ_WASM_PATH));
    } catch {
      fail('file', 'DATA_MISSING', `${XZ_WASM_PATH} is missing; run npm run build`, { file: XZ_WASM_PATH });
    }
    try {
      xzModule = new WebAssembly.Module(bytes);
    } catch (e) {
      fail('wasm', 'ENGINE_UNAVAILABLE', `${XZ_WASM_PATH} does not compile: ${(e as Error).message}`, { file: XZ_WASM_PATH });
    }
  }
  return xzModule;
}

export interface LoadFileOptions {
  limits?: Partial<Limits>;
}

export interface LoadedModel {
  model: FrModel;
  /** File size in bytes. */
  bytes: number;
  format: CheckpointFormat;
}

/** Loads a .pt, .pt.tar.xz or .frq checkpoint file (told apart by its bytes) into a checked FR UNet. */
export async function loadModelFile(path: string, opts: LoadFileOptions = {}): Promise<LoadedModel> {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const bytes = await readRegularFile(path, limits.maxInputBytes);
  const format = detectFormat(bytes);
  const model = loadModel(bytes, { xz: format === 'pt.tar.xz' ? xzWasmModule() : undefined, limits });
  return { model, bytes: bytes.length, format };
}

export interface ReadTensorsResult {
  /** The state dict in file order. */
  tensors: Map<string, CoeffTensor>;
  /** File size in bytes. */
  bytes: number;
  format: CheckpointFormat;
}

/** Reads a .pt, .pt.tar.xz or .frq checkpoint file into its coefficient tensors (no UNet check). */
export async function readCheckpointFile(path: string, opts: LoadFileOptions = {}): Promise<ReadTensorsResult> {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const bytes = await readRegularFile(path, limits.maxInputBytes);
  const format = detectFormat(bytes);
  const tensors = readCheckpoint(bytes, { xz: format === 'pt.tar.xz' ? xzWasmModule() : undefined, limits });
  return { tensors, bytes: bytes.length, format };
}
