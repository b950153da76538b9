/**
 * Every form the core takes a WebAssembly module in (src/wasm/source.ts): a compiled module, its
 * bytes (ArrayBuffer, Uint8Array, Node Buffer), a Response, a promise of one, and a URL or string
 * served over HTTP — for the kernels and for the xz module, each giving Node's mask on the sample
 * model (as a .tar.xz, so the xz module is used). Then the refusals: a 404, a URL Node cannot
 * fetch (file:, relative), bytes that are not a module, and a value of the wrong type, each a
 * FreqregError naming the module and what to pass instead.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createSegmenter, FreqregError, loadModel, type WasmSource } from '../src/index.js';
import { decodePng } from '../src/node/png.js';
import { PACKAGE_ROOT, fixturesDir } from './helpers.js';
import { maskDiff, nodeClasses } from './support/runtimes.js';

const kernelsPath = join(PACKAGE_ROOT, 'build/kernels.wasm');
const xzPath = join(PACKAGE_ROOT, 'build/xz.wasm');
const kernelBytes = readFileSync(kernelsPath);
const xzBytes = readFileSync(xzPath);

/** Serves build/*.wasm on 127.0.0.1 (application/wasm), anything else 404. */
async function serveBuild(): Promise<{ server: Server; base: string }> {
  const server = createServer((req, res) => {
    const name = (req.url ?? '').replace(/^\//, '');
    if (!/^[a-z-]+\.wasm$/.test(name)) { res.writeHead(404).end(); return; }
    try {
      const body = readFileSync(join(PACKAGE_ROOT, 'build', name));
      res.writeHead(200, { 'content-type': 'application/wasm' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as { port: number }).port}/` };
}

async function refusal(run: () => Promise<unknown>): Promise<FreqregError | undefined> {
  try {
    await run();
  } catch (e) {
    return e instanceof FreqregError ? e : undefined;
  }
  return undefined;
}

t.test('kernels and xz in every form give Node\'s mask', async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  const { server, base } = await serveBuild();
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const modelPath = join(dir, 'tiny-sparse.tar.xz'), imagePath = join(dir, 'tiny-sparse-input.png');
  const model = new Uint8Array(readFileSync(modelPath));
  const image = decodePng(readFileSync(imagePath));
  const want = await nodeClasses(modelPath, imagePath, 'auto', 1);
  const forms: Record<string, (bytes: Buffer, file: string) => WasmSource> = {
    'WebAssembly.Module': (b) => new WebAssembly.Module(new Uint8Array(b)),
    'Node Buffer': (b) => b,
    Uint8Array: (b) => new Uint8Array(b),
    ArrayBuffer: (b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer,
    'Response (application/wasm)': (b) => new Response(new Uint8Array(b), { headers: { 'content-type': 'application/wasm' } }),
    'Response (no type: read whole)': (b) => new Response(new Uint8Array(b)),
    'Promise<Response> (fetch)': (_, f) => fetch(`${base}${f}`),
    URL: (_, f) => new URL(f, base),
    'string URL': (_, f) => `${base}${f}`,
  };
  for (const [name, make] of Object.entries(forms)) {
    const seg = await createSegmenter({ model, kernels: make(kernelBytes, 'kernels.wasm'), xz: make(xzBytes, 'xz.wasm') });
    const r = await seg.segment(image);
    await seg.dispose();
    const d = maskDiff(r.classes, want.classes, want.width);
    t.equal(d.count, 0, `${name}: mask equals Node's ${d.first}`);
  }
  // The synchronous reader takes bytes too.
  t.equal(loadModel(model, { xz: new Uint8Array(xzBytes) }).arch.classes, 2, 'loadModel with xz as bytes');
});

t.test('refusals name the module and what to pass', async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  const { server, base } = await serveBuild();
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const model = new Uint8Array(readFileSync(join(dir, 'tiny-sparse.tar.xz')));
  const cases: { name: string; kernels: unknown; xz?: unknown; code: string; message: RegExp }[] = [
    { name: 'a 404', kernels: `${base}missing.wasm`, code: 'DATA_MISSING', message: /kernel module.*HTTP 404/ },
    { name: 'a file: URL (Node\'s fetch reads none)', kernels: pathToFileURL(kernelsPath), code: 'DATA_MISSING', message: /file: URLs; pass the bytes/ },
    { name: 'a relative URL in Node', kernels: './kernels.wasm', code: 'DATA_MISSING', message: /in Node pass the bytes/ },
    { name: 'bytes that are not a module', kernels: new Uint8Array([0, 97, 115, 109, 9, 9, 9, 9]), code: 'ENGINE_UNAVAILABLE', message: /kernel module does not compile/ },
    { name: 'a number', kernels: 42, code: 'ENGINE_UNAVAILABLE', message: /expected a WebAssembly\.Module, its bytes, a Response or a URL, got number/ },
    { name: 'xz: a PNG\'s bytes', kernels: kernelBytes, xz: readFileSync(join(dir, 'tiny-sparse-input.png')), code: 'ENGINE_UNAVAILABLE', message: /xz module does not compile/ },
    { name: 'xz: a 404', kernels: kernelBytes, xz: fetch(`${base}nope.wasm`), code: 'DATA_MISSING', message: /xz module.*HTTP 404/ },
  ];
  for (const c of cases) {
    const e = await refusal(() => createSegmenter({ model, kernels: c.kernels as WasmSource, xz: (c.xz ?? xzBytes) as WasmSource }));
    t.equal(e?.code, c.code, `${c.name}: ${c.code}`);
    t.match(e?.message, c.message, `${c.name}: says what (${e?.message})`);
  }
});
