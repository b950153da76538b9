/**
 * Small random FR UNets for tests: the same structure as upstream, any width, input channels and
 * classes, with `nnzPerLayer` coefficients at random positions inside a low-frequency corner
 * (or every coefficient when `dense`).
 */
import { buildModel, unetKeys, type CoeffTensor, type FrModel } from '../../src/model.js';
import { rng } from '../helpers.js';

export interface SyntheticOptions {
  width: number;
  inChannels?: number;
  classes?: number;
  nnzPerLayer?: number;
  dense?: boolean;
  seed?: number;
  /** Extent of the low-frequency corner on the channel axes (default 4). */
  corner?: number;
}

export function syntheticModel(opts: SyntheticOptions): FrModel {
  const { width: w, inChannels = 3, classes = 2, nnzPerLayer = 33, dense = false, seed = 1, corner = 4 } = opts;
  const rand = rng(seed);
  const dict = new Map<string, CoeffTensor>();
  for (const key of unetKeys()) {
    const shape = shapeOf(key, w, inChannels, classes);
    const total = shape.reduce((a, b) => a * b, 1);
    const positions = new Set<number>();
    if (dense) for (let p = 0; p < total; p++) positions.add(p);
    else {
      const lim = [Math.min(corner, shape[0]), Math.min(corner + 1, shape[1]), shape[2], shape[3]];
      const room = lim.reduce((a, b) => a * b, 1);
      const want = Math.min(nnzPerLayer, room);
      while (positions.size < want) {
        const idx = lim.map((l) => Math.floor(rand() * l));
        positions.add(((idx[0] * shape[1] + idx[1]) * shape[2] + idx[2]) * shape[3] + idx[3]);
      }
    }
    const flat = [...positions].sort((a, b) => a - b);
    const indices = new Int32Array(flat.length * 4);
    const values = new Float32Array(flat.length);
    flat.forEach((p, k) => {
      let r = p;
      for (let a = 3; a >= 0; a--) { indices[k * 4 + a] = r % shape[a]; r = Math.floor(r / shape[a]); }
      values[k] = (rand() * 2 - 1) * (dense ? 0.5 : 4);
    });
    dict.set(key, { shape, indices, values, dtype: 'float32', sparse: !dense });
  }
  return buildModel(dict);
}

/** Shape of each upstream key at base width w (run/unet, bilinear = False). */
export function shapeOf(key: string, w: number, cin: number, classes: number): number[] {
  if (key === 'inc.double_conv.0.weight') return [w, cin, 3, 3];
  if (key === 'inc.double_conv.3.weight') return [w, w, 3, 3];
  if (key === 'outc.conv.weight') return [classes, w, 1, 1];
  let m = key.match(/^down(\d)\.maxpool_conv\.1\.double_conv\.(\d)\.weight$/);
  if (m) {
    const k = Number(m[1]);
    return m[2] === '0' ? [w << k, w << (k - 1), 3, 3] : [w << k, w << k, 3, 3];
  }
  m = key.match(/^up(\d)\.(up|conv\.double_conv\.(\d))\.weight$/);
  if (!m) throw new Error(`unknown key ${key}`);
  const c = w << (5 - Number(m[1])); // input channels of up_k
  if (m[2] === 'up') return [c, c / 2, 2, 2];
  return m[3] === '0' ? [c / 2, c, 3, 3] : [c / 2, c / 2, 3, 3];
}
