/**
 * The messages between `freqreg segment`'s threads: the main thread (src/node/segment.ts), the
 * image worker (src/node/segment-worker.ts) and its decoder (src/node/segment-decoder.ts), which the
 * main thread starts together. Errors cross as plain data and are revived as FreqregError on the
 * main thread.
 */
import type { MessagePort } from 'node:worker_threads';
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
  /** The image worker's end of its channel to the decoder. */
  decoder: MessagePort;
}

/** Main thread → image worker: one image, in input order. */
export interface SegmentJob { id: number; file: string }

/** Image worker → main thread. */
export type SegmentWorkerMessage =
  | { type: 'ready' }
  | { type: 'fatal'; error: SerializedError }
  /** An image's logits (classes, height, width): the main thread makes the mask while the engine runs the next. */
  | { type: 'logits'; id: number; logits: Float32Array; classes: number; width: number; height: number }
  | { type: 'failed'; id: number; error: SerializedError };

export interface DecoderWorkerData {
  /** The decoder's end of its channel to the image worker: requests in, decoded images out. */
  requests: MessagePort;
}

/** Image worker → decoder: an image file's bytes to decode. */
export interface DecodeRequest { id: number; file: string; bytes: Uint8Array; inChannels: number }

/** Codec → image worker: the network input of an image, or why not. */
export type DecodeReply =
  | { type: 'decoded'; id: number; input: Float32Array; width: number; height: number }
  | { type: 'failed'; id: number; error: SerializedError };
