/**
 * The web page in a real browser: Debian's /usr/bin/chromium, headless, driven by playwright-core
 * (nothing is downloaded or installed here; .ci/run installs chromium). Builds the page into a
 * temporary folder, serves it with scripts/serve-web.mjs, and checks, pixel for pixel against
 * the Node result with the same engine and thread count:
 * - the built-in sample on first open, cross-origin isolated (threads);
 * - a PyTorch fixture model (.tar.xz) and image opened through the file pickers;
 * - a JPEG with EXIF orientation 6: decoded in the worker as Node decodes it, shown turned by the
 *   browser at the mask's size;
 * - the upstream model and in0000.png dropped on the page together;
 * - the one-thread path when the server sends no COOP/COEP;
 * - a refused model file shows its error code.
 * Engine: FREQREG_TEST_ENGINE (default auto).
 */
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { chromium, type Browser, type Page } from 'playwright-core';
import { fixturesDir, PACKAGE_ROOT, upstreamDir } from './helpers.js';
import { maskDiff, nodeClasses, startProcess, testEngine, type Started } from './support/runtimes.js';
import { encodeJpeg, withOrientation } from './support/jpeg-builder.js';
import { decodeImage, decodePng } from '../src/node/png.js';

const CHROMIUM = '/usr/bin/chromium';
/** toolchain.md §6: flags for a headless Chromium in a container with no network use. */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const RESULT_TIMEOUT_MS = 20000;
/** Chromium's JPEG decoder (libjpeg-turbo, fancy upsampling) and jpeg-js differ by a few levels on average; a wrong turn costs tens. */
const TOL_BROWSER_JPEG_MEAN = 4;
const engine = testEngine();
/** The upstream model runs spectrally (auto, spectral); dense expands 31 M weights: past the edge budget, and tens of seconds here. */
const SKIP_UPSTREAM = engine === 'dense' || engine === 'reference' ? `the upstream model with the ${engine} engine is too slow or too large here` : false;

/** What web/main.ts keeps on `window.__freqreg` (the parts read here). */
interface PageState {
  state: string;
  runs: number;
  error?: { code: string; message: string };
  info?: { name: string };
  result?: { classes: Uint8Array; width: number; height: number; ms: number; engine: string; form: string; threads: number; model: string; image: string };
}
declare global {
  interface Window { __freqreg: PageState }
}

interface PageResult {
  state: string;
  runs: number;
  error?: { code: string; message: string };
  isolated: boolean;
  cores: number;
  result?: { classes: number[]; width: number; height: number; ms: number; engine: string; form: string; threads: number; model: string; image: string };
}

/** The mask overlay's pixels (RGBA) as drawn on the page. */
function readOverlay(page: Page): Promise<{ width: number; height: number; rgba: number[] }> {
  return page.evaluate(() => {
    const c = document.getElementById('mask') as HTMLCanvasElement;
    const rgba = c.width && c.height ? Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data) : [];
    return { width: c.width, height: c.height, rgba };
  });
}

/** The page's state, with the last result's classes as a plain array. */
function readPage(page: Page): Promise<PageResult> {
  return page.evaluate(() => {
    const s = window.__freqreg;
    return {
      state: s.state, runs: s.runs, error: s.error, isolated: crossOriginIsolated, cores: navigator.hardwareConcurrency,
      result: s.result && { ...s.result, classes: Array.from(s.result.classes) },
    };
  });
}

/** Waits until the page has produced `runs` results, or shows an error. */
async function waitRuns(page: Page, runs: number): Promise<PageResult> {
  await page.waitForFunction((n) => window.__freqreg?.runs >= n || window.__freqreg?.state === 'error', runs, { timeout: RESULT_TIMEOUT_MS });
  return readPage(page);
}

if (!existsSync(CHROMIUM)) {
  const reason = `${CHROMIUM} not found: apt-get install -y chromium (.ci/run does)`;
  if (process.env.CI === 'true') t.fail(reason);
  else t.test(reason, { skip: reason }, () => {});
} else {
  const out = mkdtempSync(join(tmpdir(), 'freqreg-web-'));
  const servers: Started[] = [];
  let browser: Browser | undefined;
  t.teardown(async () => {
    await browser?.close();
    for (const s of servers) await s.stop();
    rmSync(out, { recursive: true, force: true });
  });

  const serve = async (extra: string[] = []) => {
    const s = await startProcess(process.execPath, [join(PACKAGE_ROOT, 'scripts/serve-web.mjs'), '--port', '0', '--dir', out, ...extra], /serving (http:\/\/127\.0\.0\.1:\d+\/)/);
    servers.push(s);
    return s.match[1];
  };

  t.before(async () => {
    execFileSync(process.execPath, [join(PACKAGE_ROOT, 'scripts/build-web.mjs'), '--out', out], { stdio: 'pipe' });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });

  t.test(`sample on first open, isolated (engine ${engine})`, async (t) => {
    const url = await serve();
    const page = await browser!.newPage();
    await page.goto(`${url}index.html?engine=${engine}`);
    const r = await waitRuns(page, 1);
    t.notOk(r.error, `no error: ${r.error?.message ?? ''}`);
    t.ok(r.isolated, 'the page is cross-origin isolated (COOP/COEP)');
    const res = r.result!;
    t.equal(res.threads, Math.min(r.cores, 8), `threads = the browser's cores (${r.cores})`);
    t.equal(res.engine, engine);
    const sample = join(PACKAGE_ROOT, 'fixtures/sample');
    const want = await nodeClasses(join(sample, 'sample-model.pt'), join(sample, 'sample-image.png'), engine, res.threads);
    t.same([res.width, res.height], [want.width, want.height], 'size');
    const d = maskDiff(res.classes, want.classes, want.width);
    t.equal(d.count, 0, `mask equals Node's pixel for pixel (threads=${res.threads}) ${d.first}`);
    t.ok(res.classes.includes(0) && res.classes.includes(1), 'the mask has both classes');
    t.ok(res.form === 'spectral' || res.form === 'dense', `the form that ran: ${res.form}`);
    if (engine !== 'auto') t.equal(res.form, engine, 'the form is the engine asked for');
    const shown = await page.textContent('#stats');
    const label = engine === 'auto' ? `${res.form} \\(auto\\)` : res.form;
    t.match(shown, new RegExp(`engine ${label} · ${res.threads} threads? · [0-9.]+ ms`), `the page shows the form that ran, threads and time: ${shown}`);
    // The overlay: every foreground pixel tinted in a colour that is not red (a red car hides red),
    // the region outlined with opaque pixels.
    const overlay = await readOverlay(page);
    t.same([overlay.width, overlay.height], [res.width, res.height], 'overlay size');
    let hidden = 0, reddish = 0, opaque = 0;
    for (let p = 0; p < res.classes.length; p++) {
      const [r, g, b, a] = overlay.rgba.slice(p * 4, p * 4 + 4);
      if (a === 255) opaque++;
      if (res.classes[p] === 0) continue;
      if (a === 0) hidden++;
      if (r > 2 * Math.max(g, b)) reddish++;
    }
    t.equal(hidden, 0, 'every foreground pixel is drawn');
    t.equal(reddish, 0, 'no foreground pixel is drawn red');
    t.ok(opaque > 0, `the region is outlined (${opaque} opaque pixels)`);
    await page.close();
  });

  t.test(`fixture model and image through the file pickers (engine ${engine})`, async (t) => {
    const dir = fixturesDir(t);
    if (!dir) return;
    const url = await serve();
    const page = await browser!.newPage();
    await page.goto(`${url}index.html?engine=${engine}&sample=0`);
    const model = join(dir, 'tiny-3class.tar.xz'), image = join(dir, 'tiny-3class-input.png');
    await page.setInputFiles('#model-file', model);
    await page.waitForFunction(() => window.__freqreg.info?.name === 'tiny-3class.tar.xz' || window.__freqreg.state === 'error', null, { timeout: RESULT_TIMEOUT_MS });
    await page.setInputFiles('#image-file', image);
    const r = await waitRuns(page, 1);
    t.notOk(r.error, `no error: ${r.error?.message ?? ''}`);
    const res = r.result!;
    t.same([res.model, res.image], ['tiny-3class.tar.xz', 'tiny-3class-input.png']);
    const want = await nodeClasses(model, image, engine, res.threads);
    const d = maskDiff(res.classes, want.classes, want.width);
    t.equal(d.count, 0, `3-class mask (${want.width}×${want.height}) equals Node's pixel for pixel (threads=${res.threads}) ${d.first}`);

    // A PNG given as the model: refused with its code, and the page says so.
    await page.setInputFiles('#model-file', image);
    await page.waitForFunction(() => window.__freqreg.state === 'error', null, { timeout: RESULT_TIMEOUT_MS });
    const bad = await readPage(page);
    t.equal(bad.error?.code, 'UNKNOWN_FORMAT', 'a PNG as model: UNKNOWN_FORMAT');
    const status = await page.textContent('#status');
    t.match(status, /UNKNOWN_FORMAT/, 'the status line shows the code');
    t.match(status, /still using tiny-3class\.tar\.xz/, 'and says the last good model is still loaded');
    t.notOk(bad.result, 'the earlier result is gone');
    t.equal(await page.textContent('#stats'), '', 'no stats of the earlier run under the error');
    t.notOk((await readOverlay(page)).rgba.some((v) => v !== 0), 'no mask of the earlier run under the error');

    // A photo picked after the error runs with the good model.
    const other = join(dir, 'tiny-sparse-input.png');
    await page.setInputFiles('#image-file', other);
    await page.waitForFunction(() => window.__freqreg.state !== 'error', null, { timeout: RESULT_TIMEOUT_MS });
    const again = await waitRuns(page, 2);
    t.notOk(again.error, `no error: ${again.error?.message ?? ''}`);
    t.same([again.result?.model, again.result?.image], ['tiny-3class.tar.xz', 'tiny-sparse-input.png'], 'the photo ran with the last good model');
    const want2 = await nodeClasses(model, other, engine, again.result!.threads);
    const d2 = maskDiff(again.result!.classes, want2.classes, want2.width);
    t.equal(d2.count, 0, `its mask equals Node's pixel for pixel ${d2.first}`);
    await page.close();
  });

  t.test(`a JPEG with an EXIF orientation through the file picker (engine ${engine})`, async (t) => {
    const dir = fixturesDir(t);
    if (!dir) return;
    const url = await serve();
    const page = await browser!.newPage();
    await page.goto(`${url}index.html?engine=${engine}&sample=0`);
    const model = join(dir, 'tiny-sparse.tar.xz');
    const photo = decodePng(readFileSync(join(dir, 'tiny-sparse-input.png')));
    const image = join(out, '..', `${basename(out)}-turned.jpg`);
    writeFileSync(image, withOrientation(encodeJpeg(photo, 95), 6)); // shown turned 90° clockwise
    t.teardown(() => rmSync(image, { force: true }));
    await page.setInputFiles('#model-file', model);
    await page.waitForFunction(() => window.__freqreg.info?.name === 'tiny-sparse.tar.xz' || window.__freqreg.state === 'error', null, { timeout: RESULT_TIMEOUT_MS });
    await page.setInputFiles('#image-file', image);
    const r = await waitRuns(page, 1);
    t.notOk(r.error, `no error: ${r.error?.message ?? ''}`);
    const res = r.result!;
    const want = await nodeClasses(model, image, engine, res.threads);
    t.same([res.width, res.height], [photo.height, photo.width], `${photo.height}×${photo.width}: turned as EXIF says`);
    const d = maskDiff(res.classes, want.classes, want.width);
    t.equal(d.count, 0, `JPEG mask equals Node's pixel for pixel (threads=${res.threads}) ${d.first}`);
    const shown = await page.evaluate(() => { const c = document.getElementById('photo') as HTMLCanvasElement; return [c.width, c.height]; });
    t.same(shown, [res.width, res.height], 'the browser shows the photo at the mask\'s size');
    // And turned the same way: Chromium's own JPEG decode is within a few levels of freqreg's (chroma
    // upsampling differs), where the other quarter turn would be off by tens.
    const rgba = await page.evaluate(() => { const c = document.getElementById('photo') as HTMLCanvasElement; return Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data); });
    const ours = decodeImage(readFileSync(image));
    let sum = 0;
    for (let p = 0; p < ours.width * ours.height; p++) for (let k = 0; k < 3; k++) sum += Math.abs(rgba[4 * p + k] - ours.data[3 * p + k]);
    const mean = sum / (ours.width * ours.height * 3);
    t.ok(mean < TOL_BROWSER_JPEG_MEAN, `the photo as the browser shows it: mean difference ${mean.toFixed(2)} from freqreg's decode, so the mask lies over it`);
    await page.close();
  });

  t.test(`upstream model and photo dropped on the page (engine ${engine})`, { skip: SKIP_UPSTREAM }, async (t) => {
    const data = upstreamDir(t);
    if (!data) return;
    const url = await serve();
    const page = await browser!.newPage();
    await page.goto(`${url}index.html?engine=${engine}&sample=0`);
    const model = join(data, 'unet_fr.tar.xz'), image = join(data, 'testimgs/input/in0000.png');
    // A drop of both files at once, as a user dragging them from a file manager.
    const files = [model, image].map((f) => ({ name: basename(f), b64: readFileSync(f).toString('base64'), type: f.endsWith('.png') ? 'image/png' : '' }));
    const dataTransfer = await page.evaluateHandle((list) => {
      const dt = new DataTransfer();
      for (const f of list) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, { type: f.type }));
      return dt;
    }, files);
    await page.dispatchEvent('body', 'drop', { dataTransfer });
    const r = await waitRuns(page, 1);
    t.notOk(r.error, `no error: ${r.error?.message ?? ''}`);
    const res = r.result!;
    t.same([res.model, res.image, res.width, res.height], ['unet_fr.tar.xz', 'in0000.png', 959, 640]);
    const want = await nodeClasses(model, image, engine, res.threads);
    const d = maskDiff(res.classes, want.classes, want.width);
    t.equal(d.count, 0, `959×640 mask equals Node's pixel for pixel (threads=${res.threads}, ${res.ms.toFixed(0)} ms in the page) ${d.first}`);
    await page.close();
  });

  t.test(`one thread without cross-origin isolation (engine ${engine})`, async (t) => {
    const url = await serve(['--no-isolation']);
    const page = await browser!.newPage();
    await page.goto(`${url}index.html?engine=${engine}`);
    const r = await waitRuns(page, 1);
    t.notOk(r.error, `no error: ${r.error?.message ?? ''}`);
    t.notOk(r.isolated, 'not cross-origin isolated');
    t.equal(r.result!.threads, 1, 'one thread');
    const sample = join(PACKAGE_ROOT, 'fixtures/sample');
    const want = await nodeClasses(join(sample, 'sample-model.pt'), join(sample, 'sample-image.png'), engine, 1);
    const d = maskDiff(r.result!.classes, want.classes, want.width);
    t.equal(d.count, 0, `mask equals Node's (threads=1) ${d.first}`);
    await page.close();
  });
}
