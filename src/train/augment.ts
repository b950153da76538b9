/**
 * Augmentation of one training sample, drawn from the trainer's seeded generator: a horizontal
 * flip (half the time) and a zoom (scale jitter): a window 1/s of the image's size, s uniform in
 * [1, maxZoom], at a random place, resampled back to the full size (bilinear for the photo,
 * nearest for the mask). Vertical flips are not offered: photos have an up.
 */
import type { Rng } from './rng.js';

export interface AugmentOptions {
  /** Mirror left-right with probability ½. */
  flip: boolean;
  /** Largest zoom factor of the random window (1: no zoom or crop). */
  maxZoom: number;
}

/**
 * `freqreg train`'s default: the flip alone. On the upstream images it kept held-out Dice from
 * falling as training went on; the zoom, from random coefficients, often ends in a dead state
 * (README, Train your own).
 */
export const DEFAULT_AUGMENT: Readonly<AugmentOptions> = Object.freeze({ flip: true, maxZoom: 1 });
export const NO_AUGMENT: Readonly<AugmentOptions> = Object.freeze({ flip: false, maxZoom: 1 });

/** A training pair at the training size. */
export interface Sample {
  name: string;
  width: number;
  height: number;
  channels: number;
  /** (channels, height, width) samples 0…255. */
  photo: Uint8Array;
  /** (height, width) class index per pixel. */
  target: Uint8Array;
}

export interface NetworkPair {
  /** (channels, height, width) in [0, 1]. */
  input: Float32Array;
  /** (height, width) class indices. */
  target: Uint8Array;
}

/** The sample as it is: input / 255 and its target. */
export function plainPair(s: Sample): NetworkPair {
  const input = new Float32Array(s.photo.length);
  for (let i = 0; i < input.length; i++) input[i] = s.photo[i] / 255;
  return { input, target: s.target };
}

/** The sample flipped and zoomed as drawn from `rng` (2 + 3 draws, whatever the options). */
export function augmentPair(s: Sample, rng: Rng, options: AugmentOptions): NetworkPair {
  const flipDraw = rng.next(), zoomDraw = rng.next(), xDraw = rng.next(), yDraw = rng.next();
  rng.next(); // reserved, so adding a draw later keeps the sequence of later steps
  const flip = options.flip && flipDraw < 0.5;
  const zoom = 1 + Math.max(0, options.maxZoom - 1) * zoomDraw;
  if (!flip && zoom === 1) return plainPair(s);
  const { width: W, height: H, channels: C } = s;
  const cw = W / zoom, ch = H / zoom;
  const x0 = xDraw * (W - cw), y0 = yDraw * (H - ch);
  const sx = cw / W, sy = ch / H;
  const input = new Float32Array(C * W * H);
  const target = new Uint8Array(W * H);
  // Source columns of each output column: bilinear taps and the nearest one.
  const left = new Int32Array(W), frac = new Float64Array(W), near = new Int32Array(W);
  for (let x = 0; x < W; x++) {
    const ox = flip ? W - 1 - x : x;
    const fx = x0 + (ox + 0.5) * sx - 0.5;
    const l = Math.floor(fx);
    left[x] = l;
    frac[x] = fx - l;
    near[x] = Math.min(W - 1, Math.max(0, Math.floor(x0 + (ox + 0.5) * sx)));
  }
  const clampX = (v: number): number => (v < 0 ? 0 : v > W - 1 ? W - 1 : v);
  for (let y = 0; y < H; y++) {
    const fy = y0 + (y + 0.5) * sy - 0.5;
    const t = Math.floor(fy), wy = fy - t;
    const r0 = Math.min(H - 1, Math.max(0, t)), r1 = Math.min(H - 1, Math.max(0, t + 1));
    const ny = Math.min(H - 1, Math.max(0, Math.floor(y0 + (y + 0.5) * sy)));
    for (let x = 0; x < W; x++) target[y * W + x] = s.target[ny * W + near[x]];
    for (let c = 0; c < C; c++) {
      const plane = c * W * H, out = plane + y * W;
      for (let x = 0; x < W; x++) {
        const a = clampX(left[x]), b = clampX(left[x] + 1), wx = frac[x];
        const top = s.photo[plane + r0 * W + a] * (1 - wx) + s.photo[plane + r0 * W + b] * wx;
        const bottom = s.photo[plane + r1 * W + a] * (1 - wx) + s.photo[plane + r1 * W + b] * wx;
        input[out + x] = (top * (1 - wy) + bottom * wy) / 255;
      }
    }
  }
  return { input, target };
}
