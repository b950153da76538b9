/** Messages between the page (web/main.ts) and its engine worker (web/engine-worker.ts). */
import type { EngineName } from '../src/engines/engine.js';

export type PageRequest =
  | { id: number; type: 'load'; model: ArrayBuffer; name: string; engine: EngineName; threads?: number }
  /** A PNG or JPEG file's bytes (decoded in the worker, exactly as Node decodes it) or pixels the page decoded (other formats). */
  | { id: number; type: 'segment'; file?: ArrayBuffer; pixels?: { data: Uint8ClampedArray; width: number; height: number; channels: 4 } };

export interface ModelInfo {
  name: string;
  engine: EngineName;
  /** The form the network runs in: 'spectral', 'dense' or 'reference' (what 'auto' chose). */
  form: string;
  threads: number;
  classCount: number;
  baseWidth: number;
  /** Non-zero frequency coefficients over all weights. */
  coefficients: number;
  loadMs: number;
}

export interface SegmentResult {
  classes: Uint8Array;
  classCount: number;
  width: number;
  height: number;
  ms: number;
  engine: EngineName;
  /** The form that ran: 'spectral', 'dense' or 'reference'. */
  form: string;
  threads: number;
}

export type WorkerReply =
  | { id: number; type: 'loaded'; info: ModelInfo }
  | { id: number; type: 'result'; result: SegmentResult }
  /** `kept`: after a failed load, the model still loaded (the last good one), if any. */
  | { id: number; type: 'error'; code: string; message: string; kept?: string };
