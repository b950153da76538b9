// npm run build:edge [-- --model PATH] [--engine NAME] [--kernels simd|fma] [--out DIR] [--activation-mib N]
//
// Bundles the edge worker (worker.ts and freqreg's core) with esbuild into DIR (default
// dist-edge/), next to the modules workerd loads as they are: the kernels (build/kernels-fma.wasm,
// relaxed SIMD, which workerd runs; --kernels simd: build/kernels.wasm) as kernels.wasm, build/xz.wasm,
// the model packed (.frq) as model.bin, and config.capnp. Default model: unet_fr.tar.xz from $FREQREG_DATA (else
// fixtures/upstream/). The model is loaded once here, so a file the worker could not read fails
// the build, not the first request. Needs `npm run build` first (build/*.wasm, for the kernels).
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const ENGINES = ['auto', 'spectral', 'dense', 'reference'];

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    engine: { type: 'string', default: 'auto' },
    kernels: { type: 'string', default: 'fma' },
    out: { type: 'string', default: join(root, 'dist-edge') },
    'activation-mib': { type: 'string', default: '0' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`usage: npm run build:edge -- [--model PATH] [--engine NAME] [--kernels simd|fma] [--out DIR] [--activation-mib N]
  --model PATH   checkpoint to bundle, .tar.xz, .pt or .frq ($FREQREG_DATA/unet_fr.tar.xz, else fixtures/upstream/unet_fr.tar.xz)
  --engine NAME  ${ENGINES.join(', ')} (auto)
  --kernels B    fma (relaxed SIMD: workerd and Cloudflare's runtime run it) or simd, for a runtime without
                 relaxed SIMD; workerd compiles every module at start-up, so the choice is made here (fma)
  --out DIR      output folder, replaced (dist-edge/)
  --activation-mib N  working memory one image may use (0: EDGE_LIMITS', sized for a 128 MiB isolate;
                 the upstream model on a 959×640 photo needs about 73 MiB)`);
  process.exit(0);
}
const die = (msg) => { console.error(`build:edge: ${msg}`); process.exit(1); };
if (!ENGINES.includes(values.engine)) die(`--engine must be one of ${ENGINES.join(', ')}, got "${values.engine}"`);
if (values.kernels !== 'fma' && values.kernels !== 'simd') die(`--kernels must be fma or simd, got "${values.kernels}"`);
const kernelsFile = values.kernels === 'fma' ? 'kernels-fma.wasm' : 'kernels.wasm';
const activationMib = Number(values['activation-mib']);
if (!(activationMib >= 0 && activationMib <= 2048)) die(`--activation-mib must be 0 to 2048, got "${values['activation-mib']}"`);
const dataDir = process.env.FREQREG_DATA ? resolve(process.env.FREQREG_DATA) : join(root, 'fixtures', 'upstream');
const model = resolve(values.model ?? join(dataDir, 'unet_fr.tar.xz'));
if (!existsSync(model)) die(`${model} not found; set FREQREG_DATA or pass --model PATH`);
for (const f of [kernelsFile, 'xz.wasm']) if (!existsSync(join(root, 'build', f))) die(`build/${f} is missing: run npm run build first`);

// Load the model with the limits the worker uses and bundle it packed (.frq: the upstream model
// is 1,583 bytes instead of 4,524), so the worker never needs to decompress xz.
const distIndex = join(root, 'dist', 'index.js');
if (!existsSync(distIndex)) die('dist/ is missing: run npm run build first');
let packed;
{
  const { readCheckpoint } = await import(join(root, 'dist', 'loader.js'));
  const { writePacked } = await import(join(root, 'dist', 'formats', 'packed.js'));
  const { loadModel, EDGE_LIMITS } = await import(distIndex);
  try {
    const xz = new WebAssembly.Module(readFileSync(join(root, 'build', 'xz.wasm')));
    const bytes = new Uint8Array(readFileSync(model));
    loadModel(bytes, { xz, limits: EDGE_LIMITS });
    packed = writePacked(readCheckpoint(bytes, { xz, limits: EDGE_LIMITS }));
  } catch (e) {
    die(`${model}: ${e.message}`);
  }
}

const out = resolve(values.out);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, 'worker.ts')],
  outfile: join(out, 'worker.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  conditions: ['workerd', 'worker', 'browser'],
  target: 'es2022',
  external: ['./kernels.wasm', './xz.wasm', './model.bin'],
  define: {
    __FREQREG_ENGINE__: JSON.stringify(values.engine),
    __FREQREG_MODEL_NAME__: JSON.stringify(basename(model)),
    __FREQREG_ACTIVATION_BYTES__: String(Math.round(activationMib * 2 ** 20)),
  },
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(join(root, 'build', kernelsFile), join(out, 'kernels.wasm'));
copyFileSync(join(root, 'build', 'xz.wasm'), join(out, 'xz.wasm'));
writeFileSync(join(out, 'model.bin'), packed);
copyFileSync(join(here, 'config.capnp'), join(out, 'config.capnp'));
console.log(`${out}: worker.js + ${basename(model)} packed to ${packed.length} bytes (engine ${values.engine}, ${kernelsFile}); run: node_modules/.bin/workerd serve ${join(out, 'config.capnp')}`);
