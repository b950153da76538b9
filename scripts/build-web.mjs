// npm run build:web [-- --out DIR] — the web page (web/) as static files in dist-web/ (or DIR): the page script, its
// engine worker, the kernel worker (src/browser/kernel-worker.ts), the .wasm modules from
// build/ and the built-in sample from fixtures/sample/. Needs `npm run build` first (build/*.wasm).
// Serve with `node scripts/serve-web.mjs` (COOP/COEP, so the page gets threads).
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { out: { type: 'string', default: join(root, 'dist-web') } } });
const out = resolve(values.out);
const wasm = ['kernels.wasm', 'kernels-mt.wasm', 'kernels-fma.wasm', 'kernels-fma-mt.wasm', 'xz.wasm'];
for (const f of wasm) {
  if (!existsSync(join(root, 'build', f))) {
    console.error(`build/${f} is missing: run npm run build first`);
    process.exit(1);
  }
}

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'sample'), { recursive: true });
const started = Date.now();
await build({
  entryPoints: {
    main: join(root, 'web/main.ts'),
    'engine-worker': join(root, 'web/engine-worker.ts'),
    'kernel-worker': join(root, 'src/browser/kernel-worker.ts'),
  },
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
});
for (const f of ['index.html', 'style.css']) copyFileSync(join(root, 'web', f), join(out, f));
for (const f of wasm) copyFileSync(join(root, 'build', f), join(out, f));
for (const f of ['sample-model.pt', 'sample-image.png']) copyFileSync(join(root, 'fixtures/sample', f), join(out, 'sample', f));
console.log(`${out} built in ${Date.now() - started} ms; serve it with: node scripts/serve-web.mjs --dir ${out}`);
