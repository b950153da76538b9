/**
 * Synthetic training data for tests: photos of one bright ellipse on a noisy dark background,
 * with its mask (class 1 inside), seeded; written in the upstream test images' layout
 * (input/inNNNN.png, mask/gtNNNN.png) or Carvana's (train/ID.png, train_masks/ID_mask.gif).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePng } from '../../src/node/png.js';
import { rng } from '../helpers.js';
import { encodeGif } from './gif-builder.js';

export interface ShapePair {
  /** (height, width, 3) interleaved RGB. */
  photo: Uint8Array;
  /** (height, width) classes 0/1. */
  mask: Uint8Array;
}

export function shapePair(seed: number, width: number, height: number): ShapePair {
  const r = rng(seed);
  const cx = width * (0.3 + 0.4 * r()), cy = height * (0.3 + 0.4 * r());
  const rx = width * (0.15 + 0.15 * r()), ry = height * (0.15 + 0.15 * r());
  const tint = [0.7 + 0.3 * r(), 0.5 + 0.4 * r(), 0.3 + 0.5 * r()];
  const photo = new Uint8Array(width * height * 3);
  const mask = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const inside = ((x + 0.5 - cx) / rx) ** 2 + ((y + 0.5 - cy) / ry) ** 2 <= 1;
    const p = y * width + x;
    mask[p] = inside ? 1 : 0;
    for (let c = 0; c < 3; c++) {
      const base = inside ? tint[c] : 0.25;
      photo[3 * p + c] = Math.max(0, Math.min(255, Math.round(255 * (base + 0.12 * (r() - 0.5)))));
    }
  }
  return { photo, mask };
}

/** `count` pairs as input/inNNNN.png and mask/gtNNNN.png (0/255) under `dir`, numbered from `first`. */
export function writeUpstreamLayout(dir: string, count: number, width: number, height: number, first = 0): void {
  mkdirSync(join(dir, 'input'), { recursive: true });
  mkdirSync(join(dir, 'mask'), { recursive: true });
  for (let i = first; i < first + count; i++) {
    const { photo, mask } = shapePair(1000 + i, width, height);
    const id = String(i).padStart(4, '0');
    writeFileSync(join(dir, 'input', `in${id}.png`), encodePng({ data: photo, width, height, channels: 3 }));
    writeFileSync(join(dir, 'mask', `gt${id}.png`), encodePng({ data: mask.map((c) => c * 255), width, height, channels: 1 }));
  }
}

/** `count` pairs as train/ID.png and train_masks/ID_mask.gif (palette indices 0/1) under `dir`. */
export function writeCarvanaLayout(dir: string, count: number, width: number, height: number): void {
  mkdirSync(join(dir, 'train'), { recursive: true });
  mkdirSync(join(dir, 'train_masks'), { recursive: true });
  for (let i = 0; i < count; i++) {
    const { photo, mask } = shapePair(2000 + i, width, height);
    const id = `${(0x0cdf5b5d0ce1 + i * 7919).toString(16)}_${String((i % 16) + 1).padStart(2, '0')}`;
    writeFileSync(join(dir, 'train', `${id}.png`), encodePng({ data: photo, width, height, channels: 3 }));
    writeFileSync(join(dir, 'train_masks', `${id}_mask.gif`), encodeGif(mask, width, height, { palette: [[0, 0, 0], [255, 255, 255]] }));
  }
}
