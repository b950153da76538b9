/**
 * Makes the web page's built-in sample, seeded and reproducible (commit the outputs):
 *
 *   fixtures/sample/sample-model.pt   a width-4 synthetic FR UNet (upstream layer names and shapes,
 *                                     4…64 channels, 2 classes), 24 sparse float32 coefficients per
 *                                     layer in a low-frequency corner, saved as torch.save would
 *                                     (zip of data.pkl + storages) with test/support/writers.ts
 *   fixtures/sample/sample-image.png  a 128×96 RGB drawing: sky, road, a red car with two wheels
 *
 *   node --import=@isaacs/ts-node-temp-fork-for-pr-2009/import scripts/make-sample.ts [--seed=N]
 *
 * The weights are random, not trained: the mask shows the pipeline runs, not that it finds cars.
 * The script prints the share of pixels the float64 reference puts in class 1, and its Dice with
 * the drawn car.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../src/loader.js';
import { unetKeys } from '../src/model.js';
import { encodePng } from '../src/image/png-fflate.js';
import { imageToTensor } from '../src/input.js';
import { argmaxClasses, referenceForward } from '../src/engines/reference.js';
import { f32Bytes, i64Bytes, statePickle, torchZip, type PickleWriter } from '../test/support/writers.js';
import { shapeOf } from '../test/support/synthetic.js';
import { rng } from '../test/helpers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'fixtures', 'sample');
const seedArg = process.argv.find((a) => a.startsWith('--seed='));
const SEED = seedArg ? Number(seedArg.slice(7)) : 31; // of seeds 1…40, the one whose mask best matches the drawn car (dice 0.49)
const WIDTH = 4; // base channels (upstream: 64)
const NNZ = 24; // coefficients per layer (upstream keeps 33)
const IMAGE_W = 128, IMAGE_H = 96;

function makeModel(): Uint8Array {
  const rand = rng(SEED);
  const entries: [string, (w: PickleWriter) => void][] = [];
  const storages: Record<string, Uint8Array> = {};
  let next = 0;
  for (const key of unetKeys()) {
    const shape = shapeOf(key, WIDTH, 3, 2);
    const corner = [Math.min(4, shape[0]), Math.min(5, shape[1]), shape[2], shape[3]];
    const room = corner.reduce((a, b) => a * b, 1);
    const positions = new Set<string>();
    const picked: number[][] = [];
    while (picked.length < Math.min(NNZ, room)) {
      const idx = corner.map((l) => Math.floor(rand() * l));
      if (!positions.has(idx.join())) { positions.add(idx.join()); picked.push(idx); }
    }
    picked.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2] || a[3] - b[3]);
    const nnz = picked.length;
    const indices: number[] = [];
    for (let axis = 0; axis < 4; axis++) for (const p of picked) indices.push(p[axis]); // (ndim, nnz), as torch stores COO
    const values = picked.map(() => Math.fround((rand() * 2 - 1) * 4));
    const ik = String(next++), vk = String(next++);
    storages[ik] = i64Bytes(indices);
    storages[vk] = f32Bytes(values);
    entries.push([key, (w) => w.sparse(
      { key: ik, type: 'LongStorage', numel: 4 * nnz, size: [4, nnz], stride: [nnz, 1] },
      { key: vk, type: 'FloatStorage', numel: nnz, size: [nnz], stride: [1] },
      shape,
    )]);
  }
  return torchZip(statePickle(entries), storages, { prefix: 'sample-model' });
}

/** A flat drawing with a little seeded noise, so no two neighbouring pixels are exactly alike. */
/** The drawn car (body, cabin, wheels) as class 1: what a trained model would find. */
function carMask(): Uint8Array {
  const m = new Uint8Array(IMAGE_W * IMAGE_H);
  const inEllipse = (x: number, y: number, cx: number, cy: number, r: number) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
  for (let y = 0; y < IMAGE_H; y++) for (let x = 0; x < IMAGE_W; x++) {
    const body = y >= 36 && y < 66 && x >= 22 && x < 106, cabin = y >= 22 && y < 40 && x >= 42 && x < 86;
    m[y * IMAGE_W + x] = body || cabin || inEllipse(x, y, 42, 66, 9) || inEllipse(x, y, 88, 66, 9) ? 1 : 0;
  }
  return m;
}

function makeImage(): Uint8Array {
  const rand = rng(1000);
  const data = new Uint8Array(IMAGE_W * IMAGE_H * 3);
  const inEllipse = (x: number, y: number, cx: number, cy: number, rx: number, ry: number) => ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1;
  for (let y = 0; y < IMAGE_H; y++) {
    for (let x = 0; x < IMAGE_W; x++) {
      let rgb: [number, number, number];
      if (y < 56) rgb = [120 + y, 170 + y / 2, 235]; // sky
      else rgb = [90, 90, 95]; // road
      if (y >= 36 && y < 66 && x >= 22 && x < 106) rgb = [200, 30, 40]; // body
      if (y >= 22 && y < 40 && x >= 42 && x < 86) rgb = y < 36 && x >= 48 && x < 80 ? [150, 200, 230] : [200, 30, 40]; // cabin, window
      if (inEllipse(x, y, 42, 66, 9, 9) || inEllipse(x, y, 88, 66, 9, 9)) rgb = [25, 25, 25]; // wheels
      const o = (y * IMAGE_W + x) * 3;
      for (let c = 0; c < 3; c++) data[o + c] = Math.max(0, Math.min(255, Math.round(rgb[c] + (rand() - 0.5) * 12)));
    }
  }
  return encodePng({ data, width: IMAGE_W, height: IMAGE_H, channels: 3 });
}

const modelBytes = makeModel();
const imageBytes = makeImage();
mkdirSync(OUT, { recursive: true });
writeFileSync(join(OUT, 'sample-model.pt'), modelBytes);
writeFileSync(join(OUT, 'sample-image.png'), imageBytes);

// Check: the model loads, and how much the (untrained) mask covers.
const model = loadModel(modelBytes);
const { decodePng } = await import('../src/image/png-fflate.js');
const image = decodePng(imageBytes);
const x = { c: 3, h: IMAGE_H, w: IMAGE_W, data: Float64Array.from(imageToTensor(image, 3)) };
const classes = argmaxClasses(referenceForward(model, x));
const fg = classes.reduce((n, c) => n + c, 0) / classes.length;
const { dice } = await import('../src/metrics.js');
console.log(`seed ${SEED}: sample-model.pt ${modelBytes.length} B, sample-image.png ${imageBytes.length} B, `
  + `class 1 on ${(fg * 100).toFixed(1)}% of pixels, dice with the drawn car ${dice(classes, carMask()).toFixed(3)}`);
