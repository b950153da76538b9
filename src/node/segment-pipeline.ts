/**
 * The image pipeline of `freqreg segment`'s worker (src/node/segment-worker.ts starts it): while
 * the engine runs image i, the decoder (src/node/segment-decoder.ts) decodes image i + 1 and the
 * main thread makes the mask of image i − 1. Each image is read and checked against the engine's
 * budget here (before it is decoded), decoded by the decoder, run here, and its logits sent to
 * the main thread. The first image is read as soon as the model
 * is loaded, so it decodes while the engines are imported and the engine is built.
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
import { checkInputSize } from '../input.js';
import type { FrModel } from '../model.js';
import { readRegularFile } from './files.js';
import { loadModelFile } from './load.js';
import {
  serializeError, type DecodeRequest, type DecodeReply, type SegmentJob, type SegmentWorkerData, type SegmentWorkerMessage, type SerializedError,
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

/** `a` if it owns its whole (non-shared) buffer, which can then be transferred; else a copy that does. */
function owned(a: Float32Array): Float32Array<ArrayBuffer> {
  return a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? (a as Float32Array<ArrayBuffer>) : a.slice();
}


/**
 * Loads the model and runs the pipeline over the images `jobs` gives, for ever (the main thread
 * terminates this worker). `kernels` was started before this module was imported.
 */
export async function runPipeline(port: MessagePort | NonNullable<typeof parentPort>, data: SegmentWorkerData, jobs: JobQueue, kernels: Promise<EngineContext> | undefined): Promise<void> {
  const { decoder } = data;
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

  const decoding = new Map<number, (reply: DecodeReply) => void>();
  decoder.on('message', (reply: DecodeReply) => decoding.get(reply.id)?.(reply));
  const failed = (id: number, error: SerializedError) => port.postMessage({ type: 'failed', id, error } satisfies SegmentWorkerMessage);

  /**
   * Reads one image and checks its size against the engine's budget before it is decoded (as
   * checkImageBudget, from the form and threads the engine has or will have), then hands it to the
   * decoder. Gives a function that waits for the decoded image (undefined once its failure is
   * reported).
   */
  const send = async (job: SegmentJob): Promise<() => Promise<Decoded | undefined>> => {
    try {
      const bytes = await readRegularFile(job.file, data.maxImageFileBytes);
      const size = headerSize(bytes);
      if (size) {
        checkInputSize(size.width, size.height);
        checkActivations(model, form, size.width, size.height, DEFAULT_LIMITS, threads);
      }
      const decoded = new Promise<DecodeReply>((resolve) => decoding.set(job.id, resolve));
      decoder.postMessage({ id: job.id, file: job.file, bytes, inChannels } satisfies DecodeRequest, [bytes.buffer as ArrayBuffer]); // readRegularFile's own buffer
      return async () => {
        const reply = await decoded;
        decoding.delete(job.id);
        if (reply.type === 'failed') return void failed(job.id, reply.error);
        return { job, input: reply.input, width: reply.width, height: reply.height };
      };
    } catch (e) {
      failed(job.id, serializeError(e, job.file));
      return async () => undefined;
    }
  };
  /** The next image, sent to the decoder now if it is queued, else when it comes. */
  const sendNext = async () => (jobs.queued() ? send(jobs.take()) : async () => (await send(await jobs.next()))());

  // The first image is decoding while the engine is built.
  let next = await sendNext();
  let engine: Engine;
  try {
    // The engines are imported only now, while the first image decodes.
    const { createNodeEngine } = await import(`./engines${ext}`) as typeof import('./engines.js');
    // `auto` is built as the form chosen above (the same engine; its plan is not made twice).
    engine = await createNodeEngine(data.engine === 'auto' ? form : data.engine, model, data.threads, { kernels });
  } catch (e) {
    return fatal(e);
  }
  port.postMessage({ type: 'ready' } satisfies SegmentWorkerMessage);
  for (;;) {
    const current = await next();
    // The next image goes to the decoder before the engine blocks this thread (when it is queued already).
    next = await sendNext();
    if (!current) continue;
    const { job, input, width, height } = current;
    try {
      const logits = await engine.run(input, width, height);
      const values = owned(logits.data);
      port.postMessage({
        type: 'logits', id: job.id, logits: values, classes: logits.classes, width: logits.width, height: logits.height,
      } satisfies SegmentWorkerMessage, [values.buffer]);
    } catch (e) {
      failed(job.id, serializeError(e, job.file));
    }
  }
}

