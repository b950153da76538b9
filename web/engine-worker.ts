/**
 * The page's engine, in a dedicated Worker: the thread pool blocks with Atomics.wait, which the
 * page's main thread may not, and a long forward pass must not freeze the page. Loads the kernel
 * modules once, then a model per 'load' and a mask per 'segment' (see ./protocol.ts).
 */
import {
  bestKernelBuild, compileWasm, countParameters, createBrowserSegmenter, decodeImage, defaultBrowserThreads, FreqregError, kernelFile, threadsAvailable, type Segmenter,
} from '../src/browser.js';
import type { ModelInfo, PageRequest, WorkerReply } from './protocol.js';

interface Scope {
  onmessage: ((e: MessageEvent<PageRequest>) => void) | null;
  postMessage(message: WorkerReply, transfer?: Transferable[]): void;
}
const scope = globalThis as unknown as Scope;

/** A module beside this script, fetched and compiled once for every model loaded. */
const compile = (file: string) => compileWasm(new URL(file, import.meta.url), file);

const modules = (async () => {
  // The relaxed-SIMD (FMA) build where the browser runs it, else plain SIMD (src/wasm/features.ts).
  const build = bestKernelBuild();
  const [kernels, xz, kernelsMt] = await Promise.all([
    compile(`./${kernelFile(build, false)}`), compile('./xz.wasm'), threadsAvailable() ? compile(`./${kernelFile(build, true)}`) : undefined,
  ]);
  return { kernels, xz, kernelsMt };
})();

/** The last model that loaded, kept when a later one fails. */
let segmenter: Segmenter | undefined;
let segmenterName: string | undefined;
let queue: Promise<unknown> = Promise.resolve();

async function handle(req: PageRequest): Promise<WorkerReply> {
  if (req.type === 'load') {
    const { kernels, xz, kernelsMt } = await modules;
    const start = performance.now();
    // The new model is built before the old one goes: a file that fails leaves the last good one loaded.
    const seg = await createBrowserSegmenter({
      model: new Uint8Array(req.model), kernels, kernelsMt, xz, engine: req.engine,
      threads: req.threads ?? defaultBrowserThreads(),
      spawnWorker: () => new Worker(new URL('./kernel-worker.js', import.meta.url), { type: 'module' }),
    });
    await segmenter?.dispose();
    segmenter = seg;
    segmenterName = req.name;
    const info: ModelInfo = {
      name: req.name, engine: seg.engine, form: seg.form, threads: seg.threads, classCount: seg.model.arch.classes, baseWidth: seg.model.arch.width,
      coefficients: countParameters(seg.model).weights, loadMs: performance.now() - start,
    };
    return { id: req.id, type: 'loaded', info };
  }
  if (!segmenter) throw new FreqregError('engine', 'ENGINE_UNAVAILABLE', 'open a model first');
  const image = req.file ? decodeImage(new Uint8Array(req.file)) : req.pixels!;
  const r = await segmenter.segment(image);
  return { id: req.id, type: 'result', result: { ...r, engine: segmenter.engine, form: segmenter.form, threads: segmenter.threads } };
}

scope.onmessage = (e) => {
  const req = e.data;
  // One request at a time, in order: a segment waits for the load before it.
  queue = queue.then(() => handle(req)).then(
    (reply) => scope.postMessage(reply, reply.type === 'result' ? [reply.result.classes.buffer as ArrayBuffer] : []),
    (err: unknown) => scope.postMessage({
      id: req.id, type: 'error',
      code: err instanceof FreqregError ? err.code : 'INTERNAL',
      message: err instanceof Error ? err.message : String(err),
      kept: req.type === 'load' ? segmenterName : undefined,
    }),
  );
};
