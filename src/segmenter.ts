/**
 * One path from bytes to a mask, shared by the web page, the edge worker and Node:
 *
 *   model bytes ─loadModel→ FrModel ─createEngine(kernels, parallel)→ Engine
 *   image {data, width, height, channels} ─imageToTensor→ (C, H, W) ─engine.run→ logits ─argmax→ classes
 *
 * Runtime-agnostic: the caller passes the kernel module and, for .tar.xz checkpoints, the xz module,
 * each in any form of src/wasm/source.ts (compiled, as edge runtimes require; bytes; a Response; a
 * URL), and optionally a shared memory plus a thread pool
 * factory (Node: src/node/threads.ts; browsers: src/browser/threads.ts). Without them every share
 * runs on the calling thread (`serialParallel`).
 */
import { FreqregError } from './errors.js';
import { loadModel } from './loader.js';
import type { Limits } from './formats/limits.js';
import { XZ_HEADER_MAGIC, type XzWasm } from './formats/xz.js';
import { startsWith } from './formats/magic.js';
import type { FrModel } from './model.js';
import { checkImage, imageToTensorInto, type ImageInput } from './input.js';
import { createEngine } from './engines/index.js';
import { argmaxClasses } from './engines/reference.js';
import type { Engine, EngineName, Logits } from './engines/engine.js';
import { instantiateKernels, type KernelInstance } from './wasm/instance.js';
import { compileWasm, type WasmSource } from './wasm/source.js';
import { serialParallel, type Parallel } from './wasm/parallel.js';

export interface SegmenterOptions {
  /** The checkpoint's bytes (.pt or .tar.xz), or a model already loaded. */
  model: Uint8Array | FrModel;
  /**
   * build/kernels.wasm (or build/kernels-mt.wasm with `memory` shared): a compiled module, its
   * bytes, a Response, a URL, or an instance already made by `instantiateKernels`. Not needed for
   * engine 'reference'.
   */
  kernels?: WasmSource | KernelInstance;
  /** build/xz.wasm (compiled, bytes, a Response, a URL, or an instance); needed only for .tar.xz checkpoints. */
  xz?: WasmSource | WebAssembly.Instance;
  /** Engine name (default 'auto'). */
  engine?: EngineName;
  /** A (shared) memory for the kernels; default: a fresh non-shared one. */
  memory?: WebAssembly.Memory;
  /** Upper bound on kernel memory in bytes (default 2 GiB). */
  maxBytes?: number;
  /** Thread pool over the kernel instance (default: every share on the calling thread). */
  parallel?: (kernels: KernelInstance) => Parallel | Promise<Parallel>;
  /** Overrides of DEFAULT_LIMITS: the checkpoint reader's and the engine's budgets (EDGE_LIMITS for edge runtimes). */
  limits?: Partial<Limits>;
}

/** One image's result: class index per pixel, row-major. */
export interface Segmentation {
  classes: Uint8Array;
  /** Number of classes the model predicts (2 for the car UNet). */
  classCount: number;
  width: number;
  height: number;
  /** Wall time of tensor conversion + forward pass + argmax (ms), by the runtime's clock (hosted edge runtimes that advance it only at I/O report 0). */
  ms: number;
}

export interface Segmenter {
  readonly model: FrModel;
  readonly engine: EngineName;
  /** The form the network runs in: 'spectral', 'dense' or 'reference' (what 'auto' chose). */
  readonly form: string;
  /** Threads the engine runs on (1 = the calling thread only). */
  readonly threads: number;
  segment(image: ImageInput): Promise<Segmentation>;
  /** Frees workers and memory; the segmenter cannot be used afterwards. */
  dispose(): Promise<void>;
}

/** Argmax over classes per pixel (ties to the lowest class), for an engine's logits. */
export function argmax(logits: Logits): Uint8Array {
  return argmaxClasses({ c: logits.classes, h: logits.height, w: logits.width, data: logits.data });
}

function isKernelInstance(k: WasmSource | KernelInstance): k is KernelInstance {
  return typeof k === 'object' && k !== null && 'arena' in k && 'exports' in k;
}

/**
 * The xz module as the synchronous checkpoint reader takes it: fetched and compiled first (only
 * for an xz checkpoint, so a .pt or .frq model never fetches it).
 */
async function resolveXz(xz: SegmenterOptions['xz'], model: Uint8Array): Promise<XzWasm | undefined> {
  if (xz === undefined || !startsWith(model, XZ_HEADER_MAGIC)) return undefined;
  return xz instanceof WebAssembly.Instance ? xz : compileWasm(xz, 'the xz module');
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

export async function createSegmenter(options: SegmenterOptions): Promise<Segmenter> {
  const name = options.engine ?? 'auto';
  const model = options.model instanceof Uint8Array
    ? loadModel(options.model, { xz: await resolveXz(options.xz, options.model), limits: options.limits })
    : options.model;
  const engineOptions = { limits: options.limits };
  let engine: Engine;
  if (name === 'reference') {
    engine = await createEngine(name, model, undefined, engineOptions);
  } else {
    if (!options.kernels) throw new FreqregError('engine', 'ENGINE_UNAVAILABLE', `the ${name} engine needs the kernel module: pass { kernels: <build/kernels.wasm> }`);
    const kernels = isKernelInstance(options.kernels)
      ? options.kernels
      : await instantiateKernels(options.kernels, { memory: options.memory, maxBytes: options.maxBytes });
    const parallel = options.parallel ? await options.parallel(kernels) : serialParallel(kernels.exports);
    try {
      engine = await createEngine(name, model, { kernels, parallel }, engineOptions);
    } catch (e) {
      await parallel.dispose();
      throw e;
    }
  }
  // The input and logits arrays of the last size, kept (fresh arrays of megabytes cost their page
  // faults on every image); `classes` is returned, so it is the one array made per image.
  let input = new Float32Array(0), logitsArray = new Float32Array(0);
  return {
    model,
    engine: engine.name,
    form: engine.form,
    threads: engine.threads,
    async segment(image) {
      const start = now();
      const { pixels } = checkImage(image, model.arch.inChannels); // before anything is allocated
      if (input.length !== model.arch.inChannels * pixels) input = new Float32Array(model.arch.inChannels * pixels);
      if (logitsArray.length !== model.arch.classes * pixels) logitsArray = new Float32Array(model.arch.classes * pixels);
      imageToTensorInto(image, model.arch.inChannels, input);
      const logits = await engine.run(input, image.width, image.height, logitsArray);
      const classes = argmax(logits);
      return { classes, classCount: logits.classes, width: logits.width, height: logits.height, ms: now() - start };
    },
    dispose: () => engine.dispose(),
  };
}
