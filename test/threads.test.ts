/**
 * The Node thread pool (src/node/threads.ts): shares travel through a mailbox in shared memory;
 * a worker's trap comes back as WASM_TRAP naming the worker, the pool keeps working after it,
 * and dispose ends the workers.
 */
import t from 'tap';
import { FreqregError } from '../src/errors.js';
import { loadKernels } from '../src/node/kernels.js';
import type { KernelCall } from '../src/wasm/parallel.js';

t.test('two threads: each share runs on its own thread over the shared memory', async (t) => {
  const { kernels, parallel } = await loadKernels(2);
  t.equal(parallel.threads, 2);
  // spectral_sum_f64 adds Σ q over a (na, h, w) block into a float64 slot: one slot per share.
  const w = 8, h = 6, na = 2, mapSize = w * h;
  const q = kernels.arena.allocF32(na * mapSize);
  const sums = kernels.arena.alloc(2 * na * 8);
  const f32 = new Float32Array(kernels.memory.buffer, q, na * mapSize);
  for (let i = 0; i < f32.length; i++) f32[i] = (i % 7) - 2;
  new Float64Array(kernels.memory.buffer, sums, 2 * na).fill(0);
  const share = (slot: number, y0: number, y1: number): KernelCall => ['spectral_sum_f64', sums + slot * na * 8, q, mapSize, w, na, w, y0, y1];
  for (let r = 0; r < 200; r++) {
    new Float64Array(kernels.memory.buffer, sums, 2 * na).fill(0);
    parallel.run([[share(0, 0, 3)], [share(1, 3, h)]]);
  }
  const got = new Float64Array(kernels.memory.buffer, sums, 2 * na);
  for (let a = 0; a < na; a++) {
    let top = 0, bottom = 0;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) (y < 3 ? (top += f32[a * mapSize + y * w + x]) : (bottom += f32[a * mapSize + y * w + x]));
    t.equal(got[a], top, `map ${a}: rows 0…2 summed on the calling thread`);
    t.equal(got[na + a], bottom, `map ${a}: rows 3…5 summed on the worker`);
  }
  await parallel.dispose();
});

t.test('a trap on the worker: WASM_TRAP naming it; the pool goes on; a share too long for the mailbox is refused', async (t) => {
  const { kernels, parallel } = await loadKernels(2);
  const ok = kernels.arena.allocF32(64);
  const sums = kernels.arena.alloc(16);
  const good: KernelCall = ['spectral_sum_f64', sums, ok, 16, 4, 1, 4, 0, 1];
  const outOfBounds: KernelCall = ['spectral_sum_f64', sums, 2 ** 31, 16, 4, 1, 4, 0, 1];
  try {
    parallel.run([[good], [outOfBounds]]);
    t.fail('accepted');
  } catch (e) {
    t.ok(e instanceof FreqregError && e.code === 'WASM_TRAP', `WASM_TRAP (${(e as Error).message})`);
    t.match((e as Error).message, /worker 1/, 'names the worker');
  }
  parallel.run([[good], [good]]);
  t.pass('the next run works');
  const long: KernelCall[] = Array.from({ length: 1000 }, () => good);
  try {
    parallel.run([[good], long]);
    t.fail('accepted');
  } catch (e) {
    t.ok(e instanceof FreqregError && e.code === 'WASM_TRAP', `too long a share: ${(e as Error).message}`);
  }
  await parallel.dispose();
  t.pass('dispose returns');
});
