// node build.mjs [--out DIR] — bundles the page, its segmenter Worker and freqreg's kernel worker
// into DIR (default dist/), with the .wasm files copied beside them (esbuild's `file` loader).
// Serve DIR with COOP/COEP headers for threads (freqreg's scripts/serve-web.mjs --dir DIR does).
import { build } from 'esbuild';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const here = import.meta.dirname;
const { values } = parseArgs({ options: { out: { type: 'string', default: join(here, 'dist') } } });
await build({
  absWorkingDir: here,
  entryPoints: {
    main: './main.ts',
    'segment-worker': './segment-worker.ts',
    'kernel-worker': 'freqreg/kernel-worker.js',
  },
  outdir: values.out,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  loader: { '.wasm': 'file' },
  assetNames: '[name]-[hash]',
  minify: true,
  logLevel: 'warning',
});
copyFileSync(join(here, 'index.html'), join(values.out, 'index.html'));
console.log(`built ${values.out}`);
