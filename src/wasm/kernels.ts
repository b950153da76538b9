/**
 * Thin typed wrappers over the kernel exports: shape arithmetic in TypeScript, then one kernel
 * call. Each `*Call` returns a KernelCall (see ./parallel.ts) for one share of the work, so an
 * engine can split a layer into disjoint ranges and hand them to threads; `run` one directly with
 * `runCalls(exports, [call])`. Pointers are byte offsets into the kernel memory.
 */
import type { KernelExports } from './exports.js';
import type { Arena } from './instance.js';
import { runCalls, type KernelCall } from './parallel.js';

/** Floats of the IDCT table for length n. Twin: the table layout in assembly/idct.ts. */
export const IDCT_TABLE_FLOATS = (n: number): number => 5 * n;
/** Floats of scratch idct_f32 / idct4d_f32 need for length n (max over the axes). Twin: assembly/idct.ts. */
export const IDCT_SCRATCH_FLOATS = (n: number): number => 65 * n;

export type Range = readonly [start: number, end: number];

/** Floats of scratch conv2d_f32_3x3p1 needs (per thread). Twin: assembly/conv2d.ts. */
export const CONV3X3_SCRATCH_FLOATS = (C: number, W: number): number => 3 * C * W;

/**
 * 3x3 pad-1 conv: in (C, H, W), w (K, C, 3, 3) → out (K, H, W), output channels `co`; `scratch`
 * holds CONV3X3_SCRATCH_FLOATS(C, W) floats, one per thread (0: none, slower on large layers).
 * The Winograd kernel below is about 2.5× faster on the UNet's layers.
 */
export function conv3x3Call(out: number, inp: number, w: number, C: number, H: number, W: number, co: Range, scratch = 0): KernelCall {
  return ['conv2d_f32_3x3p1', out, inp, w, C, H, W, co[0], co[1], scratch];
}

/**
 * Winograd F(2×2,3×3) 3x3 pad-1 conv: u (16, K, C) from conv2d_f32_3x3p1_f23_weights; `scratch`
 * holds ex.conv2d_f32_3x3p1_f23_scratch(C, W) floats, one per thread.
 */
export function conv3x3WinogradCall(out: number, inp: number, u: number, C: number, H: number, W: number, K: number, co: Range, scratch: number): KernelCall {
  return ['conv2d_f32_3x3p1_f23', out, inp, u, C, H, W, K, co[0], co[1], scratch];
}

/** Winograd weights u (16, K, C) from dense 3x3 weights w (K, C, 3, 3), once per layer. */
export function winogradWeightsCall(u: number, w: number, K: number, C: number): KernelCall {
  return ['conv2d_f32_3x3p1_f23_weights', u, w, K, C];
}

/** 1x1 conv: in (C, H, W), w (K, C, 1, 1) → out (K, H, W), output channels `co`. */
export function conv1x1Call(out: number, inp: number, w: number, C: number, H: number, W: number, co: Range): KernelCall {
  return ['conv2d_f32_1x1', out, inp, w, C, H, W, co[0], co[1]];
}

/** Floats of scratch conv_transpose2d_f32_2x2s2 needs (per thread). Twin: assembly/conv_transpose2d.ts. */
export const CONVT_SCRATCH_FLOATS = (Cin: number, W: number): number => Cin * (W + 4);

/**
 * Transposed conv 2x2 s2: in (Cin, H, W), w (Cin, Cout, 2, 2) → out (Cout, 2H, 2W), channels `co`;
 * `scratch` holds CONVT_SCRATCH_FLOATS(Cin, W) floats, one per thread (0: none, about 3× slower
 * at Cin = 1024, the same below 256).
 */
export function convTranspose2x2Call(out: number, inp: number, w: number, Cin: number, Cout: number, H: number, W: number, co: Range, scratch = 0): KernelCall {
  return ['conv_transpose2d_f32_2x2s2', out, inp, w, Cin, Cout, H, W, co[0], co[1], scratch];
}

/** Instance norm + ReLU of channels `c` of x (C, H, W) into out (may be x). */
export function normReluCall(out: number, x: number, H: number, W: number, c: Range): KernelCall {
  return ['norm_relu_f32', out, x, H * W, c[0], c[1]];
}

/** Max-pool 2x2 (floor): in (C, H, W) → out (C, H>>1, W>>1), channels `c`. */
export function maxpoolCall(out: number, inp: number, H: number, W: number, c: Range): KernelCall {
  return ['maxpool2d_f32_2x2', out, inp, H, W, c[0], c[1]];
}

/**
 * The UNet's `F.pad` + `torch.cat`: in (C, h, w) channels `c` into out (·, H, W) at channel
 * cOff + c, centred as F.pad with [diffX // 2, diffX - diffX // 2, diffY // 2, diffY - diffY // 2].
 */
export function padConcatCall(out: number, inp: number, h: number, w: number, H: number, W: number, cOff: number, c: Range): KernelCall {
  if (h > H || w > W) throw new RangeError(`pad_concat: source ${h}×${w} larger than destination ${H}×${W}`);
  return ['pad_concat_f32', out, inp, h, w, H, W, (H - h) >> 1, (W - w) >> 1, cOff, c[0], c[1]];
}

/** Argmax over K class planes of logits (K, P) into u8 out (P), pixels `p`. */
export function argmaxCall(out: number, logits: number, K: number, P: number, p: Range): KernelCall {
  return ['argmax_f32_u8', out, logits, K, P, p[0], p[1]];
}

/** IDCT tables for the given lengths, allocated in the arena and filled once. */
export function idctTables(ex: KernelExports, arena: Arena, lengths: Iterable<number>): Map<number, number> {
  const tabs = new Map<number, number>();
  for (const n of lengths) {
    if (tabs.has(n)) continue;
    const p = arena.allocF32(IDCT_TABLE_FLOATS(n));
    ex.idct_table_f32(p, n);
    tabs.set(n, p);
  }
  return tabs;
}

/**
 * Scatters one FR weight's coefficients into the leading corner of its dense buffer at `w`
 * (shape[0]·…·shape[3] floats; only the corner is written) and returns the corner's extents.
 * `indices` is (nnz, 4) row-major.
 */
export function scatterCoefficients(
  memory: WebAssembly.Memory, w: number, shape: readonly [number, number, number, number], indices: Int32Array, values: Float32Array,
): [number, number, number, number] {
  const [O, I, KH, KW] = shape;
  const corner = [1, 1, 1, 1];
  for (let j = 0; j < values.length; j++) for (let a = 0; a < 4; a++) corner[a] = Math.max(corner[a]!, indices[4 * j + a]! + 1);
  const [ka, kb, kc, kd] = corner as [number, number, number, number];
  const f = new Float32Array(memory.buffer, w, O * I * KH * KW);
  for (let a = 0; a < ka; a++) for (let b = 0; b < kb; b++) for (let c = 0; c < kc; c++) f.fill(0, ((a * I + b) * KH + c) * KW, ((a * I + b) * KH + c) * KW + kd);
  for (let j = 0; j < values.length; j++) {
    const [a, b, c, d] = [indices[4 * j]!, indices[4 * j + 1]!, indices[4 * j + 2]!, indices[4 * j + 3]!];
    const at = ((a * I + b) * KH + c) * KW + d;
    f[at] = f[at]! + values[j]!; // duplicates in an uncoalesced COO add up
  }
  return [ka, kb, kc, kd];
}

/** The in-place idct4d_f32 call that expands a scattered weight; tables must cover every axis length. */
export function idct4dCall(
  w: number, shape: readonly [number, number, number, number], corner: readonly [number, number, number, number],
  tables: Map<number, number>, scratch: number,
): KernelCall {
  const [O, I, KH, KW] = shape;
  const tab = (n: number) => {
    const p = tables.get(n);
    if (p === undefined) throw new RangeError(`idct4dCall: no IDCT table for length ${n}`);
    return p;
  };
  return ['idct4d_f32', w, O, I, KH, KW, ...corner, tab(O), tab(I), tab(KH), tab(KW), scratch];
}

/**
 * Expands one FR weight into dense weights at `w` (shape[0]·…·shape[3] floats): scatters the
 * coefficients into the leading corner that holds them, then runs idct4d_f32 in place.
 * Tables must cover every axis length; scratch holds IDCT_SCRATCH_FLOATS(max axis) floats.
 */
export function expandWeight(
  ex: KernelExports, memory: WebAssembly.Memory, w: number, shape: readonly [number, number, number, number],
  indices: Int32Array, values: Float32Array, tables: Map<number, number>, scratch: number,
): void {
  const corner = scatterCoefficients(memory, w, shape, indices, values);
  runCalls(ex, [idct4dCall(w, shape, corner, tables, scratch)]);
}
