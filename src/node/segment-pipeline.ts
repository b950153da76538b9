/**
 * The image loop of `freqreg segment`'s worker (src/node/segment-worker.ts starts it): each image
 * is read and checked against the engine's budget (before it is decoded) ahead of its turn, then
 * decoded, run, and its mask PNG sent to the main thread, which writes it while this thread runs
 * the next image. The first image is read as soon as the model is loaded, before the engines are
 * imported.
 */
import type { MessagePort, parentPort } from 'node:worker_threads';
import { checkActivations, type EngineForm } from '../engines/budget.js';
import type { EngineContext } from '../engines/index.js';
import { chooseForm } from '../engines/spectral-plan.js';
import type { Engine } from '../engines/engine.js';
import { DEFAULT_LIMITS } from '../formats/limits.js';
import { readJpegLayout } from '../image/jpeg.js';
import { inspectPng } from '../image/png.js';
import { imageFormatOf } from '../image/sniff.js';
import { checkImage, checkInputSize, imageToTensorInto } from '../input.js';
import type { FrModel } from '../model.js';
import { readRegularFile } from './files.js';
import { decodeImage } from './png.js';
import { maskPng } from './segment-mask.js';
import { loadModelFile } from './load.js';
import {
  serializeError, type SegmentJob, type SegmentWorkerData, type SegmentWorkerMessage, type SerializedError,
} from './segment-messages.js';

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'; // run from source under a TS loader, or from dist/

/** The images the main thread sent, in order; they may come before the model is loaded. */
export interface JobQueue {
  queued(): boolean;
  /** The oldest queued image (only when `queued()`). */
  take(): SegmentJob;
  /** The oldest image, waiting for one to come. */
  next(): Promise<SegmentJob>;
}

interface Decoded { job: SegmentJob; input: Float32Array; width: number; height: number }

/** Width and height from a PNG or JPEG header (nothing decoded); undefined for other bytes, which decoding refuses. */
function headerSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  const format = imageFormatOf(bytes);
  if (format === 'png') return inspectPng(bytes);
  if (format === 'jpeg') {
    const { displayWidth: width, displayHeight: height } = readJpegLayout(bytes);
    return { width, height };
  }
  return undefined;
}


/**
 * Loads the model and runs the pipeline over the images `jobs` gives, for ever (the main thread
 * terminates this worker). `kernels` was started before this module was imported.
 */
export async function runPipeline(port: MessagePort | NonNullable<typeof parentPort>, data: SegmentWorkerData, jobs: JobQueue, kernels: Promise<EngineContext> | undefined): Promise<void> {
  const fatal = async (e: unknown) => {
    await kernels?.then((k) => k.parallel.dispose(), () => undefined);
    port.postMessage({ type: 'fatal', error: serializeError(e) } satisfies SegmentWorkerMessage);
  };
  let model: FrModel;
  let form: EngineForm;
  try {
    ({ model } = await loadModelFile(data.modelPath));
    form = data.engine === 'auto' ? chooseForm(model) : data.engine;
  } catch (e) {
    return fatal(e);
  }
  const threads = data.engine === 'reference' ? 1 : data.threads;
  const inChannels = model.arch.inChannels;

  // The input tensor and the logits, kept while the image size repeats (fresh arrays this large
  // cost their page faults every time). One image is decoded at a time: the next one only after
  // the engine is done with the current one.
  let tensor: Float32Array = new Float32Array(0), logitsArray: Float32Array = new Float32Array(0);
  const reuse = (array: Float32Array, n: number): Float32Array => (array.length === n ? array : new Float32Array(n));

  const failed = (id: number, error: SerializedError) => port.postMessage({ type: 'failed', id, error } satisfies SegmentWorkerMessage);

  /**
   * Reads one image and checks its size against the engine's budget before it is decoded (as
   * checkImageBudget, from the form and threads the engine has or will have). Gives a function
   * that decodes it when its turn comes (undefined once its failure is reported).
   */
  const send = async (job: SegmentJob): Promise<() => Promise<Decoded | undefined>> => {
    try {
      const bytes = await readRegularFile(job.file, data.maxImageFileBytes);
      const size = headerSize(bytes);
      if (size) {
        checkInputSize(size.width, size.height);
        checkActivations(model, form, size.width, size.height, DEFAULT_LIMITS, threads);
      }
      return async () => {
        try {
          const image = decodeImage(bytes);
          tensor = reuse(tensor, inChannels * checkImage(image, inChannels).pixels);
          imageToTensorInto(image, inChannels, tensor);
          return { job, input: tensor, width: image.width, height: image.height };
        } catch (e) {
          return void failed(job.id, serializeError(e, job.file));
        }
      };
    } catch (e) {
      failed(job.id, serializeError(e, job.file));
      return async () => undefined;
    }
  };
  /** The next image, read and checked now if it is queued, else when it comes. */
  const sendNext = async () => (jobs.queued() ? send(jobs.take()) : async () => (await send(await jobs.next()))());

  // The first image is read and checked before the engines are imported.
  let next = await sendNext();
  let engine: Engine;
  try {
    // The engines are imported only now.
    const { createNodeEngine } = await import(`./engines${ext}`) as typeof import('./engines.js');
    // `auto` is built as the form chosen above (the same engine; its plan is not made twice).
    engine = await createNodeEngine(data.engine === 'auto' ? form : data.engine, model, data.threads, { kernels });
  } catch (e) {
    return fatal(e);
  }
  port.postMessage({ type: 'ready' } satisfies SegmentWorkerMessage);
  for (;;) {
    const current = await next();
    // The next image is read and checked before the engine blocks this thread (when it is queued already).
    next = await sendNext();
    if (!current) continue;
    const { job, input, width, height } = current;
    try {
      logitsArray = reuse(logitsArray, model.arch.classes * width * height);
      const logits = await engine.run(input, width, height, logitsArray);
      const mask = maskPng(logits.data, logits.classes, logits.width, logits.height);
      port.postMessage({ type: 'done', id: job.id, mask } satisfies SegmentWorkerMessage);
    } catch (e) {
      failed(job.id, serializeError(e, job.file));
    }
  }
}

