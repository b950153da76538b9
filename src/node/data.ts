/**
 * Where the upstream data and the PyTorch-made fixtures are. Upstream data: `--data DIR`, then
 * FREQREG_DATA, then fixtures/upstream/ in the package. Fixtures: FREQREG_FIXTURES, then
 * fixtures/pytorch/ in the package.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: the nearest folder above this file whose package.json names freqreg. */
export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'freqreg') return dir;
    if (dirname(dir) === dir) return resolve(start, '..', '..');
  }
}

export function resolveDataDir(option?: string): string {
  if (option) return resolve(option);
  if (process.env.FREQREG_DATA) return resolve(process.env.FREQREG_DATA);
  return join(PACKAGE_ROOT, 'fixtures', 'upstream');
}

export function resolveFixturesDir(): string {
  if (process.env.FREQREG_FIXTURES) return resolve(process.env.FREQREG_FIXTURES);
  return join(PACKAGE_ROOT, 'fixtures', 'pytorch');
}

/** The upstream data dir if it holds the model, else undefined. */
export function findDataDir(option?: string): string | undefined {
  const dir = resolveDataDir(option);
  return existsSync(join(dir, 'unet_fr.tar.xz')) ? dir : undefined;
}

/** The PyTorch fixtures dir if it holds fixtures.json, else undefined. */
export function findFixturesDir(): string | undefined {
  const dir = resolveFixturesDir();
  return existsSync(join(dir, 'fixtures.json')) ? dir : undefined;
}
