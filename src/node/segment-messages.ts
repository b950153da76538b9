/**
 * The messages between `freqreg segment`'s threads: the main thread (src/node/segment.ts), the
 * image worker (src/node/segment-worker.ts) and its codec (src/node/segment-codec.ts). Errors
 * cross as plain data and are revived as FreqregError on the main thread.
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
  /** Where the masks go (the main thread's end of a channel; the codec posts to it). */
  results: MessagePort;
}

/** Main thread → image worker: one image, in input order. */
export interface SegmentJob { id: number; file: string }

/** Image worker → main thread (and, for masks, codec → main thread through `results`). */
export type SegmentWorkerMessage =
  | { type: 'ready' }
  | { type: 'fatal'; error: SerializedError }
  | MaskReply;

export interface CodecWorkerData {
  /** Where finished masks (and encoding failures) go: the main thread's end of a channel. */
  results: MessagePort;
}

/** Image worker → codec. */
export type CodecRequest =
  | { type: 'decode'; id: number; file: string; bytes: Uint8Array; inChannels: number }
  | { type: 'encode'; id: number; file: string; logits: Float32Array; classes: number; width: number; height: number };

/** Codec → image worker: the network input of an image, or why not. */
export type DecodeReply =
  | { type: 'decoded'; id: number; input: Float32Array; width: number; height: number }
  | { type: 'failed'; id: number; error: SerializedError };

/** Codec → main thread: the mask PNG of an image, or why not. */
export type MaskReply =
  | { type: 'done'; id: number; mask: Uint8Array; width: number; height: number }
  | { type: 'failed'; id: number; error: SerializedError };
