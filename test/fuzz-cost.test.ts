/**
 * Part of the fuzz suite: the property "refusing or accepting an input of N bytes costs time and
 * memory bounded by a small multiple of N plus a constant", measured for every parser across
 * sizes (test/support/cost-families.ts: hostile and valid inputs of 16 KiB to 1 MiB), not timed
 * on single cases. An input whose cost grows faster than its bytes (a scan that reparses at every
 * candidate, a view that reads one element many times, two copies of an output) fails here.
 *
 * Time: the fastest of three runs per size. Linear growth over the 64× size range is 64×; the
 * bound allows 4× that (noise on a shared machine) plus a constant, where quadratic growth is 4096×.
 * Memory: array-buffer and heap bytes allocated during one run and not yet collected (the
 * collector runs before each run), or the growth of resident memory if larger, against 32 bytes
 * per input byte plus 16 MiB.
 */
import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FreqregError } from '../src/errors.js';
import { COST_FAMILIES } from './support/cost-families.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const SIZES = [16 << 10, 64 << 10, 256 << 10, 1 << 20];
const RUNS = 3;
const TIME_SLACK = 4;
const TIME_CONSTANT_MS = 100;
/** Below this a run's time is noise: the time bound starts from it. */
const TIME_FLOOR_MS = 1;
const BYTES_PER_INPUT_BYTE = 32;
const MEMORY_CONSTANT = 16 << 20;

interface Point { n: number; ms: number; bytes: number; outcome: string }

function measure(run: (b: Uint8Array) => void, input: Uint8Array): Point {
  let ms = Infinity, bytes = 0, outcome = 'accepted';
  for (let i = 0; i < RUNS; i++) {
    gc();
    const before = process.memoryUsage();
    const start = performance.now();
    try {
      run(input);
    } catch (e) {
      if (!(e instanceof FreqregError)) throw e;
      outcome = e.code;
    }
    ms = Math.min(ms, performance.now() - start);
    const after = process.memoryUsage();
    // Resizable ArrayBuffers are not counted in arrayBuffers; resident memory sees them.
    bytes = Math.max(bytes, after.arrayBuffers - before.arrayBuffers + after.heapUsed - before.heapUsed, after.rss - before.rss);
  }
  return { n: input.length, ms, bytes, outcome };
}

const curves: string[] = [];

for (const family of COST_FAMILIES) {
  t.test(`cost bounded by the bytes present: ${family.name}`, async (t) => {
    const points = SIZES.map((size) => measure(family.run, family.make(size)));
    const curve = points.map((p) => `${(p.n / 1024).toFixed(0)} KiB ${p.ms.toFixed(1)} ms ${(p.bytes / 2 ** 20).toFixed(1)} MiB`).join(' | ');
    curves.push(`${family.name}: ${curve}; ${[...new Set(points.map((p) => p.outcome))].join(', ')}`);
    t.comment(curve);
    const first = points[0], last = points[points.length - 1];
    const timeBound = TIME_SLACK * (last.n / first.n) * Math.max(first.ms, TIME_FLOOR_MS) + TIME_CONSTANT_MS;
    t.ok(last.ms <= timeBound, `${(last.n / 1024).toFixed(0)} KiB in ${last.ms.toFixed(1)} ms ≤ ${timeBound.toFixed(0)} ms (linear from ${(first.n / 1024).toFixed(0)} KiB in ${first.ms.toFixed(2)} ms)`);
    for (const p of points) {
      const bound = BYTES_PER_INPUT_BYTE * p.n + MEMORY_CONSTANT;
      t.ok(p.bytes <= bound, `${(p.n / 1024).toFixed(0)} KiB: ${(p.bytes / 2 ** 20).toFixed(1)} MiB allocated ≤ ${(bound / 2 ** 20).toFixed(1)} MiB`);
    }
  });
}

t.teardown(() => {
  if (curves.length) console.log(`# cost curves (fastest of ${RUNS} runs; memory allocated in one run)\n${curves.map((c) => `#   ${c}`).join('\n')}`);
});
