/**
 * The worker behind `freqreg segment` (src/node/segment.ts): loads the model once, then turns one
 * image file at a time into mask PNG bytes. It never writes a file: the main thread checks the
 * output path and writes atomically. Running here lets the main thread enforce the per-image time
 * budget by terminating this worker (a WASM loop cannot be interrupted any other way).
 *
 * Messages in: { id, file }. Out: { type: 'ready' } once the model is loaded, { type: 'fatal',
 * error } if it cannot be, then per image { type: 'done', id, mask, width, height } or
 * { type: 'failed', id, error }, where `error` is a serialized FreqregError.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toFreqregError, type ErrorCode, type ErrorLayer, type ErrorWhere } from '../errors.js';
import { argmaxClasses } from '../engines/reference.js';
import type { Engine, EngineName } from '../engines/engine.js';
import { imageToTensor } from '../input.js';
import { maskToGrey } from '../metrics.js';
import { createNodeEngine } from './engines.js';
import { readRegularFile } from './files.js';
import { loadModelFile } from './load.js';
import { decodeImage, encodeGreyPng } from './png.js';

export interface SegmentWorkerData {
  modelPath: string;
  engine: EngineName;
  threads: number;
  maxImageFileBytes: number;
}

export interface SerializedError { layer: ErrorLayer; code: ErrorCode; message: string; where: ErrorWhere }

export type SegmentWorkerMessage =
  | { type: 'ready' }
  | { type: 'fatal'; error: SerializedError }
  | { type: 'done'; id: number; mask: Uint8Array; width: number; height: number }
  | { type: 'failed'; id: number; error: SerializedError };

function serialize(e: unknown, file?: string): SerializedError {
  const error = toFreqregError(e, 'cli', file === undefined ? undefined : { file });
  return { layer: error.layer, code: error.code, message: error.message, where: { ...error.where } };
}

async function start(port: NonNullable<typeof parentPort>, data: SegmentWorkerData): Promise<void> {
  let engine: Engine;
  let inChannels: number;
  try {
    const { model } = await loadModelFile(data.modelPath);
    inChannels = model.arch.inChannels;
    engine = await createNodeEngine(data.engine, model, data.threads);
  } catch (e) {
    port.postMessage({ type: 'fatal', error: serialize(e) } satisfies SegmentWorkerMessage);
    return;
  }
  port.on('message', async ({ id, file }: { id: number; file: string }) => {
    try {
      const image = decodeImage(await readRegularFile(file, data.maxImageFileBytes));
      const logits = await engine.run(imageToTensor(image, inChannels), image.width, image.height);
      const classes = argmaxClasses({ c: logits.classes, h: logits.height, w: logits.width, data: logits.data });
      const mask = encodeGreyPng(maskToGrey(classes, logits.classes), image.width, image.height);
      port.postMessage({ type: 'done', id, mask, width: image.width, height: image.height } satisfies SegmentWorkerMessage);
    } catch (e) {
      port.postMessage({ type: 'failed', id, error: serialize(e, file) } satisfies SegmentWorkerMessage);
    }
  });
  port.postMessage({ type: 'ready' } satisfies SegmentWorkerMessage);
}

if (parentPort) void start(parentPort, workerData as SegmentWorkerData);
