/**
 * The page: picks a model and a photo (file pickers, drag-and-drop, or the built-in sample), sends
 * them to the engine worker (./engine-worker.ts) and draws the mask over the photo. Files are read
 * locally; nothing leaves the page.
 *
 * URL options: ?engine=auto|spectral|dense|reference, ?threads=N, ?sample=0 (don't run the sample
 * on open). For tests, `window.__freqreg` holds the state, the model info and the last result, and
 * `document.body.dataset.state` is starting | busy | done | error.
 */
import type { EngineName } from '../src/engines/engine.js';
import type { ModelInfo, PageRequest, SegmentResult, WorkerReply } from './protocol.js';

interface PageState {
  state: 'starting' | 'busy' | 'done' | 'error';
  info?: ModelInfo;
  result?: SegmentResult & { model: string; image: string };
  error?: { code: string; message: string };
  /** Results so far (a test waits for this to grow). */
  runs: number;
}

declare global {
  interface Window { __freqreg: PageState }
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47];
/** PNG and JPEG are decoded by freqreg in the worker (the pixels Node sees); other formats by the browser. */
const decodedByFreqreg = (b: Uint8Array) => PNG_MAGIC.every((m, i) => b[i] === m) || (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff);
/** Overlay colours per class (class 0, background, stays clear): RGBA. */
const CLASS_COLOURS: readonly (readonly [number, number, number, number])[] = [
  [0, 0, 0, 0], [255, 40, 70, 120], [40, 120, 255, 120], [40, 200, 90, 120], [250, 190, 20, 120],
];

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const page: PageState = (window.__freqreg = { state: 'starting', runs: 0 });
const engineSelect = $<HTMLSelectElement>('engine');
engineSelect.value = params.get('engine') ?? 'auto';
const threadsParam = params.get('threads') ? Number(params.get('threads')) : undefined;

const worker = new Worker(new URL('./engine-worker.js', import.meta.url), { type: 'module' });
let nextId = 1;
const pending = new Map<number, (reply: WorkerReply) => void>();
worker.onmessage = (e: MessageEvent<WorkerReply>) => {
  pending.get(e.data.id)?.(e.data);
  pending.delete(e.data.id);
};
worker.onerror = (e) => fail({ code: 'INTERNAL', message: `the engine worker failed to start: ${e.message || 'script error'}` });

type Request = PageRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;
function ask(req: Request, transfer: Transferable[] = []): Promise<WorkerReply> {
  const id = nextId++;
  return new Promise((resolve) => {
    pending.set(id, resolve);
    worker.postMessage({ ...req, id }, transfer);
  });
}

let model: { name: string; bytes: ArrayBuffer } | undefined;
let image: { name: string; bytes: ArrayBuffer; bitmap: ImageBitmap } | undefined;
let loaded = false;

function setState(state: PageState['state'], status: string): void {
  page.state = state;
  document.body.dataset.state = state;
  $('status').textContent = status;
}

function fail(error: { code: string; message: string }): void {
  page.error = error;
  setState('error', `${error.message}${error.code !== 'INTERNAL' ? ` [${error.code}]` : ''}`);
}

async function loadModel(): Promise<boolean> {
  if (!model) return false;
  setState('busy', `Loading ${model.name}…`);
  page.error = undefined;
  // The worker gets a copy: the page keeps the bytes to reload with another engine.
  const reply = await ask({ type: 'load', model: model.bytes.slice(0), name: model.name, engine: engineSelect.value as EngineName, threads: threadsParam });
  if (reply.type === 'error') { loaded = false; fail(reply); return false; }
  if (reply.type !== 'loaded') return false;
  page.info = reply.info;
  loaded = true;
  const { info } = reply;
  setState('done', `Model ${info.name}: ${info.classCount} classes, base width ${info.baseWidth}, ${info.coefficients.toLocaleString('en')} coefficients (loaded in ${info.loadMs.toFixed(0)} ms)`);
  return true;
}

async function segment(): Promise<void> {
  if (!model || !image || !loaded) return;
  setState('busy', `Segmenting ${image.name}…`);
  const bytes = new Uint8Array(image.bytes);
  let reply: WorkerReply;
  if (decodedByFreqreg(bytes)) {
    reply = await ask({ type: 'segment', file: image.bytes.slice(0) });
  } else {
    const { width, height } = image.bitmap;
    const ctx = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true })!;
    ctx.drawImage(image.bitmap, 0, 0);
    const pixels = ctx.getImageData(0, 0, width, height).data;
    reply = await ask({ type: 'segment', pixels: { data: pixels, width, height, channels: 4 } }, [pixels.buffer]);
  }
  if (reply.type === 'error') return fail(reply);
  if (reply.type !== 'result') return;
  const r = reply.result;
  page.result = { ...r, model: model.name, image: image.name };
  page.runs++;
  drawMask(r);
  const counts = new Array<number>(r.classCount).fill(0);
  for (const c of r.classes) counts[c]++;
  const shares = counts.slice(1).map((n, k) => `class ${k + 1} ${((100 * n) / r.classes.length).toFixed(1)}%`).join(', ');
  $('stats').textContent = `${r.width}×${r.height} · engine ${r.engine} · ${r.threads} thread${r.threads === 1 ? '' : 's'} · ${r.ms.toFixed(1)} ms · ${shares}`;
  setState('done', `${image.name} with ${model.name}: ${r.ms.toFixed(1)} ms`);
}

function drawPhoto(bitmap: ImageBitmap): void {
  const canvas = $<HTMLCanvasElement>('photo');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  canvas.getContext('2d')!.drawImage(bitmap, 0, 0);
  const mask = $<HTMLCanvasElement>('mask');
  mask.width = bitmap.width;
  mask.height = bitmap.height;
}

function drawMask(r: SegmentResult): void {
  const canvas = $<HTMLCanvasElement>('mask');
  canvas.width = r.width;
  canvas.height = r.height;
  const out = new ImageData(r.width, r.height);
  for (let p = 0; p < r.classes.length; p++) out.data.set(CLASS_COLOURS[r.classes[p] % CLASS_COLOURS.length], p * 4);
  canvas.getContext('2d')!.putImageData(out, 0, 0);
}

async function openImage(name: string, bytes: ArrayBuffer): Promise<void> {
  let bitmap: ImageBitmap;
  try {
    // Shown as stored, turned by its EXIF orientation as freqreg turns it; a PNG's or JPEG's pixels
    // for the network come from freqreg's own decoders in the worker.
    bitmap = await createImageBitmap(new Blob([bytes]), { colorSpaceConversion: 'none', premultiplyAlpha: 'none', imageOrientation: 'from-image' });
  } catch {
    return fail({ code: 'IMAGE_FORMAT', message: `${name} is not an image this browser can read` });
  }
  image = { name, bytes, bitmap };
  drawPhoto(bitmap);
  $<HTMLCanvasElement>('mask').getContext('2d')!.clearRect(0, 0, bitmap.width, bitmap.height);
  await segment();
}

async function openModel(name: string, bytes: ArrayBuffer): Promise<void> {
  model = { name, bytes };
  if (await loadModel()) await segment();
}

/** A dropped or picked file: a photo if it looks like one, else a model. */
async function openFile(file: File): Promise<void> {
  const bytes = await file.arrayBuffer();
  const head = new Uint8Array(bytes.slice(0, 4));
  const isImage = file.type.startsWith('image/') || PNG_MAGIC.every((b, i) => head[i] === b) || (head[0] === 0xff && head[1] === 0xd8);
  if (isImage) await openImage(file.name, bytes);
  else await openModel(file.name, bytes);
}

async function openSample(): Promise<void> {
  setState('busy', 'Loading the sample…');
  const [m, i] = await Promise.all(['./sample/sample-model.pt', './sample/sample-image.png'].map(async (url) => {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    return res.arrayBuffer();
  }));
  model = { name: 'sample-model.pt', bytes: m };
  if (await loadModel()) await openImage('sample-image.png', i);
}

const guard = (run: () => Promise<void>) => () => {
  run().catch((e: unknown) => fail({ code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) }));
};

$<HTMLInputElement>('model-file').addEventListener('change', guard(async () => {
  const f = $<HTMLInputElement>('model-file').files?.[0];
  if (f) await openModel(f.name, await f.arrayBuffer());
}));
$<HTMLInputElement>('image-file').addEventListener('change', guard(async () => {
  const f = $<HTMLInputElement>('image-file').files?.[0];
  if (f) await openImage(f.name, await f.arrayBuffer());
}));
engineSelect.addEventListener('change', guard(async () => { if (await loadModel()) await segment(); }));
$('sample').addEventListener('click', guard(openSample));
$<HTMLInputElement>('show-mask').addEventListener('change', (e) => {
  $('mask').style.visibility = (e.target as HTMLInputElement).checked ? 'visible' : 'hidden';
});

const drop = $('drop');
let dragDepth = 0;
window.addEventListener('dragenter', (e) => { e.preventDefault(); dragDepth++; drop.hidden = false; });
window.addEventListener('dragleave', () => { if (--dragDepth <= 0) { dragDepth = 0; drop.hidden = true; } });
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => {
  e.preventDefault();
  dragDepth = 0;
  drop.hidden = true;
  const files = Array.from(e.dataTransfer?.files ?? []);
  // Models first, so a model and a photo dropped together run at once.
  files.sort((a, b) => Number(a.type.startsWith('image/')) - Number(b.type.startsWith('image/')));
  guard(async () => { for (const f of files) await openFile(f); })();
});

if (params.get('sample') === '0') setState('done', 'Open a model and a photo.');
else guard(openSample)();
