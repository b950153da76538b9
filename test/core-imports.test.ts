/**
 * The core imports no Node built-in. Two proofs:
 * 1. esbuild bundles src/index.ts (platform neutral), src/browser.ts, src/browser/kernel-worker.ts
 *    and the edge worker (platform browser) with a plugin that turns every `node:*` import and
 *    every bare Node built-in name (module.builtinModules) into a build error. As a control, the
 *    same plugin must reject src/node/index.ts.
 * 2. The neutral bundle runs in a fresh V8 context (node:vm) that has no `process`, `require`,
 *    `Buffer` or `import`: it loads the sample model, segments the sample image and equals Node,
 *    and decodes a progressive JPEG (jpeg-js, with typed arrays only) to Node's pixels.
 */
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { createContext, runInContext } from 'node:vm';
import { build, type Plugin } from 'esbuild';
import { PACKAGE_ROOT } from './helpers.js';
import { maskDiff, nodeClasses } from './support/runtimes.js';
import { decodeImage } from '../src/node/png.js';

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** Fails the build on any import of a Node built-in, naming the importer. */
const noNodeBuiltins: Plugin = {
  name: 'no-node-builtins',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      const bare = args.path.split('/')[0];
      if (args.path.startsWith('node:') || BUILTINS.has(args.path) || BUILTINS.has(bare)) {
        return { errors: [{ text: `Node built-in "${args.path}" imported by ${args.importer.replace(PACKAGE_ROOT + '/', '')}` }] };
      }
      return undefined;
    });
  },
};

async function bundle(entry: string, platform: 'neutral' | 'browser', format: 'esm' | 'iife' = 'esm', external: string[] = []) {
  try {
    const r = await build({
      entryPoints: [join(PACKAGE_ROOT, entry)], bundle: true, write: false, platform, format, logLevel: 'silent',
      // neutral has no default main fields or conditions; take what a browser or worker bundler takes
      mainFields: ['module', 'main'], conditions: platform === 'neutral' ? ['import'] : ['workerd', 'worker', 'browser'],
      globalName: format === 'iife' ? 'freqreg' : undefined, external, plugins: [noNodeBuiltins],
    });
    return { code: r.outputFiles[0].text, errors: [] as string[] };
  } catch (e) {
    return { code: '', errors: ((e as { errors?: { text: string }[] }).errors ?? [{ text: String(e) }]).map((x) => x.text) };
  }
}

t.test('bundles with Node built-ins forbidden', async (t) => {
  const entries: [string, 'neutral' | 'browser', string[]][] = [
    ['src/index.ts', 'neutral', []],
    ['src/browser.ts', 'browser', []],
    ['src/browser/kernel-worker.ts', 'browser', []],
    ['web/engine-worker.ts', 'browser', []],
    ['examples/edge-worker/worker.ts', 'browser', ['./kernels.wasm', './xz.wasm', './model.bin']],
  ];
  for (const [entry, platform, external] of entries) {
    const r = await bundle(entry, platform, 'esm', external);
    t.same(r.errors, [], `${entry} (${platform}): no Node built-in`);
  }
  const control = await bundle('src/node/index.ts', 'neutral');
  t.ok(control.errors.some((e) => /Node built-in "node:/.test(e)), `control: src/node/index.ts is refused (${control.errors[0]})`);
});

t.test('the core runs in a context without process, require or Buffer', async (t) => {
  const { code, errors } = await bundle('src/index.ts', 'neutral', 'iife');
  t.same(errors, [], 'bundled');
  // The context has its own ECMAScript intrinsics and WebAssembly; add only web APIs every runtime has.
  const context = createContext({ TextDecoder, TextEncoder, performance, console });
  runInContext(code, context);
  t.same(runInContext('[typeof process, typeof require, typeof Buffer, typeof freqreg.createSegmenter]', context), ['undefined', 'undefined', 'undefined', 'function'],
    'no process, require or Buffer; the bundle defines freqreg');
  const sample = join(PACKAGE_ROOT, 'fixtures/sample');
  // Typed arrays made in the context's realm, so the core's `instanceof Uint8Array` holds there.
  const bytes = (b: Uint8Array) => { const u8 = runInContext('(n) => new Uint8Array(n)', context)(b.length) as Uint8Array; u8.set(b); return u8; };
  context.inputs = {
    model: bytes(readFileSync(join(sample, 'sample-model.pt'))),
    kernels: bytes(readFileSync(join(PACKAGE_ROOT, 'build/kernels.wasm'))),
    png: bytes(readFileSync(join(sample, 'sample-image.png'))),
    jpeg: bytes(readFileSync(join(PACKAGE_ROOT, 'test/fixtures/jpeg/progressive.jpg'))),
  };
  // JPEG through jpeg-js with no Buffer in sight: the pixels Node decodes.
  const jpeg = runInContext('(() => { const d = freqreg.decodeImage(inputs.jpeg); return { data: Array.from(d.data), width: d.width, height: d.height, channels: d.channels }; })()', context) as { data: number[]; width: number; height: number; channels: number };
  const nodeJpeg = decodeImage(readFileSync(join(PACKAGE_ROOT, 'test/fixtures/jpeg/progressive.jpg')));
  t.same(jpeg, { data: Array.from(nodeJpeg.data), width: nodeJpeg.width, height: nodeJpeg.height, channels: nodeJpeg.channels }, `a progressive JPEG decodes without Buffer (${jpeg.width}×${jpeg.height}), as in Node`);
  const result = await runInContext(`(async () => {
    const seg = await freqreg.createSegmenter({ model: inputs.model, kernels: new WebAssembly.Module(inputs.kernels), engine: 'dense' });
    const r = await seg.segment(freqreg.decodePng(inputs.png));
    await seg.dispose();
    return { classes: Array.from(r.classes), width: r.width, height: r.height };
  })()`, context) as { classes: number[]; width: number; height: number };
  const want = await nodeClasses(join(sample, 'sample-model.pt'), join(sample, 'sample-image.png'), 'dense', 1);
  const d = maskDiff(result.classes, want.classes, want.width);
  t.equal(d.count, 0, `mask (${result.width}×${result.height}) equals Node's ${d.first}`);
});

t.test('package.json exports: "freqreg" picks the entry per runtime', async (t) => {
  if (!existsSync(join(PACKAGE_ROOT, 'dist/index.js'))) {
    t.fail('dist/ is not built: npm run build');
    return;
  }
  const entryFor = async (conditions: string[], platform: 'browser' | 'node' | 'neutral') => {
    const r = await build({
      stdin: { contents: "export * from 'freqreg';", resolveDir: PACKAGE_ROOT }, bundle: true, write: false, metafile: true,
      platform, conditions, format: 'esm', logLevel: 'silent', external: platform === 'node' ? ['node:*', 'fflate'] : ['fflate'],
      mainFields: ['module', 'main'],
    });
    // The entries bundled (an entry re-exports the core, so the core is always among them).
    return Object.keys(r.metafile!.inputs).filter((f) => /^dist\/(node\/index|browser|index)\.js$/.test(f)).sort();
  };
  t.same(await entryFor(['workerd', 'worker', 'browser'], 'browser'), ['dist/index.js'], 'workerd → the core');
  t.same(await entryFor([], 'browser'), ['dist/browser.js', 'dist/index.js'], 'browser → the core + Web Worker threads');
  t.same(await entryFor([], 'node'), ['dist/index.js', 'dist/node/index.js'], 'node → the core + files and worker threads');
  t.same(await entryFor([], 'neutral'), ['dist/index.js'], 'anything else → the core');
  const self = await import('freqreg' as string) as Record<string, unknown>;
  t.equal(typeof self.createNodeSegmenter, 'function', 'Node itself resolves "freqreg" to the Node entry');
});
