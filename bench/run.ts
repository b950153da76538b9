/**
 * `npm run bench`: the kernel benchmark (bench/kernels.ts) and the end-to-end engines
 * (bench/engine-case.ts, one process per configuration), side by side in one run. Prints tables
 * and writes bench/results/bench-<date>.json with the machine, Node and V8 versions.
 *
 *   npm run bench                 # everything (dense runs take minutes)
 *   npm run bench -- --quick      # under a minute: kernels cropped, spectral and auto only
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../src/node/data.js';

const quick = process.argv.includes('--quick');
const here = fileURLToPath(new URL('.', import.meta.url));

interface CaseResult {
  engine: string; form: string; threads: number; width: number; height: number;
  loadSeconds: number; coldSeconds: number; medianSeconds: number; warmSeconds: number[];
  imagesPerSecond?: number; peakRssMiB: number; maskPixelsDifferent?: number;
}

function runCase(args: Record<string, string | number>): CaseResult {
  const argv = Object.entries(args).map(([k, v]) => `--${k}=${v}`);
  const out = execFileSync(process.execPath, [join(here, 'engine-case.js'), ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop()!) as CaseResult;
}

const configs: Record<string, string | number>[] = quick
  ? [
      { engine: 'spectral', threads: 1, runs: 3 },
      { engine: 'spectral', threads: 2, runs: 3 },
      { engine: 'auto', threads: 2, runs: 3 },
    ]
  : [
      { engine: 'spectral', threads: 1, runs: 7, batch: 16 },
      { engine: 'spectral', threads: 2, runs: 7, batch: 16 },
      { engine: 'auto', threads: 2, runs: 7, batch: 16 },
      { engine: 'spectral', threads: 2, runs: 5, scale: 2 },
      { engine: 'dense', threads: 1, runs: 2 },
      { engine: 'dense', threads: 2, runs: 5 },
    ];

console.log(`kernels${quick ? ' (--quick)' : ''}:`);
execFileSync(process.execPath, [join(here, 'kernels.js'), ...(quick ? ['--quick'] : [])], { stdio: 'inherit' });

console.log('\nend to end, upstream model, in0000.png:');
const results: CaseResult[] = [];
for (const c of configs) {
  const r = runCase(c);
  results.push(r);
  console.log(`  ${`${r.engine}${r.form !== r.engine ? ` (${r.form})` : ''}`.padEnd(16)} ${r.threads} thread(s) ${`${r.width}×${r.height}`.padEnd(10)} load ${r.loadSeconds.toFixed(2)} s  cold ${r.coldSeconds.toFixed(3)} s  median ${r.medianSeconds.toFixed(3)} s` +
    `${r.imagesPerSecond ? `  ${r.imagesPerSecond.toFixed(2)} images/s` : ''}  peak RSS ${r.peakRssMiB.toFixed(0)} MiB` +
    `${r.maskPixelsDifferent !== undefined ? `  mask ≠ upstream: ${r.maskPixelsDifferent} px` : ''}`);
}
const find = (engine: string, threads: number) => results.find((r) => r.engine === engine && r.threads === threads && r.width === 959);
const ratios: Record<string, number> = {};
for (const t of [1, 2]) {
  const d = find('dense', t), s = find('spectral', t);
  if (d && s) ratios[`dense/spectral, ${t} thread(s)`] = d.medianSeconds / s.medianSeconds;
}
for (const [k, v] of Object.entries(ratios)) console.log(`  ${k}: ${v.toFixed(1)}×`);

const machine = { cpu: cpus()[0]?.model, cores: cpus().length, memoryGiB: +(totalmem() / 2 ** 30).toFixed(1), node: process.version, v8: process.versions.v8, platform: `${process.platform} ${process.arch}` };
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
mkdirSync(join(PACKAGE_ROOT, 'bench', 'results'), { recursive: true });
const file = join(PACKAGE_ROOT, 'bench', 'results', `bench-${stamp}.json`);
writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), quick, machine, endToEnd: results, ratios }, null, 2));
console.log(`\nmachine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node} (V8 ${machine.v8})\nwritten ${file}`);
