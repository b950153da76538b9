/**
 * The segmenter, in a dedicated Worker: threads block in Atomics.wait, which a page's main thread
 * may not. esbuild's `file` loader (build.mjs) copies each .wasm file next to this script and
 * gives its URL; createBrowserSegmenter fetches and compiles them.
 */
import { createBrowserSegmenter, decodePng, type BrowserSegmenter } from 'freqreg';
import kernels from 'freqreg/kernels.wasm';
import kernelsMt from 'freqreg/kernels-mt.wasm';
import xz from 'freqreg/xz.wasm';
import { answer, type Request } from './protocol.js';

let segmenter: Promise<BrowserSegmenter> | undefined;

answer(async (req: Request) => {
  if (req.type === 'model') {
    await (await segmenter?.catch(() => undefined))?.dispose();
    segmenter = createBrowserSegmenter({
      model: new Uint8Array(req.bytes), kernels, kernelsMt, xz,
      // build.mjs bundles freqreg/kernel-worker.js as kernel-worker.js beside this file.
      spawnWorker: () => new Worker(new URL('./kernel-worker.js', import.meta.url), { type: 'module' }),
    });
    const s = await segmenter;
    return { type: 'model', engine: s.engine, threads: s.threads };
  }
  if (!segmenter) throw new Error('open a model first');
  const s = await segmenter;
  const { classes, width, height, ms } = await s.segment(req.png ? decodePng(new Uint8Array(req.png)) : req.pixels!);
  return { type: 'mask', classes, width, height, ms, engine: s.engine, threads: s.threads };
});
