/**
 * The worker behind `freqreg segment` (src/node/segment.ts): loads the model once, then turns
 * image files into mask PNG bytes. It never writes a file: the main thread checks the output path
 * and writes atomically. Running here lets the main thread enforce the per-image time budget by
 * terminating this worker (a WASM loop cannot be interrupted any other way); the codec worker it
 * starts (src/node/segment-codec.ts) ends with it.
 *
 * Start-up overlaps: the codec worker and the kernel instance with its thread pool are started
 * before the model is read, so their threads boot while the model is decompressed and parsed.
 *
 * A batch is a pipeline over three threads: while the engine runs image i, the codec decodes
 * image i + 1 and encodes the mask of image i − 1. Each image is read and checked against the
 * engine's budget here (before it is decoded), decoded by the codec, run here, and its logits
 * handed to the codec, which sends the mask straight to the main thread.
 *
 * Messages in: { id, file }, in order (the main thread sends a few ahead). Out: { type: 'ready' }
 * once the model is loaded, { type: 'fatal', error } if it cannot be, then per image
 * { type: 'failed', id, error } from here when reading, decoding or the engine fails; the codec
 * sends { type: 'done', id, mask, width, height } (or 'failed') to `results`.
 */
import { parentPort, Worker, workerData, type MessagePort } from 'node:worker_threads';
import { checkImageBudget } from '../engines/budget.js';
import type { EngineContext } from '../engines/index.js';
import type { Engine, EngineName } from '../engines/engine.js';
import { DEFAULT_LIMITS } from '../formats/limits.js';
import { readJpegLayout } from '../image/jpeg.js';
import { imageFormatOf } from '../image/sniff.js';
import type { FrModel } from '../model.js';
import { createNodeEngine } from './engines.js';
import { readRegularFile } from './files.js';
import { loadKernels } from './kernels.js';
import { loadModelFile } from './load.js';
import { inspectPng } from './png.js';
import { serializeError, type CodecRequest, type CodecWorkerData, type DecodeReply, type MaskReply, type SerializedError } from './segment-codec.js';

export type { SerializedError } from './segment-codec.js';

export interface SegmentWorkerData {
  modelPath: string;
  engine: EngineName;
  threads: number;
  maxImageFileBytes: number;
  /** Where the masks go (the main thread's end of a channel; the codec posts to it). */
  results: MessagePort;
}

export type SegmentWorkerMessage =
  | { type: 'ready' }
  | { type: 'fatal'; error: SerializedError }
  | MaskReply;

interface Job { id: number; file: string }
interface Decoded { job: Job; input: Float32Array; width: number; height: number }

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

function startCodec(results: MessagePort): Worker {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'; // run from source under a TS loader, or from dist/
  const data: CodecWorkerData = { results };
  const codec = new Worker(new URL(`./segment-codec${ext}`, import.meta.url), { workerData: data, transferList: [results] });
  // A codec that dies takes this worker with it: the main thread reports the image and starts afresh.
  codec.on('error', (e) => { throw e; });
  codec.on('exit', (code) => { throw new Error(`the image codec exited with code ${code}`); });
  return codec;
}

async function start(port: NonNullable<typeof parentPort>, data: SegmentWorkerData): Promise<void> {
  const codec = startCodec(data.results);
  // The kernels and the pool's threads start now, while the model is read (not for the reference engine).
  const kernels: Promise<EngineContext> | undefined = data.engine === 'reference' ? undefined : loadKernels(data.threads);
  kernels?.catch(() => undefined); // its failure is reported where it is awaited
  let engine: Engine;
  let model: FrModel;
  try {
    ({ model } = await loadModelFile(data.modelPath));
    engine = await createNodeEngine(data.engine, model, data.threads, { kernels });
  } catch (e) {
    await kernels?.then((k) => k.parallel.dispose(), () => undefined);
    port.postMessage({ type: 'fatal', error: serializeError(e) } satisfies SegmentWorkerMessage);
    return;
  }
  const inChannels = model.arch.inChannels;

  const jobs: Job[] = [];
  let wake: (() => void) | undefined;
  port.on('message', (job: Job) => {
    jobs.push(job);
    wake?.();
  });
  const nextJob = async (): Promise<Job> => {
    while (jobs.length === 0) await new Promise<void>((resolve) => { wake = resolve; });
    wake = undefined;
    return jobs.shift()!;
  };

  const decoding = new Map<number, (reply: DecodeReply) => void>();
  codec.on('message', (reply: DecodeReply) => decoding.get(reply.id)?.(reply));
  const failed = (id: number, error: SerializedError) => port.postMessage({ type: 'failed', id, error } satisfies SegmentWorkerMessage);

  /**
   * Reads one image and checks its size against the budget (before decoding), then hands it to
   * the codec; resolves when it is decoded, or to undefined once its failure is reported.
   */
  const send = async (job: Job): Promise<() => Promise<Decoded | undefined>> => {
    try {
      const bytes = await readRegularFile(job.file, data.maxImageFileBytes);
      const size = headerSize(bytes);
      if (size) checkImageBudget(engine, model, size.width, size.height, DEFAULT_LIMITS); // before decoding
      const decoded = new Promise<DecodeReply>((resolve) => decoding.set(job.id, resolve));
      codec.postMessage({ type: 'decode', id: job.id, file: job.file, bytes, inChannels } satisfies CodecRequest, [bytes.buffer as ArrayBuffer]); // readRegularFile's own buffer
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

  port.postMessage({ type: 'ready' } satisfies SegmentWorkerMessage);
  let next = await send(await nextJob());
  for (;;) {
    const current = await next();
    // The next image goes to the codec before the engine blocks this thread (when it is queued already).
    next = jobs.length > 0 ? await send(jobs.shift()!) : async () => (await send(await nextJob()))();
    if (!current) continue;
    const { job, input, width, height } = current;
    try {
      const logits = await engine.run(input, width, height);
      const values = owned(logits.data);
      codec.postMessage({
        type: 'encode', id: job.id, file: job.file, logits: values, classes: logits.classes, width: logits.width, height: logits.height,
      } satisfies CodecRequest, [values.buffer]);
    } catch (e) {
      failed(job.id, serializeError(e, job.file));
    }
  }
}

if (parentPort) void start(parentPort, workerData as SegmentWorkerData);
