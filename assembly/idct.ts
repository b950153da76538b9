// Orthonormal inverse DCT (DCT-III, scipy/torch `idct(norm='ortho')`), 1-D over a strided tensor
// and 4-D separable over an FR coefficient tensor.
//
//   x[n] = Σ_{k<K} φ_k(n) X[k],   φ_k(n) = α_k cos(π (2n+1) k / 2N),  α_0 = √(1/N), α_k = √(2/N)
//
// matching the upstream `frereg/_dct.py` (`idct` with norm='ortho'; src/dct.ts is the float64 twin
// on the host). Only the first K coefficients of a vector are read; the rest count as zero. That is
// how the FR weights are stored: 33 non-zeros in the leading 4×4×3×3 corner of (O, I, kh, kw).
//
// Cost: K·N per vector by direct sums, or O(N log N) by Lee's recursive factorization when N is a
// power of two and K is large enough to pay for it (see `useLee`). Kernels never allocate: the
// host fills a table per length with idct_table_f32 and passes scratch.
//
// Table for length N (IDCT_TABLE_FLOATS = 5·N floats; twin: src/wasm/kernels.ts):
//   [0, 4N)        cos(π m / 2N), m = 0 .. 4N-1 (so φ_k(n) = α_k · T[(2n+1)k mod 4N])
//   [4N, 5N-1)     Lee factors when N is a power of two: level with half length h stores
//                  1 / (2 cos((i + ½) π / 2h)) for i < h at 4N + h - 1 + i
// Scratch: IDCT_SCRATCH_FLOATS = 65·N floats (twin: src/wasm/kernels.ts).
// Byte pointers, 4-byte alignment.

/** Columns transformed together by the direct path (16 vectors). */
const BLOCK: i32 = 64;

// @ts-ignore: decorator
@inline function isPow2(n: i32): bool {
  return n > 0 && (n & (n - 1)) == 0;
}

/** Lee's algorithm beats K·N direct sums once 2K > log2 N + 2 (about 1.5 N log2 N flops). */
// @ts-ignore: decorator
@inline function useLee(N: i32, K: i32): bool {
  return N >= 2 && isPow2(N) && 2 * K > (31 - clz(N)) + 2;
}

// @ts-ignore: decorator
@inline function alpha(N: i32, k: i32): f32 {
  return <f32>Math.sqrt((k == 0 ? 1.0 : 2.0) / <f64>N);
}

/** Fills the table for length N (5·N floats, layout above). */
export function idct_table_f32(tabPtr: usize, N: i32): void {
  const m4 = 4 * N;
  for (let m = 0; m < m4; m++) store<f32>(tabPtr + (<usize>m << 2), <f32>Math.cos((Math.PI * <f64>m) / <f64>(2 * N)));
  if (!isPow2(N)) return;
  const fac = tabPtr + (<usize>m4 << 2);
  for (let h = 1; h < N; h <<= 1) {
    for (let i = 0; i < h; i++) {
      store<f32>(fac + (<usize>(h - 1 + i) << 2), <f32>(0.5 / Math.cos(((<f64>i + 0.5) * Math.PI) / <f64>(2 * h))));
    }
  }
}

/**
 * Lee's inverse DCT core on `len` floats at v (result in v), t = `len` floats of temporary:
 * v[n] ← Σ_k v[k] cos(π (2n+1) k / 2len). After Nayuki's FastDctLee.inverseTransform.
 */
function lee1(v: usize, t: usize, len: i32, fac: usize): void {
  if (len == 1) return;
  const h = len >> 1;
  store<f32>(t, load<f32>(v));
  store<f32>(t + (<usize>h << 2), load<f32>(v, 4));
  for (let i = 1; i < h; i++) {
    const p = v + (<usize>i << 3);
    store<f32>(t + (<usize>i << 2), load<f32>(p));
    store<f32>(t + (<usize>(i + h) << 2), load<f32>(p - 4) + load<f32>(p + 4));
  }
  lee1(t, v, h, fac);
  lee1(t + (<usize>h << 2), v + (<usize>h << 2), h, fac);
  const f = fac + (<usize>(h - 1) << 2);
  for (let i = 0; i < h; i++) {
    const x = load<f32>(t + (<usize>i << 2));
    const y = load<f32>(t + (<usize>(i + h) << 2)) * load<f32>(f + (<usize>i << 2));
    store<f32>(v + (<usize>i << 2), x + y);
    store<f32>(v + (<usize>(len - 1 - i) << 2), x - y);
  }
}

/** lee1 on 4 interleaved vectors (one v128 per index). */
function lee4(v: usize, t: usize, len: i32, fac: usize): void {
  if (len == 1) return;
  const h = len >> 1;
  v128.store(t, v128.load(v));
  v128.store(t + (<usize>h << 4), v128.load(v, 16));
  for (let i = 1; i < h; i++) {
    const p = v + (<usize>i << 5);
    v128.store(t + (<usize>i << 4), v128.load(p));
    v128.store(t + (<usize>(i + h) << 4), f32x4.add(v128.load(p - 16), v128.load(p + 16)));
  }
  lee4(t, v, h, fac);
  lee4(t + (<usize>h << 4), v + (<usize>h << 4), h, fac);
  const f = fac + (<usize>(h - 1) << 2);
  for (let i = 0; i < h; i++) {
    const x = v128.load(t + (<usize>i << 4));
    const y = f32x4.mul(v128.load(t + (<usize>(i + h) << 4)), v128.load32_splat(f + (<usize>i << 2)));
    v128.store(v + (<usize>i << 4), f32x4.add(x, y));
    v128.store(v + (<usize>(len - 1 - i) << 4), f32x4.sub(x, y));
  }
}

/** φ_k(n) for k < K into phi (K floats), by stepping m = (2n+1)k mod 4N. */
// @ts-ignore: decorator
@inline function basisRow(phi: usize, N: i32, K: i32, n: i32, tabPtr: usize, a0: f32, a1: f32): void {
  const m4 = 4 * N, step = 2 * n + 1;
  store<f32>(phi, a0);
  let m = 0;
  for (let k = 1; k < K; k++) {
    m += step;
    if (m >= m4) m -= m4;
    store<f32>(phi + (<usize>k << 2), a1 * load<f32>(tabPtr + (<usize>m << 2)));
  }
}

/** One vector at p with element stride `sb` bytes, scalar: direct sums or Lee. Scratch 2N (+K) floats. */
function idctVector(outP: usize, inP: usize, N: i32, K: i32, sb: usize, tabPtr: usize, scratch: usize): void {
  const a0 = alpha(N, 0), a1 = alpha(N, 1);
  if (useLee(N, K)) {
    const t = scratch + (<usize>N << 2);
    store<f32>(scratch, a0 * load<f32>(inP));
    for (let k = 1; k < K; k++) store<f32>(scratch + (<usize>k << 2), a1 * load<f32>(inP + <usize>k * sb));
    for (let k = K; k < N; k++) store<f32>(scratch + (<usize>k << 2), 0);
    lee1(scratch, t, N, tabPtr + (<usize>N << 4));
    for (let n = 0; n < N; n++) store<f32>(outP + <usize>n * sb, load<f32>(scratch + (<usize>n << 2)));
    return;
  }
  const x = scratch, phi = scratch + (<usize>K << 2);
  for (let k = 0; k < K; k++) store<f32>(x + (<usize>k << 2), load<f32>(inP + <usize>k * sb));
  for (let n = 0; n < N; n++) {
    basisRow(phi, N, K, n, tabPtr, a0, a1);
    let s: f32 = 0;
    for (let k = 0; k < K; k++) s += load<f32>(phi + (<usize>k << 2)) * load<f32>(x + (<usize>k << 2));
    store<f32>(outP + <usize>n * sb, s);
  }
}

/**
 * Inverse DCT of `count` vectors of length N. Element j of vector v is at byte
 * ptr + 4·(v·vstride + j·stride) for both `in` and `out`; only elements j < K of `in` are read
 * (1 ≤ K ≤ N), all N of `out` are written. In place (out == in) is allowed. tab: table for N;
 * scratch: 65·N floats. SIMD runs 4 or 64 adjacent vectors together when vstride == 1.
 */
export function idct_f32(outPtr: usize, inPtr: usize, N: i32, K: i32, count: i32, stride: i32, vstride: i32, tabPtr: usize, scratch: usize): void {
  const sb = <usize>stride << 2;
  let v = 0;
  if (vstride == 1) {
    const a0 = alpha(N, 0), a1 = alpha(N, 1);
    if (useLee(N, K)) {
      // 4 vectors at a time through lee4 on interleaved scratch (2N v128).
      const t = scratch + (<usize>N << 4), fac = tabPtr + (<usize>N << 4);
      const va0 = f32x4.splat(a0), va1 = f32x4.splat(a1);
      for (; v + 4 <= count; v += 4) {
        const ip = inPtr + (<usize>v << 2), op = outPtr + (<usize>v << 2);
        v128.store(scratch, f32x4.mul(va0, v128.load(ip)));
        for (let k = 1; k < K; k++) v128.store(scratch + (<usize>k << 4), f32x4.mul(va1, v128.load(ip + <usize>k * sb)));
        for (let k = K; k < N; k++) v128.store(scratch + (<usize>k << 4), f32x4.splat(0));
        lee4(scratch, t, N, fac);
        for (let n = 0; n < N; n++) v128.store(op + <usize>n * sb, v128.load(scratch + (<usize>n << 4)));
      }
    } else {
      // Direct sums over blocks of BLOCK columns: copy the K input rows of the block to scratch
      // (so the block can be overwritten in place), then write whole output rows.
      const phi = scratch, S = scratch + (<usize>K << 2);
      const rowS = <usize>BLOCK << 2;
      for (; v + 4 <= count; v += BLOCK) {
        const w = min(BLOCK, count - v) & ~3; // whole vectors; the rest goes to the scalar tail
        const ip = inPtr + (<usize>v << 2), op = outPtr + (<usize>v << 2);
        for (let k = 0; k < K; k++) memory.copy(S + <usize>k * rowS, ip + <usize>k * sb, <usize>w << 2);
        for (let n = 0; n < N; n++) {
          basisRow(phi, N, K, n, tabPtr, a0, a1);
          const o = op + <usize>n * sb;
          for (let j = 0; j < w; j += 4) {
            let p = S + (<usize>j << 2);
            let acc = f32x4.mul(v128.load32_splat(phi), v128.load(p));
            for (let k = 1; k < K; k++) {
              p += rowS;
              acc = f32x4.add(acc, f32x4.mul(v128.load32_splat(phi + (<usize>k << 2)), v128.load(p)));
            }
            v128.store(o + (<usize>j << 2), acc);
          }
        }
        if (w < BLOCK) { v += w; break; }
      }
    }
  }
  const vb = <usize>vstride << 2;
  for (; v < count; v++) idctVector(outPtr + <usize>v * vb, inPtr + <usize>v * vb, N, K, sb, tabPtr, scratch);
}

/** Scalar twin of idct_f32: direct sums in float64, one vector at a time (scratch: K floats). */
export function idct_f32_ref(outPtr: usize, inPtr: usize, N: i32, K: i32, count: i32, stride: i32, vstride: i32, tabPtr: usize, scratch: usize): void {
  const sb = <usize>stride << 2, vb = <usize>vstride << 2;
  const m4 = 4 * N;
  for (let v = 0; v < count; v++) {
    const ip = inPtr + <usize>v * vb, op = outPtr + <usize>v * vb;
    for (let k = 0; k < K; k++) store<f32>(scratch + (<usize>k << 2), load<f32>(ip + <usize>k * sb));
    for (let n = 0; n < N; n++) {
      let s: f64 = 0;
      for (let k = 0; k < K; k++) {
        const m = ((2 * n + 1) * k) % m4;
        s += <f64>alpha(N, k) * <f64>load<f32>(tabPtr + (<usize>m << 2)) * <f64>load<f32>(scratch + (<usize>k << 2));
      }
      store<f32>(op + <usize>n * sb, <f32>s);
    }
  }
}

/** Whether the n floats at p are all zero. */
function allZero(p: usize, n: i32, stride: i32, rows: i32, rowStride: i32): bool {
  for (let r = 0; r < rows; r++) {
    const q = p + (<usize>r * <usize>rowStride << 2);
    for (let i = 0; i < n; i++) if (load<f32>(q + (<usize>i * <usize>stride << 2)) != 0) return false;
  }
  return true;
}

/**
 * 4-D inverse DCT of an FR weight tensor, in place. On entry w (O, I, KH, KW) holds the
 * coefficients C in its leading corner [0,ka)×[0,kb)×[0,kc)×[0,kd) (the host scatters the
 * non-zeros there and zeroes the rest of the corner; nothing outside it is read). On exit w holds
 * W[o,i,y,x] = Σ C[a,b,c,d] φ_a^O(o) φ_b^I(i) φ_c^KH(y) φ_d^KW(x).
 * Order (work proportional to the non-zero slices): kw then kh over the ka·kb corner slices
 * (all-zero slices are zero-filled instead), then I over the ka rows (all-zero rows zero-filled),
 * then O over all I·KH·KW columns. tabO/tabI/tabH/tabW: tables for O, I, KH, KW;
 * scratch: 65·max(O, I, KH, KW) floats.
 */
export function idct4d_f32(wPtr: usize, O: i32, I: i32, KH: i32, KW: i32, ka: i32, kb: i32, kc: i32, kd: i32,
  tabO: usize, tabI: usize, tabH: usize, tabW: usize, scratch: usize): void {
  const sI = KH * KW, sO = I * sI;
  for (let a = 0; a < ka; a++) {
    for (let b = 0; b < kb; b++) {
      const s = wPtr + (<usize>(a * sO + b * sI) << 2);
      if (allZero(s, kd, 1, kc, KW)) { memory.fill(s, 0, <usize>sI << 2); continue; }
      idct_f32(s, s, KW, kd, kc, 1, KW, tabW, scratch);
      idct_f32(s, s, KH, kc, KW, KW, 1, tabH, scratch);
    }
  }
  for (let a = 0; a < ka; a++) {
    const r = wPtr + (<usize>(a * sO) << 2);
    if (allZero(r, kb * sI, 1, 1, 0)) { memory.fill(r, 0, <usize>sO << 2); continue; }
    idct_f32(r, r, I, kb, sI, sI, 1, tabI, scratch);
  }
  idct_f32(wPtr, wPtr, O, ka, sO, sO, 1, tabO, scratch);
}

/** Scalar twin of idct4d_f32: the same axis order with idct_f32_ref and no zero skipping. */
export function idct4d_f32_ref(wPtr: usize, O: i32, I: i32, KH: i32, KW: i32, ka: i32, kb: i32, kc: i32, kd: i32,
  tabO: usize, tabI: usize, tabH: usize, tabW: usize, scratch: usize): void {
  const sI = KH * KW, sO = I * sI;
  for (let a = 0; a < ka; a++) {
    for (let b = 0; b < kb; b++) {
      const s = wPtr + (<usize>(a * sO + b * sI) << 2);
      idct_f32_ref(s, s, KW, kd, kc, 1, KW, tabW, scratch);
      idct_f32_ref(s, s, KH, kc, KW, KW, 1, tabH, scratch);
    }
  }
  for (let a = 0; a < ka; a++) {
    const r = wPtr + (<usize>(a * sO) << 2);
    idct_f32_ref(r, r, I, kb, sI, sI, 1, tabI, scratch);
  }
  idct_f32_ref(wPtr, wPtr, O, ka, sO, sO, 1, tabO, scratch);
}
