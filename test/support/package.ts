/**
 * The package as a user gets it: `npm pack` of this repository (after the build), and a folder
 * with that tarball installed as node_modules/freqreg beside other packages taken from this
 * repository's install (a bundler, and freqreg's runtime dependencies: fflate and jpeg-js).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../helpers.js';

/** `npm pack` into `dir` (scripts skipped: the test run has built dist/ and build/); the tarball's path. */
export function packPackage(dir: string): string {
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: PACKAGE_ROOT, encoding: 'utf8' });
  return join(dir, out.trim().split('\n').pop()!);
}

/** The `dependencies` of this repository's package.json: what the packed package needs at run time. */
const RUNTIME_DEPS = Object.keys((JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {});

/**
 * A folder `dir` with the packed freqreg in node_modules/freqreg, links to `deps` (and the runtime dependencies) from
 * this repository's node_modules, and the files (not folders) of `copyFrom` if given.
 */
export function installPackage(dir: string, tarball: string, deps: string[] = [], copyFrom?: string): string {
  mkdirSync(join(dir, 'node_modules', 'freqreg'), { recursive: true });
  execFileSync('tar', ['xzf', tarball, '-C', join(dir, 'node_modules', 'freqreg'), '--strip-components=1']);
  for (const dep of new Set([...deps, ...RUNTIME_DEPS])) symlinkSync(join(PACKAGE_ROOT, 'node_modules', dep), join(dir, 'node_modules', dep), 'dir');
  if (copyFrom) {
    for (const f of readdirSync(copyFrom, { withFileTypes: true })) if (f.isFile()) copyFileSync(join(copyFrom, f.name), join(dir, f.name));
  }
  return dir;
}
