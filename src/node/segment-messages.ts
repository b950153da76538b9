/**
 * The messages between `freqreg segment`'s threads: the main thread (src/node/segment.ts) and
 * the image worker (src/node/segment-worker.ts). Errors cross as plain data and are revived as
 * FreqregError on the main thread.
 */
import { toFreqregError, type ErrorCode, type ErrorLayer, type ErrorWhere } from '../errors.js';
import type { EngineName } from '../engines/engine.js';

export interface SerializedError { layer: ErrorLayer; code: ErrorCode; message: string; where: ErrorWhere }

/** A FreqregError as plain data for postMessage (any other error becomes one first). */
export function serializeError(e: unknown, file?: string): SerializedError {
  const error = toFreqregError(e, 'cli', file === undefined ? undefined : { file });
  return { layer: error.layer, code: error.code, message: error.message, where: { ...error.where } };
}

export interface SegmentWorkerData {
  modelPath: string;
  engine: EngineName;
  threads: number;
  maxImageFileBytes: number;
}

/** Main thread → image worker: one image, in input order. */
export interface SegmentJob { id: number; file: string }

/** Image worker → main thread. */
export type SegmentWorkerMessage =
  | { type: 'ready' }
  | { type: 'fatal'; error: SerializedError }
  | { type: 'done'; id: number; mask: Uint8Array }
  | { type: 'failed'; id: number; error: SerializedError };
