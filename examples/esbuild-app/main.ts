/**
 * The page: sends the picked model and photo to the segmenter's Worker and draws the mask over the
 * photo. `window.exampleResult` holds the last reply (for the test in test/examples.test.ts).
 */
import type { Reply, Request } from './protocol.js';

declare global {
  interface Window { exampleResult?: Reply }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (text: string) => { $('status').textContent = text; };
const worker = new Worker(new URL('./segment-worker.js', import.meta.url), { type: 'module' });
let photo: ImageBitmap | undefined;
let pending: ((r: Reply) => void) | undefined;
worker.onmessage = (e: MessageEvent<Reply>) => pending?.(e.data);

function ask(req: Request, transfer: Transferable[] = []): Promise<Reply> {
  return new Promise((resolve) => {
    pending = resolve;
    worker.postMessage(req, transfer);
  });
}

function show(reply: Reply): void {
  window.exampleResult = reply;
  if (reply.type === 'error') return status(`Error: ${reply.message}`);
  if (reply.type === 'model') return status(`Model loaded: engine ${reply.engine}, ${reply.threads} thread(s). Open a photo.`);
  const canvas = $<HTMLCanvasElement>('view');
  [canvas.width, canvas.height] = [reply.width, reply.height];
  const ctx = canvas.getContext('2d')!;
  if (photo) ctx.drawImage(photo, 0, 0);
  const shown = ctx.getImageData(0, 0, reply.width, reply.height);
  // Foreground tinted cyan: visible on red, white and black cars alike.
  for (let p = 0; p < reply.classes.length; p++) {
    if (reply.classes[p] === 0) continue;
    shown.data[p * 4] >>= 2;
    shown.data[p * 4 + 1] = (shown.data[p * 4 + 1] + 255) >> 1;
    shown.data[p * 4 + 2] = (shown.data[p * 4 + 2] + 255) >> 1;
  }
  ctx.putImageData(shown, 0, 0);
  status(`Mask ${reply.width}×${reply.height}: engine ${reply.engine}, ${reply.threads} thread(s), ${reply.ms.toFixed(0)} ms`);
}

$<HTMLInputElement>('model').onchange = async (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (!file) return;
  status(`Loading ${file.name}…`);
  const bytes = await file.arrayBuffer();
  show(await ask({ type: 'model', bytes }, [bytes]));
};

$<HTMLInputElement>('photo').onchange = async (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (!file) return;
  status(`Segmenting ${file.name}…`);
  const bytes = await file.arrayBuffer();
  photo = await createImageBitmap(new Blob([bytes]), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  if (file.type === 'image/png') return show(await ask({ type: 'photo', png: bytes }, [bytes]));
  const ctx = new OffscreenCanvas(photo.width, photo.height).getContext('2d')!;
  ctx.drawImage(photo, 0, 0);
  const { data } = ctx.getImageData(0, 0, photo.width, photo.height);
  show(await ask({ type: 'photo', pixels: { data, width: photo.width, height: photo.height, channels: 4 } }, [data.buffer]));
};
