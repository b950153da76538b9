/**
 * The example apps (examples/esbuild-app, examples/vite-app) as a user builds them: `npm pack`
 * makes the package, each app gets it in its own node_modules/freqreg (nothing else of the
 * repository), its bundler builds it, scripts/serve-web.mjs serves it with COOP/COEP, and Debian's
 * Chromium (through playwright-core) opens the upstream model and in0000.png with the file pickers.
 * Each mask must equal Node's pixel for pixel, computed on as many threads as the page used — and
 * the page must have used threads (inside its dedicated Worker).
 *
 * Then createBrowserSegmenter on a page's main thread, asked for 2 threads: it runs on one and says
 * that threads need a Worker (never a failed Atomics.wait), and its mask equals Node's.
 */
import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PACKAGE_ROOT, upstreamDir } from './helpers.js';
import { maskDiff, nodeClasses, startProcess, type Started } from './support/runtimes.js';
import { installPackage, packPackage } from './support/package.js';

const CHROMIUM = '/usr/bin/chromium';
/** toolchain.md §6: flags for a headless Chromium in a container with no network use. */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const RESULT_TIMEOUT_MS = 60000;

/** What the example pages keep on `window.exampleResult` (examples/*-app/protocol.ts). */
type Reply =
  | { type: 'model'; engine: string; threads: number }
  | { type: 'mask'; classes: number[]; width: number; height: number; ms: number; engine: string; threads: number }
  | { type: 'error'; message: string };
declare global {
  interface Window { exampleResult?: Reply & { classes?: Uint8Array } }
}

/** Waits until the page's last reply has the wanted type (or is an error), and returns it with plain-array classes. */
async function reply(page: Page, type: Reply['type']): Promise<Reply> {
  await page.waitForFunction((want) => window.exampleResult?.type === want || window.exampleResult?.type === 'error', type, { timeout: RESULT_TIMEOUT_MS });
  return page.evaluate(() => {
    const r = window.exampleResult!;
    window.exampleResult = undefined;
    return (r.type === 'mask' ? { ...r, classes: Array.from(r.classes!) } : r) as Reply;
  });
}

/** An app folder as a user has it after `npm install`: the example's files, freqreg from the packed tarball, the bundler. */
function installApp(root: string, example: string, tarball: string, bundler: string): string {
  return installPackage(join(root, example), tarball, [bundler], join(PACKAGE_ROOT, 'examples', example));
}

if (!existsSync(CHROMIUM)) {
  const reason = `${CHROMIUM} not found: apt-get install -y chromium (.ci/run does)`;
  if (process.env.CI === 'true') t.fail(reason);
  else t.test(reason, { skip: reason }, () => {});
} else {
  const root = mkdtempSync(join(tmpdir(), 'freqreg-examples-'));
  const servers: Started[] = [];
  let browser: Browser | undefined;
  let tarball = '';
  t.teardown(async () => {
    await browser?.close();
    for (const s of servers) await s.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const serve = async (dir: string) => {
    const s = await startProcess(process.execPath, [join(PACKAGE_ROOT, 'scripts/serve-web.mjs'), '--port', '0', '--dir', dir], /serving (http:\/\/127\.0\.0\.1:\d+\/)/);
    servers.push(s);
    return s.match[1];
  };

  t.before(async () => {
    // The build (pretest) made dist/ and build/; pack what a fresh clone's `npm pack` would.
    tarball = packPackage(root);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });

  const apps: { example: string; bundler: string; build: (app: string) => void }[] = [
    { example: 'esbuild-app', bundler: 'esbuild', build: (app) => execFileSync(process.execPath, ['build.mjs'], { cwd: app, stdio: 'pipe' }) },
    { example: 'vite-app', bundler: 'vite', build: (app) => execFileSync(process.execPath, [join(app, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], { cwd: app, stdio: 'pipe' }) },
  ];
  for (const { example, bundler, build: buildApp } of apps) {
    t.test(`examples/${example}: built with ${bundler}, the upstream model segments in0000.png as Node does`, async (t) => {
      const data = upstreamDir(t);
      if (!data) return;
      const app = installApp(root, example, tarball, bundler);
      // Type-checked as a user's editor sees it: the package's own types, the .wasm imports included.
      try {
        execFileSync(process.execPath, [join(PACKAGE_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: app, stdio: 'pipe' });
        t.pass('the app type-checks against the packed package (tsc)');
      } catch (e) {
        t.fail(`tsc: ${(e as { stdout?: Buffer }).stdout?.toString() ?? e}`);
      }
      buildApp(app);
      const dist = join(app, 'dist');
      t.ok(readdirSync(dist, { recursive: true }).filter((f) => String(f).endsWith('.wasm')).length === 3, 'the three .wasm files are shipped');
      const url = await serve(dist);
      const page = await browser!.newPage();
      const logs: string[] = [];
      page.on('console', (m) => logs.push(m.text()));
      await page.goto(`${url}index.html`);
      const model = join(data, 'unet_fr.tar.xz'), image = join(data, 'testimgs/input/in0000.png');
      await page.setInputFiles('#model', model);
      const loaded = await reply(page, 'model');
      t.equal(loaded.type, 'model', `the model loads: ${loaded.type === 'error' ? loaded.message : ''}`);
      await page.setInputFiles('#photo', image);
      const r = await reply(page, 'mask');
      if (r.type !== 'mask') {
        t.fail(`no mask: ${r.type === 'error' ? r.message : r.type}; console: ${logs.join(' | ')}`);
        return;
      }
      const cores = await page.evaluate(() => navigator.hardwareConcurrency);
      t.equal(r.threads, Math.min(cores, 8), `threads inside the Worker = the browser's cores (${cores})`);
      if (cores > 1) t.ok(r.threads > 1, 'more than one thread');
      t.equal(r.engine, 'auto', 'engine auto');
      const want = await nodeClasses(model, image, 'auto', r.threads);
      t.same([r.width, r.height], [want.width, want.height], 'size 959×640');
      const d = maskDiff(r.classes, want.classes, want.width);
      t.equal(d.count, 0, `mask equals Node's pixel for pixel (threads=${r.threads}, ${r.ms.toFixed(0)} ms in the page) ${d.first}`);
      t.notOk(logs.some((m) => /INTERNAL|Atomics/.test(m)), `no INTERNAL or Atomics failure on the console: ${logs.join(' | ')}`);
      await page.close();
    });
  }

  t.test('createBrowserSegmenter on a page\'s main thread: one thread, says threads need a Worker', async (t) => {
    // A page of the esbuild app's kind whose script segments on the main thread, cross-origin isolated.
    const app = installApp(join(root, 'main-thread'), 'esbuild-app', tarball, 'esbuild');
    writeFileSync(join(app, 'main-thread.ts'), `
      import { createBrowserSegmenter, decodePng } from 'freqreg/browser';
      import kernels from 'freqreg/kernels.wasm';
      import kernelsMt from 'freqreg/kernels-mt.wasm';
      (window as any).segmentHere = async (model: number[], png: number[]) => {
        const seg = await createBrowserSegmenter({
          model: Uint8Array.from(model), kernels, kernelsMt, threads: 2,
          spawnWorker: () => new Worker(new URL('./kernel-worker.js', import.meta.url), { type: 'module' }),
        });
        try {
          const r = await seg.segment(decodePng(Uint8Array.from(png)));
          return { threads: seg.threads, note: seg.threadsNote, classes: Array.from(r.classes), isolated: crossOriginIsolated };
        } finally { await seg.dispose(); }
      };
      document.title = 'ready';
    `);
    const dist = join(app, 'dist');
    await build({
      absWorkingDir: app, entryPoints: { 'main-thread': './main-thread.ts', 'kernel-worker': 'freqreg/kernel-worker.js' }, outdir: dist,
      bundle: true, format: 'esm', platform: 'browser', target: 'es2022', loader: { '.wasm': 'file' }, logLevel: 'silent',
    });
    writeFileSync(join(dist, 'index.html'), '<!doctype html><meta charset="utf-8"><script type="module" src="./main-thread.js"></script>');
    const url = await serve(dist);
    const page = await browser!.newPage();
    const logs: string[] = [];
    page.on('console', (m) => logs.push(m.text()));
    await page.goto(`${url}index.html`);
    await page.waitForFunction(() => document.title === 'ready');
    const sample = join(PACKAGE_ROOT, 'fixtures/sample');
    const r = await page.evaluate(([m, p]) => (window as unknown as { segmentHere: (m: number[], p: number[]) => Promise<{ threads: number; note?: string; classes: number[]; isolated: boolean }> }).segmentHere(m, p),
      [Array.from(readFileSync(join(sample, 'sample-model.pt'))), Array.from(readFileSync(join(sample, 'sample-image.png')))]);
    t.ok(r.isolated, 'the page is cross-origin isolated (so only the main thread stands in the way)');
    t.equal(r.threads, 1, 'runs on one thread');
    t.match(r.note, /dedicated Worker/, `says threads need a Worker: ${r.note}`);
    t.ok(logs.some((m) => /one thread: threads need a dedicated Worker/.test(m)), 'and warns on the console');
    const want = await nodeClasses(join(sample, 'sample-model.pt'), join(sample, 'sample-image.png'), 'auto', 1);
    const d = maskDiff(r.classes, want.classes, want.width);
    t.equal(d.count, 0, `mask equals Node's ${d.first}`);
    await page.close();
  });
}
