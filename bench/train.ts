/**
 * Training steps per second (bench/train-step-case.ts, one process per configuration) at 240×160 and
 * 959×640, 1 and 2 threads, with peak RSS; beside each, the same step in PyTorch
 * (bench/torch_train_step.py) where `python3` has torch, else a one-line reason; the ratio of the
 * two. Part of `npm run bench`; `npm run bench -- --train-only` runs this alone.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeDataFiles } from '../src/node/train-data.js';
import { loadSample } from '../src/train/data.js';
import { PACKAGE_ROOT } from '../src/node/data.js';

export interface TrainStepResult {
  engine: string;
  threads: number;
  width: number;
  height: number;
  coldSeconds: number;
  medianSeconds: number;
  medianCpuSeconds: number;
  stepsPerSecond: number;
  peakRssMiB: number;
}

export interface TorchStepResult {
  threads: number;
  width: number;
  height: number;
  torch: string;
  coldSeconds: number;
  medianSeconds: number;
  medianCpuSeconds: number;
  peakRssMiB: number;
}

export interface TrainBench {
  freqreg: TrainStepResult[];
  pytorch: TorchStepResult[];
  /** Why PyTorch did not run, where it did not. */
  pytorchSkipped?: string;
  /** PyTorch seconds per step / freqreg's, same size and threads. */
  ratios: { width: number; height: number; threads: number; ratio: number }[];
}

const here = fileURLToPath(new URL('.', import.meta.url));
const SIZES: [number, number][] = [[240, 160], [959, 640]];

/** The first Python on the list that imports torch and numpy (Debian's python3-torch lives in /usr/bin's), and its torch version. */
export function findTorch(): { python: string; version: string } | undefined {
  for (const python of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(python, ['-c', 'import torch, numpy; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return { python, version: r.stdout.trim() };
  }
  return undefined;
}

export async function trainBench(dataDir: string, scratchDir: string, quick: boolean): Promise<TrainBench> {
  const result: TrainBench = { freqreg: [], pytorch: [], ratios: [] };
  const found = findTorch();
  const torch = found?.version;
  if (!torch) result.pytorchSkipped = 'python3 has no torch (Debian: apt-get install python3-torch)';
  console.log(`\ntraining steps: upstream model, ranks 0…32 trainable, in0000.png and its mask, batch 1${torch ? `; PyTorch ${torch} beside` : `; PyTorch skipped: ${result.pytorchSkipped}`}`);
  for (const [width, height] of quick ? SIZES.slice(0, 1) : SIZES) {
    const sampleFile = join(scratchDir, `train-sample-${width}x${height}.bin`);
    const sample = await loadSample(nodeDataFiles(), {
      name: 'in0000.png', image: join(dataDir, 'testimgs', 'input', 'in0000.png'), mask: join(dataDir, 'testimgs', 'mask', 'gt0000.png'),
    }, { width, height, classes: 2, inChannels: 3 });
    writeFileSync(sampleFile, Buffer.concat([sample.photo, sample.target]));
    for (const threads of [1, 2]) {
      // 240×160: 25 steps, so that the median is the steady state (the first steps are JIT warm-up).
      const steps = width > 300 ? 4 : 25;
      const out = execFileSync(process.execPath, [join(here, 'train-step-case.js'), `--threads=${threads}`, `--width=${width}`, `--height=${height}`, `--steps=${steps}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      const r = JSON.parse(out.trim().split('\n').pop()!) as TrainStepResult;
      result.freqreg.push(r);
      let line = `  freqreg spectral ${threads} thread(s) ${`${width}×${height}`.padEnd(8)} cold ${r.coldSeconds.toFixed(3)} s  median ${(r.medianSeconds * 1000).toFixed(1)} ms/step (CPU ${(r.medianCpuSeconds * 1000).toFixed(1)} ms)  ${r.stepsPerSecond.toFixed(2)} steps/s  peak RSS ${r.peakRssMiB.toFixed(0)} MiB`;
      if (torch) {
        const tsteps = width > 300 ? 2 : 4;
        const tout = execFileSync(found!.python, [join(PACKAGE_ROOT, 'bench', 'torch_train_step.py'), '--threads', String(threads), '--width', String(width), '--height', String(height), '--steps', String(tsteps), '--data', dataDir, '--sample', sampleFile], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
        const p = JSON.parse(tout.trim().split('\n').pop()!) as TorchStepResult;
        result.pytorch.push(p);
        const ratio = p.medianSeconds / r.medianSeconds;
        result.ratios.push({ width, height, threads, ratio });
        line += `\n  PyTorch          ${threads} thread(s) ${`${width}×${height}`.padEnd(8)} cold ${p.coldSeconds.toFixed(3)} s  median ${(p.medianSeconds * 1000).toFixed(0)} ms/step (CPU ${(p.medianCpuSeconds * 1000).toFixed(0)} ms)  peak RSS ${p.peakRssMiB.toFixed(0)} MiB  → freqreg ${ratio.toFixed(0)}× faster`;
      }
      console.log(line);
    }
    rmSync(sampleFile, { force: true });
  }
  return result;
}
