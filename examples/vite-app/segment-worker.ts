/**
 * The segmenter, in a dedicated Worker: threads block in Atomics.wait, which a page's main thread
 * may not. Vite emits each .wasm file as an asset (`?url` gives its URL; createBrowserSegmenter
 * fetches and compiles it) and bundles freqreg's kernel worker (`?worker`).
 */
import { createBrowserSegmenter, decodePng, type BrowserSegmenter } from 'freqreg';
import kernels from 'freqreg/kernels.wasm?url';
import kernelsMt from 'freqreg/kernels-mt.wasm?url';
import xz from 'freqreg/xz.wasm?url';
import KernelWorker from 'freqreg/kernel-worker.js?worker';
import { answer, type Request } from './protocol.js';

let segmenter: Promise<BrowserSegmenter> | undefined;

answer(async (req: Request) => {
  if (req.type === 'model') {
    await (await segmenter?.catch(() => undefined))?.dispose();
    segmenter = createBrowserSegmenter({
      model: new Uint8Array(req.bytes), kernels, kernelsMt, xz,
      spawnWorker: () => new KernelWorker(),
    });
    const s = await segmenter;
    return { type: 'model', engine: s.engine, threads: s.threads };
  }
  if (!segmenter) throw new Error('open a model first');
  const s = await segmenter;
  const { classes, width, height, ms } = await s.segment(req.png ? decodePng(new Uint8Array(req.png)) : req.pixels!);
  return { type: 'mask', classes, width, height, ms, engine: s.engine, threads: s.threads };
});
