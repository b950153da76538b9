/**
 * The typed mirror of the kernel module's exports (assembly/index.ts). Every export has the same
 * name and parameter names as in assembly/; pointers are byte offsets into the kernel memory.
 * test/smoke.test.ts checks that this list and the module agree.
 *
 * Conventions for every kernel (details in each assembly/ file's header):
 * - activations are planar CHW float32 (one image), weights PyTorch layout;
 * - pointers are byte offsets, 4-byte alignment is enough (the Arena gives 16);
 * - output first; kernels never allocate (tables and scratch come from the host);
 * - ranges [co0, co1) / [c0, c1) / [p0, p1) select the part written, so threads sharing the
 *   memory can split one call into disjoint writes;
 * - every SIMD kernel `name` has a scalar twin `name_ref` with the same signature.
 */
export interface KernelExports {
  /** First byte the host may use; everything below is the module's static data. */
  heapBase(): number;

  // ---- assembly/idct.ts: orthonormal inverse DCT (DCT-III) ----
  /** Fills the cosine/Lee table for length N: 5·N floats (IDCT_TABLE_FLOATS). */
  idct_table_f32(tabPtr: number, N: number): void;
  /**
   * Inverse DCT of `count` vectors of length N; element j of vector v at 4·(v·vstride + j·stride)
   * bytes from in/out. Reads in[j < K] only, writes all N; in place allowed; scratch 65·N floats.
   */
  idct_f32(outPtr: number, inPtr: number, N: number, K: number, count: number, stride: number, vstride: number, tabPtr: number, scratch: number): void;
  idct_f32_ref(outPtr: number, inPtr: number, N: number, K: number, count: number, stride: number, vstride: number, tabPtr: number, scratch: number): void;
  /**
   * In-place 4-D inverse DCT of w (O, I, KH, KW) whose leading corner (ka, kb, kc, kd) holds the
   * coefficients (rest of the corner zero, outside never read). Scratch 65·max(O, I, KH, KW) floats.
   */
  idct4d_f32(wPtr: number, O: number, I: number, KH: number, KW: number, ka: number, kb: number, kc: number, kd: number, tabO: number, tabI: number, tabH: number, tabW: number, scratch: number): void;
  idct4d_f32_ref(wPtr: number, O: number, I: number, KH: number, KW: number, ka: number, kb: number, kc: number, kd: number, tabO: number, tabI: number, tabH: number, tabW: number, scratch: number): void;

  // ---- assembly/conv2d.ts: stride 1, no bias; in (C, H, W), w (K, C, kh, kw), out (K, H, W) ----
  /**
   * 3x3 pad 1; writes output channels [co0, co1). No overlap of out with in or w. Scratch: 3·C·W
   * floats per thread, or 0 for none (slower on full-size layers; the twin ignores it).
   */
  conv2d_f32_3x3p1(outPtr: number, inPtr: number, wPtr: number, C: number, H: number, W: number, co0: number, co1: number, scratch: number): void;
  conv2d_f32_3x3p1_ref(outPtr: number, inPtr: number, wPtr: number, C: number, H: number, W: number, co0: number, co1: number, scratch: number): void;
  /** Winograd weights u (16, K, C) from w (K, C, 3, 3); scalar, once per layer. */
  conv2d_f32_3x3p1_f23_weights(uPtr: number, wPtr: number, K: number, C: number): void;
  /** Floats of scratch conv2d_f32_3x3p1_f23 needs for C input channels of width W (per thread). */
  conv2d_f32_3x3p1_f23_scratch(C: number, W: number): number;
  /**
   * 3x3 pad 1 by Winograd F(2×2, 3×3) on u from conv2d_f32_3x3p1_f23_weights; writes output channels
   * [co0, co1). Scratch: conv2d_f32_3x3p1_f23_scratch(C, W) floats per thread. Its reference is
   * conv2d_f32_3x3p1_ref (same result up to rounding).
   */
  conv2d_f32_3x3p1_f23(outPtr: number, inPtr: number, uPtr: number, C: number, H: number, W: number, K: number, co0: number, co1: number, scratch: number): void;
  /** 1x1; writes output channels [co0, co1). No overlap of out with in or w. */
  conv2d_f32_1x1(outPtr: number, inPtr: number, wPtr: number, C: number, H: number, W: number, co0: number, co1: number): void;
  conv2d_f32_1x1_ref(outPtr: number, inPtr: number, wPtr: number, C: number, H: number, W: number, co0: number, co1: number): void;

  // ---- assembly/conv_transpose2d.ts ----
  /**
   * in (Cin, H, W), w (Cin, Cout, 2, 2), out (Cout, 2H, 2W); writes output channels [co0, co1).
   * Scratch: Cin·(W + 4) floats per thread, or 0 for none (slower at large Cin; the twin ignores it).
   */
  conv_transpose2d_f32_2x2s2(outPtr: number, inPtr: number, wPtr: number, Cin: number, Cout: number, H: number, W: number, co0: number, co1: number, scratch: number): void;
  conv_transpose2d_f32_2x2s2_ref(outPtr: number, inPtr: number, wPtr: number, Cin: number, Cout: number, H: number, W: number, co0: number, co1: number, scratch: number): void;

  // ---- assembly/norm.ts ----
  /** Instance norm (biased var, eps 1e-5) + ReLU over channels [c0, c1) of (C, P); out may equal x. */
  norm_relu_f32(outPtr: number, xPtr: number, P: number, c0: number, c1: number): void;
  norm_relu_f32_ref(outPtr: number, xPtr: number, P: number, c0: number, c1: number): void;

  // ---- assembly/pool.ts ----
  /** Max-pool 2x2 floor: in (C, H, W) → out (C, H/2, W/2), channels [c0, c1). */
  maxpool2d_f32_2x2(outPtr: number, inPtr: number, H: number, W: number, c0: number, c1: number): void;
  maxpool2d_f32_2x2_ref(outPtr: number, inPtr: number, H: number, W: number, c0: number, c1: number): void;

  // ---- assembly/concat.ts ----
  /**
   * in (C, h, w) channels [c0, c1) → out (·, H, W) channels cOff + c, placed at (top, left), the
   * rest of those planes zeroed (F.pad + torch.cat; top = (H-h)>>1, left = (W-w)>>1).
   */
  pad_concat_f32(outPtr: number, inPtr: number, h: number, w: number, H: number, W: number, top: number, left: number, cOff: number, c0: number, c1: number): void;
  pad_concat_f32_ref(outPtr: number, inPtr: number, h: number, w: number, H: number, W: number, top: number, left: number, cOff: number, c0: number, c1: number): void;

  // ---- assembly/argmax.ts ----
  /** logits (K, P) → u8 class per pixel for pixels [p0, p1); ties to the lowest class; K ≤ 256. */
  argmax_f32_u8(outPtr: number, logitsPtr: number, K: number, P: number, p0: number, p1: number): void;
  argmax_f32_u8_ref(outPtr: number, logitsPtr: number, K: number, P: number, p0: number, p1: number): void;

  // ---- spectral (assembly/spectral.ts): the fused frequency-domain kernels of src/engines/spectral.ts ----
  // Maps are float32 planes; strides are in elements (floats), pointers in bytes and point at pixel
  // (0, 0) of map 0; rows [y0, y1) are written, so threads can split a call by rows.
  /**
   * For each pixel of rows [y0, y1), columns [0, width): channel o = Σ_a F[o,a]·q_a (ReLU'd if
   * `relu`), o < channels, then out_g = Σ_o G[o,g]·channel_o for g < nOut (written, not added).
   * With nPool > 0, rows go in pairs (y0 even) and each 2×2 block's max (floor) is also projected:
   * pool_g at (y/2, x/2) = Σ_o Gp[o,g]·max. F (channels, na); G (channels, padded4(nOut));
   * Gp (channels, padded4(nPool)). Outputs must not overlap q. `height` is the full-res height.
   * With biasPtr ≠ 0, b[g] (float32, nOut) is added to out_g. Scratch: 16·channels floats per
   * thread (the channel values of a pooled block; unused by the twin).
   */
  spectral_fuse_f32(
    outPtr: number, outMapStride: number, outRowStride: number, nOut: number, gPtr: number,
    poolPtr: number, poolMapStride: number, poolRowStride: number, nPool: number, gpPtr: number,
    qPtr: number, qMapStride: number, qRowStride: number, na: number, fPtr: number,
    channels: number, width: number, height: number, y0: number, y1: number, relu: number, biasPtr: number, scratchPtr: number,
  ): void;
  spectral_fuse_f32_ref(
    outPtr: number, outMapStride: number, outRowStride: number, nOut: number, gPtr: number,
    poolPtr: number, poolMapStride: number, poolRowStride: number, nPool: number, gpPtr: number,
    qPtr: number, qMapStride: number, qRowStride: number, na: number, fPtr: number,
    channels: number, width: number, height: number, y0: number, y1: number, relu: number, biasPtr: number, scratchPtr: number,
  ): void;
  /**
   * q_a = Σ_{pairs (a,b)} K_p ⋆ p_b, 3×3 cross-correlation; p maps must have a readable, zero
   * one-pixel border (rowStride ≥ width + 2). pairs (nPairs, 2) int32 sorted by a; taps (nPairs, 9).
   * Every q_a, a < na, is written (0 without pairs).
   */
  spectral_conv2d_f32_3x3p1(
    qPtr: number, qMapStride: number, pPtr: number, pMapStride: number, rowStride: number,
    pairsPtr: number, tapsPtr: number, nPairs: number, na: number, width: number, y0: number, y1: number,
  ): void;
  spectral_conv2d_f32_3x3p1_ref(
    qPtr: number, qMapStride: number, pPtr: number, pMapStride: number, rowStride: number,
    pairsPtr: number, tapsPtr: number, nPairs: number, na: number, width: number, y0: number, y1: number,
  ): void;
  /**
   * Adds out_b[top + 2y + ky, left + 2x + kx] += K_p[ky,kx]·p_a[y,x] for pairs (a, b), over output
   * rows [y0, y1) (rows outside [top, top + 2·srcHeight) untouched). taps (nPairs, 2, 2).
   */
  spectral_scatter_f32_2x2s2(
    outPtr: number, outMapStride: number, outRowStride: number, pPtr: number, pMapStride: number, pRowStride: number,
    pairsPtr: number, tapsPtr: number, nPairs: number, srcWidth: number, srcHeight: number, top: number, left: number,
    y0: number, y1: number,
  ): void;
  spectral_scatter_f32_2x2s2_ref(
    outPtr: number, outMapStride: number, outRowStride: number, pPtr: number, pMapStride: number, pRowStride: number,
    pairsPtr: number, tapsPtr: number, nPairs: number, srcWidth: number, srcHeight: number, top: number, left: number,
    y0: number, y1: number,
  ): void;
  /** sum[a] += Σ q_a over rows [y0, y1) (float64 sums, 8-byte aligned). */
  spectral_sum_f64(sumPtr: number, qPtr: number, qMapStride: number, qRowStride: number, na: number, width: number, y0: number, y1: number): void;
  spectral_sum_f64_ref(sumPtr: number, qPtr: number, qMapStride: number, qRowStride: number, na: number, width: number, y0: number, y1: number): void;
  /** q_a -= mean[a] in place (float32 means), then cov[a·na + b] += Σ q_a·q_b for b ≥ a (float64). */
  spectral_center_cov_f64(covPtr: number, qPtr: number, qMapStride: number, qRowStride: number, meanPtr: number, na: number, width: number, y0: number, y1: number): void;
  spectral_center_cov_f64_ref(covPtr: number, qPtr: number, qMapStride: number, qRowStride: number, meanPtr: number, na: number, width: number, y0: number, y1: number): void;
  /**
   * p_b = Σ_i B[i, b]·x_i over rows [y0, y1) of p (B (cin, nb) float64 at basisPtr; float64 sums
   * rounded once); the image rows come from xPtr, row y0 first (the host passes a band).
   */
  spectral_project_f32(
    pPtr: number, pMapStride: number, pRowStride: number, xPtr: number, xMapStride: number, xRowStride: number,
    cin: number, nb: number, basisPtr: number, width: number, y0: number, y1: number,
  ): void;
  spectral_project_f32_ref(
    pPtr: number, pMapStride: number, pRowStride: number, xPtr: number, xMapStride: number, xRowStride: number,
    cin: number, nb: number, basisPtr: number, width: number, y0: number, y1: number,
  ): void;

  // ---- spectral backward (assembly/spectral_backward.ts): the gradient kernels of src/engines/spectral-backward.ts ----
  /**
   * The training loss's first pass over the logit maps (classes maps, rows [y0, y1), int32 targets
   * row-major; outc's bias included by spectral_fuse_f32): writes the softmax over the logits, and adds to
   * float64 sums[0..3]: Σ −log s_t, Σ_k s_k, Σ s_t, pixels with a logit that is not finite.
   * scratch: classes float64 per thread. SIMD for 2 classes (float32 exp and log, within a few ulp
   * of the float64 twin's); other class counts run the twin's scalar pass.
   */
  spectral_softmax_f32(
    sumsPtr: number, scratchPtr: number, lPtr: number, mapStride: number, rowStride: number, classes: number,
    targetPtr: number, width: number, y0: number, y1: number,
  ): void;
  spectral_softmax_f32_ref(
    sumsPtr: number, scratchPtr: number, lPtr: number, mapStride: number, rowStride: number, classes: number,
    targetPtr: number, width: number, y0: number, y1: number,
  ): void;
  /**
   * The second pass: ∂L/∂logit_k = (s_k − [k = t])/pixels + s_k·(g_k − Σ_j s_j g_j), g_k = gTrue at
   * the target class and gOther elsewhere, written over the softmax; sums[k] += ∂L/∂logit_k (float64).
   */
  spectral_softmax_grad_f32(
    sumsPtr: number, sPtr: number, mapStride: number, rowStride: number, classes: number, targetPtr: number, width: number,
    pixels: number, gTrue: number, gOther: number, y0: number, y1: number,
  ): void;
  spectral_softmax_grad_f32_ref(
    sumsPtr: number, sPtr: number, mapStride: number, rowStride: number, classes: number, targetPtr: number, width: number,
    pixels: number, gTrue: number, gOther: number, y0: number, y1: number,
  ): void;
  /**
   * The fused backward pass of a normed, ReLU'd conv, per pixel of rows [y0, y1): z_o = Σ_a F[o,a]·q_a
   * (q centred), ∂L/∂h_o = Σ_g G[o,g]·out_g (+ Σ_g Gp[o,g]·pool_g at the first maximum of z_o in the
   * pixel's 2×2 window, when pooling), g_o = ∂L/∂h_o where z_o > 0 (else 0); writes
   * u_a = Σ_o F[o,a]·g_o and adds sums[o] += Σ g_o·z_o (float64); with
   * wgradPtr ≠ 0 also wgrad[o·nOut + g] += Σ out_g·ReLU(z_o) (float64: a dense consumer's weight
   * gradient). Scratch per thread, unused by the twin: (4·(1 + nOut) with wgradPtr ≠ 0, else 4)·channels
   * floats of per-lane sums, then 16·channels floats of slots (z, then g, of a block of pixels),
   * then the channels live in the block, channels int32. With
   * nPool > 0 rows go in pairs (y0 even) as in spectral_fuse_f32. Tables as spectral_fuse_f32's.
   */
  spectral_backfuse_f32(
    uPtr: number, uMapStride: number, uRowStride: number, sumsPtr: number, scratchPtr: number, wgradPtr: number,
    outPtr: number, outMapStride: number, outRowStride: number, nOut: number, gPtr: number,
    poolPtr: number, poolMapStride: number, poolRowStride: number, nPool: number, gpPtr: number,
    qPtr: number, qMapStride: number, qRowStride: number, na: number, fPtr: number,
    channels: number, width: number, y0: number, y1: number,
  ): void;
  spectral_backfuse_f32_ref(
    uPtr: number, uMapStride: number, uRowStride: number, sumsPtr: number, scratchPtr: number, wgradPtr: number,
    outPtr: number, outMapStride: number, outRowStride: number, nOut: number, gPtr: number,
    poolPtr: number, poolMapStride: number, poolRowStride: number, nPool: number, gpPtr: number,
    qPtr: number, qMapStride: number, qRowStride: number, na: number, fPtr: number,
    channels: number, width: number, y0: number, y1: number,
  ): void;
  /**
   * Row by row over [y0, y1): first the rest of the norm's Jacobian on dq in place,
   * dq_a ← dq_a − c[a] − Σ_b M[a,b]·q_b (a < na; c (na), M (na, na) float32; q in dq's geometry), then
   * the tap gradients of the spatial convs, acc[p, ky, kx] += Σ dq_a(y, x)·p_b(y + ky − 1, x + kx − 1)
   * for pairs p = (a, b) (float32 products, float64 sums); p maps with a zero border.
   */
  spectral_conv2d_grad_f64_3x3p1(
    accPtr: number, dqPtr: number, dqMapStride: number, pPtr: number, pMapStride: number, rowStride: number,
    pairsPtr: number, nPairs: number, width: number, y0: number, y1: number, qPtr: number, cPtr: number, mPtr: number, na: number,
  ): void;
  spectral_conv2d_grad_f64_3x3p1_ref(
    accPtr: number, dqPtr: number, dqMapStride: number, pPtr: number, pMapStride: number, rowStride: number,
    pairsPtr: number, nPairs: number, width: number, y0: number, y1: number, qPtr: number, cPtr: number, mPtr: number, na: number,
  ): void;
  /**
   * The scatter's adjoint: p_a(y, x) = Σ_{pairs (a,b)} Σ_{ky,kx} K_p[ky,kx]·s_b(top + 2y + ky, left + 2x + kx)
   * for rows [y0, y1) of the half-size maps; every p_a, a < na, is written.
   */
  spectral_gather_f32_2x2s2(
    pPtr: number, pMapStride: number, pRowStride: number, sPtr: number, sMapStride: number, sRowStride: number,
    pairsPtr: number, tapsPtr: number, nPairs: number, na: number, width: number, top: number, left: number, y0: number, y1: number,
  ): void;
  spectral_gather_f32_2x2s2_ref(
    pPtr: number, pMapStride: number, pRowStride: number, sPtr: number, sMapStride: number, sRowStride: number,
    pairsPtr: number, tapsPtr: number, nPairs: number, na: number, width: number, top: number, left: number, y0: number, y1: number,
  ): void;
  /** Scatter tap gradients: acc[p, ky, kx] += Σ s_b(top + 2y + ky, left + 2x + kx)·p_a(y, x) over half-size rows [y0, y1). */
  spectral_scatter_grad_f64_2x2s2(
    accPtr: number, sPtr: number, sMapStride: number, sRowStride: number, pPtr: number, pMapStride: number, pRowStride: number,
    pairsPtr: number, nPairs: number, width: number, top: number, left: number, y0: number, y1: number,
  ): void;
  spectral_scatter_grad_f64_2x2s2_ref(
    accPtr: number, sPtr: number, sMapStride: number, sRowStride: number, pPtr: number, pMapStride: number, pRowStride: number,
    pairsPtr: number, nPairs: number, width: number, top: number, left: number, y0: number, y1: number,
  ): void;
}

/** Names of every function the module must export (kept in step with KernelExports). */
export const KERNEL_EXPORT_NAMES: readonly (keyof KernelExports)[] = [
  'heapBase',
  // idct
  'idct_table_f32',
  'idct_f32',
  'idct_f32_ref',
  'idct4d_f32',
  'idct4d_f32_ref',
  // conv2d
  'conv2d_f32_3x3p1',
  'conv2d_f32_3x3p1_ref',
  'conv2d_f32_3x3p1_f23_weights',
  'conv2d_f32_3x3p1_f23_scratch',
  'conv2d_f32_3x3p1_f23',
  'conv2d_f32_1x1',
  'conv2d_f32_1x1_ref',
  // conv_transpose2d
  'conv_transpose2d_f32_2x2s2',
  'conv_transpose2d_f32_2x2s2_ref',
  // norm
  'norm_relu_f32',
  'norm_relu_f32_ref',
  // pool
  'maxpool2d_f32_2x2',
  'maxpool2d_f32_2x2_ref',
  // concat
  'pad_concat_f32',
  'pad_concat_f32_ref',
  // argmax
  'argmax_f32_u8',
  'argmax_f32_u8_ref',
  // spectral
  'spectral_fuse_f32',
  'spectral_fuse_f32_ref',
  'spectral_conv2d_f32_3x3p1',
  'spectral_conv2d_f32_3x3p1_ref',
  'spectral_scatter_f32_2x2s2',
  'spectral_scatter_f32_2x2s2_ref',
  'spectral_sum_f64',
  'spectral_sum_f64_ref',
  'spectral_center_cov_f64',
  'spectral_center_cov_f64_ref',
  'spectral_project_f32',
  'spectral_project_f32_ref',
  // spectral backward
  'spectral_backfuse_f32',
  'spectral_backfuse_f32_ref',
  'spectral_conv2d_grad_f64_3x3p1',
  'spectral_conv2d_grad_f64_3x3p1_ref',
  'spectral_gather_f32_2x2s2',
  'spectral_gather_f32_2x2s2_ref',
  'spectral_scatter_grad_f64_2x2s2',
  'spectral_scatter_grad_f64_2x2s2_ref',
  'spectral_softmax_f32',
  'spectral_softmax_f32_ref',
  'spectral_softmax_grad_f32',
  'spectral_softmax_grad_f32_ref',
];
