/**
 * The orthonormal DCT-III basis the FR weights are expanded on, as the upstream `idct` with
 * norm='ortho': φ_k^N(n) = α_k cos(π (2n+1) k / 2N), α_0 = √(1/N), α_k = √(2/N) for k > 0.
 * W[o,i,y,x] = Σ C[a,b,c,d] φ_a^O(o) φ_b^I(i) φ_c^kh(y) φ_d^kw(x).
 */

/** φ_k^N(n) in float64. */
export function dctBasis(N: number, k: number, n: number): number {
  const alpha = k === 0 ? Math.sqrt(1 / N) : Math.sqrt(2 / N);
  return alpha * Math.cos((Math.PI * (2 * n + 1) * k) / (2 * N));
}

/** The basis vector φ_k^N as an array of length N. */
export function dctBasisVector(N: number, k: number): Float64Array {
  const v = new Float64Array(N);
  for (let n = 0; n < N; n++) v[n] = dctBasis(N, k, n);
  return v;
}
