/**
 * The worker behind `freqreg segment` (src/node/segment.ts): loads the model once, then turns
 * image files into mask PNG bytes. It never writes a file: the main thread checks the output path
 * and writes atomically. Running here lets the main thread enforce the per-image time budget by
 * terminating this worker (a WASM loop cannot be interrupted any other way).
 *
 * Start-up overlaps: this module imports little, and starts the kernel instance with its thread
 * pool before it imports the engines and the model readers (src/node/segment-pipeline.ts, which
 * then loads the model), so the pool's threads boot while the rest is imported and the model is
 * decompressed and parsed.
 *
 * Messages in: { id, file }, in order (the main thread sends a few ahead). Out: { type: 'ready' }
 * once the model is loaded, { type: 'fatal', error } if it cannot be, then per image
 * { type: 'done', id, mask } or { type: 'failed', id, error } when reading, decoding or the
 * engine fails.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { EngineContext } from '../engines/index.js';
import { loadKernels } from './kernels.js';
import type { SegmentJob, SegmentWorkerData } from './segment-messages.js';
import type { JobQueue } from './segment-pipeline.js';

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'; // run from source under a TS loader, or from dist/

/** Images from the main thread, queued from the start (they may come before the model is loaded). */
function jobQueue(port: NonNullable<typeof parentPort>): JobQueue {
  const jobs: SegmentJob[] = [];
  let wake: (() => void) | undefined;
  port.on('message', (job: SegmentJob) => {
    jobs.push(job);
    wake?.();
  });
  return {
    queued: () => jobs.length > 0,
    take: () => jobs.shift()!,
    async next() {
      while (jobs.length === 0) await new Promise<void>((resolve) => { wake = resolve; });
      wake = undefined;
      return jobs.shift()!;
    },
  };
}

async function start(port: NonNullable<typeof parentPort>, data: SegmentWorkerData): Promise<void> {
  const jobs = jobQueue(port);
  // The kernels and the pool's threads start now (not for the reference engine).
  const kernels: Promise<EngineContext> | undefined = data.engine === 'reference' ? undefined : loadKernels(data.threads);
  kernels?.catch(() => undefined); // its failure is reported where it is awaited
  const { runPipeline } = await import(`./segment-pipeline${ext}`) as typeof import('./segment-pipeline.js');
  await runPipeline(port, data, jobs, kernels);
}

if (parentPort) void start(parentPort, workerData as SegmentWorkerData);
