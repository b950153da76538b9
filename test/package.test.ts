/**
 * The package as `npm pack` makes it: every file `exports` names is in it (the three .wasm files,
 * the kernel worker, the types of the .wasm imports); every source map points at a file it ships;
 * its runtime dependencies are what its code imports at run time; and npm runs without a warning
 * about the project's configuration (.npmrc).
 */
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { PACKAGE_ROOT } from './helpers.js';
import { installPackage, packPackage } from './support/package.js';

interface Manifest {
  dependencies?: Record<string, string>;
  exports: Record<string, string | Record<string, string | Record<string, string>>>;
  scripts: Record<string, string>;
}

/** Every path an `exports` entry maps to, through nested conditions. */
function exportTargets(entry: unknown): string[] {
  if (typeof entry === 'string') return [entry];
  return Object.values(entry as Record<string, unknown>).flatMap(exportTargets);
}

t.test('npm pack: exports, source maps, dependencies', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'freqreg-package-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const dir = installPackage(join(root, 'app'), packPackage(root));
  const pkg = join(dir, 'node_modules', 'freqreg');
  const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as Manifest;

  for (const [name, entry] of Object.entries(manifest.exports)) {
    for (const target of exportTargets(entry)) t.ok(existsSync(join(pkg, target)), `exports["${name}"] → ${target} is shipped`);
  }
  t.equal(manifest.scripts.prepack, 'npm run -s build', 'prepack builds, so a fresh clone packs dist/ and build/');

  const maps = (readdirSync(pkg, { recursive: true }) as string[]).filter((f) => f.endsWith('.js.map'));
  t.ok(maps.length > 10, `${maps.length} source maps`);
  const dangling = maps.flatMap((m) => {
    const { sources } = JSON.parse(readFileSync(join(pkg, m), 'utf8')) as { sources: string[] };
    return sources.filter((s) => !existsSync(normalize(join(pkg, dirname(m), s)))).map((s) => `${m} → ${s}`);
  });
  t.same(dangling, [], 'every source map points at a shipped file');

  // Runtime dependencies: the bare imports of the shipped JavaScript (Node built-ins aside).
  const js = (readdirSync(join(pkg, 'dist'), { recursive: true }) as string[]).filter((f) => f.endsWith('.js'));
  const imported = new Set<string>();
  for (const f of js) {
    const code = readFileSync(join(pkg, 'dist', f), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    // `import … from 'x'` / `export … from 'x'` (a statement with a from clause), `import 'x'`, `import('x')`.
    const re = /^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"./][^'"]*)['"]|^\s*import\s*['"]([^'"./][^'"]*)['"]|\bimport\(\s*['"]([^'"./][^'"]*)['"]/gm;
    for (const match of code.matchAll(re)) {
      const m = [match[0], match[1] ?? match[2] ?? match[3]];
      if (!m[1].startsWith('node:')) imported.add(m[1].split('/')[0]);
    }
  }
  t.same(Object.keys(manifest.dependencies ?? {}).sort(), [...imported].sort(), `runtime dependencies are what dist/ imports: ${[...imported].join(', ')}`);
});

t.test('npm reads the project configuration without a warning', async (t) => {
  const r = spawnSync('npm', ['config', 'list'], { cwd: PACKAGE_ROOT, encoding: 'utf8' });
  t.equal(r.status, 0, 'npm config list succeeds');
  t.notMatch(r.stderr, /Unknown (project|user|env) config/, `no unknown keys: ${r.stderr.split('\n')[0]}`);
  t.notOk(existsSync(join(PACKAGE_ROOT, '.npmrc')) && /onnxruntime/.test(readFileSync(join(PACKAGE_ROOT, '.npmrc'), 'utf8')), 'no onnxruntime key in .npmrc');
  execFileSync('npm', ['--version'], { cwd: PACKAGE_ROOT });
});
