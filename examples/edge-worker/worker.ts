/**
 * freqreg as an edge worker (workerd / Cloudflare Workers, ES-module syntax):
 *
 *   POST /segment   body: a PNG (8/16-bit, grey/RGB/RGBA/palette) or a JPEG (baseline or
 *                   progressive, grey or colour; EXIF orientation applied)  →  200 image/png, the mask
 *                   (8-bit grey: class c ↦ round(c·255/(classes−1)), so 0/255 for the car UNet)
 *   GET  /          →  JSON: the bundled model, the engine, how to call
 *
 * A bad body gets a 4xx with `{"error": {"code", "message"}}` (codes from src/errors.ts); nothing
 * ever answers with a stack. The model and the .wasm modules are bundled at build time (./build.mjs):
 * workerd may not compile WebAssembly from bytes, so the kernels arrive as compiled modules. No
 * threads here (no Worker, no Atomics.wait): every share runs on the request's thread.
 */
import { createSegmenter, decodeImage, EDGE_IMAGE_LIMITS, EDGE_LIMITS, encodePng, FreqregError, maskToGrey } from 'freqreg';
import type { EngineName, ErrorCode, Segmenter } from 'freqreg';
import kernels from './kernels.wasm';
import xz from './xz.wasm';
import modelBytes from './model.bin';

/** Set by build.mjs (esbuild `define`). */
declare const __FREQREG_ENGINE__: EngineName;
declare const __FREQREG_MODEL_NAME__: string;
/** Working-memory budget for one image (bytes), or 0 for EDGE_LIMITS' (sized for a 128 MiB isolate). */
declare const __FREQREG_ACTIVATION_BYTES__: number;

/** Largest request body read (bytes). */
const MAX_BODY_BYTES = 16 * 2 ** 20;
/**
 * Largest image segmented: about 4 Mpx keeps the activations of the upstream UNet within an
 * isolate, and a JPEG's decoding within 48 MiB (EDGE_IMAGE_LIMITS).
 */
const IMAGE_LIMITS = EDGE_IMAGE_LIMITS;
/** Kernel memory ceiling (bytes). */
const MAX_KERNEL_MEMORY = 2 ** 30;

/** HTTP status per refusal; anything not listed is a 400 (png/jpeg/image layers) or a 500 (a fault on this side). */
const STATUS: Partial<Record<ErrorCode, number>> = {
  NOT_PNG: 415,
  IMAGE_FORMAT: 415,
  JPEG_UNSUPPORTED: 415,
  IMAGE_TOO_LARGE: 413,
  FILE_TOO_LARGE: 413,
  OUT_OF_MEMORY: 413,
  INPUT_TOO_SMALL: 422,
  INPUT_SHAPE: 422,
  IMAGE_DIMENSIONS: 422,
};

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } });
}

function errorResponse(e: unknown): Response {
  if (e instanceof HttpError) return json(e.status, { error: { code: e.code, message: e.message } }, e.headers);
  if (e instanceof FreqregError) {
    const status = STATUS[e.code] ?? (e.layer === 'png' || e.layer === 'jpeg' || e.layer === 'image' ? 400 : 500);
    return json(status, { error: { code: e.code, message: e.message } });
  }
  console.error('freqreg worker: unexpected failure', e); // the log keeps the details; the client gets none
  return json(500, { error: { code: 'INTERNAL', message: 'internal error' } });
}

/** The checkpoint reader's and the engine's budgets: EDGE_LIMITS, with the build's working-memory budget if it set one. */
const LIMITS = { ...EDGE_LIMITS, maxActivationBytes: __FREQREG_ACTIVATION_BYTES__ || EDGE_LIMITS.maxActivationBytes };

async function loadSegmenter(): Promise<Segmenter> {
  const segmenter = await createSegmenter({
    model: new Uint8Array(modelBytes), kernels, xz, engine: __FREQREG_ENGINE__,
    limits: LIMITS, maxBytes: MAX_KERNEL_MEMORY,
  });
  return segmenter;
}

let loading: Promise<Segmenter> | undefined;
/** Requests run one at a time: the engine's working memory is planned once and reused. */
let queue: Promise<unknown> = Promise.resolve();

/** The segmenter, made on the first request (a failure is retried by the next). */
function getSegmenter(): Promise<Segmenter> {
  loading ??= loadSegmenter().catch((e: unknown) => {
    loading = undefined;
    throw e;
  });
  return loading;
}

async function readBody(request: Request): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, 'FILE_TOO_LARGE', `body of ${declared} bytes; the cap is ${MAX_BODY_BYTES}`);
  if (!request.body) throw new HttpError(400, 'EMPTY_BODY', 'empty body: POST a PNG or JPEG image');
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > MAX_BODY_BYTES) {
      await reader.cancel();
      throw new HttpError(413, 'FILE_TOO_LARGE', `body larger than ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(value);
  }
  if (total === 0) throw new HttpError(400, 'EMPTY_BODY', 'empty body: POST a PNG or JPEG image');
  const body = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) { body.set(c, at); at += c.length; }
  return body;
}

async function segment(request: Request): Promise<Response> {
  const body = await readBody(request);
  const image = decodeImage(body, IMAGE_LIMITS);
  const segmenter = await getSegmenter();
  const run = queue.then(() => segmenter.segment(image));
  queue = run.catch(() => undefined);
  const r = await run;
  const mask = encodePng({ data: maskToGrey(r.classes, r.classCount), width: r.width, height: r.height, channels: 1 });
  return new Response(mask as Uint8Array<ArrayBuffer>, {
    headers: {
      'content-type': 'image/png',
      'x-freqreg-engine': segmenter.engine,
      'x-freqreg-form': segmenter.form,
      'x-freqreg-classes': String(r.classCount),
      'x-freqreg-ms': r.ms.toFixed(1),
    },
  });
}

export default {
  async fetch(request: Request): Promise<Response> {
    try {
      const { pathname } = new URL(request.url);
      if (pathname === '/segment') {
        if (request.method !== 'POST') throw new HttpError(405, 'METHOD', `${request.method} /segment: use POST with a PNG or JPEG body`, { allow: 'POST' });
        return await segment(request);
      }
      if (pathname === '/') {
        if (request.method !== 'GET' && request.method !== 'HEAD') throw new HttpError(405, 'METHOD', `${request.method} /: use GET`, { allow: 'GET, HEAD' });
        return json(200, { name: 'freqreg', model: __FREQREG_MODEL_NAME__, engine: __FREQREG_ENGINE__, usage: 'POST /segment with a PNG or JPEG body; the reply is the mask as a grey PNG' });
      }
      throw new HttpError(404, 'NOT_FOUND', `no route ${pathname}; POST /segment`);
    } catch (e) {
      return errorResponse(e);
    }
  },
};
