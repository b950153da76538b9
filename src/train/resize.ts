/**
 * Resampling for training: photos with a triangle (bilinear) filter widened by the scale factor
 * when shrinking, so a 959×640 photo brought to 240×160 averages every source pixel instead of
 * aliasing (Pillow's BILINEAR does the same); masks by nearest neighbour at pixel centres, so
 * classes stay classes.
 */

/** Per output index: first source index and the normalized weights of the taps. */
interface Taps {
  start: Int32Array;
  count: Int32Array;
  /** (out, maxCount) weights, summing to 1 per output. */
  weights: Float64Array;
  maxCount: number;
}

/** Source taps of a 1-D resample from `src` to `dst` samples, pixel centres aligned. */
function triangleTaps(src: number, dst: number): Taps {
  const scale = src / dst;
  const support = Math.max(1, scale); // the triangle's half-width in source pixels
  const maxCount = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(dst), count = new Int32Array(dst);
  const weights = new Float64Array(dst * maxCount);
  for (let o = 0; o < dst; o++) {
    const centre = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - support)), hi = Math.min(src, Math.ceil(centre + support));
    let sum = 0, n = 0;
    for (let i = lo; i < hi && n < maxCount; i++, n++) {
      const w = Math.max(0, 1 - Math.abs((i + 0.5 - centre) / support));
      weights[o * maxCount + n] = w;
      sum += w;
    }
    start[o] = lo;
    count[o] = n;
    for (let k = 0; k < n; k++) weights[o * maxCount + k] /= sum || 1;
  }
  return { start, count, weights, maxCount };
}

/**
 * Resamples planar channels (C, sh, sw) to (C, dh, dw), separably: rows then columns. Shrinking
 * averages under a triangle as wide as the scale; enlarging is plain bilinear.
 */
export function resizePlanar(src: ArrayLike<number>, channels: number, sw: number, sh: number, dw: number, dh: number): Float32Array {
  const tx = triangleTaps(sw, dw), ty = triangleTaps(sh, dh);
  const rows = new Float64Array(sh * dw); // (sh, dw) one channel resampled along x
  const out = new Float32Array(channels * dw * dh);
  for (let c = 0; c < channels; c++) {
    const plane = c * sw * sh;
    for (let y = 0; y < sh; y++) {
      const row = plane + y * sw;
      for (let x = 0; x < dw; x++) {
        let s = 0;
        const base = x * tx.maxCount, from = row + tx.start[x];
        for (let k = 0; k < tx.count[x]; k++) s += tx.weights[base + k] * src[from + k];
        rows[y * dw + x] = s;
      }
    }
    const outPlane = c * dw * dh;
    for (let y = 0; y < dh; y++) {
      const base = y * ty.maxCount, from = ty.start[y];
      for (let x = 0; x < dw; x++) {
        let s = 0;
        for (let k = 0; k < ty.count[y]; k++) s += ty.weights[base + k] * rows[(from + k) * dw + x];
        out[outPlane + y * dw + x] = s;
      }
    }
  }
  return out;
}

/** Nearest-neighbour resample of a (sh, sw) class map: output (x, y) takes source (⌊(x+½)·sw/dw⌋, ⌊(y+½)·sh/dh⌋). */
export function resizeNearest(src: Uint8Array, sw: number, sh: number, dw: number, dh: number): Uint8Array {
  const out = new Uint8Array(dw * dh);
  const xs = new Int32Array(dw);
  for (let x = 0; x < dw; x++) xs[x] = Math.min(sw - 1, Math.floor(((x + 0.5) * sw) / dw));
  for (let y = 0; y < dh; y++) {
    const sy = Math.min(sh - 1, Math.floor(((y + 0.5) * sh) / dh));
    for (let x = 0; x < dw; x++) out[y * dw + x] = src[sy * sw + xs[x]];
  }
  return out;
}
