/**
 * Shared test helpers: where the data is (fixtures/upstream and fixtures/pytorch in the repository,
 * or FREQREG_DATA / FREQREG_FIXTURES), and reading it. Missing data fails the test that needs it.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Test } from 'tap';
import { join } from 'node:path';
import { decodeXz } from '../src/formats/xz.js';
import { findDataDir, findFixturesDir, PACKAGE_ROOT } from '../src/node/data.js';
import { xzWasmModule } from '../src/node/load.js';
import { kernelBuild } from '../src/node/kernels.js';
import { kernelFile } from '../src/wasm/features.js';

export { PACKAGE_ROOT };

function missing(t: Test, what: string): undefined {
  t.fail(`${what} not found (fixtures/ in the repository, or ${what === 'upstream data' ? 'FREQREG_DATA' : 'FREQREG_FIXTURES'})`);
  return undefined;
}

/** The upstream data dir, or undefined after failing the test. */
export function upstreamDir(t: Test): string | undefined {
  return findDataDir() ?? missing(t, 'upstream data');
}

/** The PyTorch fixtures dir, or undefined after failing the test. */
export function fixturesDir(t: Test): string | undefined {
  return findFixturesDir() ?? missing(t, 'PyTorch fixtures');
}

export interface FixtureInfo {
  name: string;
  model: string;
  model_xz: string;
  input: string;
  logits: string;
  logits_shape: [number, number, number];
  base_width: number;
  in_channels: number;
  classes: number;
  storage: string;
  dtype: string;
  nonzero_parameters: number;
  logit_abs_max: number;
  exact_tie_pixels: number;
  'near_tie_pixels_margin_lt_1e-3': number;
}

export function readFixtures(dir: string): FixtureInfo[] {
  return JSON.parse(readFileSync(join(dir, 'fixtures.json'), 'utf8')) as FixtureInfo[];
}

/** Reads a float32 little-endian file; `NAME.f32.xz` (xz-compressed) is read where `NAME.f32` is absent. */
export function readF32(path: string): Float32Array {
  const b = existsSync(path) ? readFileSync(path) : Buffer.from(decodeXz(readFileSync(`${path}.xz`), xzWasmModule(), 64 << 20));
  const out = new Float32Array(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(i * 4);
  return out;
}

/** Deterministic pseudo-random numbers (mulberry32) for tests and benchmarks: the product's generator. */
export { mulberry32 as rng } from '../src/train/rng.js';

/**
 * The kernel module the tests run: the build the Node layer picks (relaxed SIMD where V8 runs it),
 * or the one FREQREG_KERNELS forces (`simd`, `fma`): CI runs the numeric tests with both.
 */
export function kernelModuleBytes(threaded = false): Uint8Array<ArrayBuffer> {
  return new Uint8Array(readFileSync(join(PACKAGE_ROOT, 'build', kernelFile(kernelBuild(), threaded))));
}

/** The build kernelModuleBytes() gives. */
export { kernelBuild };
