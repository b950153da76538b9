/**
 * The spectral kernels of assembly/spectral.ts written again in plain TypeScript over the same
 * memory, with the same signatures: the oracle the WASM kernels are tested against, and a way
 * to run the whole spectral engine without WASM (`kernels: 'js'`, slow; for tests). Pointers are
 * byte offsets, strides are in elements; see assembly/spectral.ts for each kernel's contract.
 */

import type { KernelExports } from '../wasm/exports.js';

/** The spectral kernels, as the kernel module exports them (contracts in src/wasm/exports.ts). */
export type SpectralKernels = Pick<KernelExports,
  'spectral_fuse_f32' | 'spectral_conv2d_f32_3x3p1' | 'spectral_scatter_f32_2x2s2' | 'spectral_sum_f64' | 'spectral_center_cov_f64'
  | 'spectral_project_f32'
  | 'spectral_backfuse_f32' | 'spectral_conv2d_grad_f64_3x3p1' | 'spectral_gather_f32_2x2s2'
  | 'spectral_scatter_grad_f64_2x2s2' | 'spectral_softmax_f32' | 'spectral_softmax_grad_f32'>;

export const SPECTRAL_KERNEL_NAMES: readonly (keyof SpectralKernels)[] = [
  'spectral_fuse_f32', 'spectral_conv2d_f32_3x3p1', 'spectral_scatter_f32_2x2s2', 'spectral_sum_f64', 'spectral_center_cov_f64',
  'spectral_project_f32',
  'spectral_backfuse_f32', 'spectral_conv2d_grad_f64_3x3p1', 'spectral_gather_f32_2x2s2',
  'spectral_scatter_grad_f64_2x2s2', 'spectral_softmax_f32', 'spectral_softmax_grad_f32',
];

/** Consumer tables have their rows padded to a multiple of 4 entries (twin: assembly/spectral.ts). */
export function padded4(n: number): number {
  return (n + 3) & ~3;
}

export function createOracleKernels(memory: WebAssembly.Memory): SpectralKernels {
  let buffer: ArrayBufferLike | undefined;
  let f32 = new Float32Array(0), f64 = new Float64Array(0), i32 = new Int32Array(0);
  const views = () => {
    if (buffer !== memory.buffer || f32.length * 4 !== memory.buffer.byteLength) {
      buffer = memory.buffer;
      f32 = new Float32Array(buffer);
      f64 = new Float64Array(buffer);
      i32 = new Int32Array(buffer);
    }
  };
  const fround = Math.fround;

  return {
    spectral_fuse_f32(outPtr, outMapStride, outRowStride, nOut, gPtr, poolPtr, poolMapStride, poolRowStride, nPool, gpPtr,
      qPtr, qMapStride, qRowStride, na, fPtr, channels, width, height, y0, y1, relu, biasPtr, scratchPtr) {
      views();
      void scratchPtr; // the SIMD kernel's channel values of a pooled block
      const b0 = biasPtr >> 2;
      const o0 = outPtr >> 2, p0 = poolPtr >> 2, q0 = qPtr >> 2, g0 = gPtr >> 2, gp0 = gpPtr >> 2, f0 = fPtr >> 2;
      const gs = padded4(nOut), gps = padded4(nPool);
      const acc = new Float32Array(Math.max(nOut, 1) * 4), pacc = new Float32Array(Math.max(nPool, 1));
      const channel = (o: number, y: number, x: number) => {
        let v = 0;
        for (let a = 0; a < na; a++) v = fround(v + fround(f32[f0 + o * na + a] * f32[q0 + a * qMapStride + y * qRowStride + x]));
        return relu && !(v > 0) ? 0 : v; // = f32x4.pmax(0, v): NaN and -0 become +0
      };
      const halfW = width >> 1;
      for (let y = y0; y < y1; y++) {
        const pair = nPool > 0 && y + 1 < y1;
        const rows = pair ? 2 : 1;
        for (let x = 0; x < width; x++) {
          const pooled = pair && (x & 1) === 0 && (x >> 1) < halfW;
          acc.fill(0);
          pacc.fill(0);
          for (let o = 0; o < channels; o++) {
            let m = -Infinity;
            for (let r = 0; r < rows; r++) {
              const n = channel(o, y + r, x);
              for (let g = 0; g < nOut; g++) acc[r * nOut + g] = fround(acc[r * nOut + g] + fround(f32[g0 + o * gs + g] * n));
              m = Math.max(m, n);
            }
            if (pooled) {
              for (let r = 0; r < 2; r++) m = Math.max(m, channel(o, y + r, x + 1));
              for (let g = 0; g < nPool; g++) pacc[g] = fround(pacc[g] + fround(f32[gp0 + o * gps + g] * m));
            }
          }
          for (let r = 0; r < rows; r++) {
            for (let g = 0; g < nOut; g++) f32[o0 + g * outMapStride + (y + r) * outRowStride + x] = biasPtr ? fround(acc[r * nOut + g] + f32[b0 + g]) : acc[r * nOut + g];
          }
          if (pooled) for (let g = 0; g < nPool; g++) f32[p0 + g * poolMapStride + (y >> 1) * poolRowStride + (x >> 1)] = pacc[g];
        }
        if (pair) y++;
      }
      void height;
    },

    spectral_conv2d_f32_3x3p1(qPtr, qMapStride, pPtr, pMapStride, rowStride, pairsPtr, tapsPtr, nPairs, na, width, y0, y1) {
      views();
      const q0 = qPtr >> 2, p0 = pPtr >> 2, pr = pairsPtr >> 2, t0 = tapsPtr >> 2;
      for (let a = 0; a < na; a++)
        for (let y = y0; y < y1; y++) for (let x = 0; x < width; x++) f32[q0 + a * qMapStride + y * rowStride + x] = 0;
      for (let p = 0; p < nPairs; p++) {
        const a = i32[pr + 2 * p], b = i32[pr + 2 * p + 1];
        for (let y = y0; y < y1; y++)
          for (let x = 0; x < width; x++) {
            let s = f32[q0 + a * qMapStride + y * rowStride + x];
            for (let ky = 0; ky < 3; ky++)
              for (let kx = 0; kx < 3; kx++) {
                s = fround(s + fround(f32[t0 + p * 9 + ky * 3 + kx] * f32[p0 + b * pMapStride + (y + ky - 1) * rowStride + x + kx - 1]));
              }
            f32[q0 + a * qMapStride + y * rowStride + x] = s;
          }
      }
    },

    spectral_scatter_f32_2x2s2(outPtr, outMapStride, outRowStride, pPtr, pMapStride, pRowStride, pairsPtr, tapsPtr, nPairs,
      srcWidth, srcHeight, top, left, y0, y1) {
      views();
      const o0 = outPtr >> 2, p0 = pPtr >> 2, pr = pairsPtr >> 2, t0 = tapsPtr >> 2;
      const ya = Math.max(y0, top), yb = Math.min(y1, top + 2 * srcHeight);
      for (let p = 0; p < nPairs; p++) {
        const a = i32[pr + 2 * p], b = i32[pr + 2 * p + 1];
        for (let Y = ya; Y < yb; Y++) {
          const ky = (Y - top) & 1, y = (Y - top) >> 1;
          for (let x = 0; x < srcWidth; x++) {
            const s = f32[p0 + a * pMapStride + y * pRowStride + x];
            for (let kx = 0; kx < 2; kx++) {
              const at = o0 + b * outMapStride + Y * outRowStride + left + 2 * x + kx;
              f32[at] = fround(f32[at] + fround(f32[t0 + p * 4 + ky * 2 + kx] * s));
            }
          }
        }
      }
    },

    spectral_sum_f64(sumPtr, qPtr, qMapStride, qRowStride, na, width, y0, y1) {
      views();
      const s0 = sumPtr >> 3, q0 = qPtr >> 2;
      for (let a = 0; a < na; a++) {
        let s = 0;
        for (let y = y0; y < y1; y++) for (let x = 0; x < width; x++) s += f32[q0 + a * qMapStride + y * qRowStride + x];
        f64[s0 + a] += s;
      }
    },

    spectral_center_cov_f64(covPtr, qPtr, qMapStride, qRowStride, meanPtr, na, width, y0, y1) {
      views();
      const c0 = covPtr >> 3, q0 = qPtr >> 2, m0 = meanPtr >> 2;
      for (let a = 0; a < na; a++)
        for (let y = y0; y < y1; y++)
          for (let x = 0; x < width; x++) {
            const at = q0 + a * qMapStride + y * qRowStride + x;
            f32[at] = fround(f32[at] - f32[m0 + a]);
          }
      for (let a = 0; a < na; a++)
        for (let b = a; b < na; b++) {
          let s = 0;
          for (let y = y0; y < y1; y++)
            for (let x = 0; x < width; x++) s += f32[q0 + a * qMapStride + y * qRowStride + x] * f32[q0 + b * qMapStride + y * qRowStride + x];
          f64[c0 + a * na + b] += s;
        }
    },

    spectral_backfuse_f32(uPtr, uMapStride, uRowStride, sumsPtr, scratchPtr, wgradPtr, outPtr, outMapStride, outRowStride, nOut, gPtr,
      poolPtr, poolMapStride, poolRowStride, nPool, gpPtr, qPtr, qMapStride, qRowStride, na, fPtr, channels, width, y0, y1) {
      views();
      void scratchPtr; // the SIMD kernel's per-lane sums; this oracle sums in float64 directly
      const u0 = uPtr >> 2, s0 = sumsPtr >> 3, o0 = outPtr >> 2, p0 = poolPtr >> 2, q0 = qPtr >> 2, g0 = gPtr >> 2, gp0 = gpPtr >> 2, f0 = fPtr >> 2;
      const gs = padded4(nOut), gps = padded4(nPool);
      const halfW = width >> 1;
      const z = (o: number, y: number, x: number) => {
        let v = 0;
        for (let a = 0; a < na; a++) v = fround(v + fround(f32[f0 + o * na + a] * f32[q0 + a * qMapStride + y * qRowStride + x]));
        return v;
      };
      const U = new Float32Array(Math.max(na, 1));
      let y = y0;
      while (y < y1) {
        const rows = nPool > 0 && y + 1 < y1 ? 2 : 1;
        for (let r = 0; r < rows; r++)
          for (let x = 0; x < width; x++) {
            const Y = y + r;
            const pooled = rows === 2 && (x >> 1) < halfW;
            U.fill(0);
            for (let o = 0; o < channels; o++) {
              const zo = z(o, Y, x);
              let dh = 0;
              for (let g = 0; g < nOut; g++) dh = fround(dh + fround(f32[g0 + o * gs + g] * f32[o0 + g * outMapStride + Y * outRowStride + x]));
              if (pooled) {
                // the first maximum of the 2×2 window in row-major order takes the pooled gradient
                const xb = x & ~1;
                let best = 0, bz = -Infinity;
                for (let k = 0; k < 4; k++) {
                  const v = z(o, y + (k >> 1), xb + (k & 1));
                  if (v > bz) { bz = v; best = k; }
                }
                if (best === (r << 1) + (x & 1)) {
                  for (let g = 0; g < nPool; g++) dh = fround(dh + fround(f32[gp0 + o * gps + g] * f32[p0 + g * poolMapStride + (y >> 1) * poolRowStride + (x >> 1)]));
                }
              }
              const go = zo > 0 ? dh : 0;
              if (wgradPtr) {
                const h = zo > 0 ? zo : 0;
                for (let g = 0; g < nOut; g++) f64[(wgradPtr >> 3) + o * nOut + g] += fround(f32[o0 + g * outMapStride + Y * outRowStride + x] * h);
              }
              for (let a = 0; a < na; a++) U[a] = fround(U[a] + fround(f32[f0 + o * na + a] * go));
              f64[s0 + o] += fround(go * zo);
            }
            for (let a = 0; a < na; a++) f32[u0 + a * uMapStride + Y * uRowStride + x] = U[a];
          }
        y += rows;
      }
    },

    spectral_softmax_f32(sumsPtr, scratchPtr, lPtr, mapStride, rowStride, classes, targetPtr, width, y0, y1) {
      views();
      void scratchPtr;
      const l0 = lPtr >> 2, t0 = targetPtr >> 2, s0 = sumsPtr >> 3;
      const e = new Float64Array(classes);
      let ce = 0, probSum = 0, trueProb = 0, bad = 0;
      for (let y = y0; y < y1; y++)
        for (let x = 0; x < width; x++) {
          const p = l0 + y * rowStride + x, t = i32[t0 + y * width + x];
          let m = -Infinity, top = 0, finite = true;
          for (let k = 0; k < classes; k++) {
            const v = f32[p + k * mapStride];
            if (!Number.isFinite(v)) finite = false;
            if (v > m) { m = v; top = k; }
          }
          if (!finite) {
            bad++;
            continue;
          }
          let z = 0;
          for (let k = 0; k < classes; k++) {
            e[k] = k === top ? 1 : Math.exp(f32[p + k * mapStride] - m);
            z += e[k];
          }
          ce -= f32[p + t * mapStride] - m - Math.log(z);
          for (let k = 0; k < classes; k++) {
            const s = e[k] / z;
            f32[p + k * mapStride] = s;
            probSum += s;
            if (k === t) trueProb += s;
          }
        }
      f64[s0] += ce;
      f64[s0 + 1] += probSum;
      f64[s0 + 2] += trueProb;
      f64[s0 + 3] += bad;
    },

    spectral_softmax_grad_f32(sumsPtr, sPtr, mapStride, rowStride, classes, targetPtr, width, pixels, gTrue, gOther, y0, y1) {
      views();
      const p0 = sPtr >> 2, t0 = targetPtr >> 2, s0 = sumsPtr >> 3;
      for (let y = y0; y < y1; y++)
        for (let x = 0; x < width; x++) {
          const p = p0 + y * rowStride + x, t = i32[t0 + y * width + x];
          let mean = 0;
          for (let k = 0; k < classes; k++) mean += f32[p + k * mapStride] * (k === t ? gTrue : gOther);
          for (let k = 0; k < classes; k++) {
            const s = f32[p + k * mapStride];
            const d = (s - (k === t ? 1 : 0)) / pixels + s * ((k === t ? gTrue : gOther) - mean);
            f32[p + k * mapStride] = d;
            f64[s0 + k] += d;
          }
        }
    },

    spectral_project_f32(pPtr, pMapStride, pRowStride, xPtr, xMapStride, xRowStride, cin, nb, basisPtr, width, y0, y1) {
      views();
      const p0 = pPtr >> 2, x0 = xPtr >> 2, b0 = basisPtr >> 3;
      for (let y = y0; y < y1; y++)
        for (let b = 0; b < nb; b++)
          for (let x = 0; x < width; x++) {
            let s = 0;
            for (let i = 0; i < cin; i++) s += f64[b0 + i * nb + b] * f32[x0 + i * xMapStride + (y - y0) * xRowStride + x];
            f32[p0 + b * pMapStride + y * pRowStride + x] = s;
          }
    },

    spectral_conv2d_grad_f64_3x3p1(accPtr, dqPtr, dqMapStride, pPtr, pMapStride, rowStride, pairsPtr, nPairs, width, y0, y1, qPtr, cPtr, mPtr, na) {
      views();
      const a0 = accPtr >> 3, d0 = dqPtr >> 2, p0 = pPtr >> 2, pr = pairsPtr >> 2, q0 = qPtr >> 2, c0 = cPtr >> 2, m0 = mPtr >> 2;
      // The norm's Jacobian on rows [y0, y1) of dq first (every row before any tap reads it: same result).
      const v = new Float32Array(Math.max(na, 1));
      for (let y = y0; y < y1; y++)
        for (let x = 0; x < width; x++) {
          for (let a = 0; a < na; a++) {
            let s = fround(f32[d0 + a * dqMapStride + y * rowStride + x] - f32[c0 + a]);
            for (let b = 0; b < na; b++) s = fround(s - fround(f32[m0 + a * na + b] * f32[q0 + b * dqMapStride + y * rowStride + x]));
            v[a] = s;
          }
          for (let a = 0; a < na; a++) f32[d0 + a * dqMapStride + y * rowStride + x] = v[a];
        }
      for (let p = 0; p < nPairs; p++) {
        const a = i32[pr + 2 * p], b = i32[pr + 2 * p + 1];
        for (let ky = 0; ky < 3; ky++)
          for (let kx = 0; kx < 3; kx++) {
            let s = 0;
            for (let y = y0; y < y1; y++)
              for (let x = 0; x < width; x++) {
                s += fround(f32[d0 + a * dqMapStride + y * rowStride + x] * f32[p0 + b * pMapStride + (y + ky - 1) * rowStride + x + kx - 1]);
              }
            f64[a0 + p * 9 + ky * 3 + kx] += s;
          }
      }
    },

    spectral_gather_f32_2x2s2(pPtr, pMapStride, pRowStride, sPtr, sMapStride, sRowStride, pairsPtr, tapsPtr, nPairs, na, width,
      top, left, y0, y1) {
      views();
      const p0 = pPtr >> 2, s0 = sPtr >> 2, pr = pairsPtr >> 2, t0 = tapsPtr >> 2;
      for (let a = 0; a < na; a++)
        for (let y = y0; y < y1; y++) for (let x = 0; x < width; x++) f32[p0 + a * pMapStride + y * pRowStride + x] = 0;
      for (let p = 0; p < nPairs; p++) {
        const a = i32[pr + 2 * p], b = i32[pr + 2 * p + 1];
        for (let y = y0; y < y1; y++)
          for (let x = 0; x < width; x++) {
            let s = f32[p0 + a * pMapStride + y * pRowStride + x];
            for (let ky = 0; ky < 2; ky++)
              for (let kx = 0; kx < 2; kx++) {
                s = fround(s + fround(f32[t0 + p * 4 + ky * 2 + kx] * f32[s0 + b * sMapStride + (top + 2 * y + ky) * sRowStride + left + 2 * x + kx]));
              }
            f32[p0 + a * pMapStride + y * pRowStride + x] = s;
          }
      }
    },

    spectral_scatter_grad_f64_2x2s2(accPtr, sPtr, sMapStride, sRowStride, pPtr, pMapStride, pRowStride, pairsPtr, nPairs, width,
      top, left, y0, y1) {
      views();
      const a0 = accPtr >> 3, s0 = sPtr >> 2, p0 = pPtr >> 2, pr = pairsPtr >> 2;
      for (let p = 0; p < nPairs; p++) {
        const a = i32[pr + 2 * p], b = i32[pr + 2 * p + 1];
        for (let ky = 0; ky < 2; ky++)
          for (let kx = 0; kx < 2; kx++) {
            let s = 0;
            for (let y = y0; y < y1; y++)
              for (let x = 0; x < width; x++) {
                s += fround(f32[s0 + b * sMapStride + (top + 2 * y + ky) * sRowStride + left + 2 * x + kx] * f32[p0 + a * pMapStride + y * pRowStride + x]);
              }
            f64[a0 + p * 4 + ky * 2 + kx] += s;
          }
      }
    },
  };
}
