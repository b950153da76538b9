/**
 * The page: picks a model and a photo (file pickers, drag-and-drop, or the built-in sample), sends
 * them to the engine worker (./engine-worker.ts) and draws the mask over the photo. Files are read
 * locally; nothing leaves the page.
 *
 * After a mistake: a model file that fails leaves the last good model loaded (the status says so)
 * and the next photo runs with it; an error clears the mask and the figures of the run before, so
 * nothing stale stays under it.
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
/**
 * Overlay colours per class, RGB (class 0, background, stays clear): cyan first, far from the
 * reds, whites, greys and blacks of cars. Each region is tinted (FILL_ALPHA) and outlined: its edge
 * pixels opaque in its colour, the background pixels along it opaque black, so the outline shows
 * on any car and any background.
 */
const CLASS_COLOURS: readonly (readonly [number, number, number])[] = [
  [0, 0, 0], [0, 229, 255], [255, 64, 255], [120, 255, 40], [255, 170, 0],
];
const FILL_ALPHA = 90;

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

/** The model loaded in the worker (the last one that loaded; a file that fails does not replace it). */
let model: { name: string; bytes: ArrayBuffer } | undefined;
let image: { name: string; bytes: ArrayBuffer; bitmap: ImageBitmap } | undefined;

function setState(state: PageState['state'], status: string): void {
  page.state = state;
  document.body.dataset.state = state;
  $('status').textContent = status;
}

/** The mask and the figures of the last run, gone: nothing stale stays under a new error. */
function clearResult(): void {
  page.result = undefined;
  $('stats').textContent = '';
  const mask = $<HTMLCanvasElement>('mask');
  mask.getContext('2d')!.clearRect(0, 0, mask.width, mask.height);
}

function fail(error: { code: string; message: string }, note = ''): void {
  page.error = error;
  clearResult();
  setState('error', `${error.message}${error.code !== 'INTERNAL' ? ` [${error.code}]` : ''}${note}`);
}

/** Loads `candidate` (default: the current model again, e.g. with another engine); on success it becomes the model. */
async function loadModel(candidate = model): Promise<boolean> {
  if (!candidate) return false;
  setState('busy', `Loading ${candidate.name}…`);
  page.error = undefined;
  // The worker gets a copy: the page keeps the bytes to reload with another engine.
  const reply = await ask({ type: 'load', model: candidate.bytes.slice(0), name: candidate.name, engine: engineSelect.value as EngineName, threads: threadsParam });
  if (reply.type === 'error') {
    fail(reply, reply.kept ? `; still using ${reply.kept}` : '');
    return false;
  }
  if (reply.type !== 'loaded') return false;
  model = candidate;
  page.info = reply.info;
  const { info } = reply;
  setState('done', `Model ${info.name}: ${info.classCount} classes, base width ${info.baseWidth}, ${info.coefficients.toLocaleString('en')} coefficients, engine ${engineLabel(info)} (loaded in ${info.loadMs.toFixed(0)} ms)`);
  return true;
}

/** The form that runs, and 'auto' where auto chose it: "spectral (auto)". */
function engineLabel(r: { engine: EngineName; form: string }): string {
  return r.engine === 'auto' ? `${r.form} (auto)` : r.form;
}

async function segment(): Promise<void> {
  if (!model || !image || !page.info) return;
  setState('busy', `Segmenting ${image.name}…`);
  page.error = undefined;
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
  $('stats').textContent = `${r.width}×${r.height} · engine ${engineLabel(r)} · ${r.threads} thread${r.threads === 1 ? '' : 's'} · ${r.ms.toFixed(1)} ms · ${shares}`;
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

/** The mask over the photo: each class region tinted and outlined (see CLASS_COLOURS). */
function drawMask(r: SegmentResult): void {
  const canvas = $<HTMLCanvasElement>('mask');
  canvas.width = r.width;
  canvas.height = r.height;
  const { width: w, height: h, classes } = r;
  const out = new ImageData(w, h);
  /** True if a 4-neighbour of pixel p (x, y) has another class. */
  const onEdge = (p: number, x: number, y: number): boolean => {
    const c = classes[p];
    return (x > 0 && classes[p - 1] !== c) || (x < w - 1 && classes[p + 1] !== c) || (y > 0 && classes[p - w] !== c) || (y < h - 1 && classes[p + w] !== c);
  };
  for (let y = 0, p = 0; y < h; y++) {
    for (let x = 0; x < w; x++, p++) {
      const c = classes[p];
      const edge = onEdge(p, x, y);
      if (c === 0) {
        if (edge) out.data.set([0, 0, 0, 255], p * 4);
        continue;
      }
      const [red, green, blue] = CLASS_COLOURS[1 + ((c - 1) % (CLASS_COLOURS.length - 1))];
      out.data.set([red, green, blue, edge ? 255 : FILL_ALPHA], p * 4);
    }
  }
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
  clearResult();
  drawPhoto(bitmap);
  await segment();
}

async function openModel(name: string, bytes: ArrayBuffer): Promise<void> {
  if (await loadModel({ name, bytes })) await segment();
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
  if (await loadModel({ name: 'sample-model.pt', bytes: m })) await openImage('sample-image.png', i);
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
