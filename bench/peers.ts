/**
 * The peers (onnxruntime-node, onnxruntime-web) live in bench/peers/ with their own lockfile, so a
 * plain `npm ci` of freqreg does not fetch their 430 MB: `npm run bench -- --peers` installs them on
 * first use, and CI installs them for the ONNX exporter's test (`npm ci --prefix bench/peers`).
 * `Ort` is the part of their common API the benchmark and the test use.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from '../src/node/data.js';

export const PEERS_DIR = join(PACKAGE_ROOT, 'bench', 'peers');

export type PeerName = 'onnxruntime-node' | 'onnxruntime-web';

export interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}

export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

export interface Ort {
  InferenceSession: { create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
  env: { versions: Record<string, string | undefined>; wasm: { numThreads?: number; simd?: boolean } };
}

/** True if bench/peers/node_modules holds `name`. */
export function peerInstalled(name: PeerName): boolean {
  return existsSync(join(PEERS_DIR, 'node_modules', name, 'package.json'));
}

/**
 * `npm ci` in bench/peers/ (its lockfile). onnxruntime-node ships its CPU binary; its install step
 * would fetch GPU files, which ONNXRUNTIME_NODE_INSTALL=skip turns off.
 */
export function installPeers(): void {
  execFileSync('npm', ['ci', '--prefix', PEERS_DIR, '--no-audit', '--no-fund'], {
    stdio: 'inherit', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
  });
}

/** A peer, imported from bench/peers/node_modules. */
export async function importPeer(name: PeerName): Promise<Ort> {
  const path = createRequire(join(PEERS_DIR, 'package.json')).resolve(name);
  const mod = await import(pathToFileURL(path).href) as { default?: Ort } & Ort;
  return mod.default ?? mod;
}
