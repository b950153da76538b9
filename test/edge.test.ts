/**
 * The edge worker in workerd: builds examples/edge-worker with a PyTorch fixture model bundled,
 * starts node_modules/.bin/workerd on a free 127.0.0.1 port, posts every fixture image and
 * checks each mask pixel for pixel against Node's (same model, same engine, one thread: workerd
 * has none), the same for a JPEG with an EXIF orientation, then posts bad bodies and checks the 4xx statuses and JSON errors (never a stack),
 * and stops workerd. Then the default build (the upstream model from FREQREG_DATA, packed): in0000.png
 * is segmented as Node segments it, and the same photo at 1918×1280 is refused (413, past the edge
 * memory budget). Last, a worker that passes the kernels as bytes: workerd forbids compiling them,
 * and the refusal says to pass the compiled module.
 * Engine: FREQREG_TEST_ENGINE (default auto).
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { decodePng, encodePng, maskToGrey } from '../src/node/index.js';
import { crc32 } from '../src/image/png.js';
import { fixturesDir, PACKAGE_ROOT, readFixtures, upstreamDir } from './helpers.js';
import { encodeJpeg, segment, sofBody, withOrientation } from './support/jpeg-builder.js';
import { concat } from './support/writers.js';
import { freePort, maskDiff, nodeClasses, spawnProcess, testEngine, waitForHttp, type Started } from './support/runtimes.js';

const WORKERD = join(PACKAGE_ROOT, 'node_modules/.bin/workerd');
const engine = testEngine();
/** The upstream model runs spectrally (auto, spectral); dense expands 31 M weights: past the edge budget, and tens of seconds here. */
const SKIP_UPSTREAM = engine === 'dense' || engine === 'reference' ? `the upstream model with the ${engine} engine is too slow or too large here` : false;

t.test(`edge worker in workerd (engine ${engine})`, async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  const out = mkdtempSync(join(tmpdir(), 'freqreg-edge-'));
  let server: Started | undefined;
  t.teardown(async () => {
    await server?.stop();
    rmSync(out, { recursive: true, force: true });
  });
  const model = join(dir, 'tiny-sparse.tar.xz');
  execFileSync(process.execPath, [join(PACKAGE_ROOT, 'examples/edge-worker/build.mjs'), '--model', model, '--engine', engine, '--out', out], { stdio: 'pipe' });

  const port = await freePort();
  // The binary itself, not npx: the PID stopped is the server's (toolchain.md §7).
  server = spawnProcess(WORKERD, ['serve', join(out, 'config.capnp'), '--socket-addr', `http=127.0.0.1:${port}`]);
  const base = `http://127.0.0.1:${port}`;
  const info = await (await waitForHttp(`${base}/`, server)).json() as { model: string; engine: string };
  t.same([info.model, info.engine], ['tiny-sparse.tar.xz', engine], 'GET / names the bundled model and the engine');

  await t.test('fixture images: masks equal Node\'s', async (t) => {
    for (const f of readFixtures(dir)) {
      const image = join(dir, f.input);
      const res = await fetch(`${base}/segment`, { method: 'POST', body: readFileSync(image) });
      t.equal(res.status, 200, `${f.input}: 200`);
      t.equal(res.headers.get('content-type'), 'image/png', `${f.input}: image/png`);
      t.match(res.headers.get('x-freqreg-form'), /^(spectral|dense)$/, `${f.input}: the form the engine runs in`);
      const got = decodePng(new Uint8Array(await res.arrayBuffer()));
      const want = await nodeClasses(model, image, engine, 1);
      t.same([got.width, got.height, got.channels], [want.width, want.height, 1], `${f.input}: ${want.width}×${want.height} grey`);
      const d = maskDiff(got.data, maskToGrey(want.classes, want.classCount), want.width);
      t.equal(d.count, 0, `${f.input}: mask equals Node's pixel for pixel ${d.first}`);
    }
  });

  await t.test('a JPEG photo (EXIF-turned): mask equals Node\'s', async (t) => {
    const f = readFixtures(dir)[0];
    const photo = decodePng(readFileSync(join(dir, f.input)));
    const jpg = withOrientation(encodeJpeg(photo, 95), 6);
    const file = join(out, 'photo.jpg');
    writeFileSync(file, jpg);
    const res = await fetch(`${base}/segment`, { method: 'POST', body: new Uint8Array(jpg) });
    t.equal(res.status, 200, 'JPEG: 200');
    const got = decodePng(new Uint8Array(await res.arrayBuffer()));
    const want = await nodeClasses(model, file, engine, 1);
    t.same([got.width, got.height], [photo.height, photo.width], `the mask is ${photo.height}×${photo.width}, turned as the photo is shown`);
    const d = maskDiff(got.data, maskToGrey(want.classes, want.classCount), want.width);
    t.equal(d.count, 0, `JPEG mask equals Node's pixel for pixel ${d.first}`);
  });

  await t.test('bad requests: 4xx with a JSON error, no stack', async (t) => {
    const png = readFileSync(join(dir, 'tiny-sparse-input.png'));
    const badCrc = Uint8Array.from(png);
    badCrc[29] ^= 0xff; // IHDR's CRC (bytes 29–32)
    const hugeHeader = Uint8Array.from(encodePng({ data: new Uint8Array(16 * 16 * 3), width: 16, height: 16, channels: 3 }));
    new DataView(hugeHeader.buffer, hugeHeader.byteOffset).setUint32(16, 60000); // IHDR width 60000…
    new DataView(hugeHeader.buffer, hugeHeader.byteOffset).setUint32(29, crc32(hugeHeader, 12, 29)); // …with its CRC fixed
    const jpg = encodeJpeg(decodePng(png), 90);
    const frame = (w: number, h: number, comps: [number, number, number][]) => concat(Uint8Array.of(0xff, 0xd8), segment(0xc0, sofBody(w, h, comps)), Uint8Array.of(0xff, 0xd9));
    const hugeJpeg = frame(65535, 65535, [[1, 0x22, 0], [2, 0x11, 1], [3, 0x11, 1]]);
    const cmykJpeg = frame(16, 16, [[1, 0x11, 0], [2, 0x11, 0], [3, 0x11, 0], [4, 0x11, 0]]);
    const cases: { name: string; init: RequestInit; path?: string; status: number; code: string }[] = [
      { name: 'empty body', init: { method: 'POST' }, status: 400, code: 'EMPTY_BODY' },
      { name: 'text body', init: { method: 'POST', body: 'not an image' }, status: 415, code: 'IMAGE_FORMAT' },
      { name: 'GIF', init: { method: 'POST', body: 'GIF89a\x01\x00\x01\x00\x00\x00\x00;' }, status: 415, code: 'IMAGE_FORMAT' },
      { name: 'JPEG cut inside its first segment', init: { method: 'POST', body: new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16]) }, status: 400, code: 'IMAGE_TRUNCATED' },
      { name: 'JPEG cut in its scan', init: { method: 'POST', body: new Uint8Array(jpg.subarray(0, jpg.length - 100)) }, status: 400, code: 'IMAGE_TRUNCATED' },
      { name: 'JPEG frame declaring 65535×65535', init: { method: 'POST', body: new Uint8Array(hugeJpeg) }, status: 413, code: 'IMAGE_TOO_LARGE' },
      { name: 'CMYK JPEG', init: { method: 'POST', body: new Uint8Array(cmykJpeg) }, status: 415, code: 'JPEG_UNSUPPORTED' },
      { name: 'truncated PNG', init: { method: 'POST', body: new Uint8Array(png.subarray(0, 100)) }, status: 400, code: 'PNG_STRUCTURE' },
      { name: 'PNG with a bad CRC', init: { method: 'POST', body: badCrc }, status: 400, code: 'PNG_CRC' },
      { name: 'PNG too small for the UNet (8×8)', init: { method: 'POST', body: Uint8Array.from(encodePng({ data: new Uint8Array(8 * 8 * 3), width: 8, height: 8, channels: 3 })) }, status: 422, code: 'INPUT_TOO_SMALL' },
      { name: 'PNG header declaring 60000 wide', init: { method: 'POST', body: hugeHeader }, status: 413, code: 'IMAGE_TOO_LARGE' },
      { name: 'GET /segment', init: { method: 'GET' }, status: 405, code: 'METHOD' },
      { name: 'unknown path', init: { method: 'POST', body: png }, path: '/nope', status: 404, code: 'NOT_FOUND' },
    ];
    for (const c of cases) {
      const res = await fetch(`${base}${c.path ?? '/segment'}`, c.init);
      const text = await res.text();
      t.equal(res.status, c.status, `${c.name}: ${c.status}`);
      t.match(res.headers.get('content-type'), /^application\/json/, `${c.name}: JSON`);
      const body = JSON.parse(text) as { error: { code: string; message: string } };
      t.equal(body.error.code, c.code, `${c.name}: ${c.code}`);
      t.notMatch(text, /\n\s+at |\.js:\d+/, `${c.name}: no stack`);
    }
    // A body declared larger than 16 MiB is refused from its headers, before it is sent (fetch
    // would fail on the early reply while still uploading, so this uses node:http and sends none).
    const early = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${base}/segment`, { method: 'POST', headers: { 'content-length': String(17 * 2 ** 20) } }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => { body += d.toString(); });
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }); req.destroy(); });
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    t.same([early.status, (JSON.parse(early.body) as { error: { code: string } }).error.code], [413, 'FILE_TOO_LARGE'], 'body declared as 17 MiB: 413 FILE_TOO_LARGE');
  });
});

t.test(`edge worker, default build: the upstream model (engine ${engine})`, { skip: SKIP_UPSTREAM }, async (t) => {
  const data = upstreamDir(t);
  if (!data) return;
  const out = mkdtempSync(join(tmpdir(), 'freqreg-edge-'));
  let server: Started | undefined;
  t.teardown(async () => {
    await server?.stop();
    rmSync(out, { recursive: true, force: true });
  });
  // No --model: build:edge takes unet_fr.tar.xz from FREQREG_DATA.
  execFileSync(process.execPath, [join(PACKAGE_ROOT, 'examples/edge-worker/build.mjs'), '--engine', engine, '--out', out], { stdio: 'pipe', env: { ...process.env, FREQREG_DATA: data } });
  const port = await freePort();
  server = spawnProcess(WORKERD, ['serve', join(out, 'config.capnp'), '--socket-addr', `http=127.0.0.1:${port}`]);
  const base = `http://127.0.0.1:${port}`;
  const info = await (await waitForHttp(`${base}/`, server)).json() as { model: string };
  t.equal(info.model, 'unet_fr.tar.xz', 'the default model is the upstream one');
  const full = readFileSync(join(data, 'testimgs/input/in0000.png'));
  // The full 959×640 photo fits the edge budget (EDGE_LIMITS, sized for a 128 MiB isolate).
  const photoPath = join(data, 'testimgs/input/in0000.png');
  const res = await fetch(`${base}/segment`, { method: 'POST', body: full });
  t.equal(res.status, 200, 'in0000.png at 959×640: 200');
  const ms = Number(res.headers.get('x-freqreg-ms'));
  t.ok(ms > 0, `x-freqreg-ms reads the real time of the segmentation (${ms} ms), not 0`);
  const got = decodePng(new Uint8Array(await res.arrayBuffer()));
  const want = await nodeClasses(join(data, 'unet_fr.tar.xz'), photoPath, engine, 1);
  const d = maskDiff(got.data, maskToGrey(want.classes, want.classCount), want.width);
  t.equal(d.count, 0, `959×640 mask equals Node's pixel for pixel ${d.first}`);
  // The same photo at 1918×1280 (the dataset's native size) needs about 4× the working memory: refused.
  const photo = decodePng(full);
  const [w2, h2, c] = [photo.width * 2, photo.height * 2, photo.channels];
  const big = new Uint8Array(w2 * h2 * c);
  for (let y = 0; y < h2; y++)
    for (let x = 0; x < w2; x++)
      for (let k = 0; k < c; k++) big[(y * w2 + x) * c + k] = photo.data[((y >> 1) * photo.width + (x >> 1)) * c + k];
  const bigRes = await fetch(`${base}/segment`, { method: 'POST', body: Buffer.from(encodePng({ data: big, width: w2, height: h2, channels: c })) });
  const bigBody = await bigRes.json() as { error: { code: string } };
  t.same([bigRes.status, bigBody.error.code], [413, 'OUT_OF_MEMORY'], '1918×1280: 413 OUT_OF_MEMORY, past the edge budget');
  t.ok(want.classes.includes(1), 'the car is found');
});

t.test('workerd refuses to compile bytes: the kernels as bytes are refused, saying to pass the compiled module', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'freqreg-edge-bytes-'));
  let server: Started | undefined;
  t.teardown(async () => {
    await server?.stop();
    rmSync(out, { recursive: true, force: true });
  });
  // A worker that hands the core build/kernels.wasm as bytes (a `data` module) instead of a `wasm` one.
  const { build } = await import('esbuild');
  await build({
    stdin: {
      contents: `
        import { createSegmenter } from 'freqreg';
        import kernelBytes from './kernels.bin';
        import model from './model.bin';
        export default {
          async fetch() {
            try {
              await createSegmenter({ model: new Uint8Array(model), kernels: new Uint8Array(kernelBytes) });
              return Response.json({ code: 'NONE' });
            } catch (e) {
              return Response.json({ code: e.code ?? 'NOT_A_FREQREG_ERROR', message: String(e.message) });
            }
          },
        };`,
      resolveDir: PACKAGE_ROOT,
    },
    outfile: join(out, 'worker.js'), bundle: true, format: 'esm', platform: 'browser', conditions: ['workerd', 'worker', 'browser'],
    external: ['./kernels.bin', './model.bin'], logLevel: 'silent',
  });
  writeFileSync(join(out, 'kernels.bin'), readFileSync(join(PACKAGE_ROOT, 'build/kernels.wasm')));
  writeFileSync(join(out, 'model.bin'), readFileSync(join(PACKAGE_ROOT, 'fixtures/sample/sample-model.pt')));
  writeFileSync(join(out, 'config.capnp'), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (services = [ (name = "main", worker = .w) ], sockets = [ (name = "http", address = "127.0.0.1:8787", http = (), service = "main") ]);
const w :Workerd.Worker = (modules = [ (name = "worker.js", esModule = embed "worker.js"), (name = "kernels.bin", data = embed "kernels.bin"), (name = "model.bin", data = embed "model.bin") ], compatibilityDate = "2025-09-01");
`);
  const port = await freePort();
  server = spawnProcess(WORKERD, ['serve', join(out, 'config.capnp'), '--socket-addr', `http=127.0.0.1:${port}`]);
  const body = await (await waitForHttp(`http://127.0.0.1:${port}/`, server)).json() as { code: string; message: string };
  t.equal(body.code, 'ENGINE_UNAVAILABLE', 'ENGINE_UNAVAILABLE');
  t.match(body.message, /may not compile WebAssembly from bytes.*pass the compiled WebAssembly\.Module/, `says what to pass: ${body.message}`);
});
