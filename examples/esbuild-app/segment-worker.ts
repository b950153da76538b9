/**
 * The segmenter, in a dedicated Worker: threads block in Atomics.wait, which a page's main thread
 * may not. esbuild's `file` loader (build.mjs) copies each .wasm file next to this script and
 * gives its URL; createBrowserSegmenter fetches and compiles them.
 */
import { createBrowserSegmenter, decodePng } from 'freqreg/browser';
import type { BrowserSegmenter } from 'freqreg/browser';
import kernels from 'freqreg/kernels.wasm';
import kernelsMt from 'freqreg/kernels-mt.wasm';
import xz from 'freqreg/xz.wasm';
import { answer, type Request } from './protocol.js';

/** The segmenter of the last model loaded. */
let current: BrowserSegmenter | undefined;

answer(async (req: Request) => {
  if (req.type === 'model') {
    await current?.dispose();
    current = undefined;
    const model = new Uint8Array(req.bytes);
    const segmenter = await createBrowserSegmenter({
      model, kernels, kernelsMt, xz,
      // build.mjs bundles freqreg/kernel-worker.js as kernel-worker.js beside this file.
      spawnWorker: () => new Worker(new URL('./kernel-worker.js', import.meta.url), { type: 'module' }),
    });
    current = segmenter;
    return { type: 'model', engine: segmenter.engine, threads: segmenter.threads };
  }
  const segmenter = current;
  if (!segmenter) throw new Error('open a model first');
  const image = req.png ? decodePng(new Uint8Array(req.png)) : req.pixels!;
  const { classes, width, height, ms } = await segmenter.segment(image);
  return { type: 'mask', classes, width, height, ms, engine: segmenter.engine, threads: segmenter.threads };
});
