/**
 * One list of kernel cases with the upstream UNet's real shapes (a 959×640 input, width 64,
 * bilinear = False; docs/fr-unet.md), used by the benchmark (bench/kernels.ts) at full size and by
 * the tests (test/kernels.test.ts) through `shrink()`.
 *
 * Levels: H×W = 640×959, 320×479, 160×239, 80×119, 40×59. Work is counted with a multiply and an
 * add as 2 flops; bytes are the compulsory traffic (each input, weight and output once).
 */

export type KernelCase =
  | { op: 'conv3x3'; name: string; C: number; K: number; H: number; W: number }
  | { op: 'conv1x1'; name: string; C: number; K: number; H: number; W: number }
  | { op: 'convT'; name: string; Cin: number; Cout: number; H: number; W: number }
  | { op: 'norm'; name: string; C: number; H: number; W: number }
  | { op: 'pool'; name: string; C: number; H: number; W: number }
  | { op: 'concat'; name: string; C: number; h: number; w: number; H: number; W: number }
  | { op: 'argmax'; name: string; K: number; H: number; W: number }
  | { op: 'idct4d'; name: string; O: number; I: number; KH: number; KW: number; corner: [number, number, number, number] };

/** (H, W) of each UNet level for the upstream 959×640 test image. */
export const LEVELS: readonly (readonly [number, number])[] = [
  [640, 959],
  [320, 479],
  [160, 239],
  [80, 119],
  [40, 59],
];

/** One FR weight tensor of the upstream checkpoint: PyTorch shape and its coefficient corner. */
export interface FrWeightShape {
  name: string;
  shape: [number, number, number, number];
  /** Extent (ka, kb, kc, kd) of the leading corner that holds the 33 non-zeros. */
  corner: [number, number, number, number];
}

/** The 23 weight tensors of the upstream model (docs/fr-unet.md): 31,024,960 dense weights. */
export const UPSTREAM_WEIGHTS: readonly FrWeightShape[] = (() => {
  const list: FrWeightShape[] = [];
  const conv = (name: string, o: number, i: number): void => {
    list.push({ name, shape: [o, i, 3, 3], corner: [4, Math.min(4, i), 3, 3] });
  };
  conv('inc.double_conv.0.weight', 64, 3);
  conv('inc.double_conv.3.weight', 64, 64);
  for (let k = 1; k <= 4; k++) {
    const c = 32 << k;
    conv(`down${k}.maxpool_conv.1.double_conv.0.weight`, 2 * c, c);
    conv(`down${k}.maxpool_conv.1.double_conv.3.weight`, 2 * c, 2 * c);
  }
  for (let k = 1; k <= 4; k++) {
    const c = 1024 >> (k - 1); // input channels of up_k
    list.push({ name: `up${k}.up.weight`, shape: [c, c / 2, 2, 2], corner: [4, 5, 2, 2] });
    conv(`up${k}.conv.double_conv.0.weight`, c / 2, c);
    conv(`up${k}.conv.double_conv.3.weight`, c / 2, c / 2);
  }
  list.push({ name: 'outc.conv.weight', shape: [2, 64, 1, 1], corner: [2, 17, 1, 1] });
  return list;
})();

/** Every kernel call of one forward pass at the upstream shapes (norms and pools once per shape). */
export const UPSTREAM_CASES: readonly KernelCase[] = (() => {
  const cases: KernelCase[] = [];
  const lv = (l: number) => LEVELS[l]!;
  const conv = (name: string, C: number, K: number, l: number) => {
    const [H, W] = lv(l);
    cases.push({ op: 'conv3x3', name, C, K, H, W });
  };
  conv('inc.0', 3, 64, 0);
  conv('inc.3', 64, 64, 0);
  for (let k = 1; k <= 4; k++) {
    conv(`down${k}.0`, 32 << k, 64 << k, k);
    conv(`down${k}.3`, 64 << k, 64 << k, k);
  }
  for (let k = 1; k <= 4; k++) {
    const c = 1024 >> (k - 1);
    const [h, w] = lv(5 - k);
    const [H, W] = lv(4 - k);
    cases.push({ op: 'convT', name: `up${k}.up`, Cin: c, Cout: c / 2, H: h, W: w });
    cases.push({ op: 'concat', name: `up${k}.pad`, C: c / 2, h: 2 * h, w: 2 * w, H, W });
    conv(`up${k}.0`, c, c / 2, 4 - k);
    conv(`up${k}.3`, c / 2, c / 2, 4 - k);
  }
  const [H0, W0] = lv(0);
  cases.push({ op: 'conv1x1', name: 'outc', C: 64, K: 2, H: H0, W: W0 });
  for (let l = 0; l < 5; l++) {
    const [H, W] = lv(l);
    cases.push({ op: 'norm', name: `norm L${l}`, C: 64 << l, H, W });
    if (l < 4) cases.push({ op: 'pool', name: `pool L${l}`, C: 64 << l, H, W });
  }
  cases.push({ op: 'argmax', name: 'mask', K: 2, H: H0, W: W0 });
  for (const w of UPSTREAM_WEIGHTS) {
    const [O, I, KH, KW] = w.shape;
    cases.push({ op: 'idct4d', name: w.name, O, I, KH, KW, corner: w.corner });
  }
  return cases;
})();

/** Floating-point work of one call (multiply + add = 2). */
export function flops(c: KernelCase): number {
  switch (c.op) {
    case 'conv3x3': return 2 * 9 * c.C * c.K * c.H * c.W;
    case 'conv1x1': return 2 * c.C * c.K * c.H * c.W;
    case 'convT': return 2 * 4 * c.Cin * c.Cout * c.H * c.W;
    case 'norm': return 6 * c.C * c.H * c.W; // stats (sub, add, mul-add) + apply (mul, add, max)
    case 'pool': return (3 * c.C * c.H * c.W) / 4;
    case 'concat': return 0;
    case 'argmax': return (c.K - 1) * c.H * c.W;
    case 'idct4d': return 2 * c.O * c.I * c.KH * c.KW * c.corner[0]; // the O-axis pass dominates
  }
}

/** Compulsory memory traffic of one call in bytes. */
export function bytes(c: KernelCase): number {
  switch (c.op) {
    case 'conv3x3': return 4 * (c.C * c.H * c.W + c.K * c.C * 9 + c.K * c.H * c.W);
    case 'conv1x1': return 4 * (c.C * c.H * c.W + c.K * c.C + c.K * c.H * c.W);
    case 'convT': return 4 * (c.Cin * c.H * c.W + c.Cin * c.Cout * 4 + 4 * c.Cout * c.H * c.W);
    case 'norm': return 4 * 3 * c.C * c.H * c.W; // read twice, write once
    case 'pool': return 4 * (c.C * c.H * c.W + (c.C * (c.H >> 1) * (c.W >> 1)));
    case 'concat': return 4 * (c.C * c.h * c.w + c.C * c.H * c.W);
    case 'argmax': return 4 * c.K * c.H * c.W + c.H * c.W;
    case 'idct4d': return 4 * c.O * c.I * c.KH * c.KW;
  }
}

/** Human-readable shape, e.g. `conv3x3 C=64 K=64 H=640 W=959`. */
export function describe(c: KernelCase): string {
  const { op, name, ...rest } = c;
  const dims = Object.entries(rest).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('x') : v}`);
  return `${op} ${dims.join(' ')}`;
}

/**
 * A small variant of a case for tests: at most `maxC` channels per axis and `rows` rows, the
 * real width (so the column edges and tails are those of the real layer) unless it exceeds maxW.
 */
export function shrink(c: KernelCase, maxC = 8, rows = 3, maxW = 130): KernelCase {
  const ch = (n: number) => Math.min(n, maxC);
  const w = (n: number) => Math.min(n, maxW);
  switch (c.op) {
    case 'conv3x3':
    case 'conv1x1': return { ...c, C: ch(c.C), K: ch(c.K), H: Math.min(c.H, rows), W: w(c.W) };
    case 'convT': return { ...c, Cin: ch(c.Cin), Cout: ch(c.Cout), H: Math.min(c.H, rows), W: w(c.W) };
    case 'norm':
    case 'pool': return { ...c, C: ch(c.C), H: Math.min(c.H, rows + 1), W: w(c.W) };
    case 'concat': {
      const W = w(c.W);
      return { ...c, C: ch(c.C), h: Math.min(c.h, rows), H: Math.min(c.H, rows) + (c.H - c.h), w: W - (c.W - c.w), W };
    }
    case 'argmax': return { ...c, H: Math.min(c.H, rows), W: w(c.W) };
    case 'idct4d': return { ...c, O: ch(c.O), I: Math.max(ch(c.I), c.corner[1]) };
  }
}

/**
 * A case cut to at most `rows` rows (same channels and width) for quick timing; the per-row work
 * is that of the real layer, so rates carry over.
 */
export function crop(c: KernelCase, rows: number): KernelCase {
  switch (c.op) {
    case 'conv3x3':
    case 'conv1x1':
    case 'convT':
    case 'norm':
    case 'pool':
    case 'argmax': return { ...c, H: Math.min(c.H, rows) };
    case 'concat': return { ...c, h: Math.min(c.h, rows), H: Math.min(c.h, rows) + (c.H - c.h) };
    case 'idct4d': return c;
  }
}
