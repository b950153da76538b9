import t from 'tap';
import { conv2d, convTranspose2x2, denseWeights, maxPool2x2, padConcat, referenceForward, argmaxClasses } from '../src/engines/reference.js';
import { dctBasis } from '../src/dct.js';
import { syntheticModel } from './support/synthetic.js';
import { rng } from './helpers.js';

t.test('dctBasis: published values of the orthonormal DCT, and orthonormality', async (t) => {
  // norm='ortho' DCT-II/III matrices (scipy.fft.dct(np.eye(N), norm='ortho') transposed), exact forms.
  const known: [number, number, number, number][] = [
    [1, 0, 0, 1],
    [2, 0, 0, Math.SQRT1_2], [2, 1, 0, Math.SQRT1_2], [2, 1, 1, -Math.SQRT1_2],
    [4, 0, 3, 0.5], [4, 1, 0, 0.6532814824381883], [4, 1, 1, 0.2705980500730985], [4, 2, 0, 0.5], [4, 2, 1, -0.5], [4, 3, 3, -0.2705980500730985],
    [3, 1, 0, Math.sqrt(2 / 3) * Math.cos(Math.PI / 6)], [3, 2, 1, -Math.sqrt(2 / 3)],
  ];
  for (const [N, k, n, want] of known) t.ok(Math.abs(dctBasis(N, k, n) - want) < 1e-15, `φ_${k}^${N}(${n}) = ${want}`);
  for (const N of [1, 2, 3, 7, 64]) {
    let worst = 0;
    for (let j = 0; j < N; j++) for (let k = 0; k < N; k++) {
      let dot = 0;
      for (let n = 0; n < N; n++) dot += dctBasis(N, j, n) * dctBasis(N, k, n);
      worst = Math.max(worst, Math.abs(dot - (j === k ? 1 : 0)));
    }
    t.ok(worst < 1e-12, `N=${N}: rows orthonormal (worst ${worst.toExponential(1)})`);
  }
});

t.test('denseWeights equals the direct sum of separable cosines', async (t) => {
  const model = syntheticModel({ width: 4, seed: 7 });
  for (const layer of [model.inc.conv1, model.down[1].conv2, model.up[0].up, model.outc]) {
    const W = denseWeights(layer);
    const [n0, n1, n2, n3] = layer.shape;
    let maxDiff = 0;
    for (let o = 0; o < n0; o++) for (let i = 0; i < n1; i++) for (let y = 0; y < n2; y++) for (let x = 0; x < n3; x++) {
      let s = 0;
      for (let k = 0; k < layer.values.length; k++) {
        const [a, b, c, d] = [0, 1, 2, 3].map((j) => layer.indices[k * 4 + j]);
        s += layer.values[k] * dctBasis(n0, a, o) * dctBasis(n1, b, i) * dctBasis(n2, c, y) * dctBasis(n3, d, x);
      }
      maxDiff = Math.max(maxDiff, Math.abs(s - W[((o * n1 + i) * n2 + y) * n3 + x]));
    }
    t.ok(maxDiff < 1e-12, `${layer.name} shape [${layer.shape}] max diff ${maxDiff}`);
  }
});

t.test('conv2d 3x3 pad 1 on a hand example', async (t) => {
  // One 3×3 input of ones, a kernel of ones: each output counts its in-bounds neighbours.
  const out = conv2d({ c: 1, h: 3, w: 3, data: new Float64Array(9).fill(1) }, new Float64Array(9).fill(1), 1, 3);
  t.same(Array.from(out.data), [4, 6, 4, 6, 9, 6, 4, 6, 4]);
});

t.test('convTranspose 2x2 s2 scatters each input pixel to a 2×2 block', async (t) => {
  const out = convTranspose2x2({ c: 1, h: 1, w: 2, data: Float64Array.of(1, 10) }, Float64Array.of(1, 2, 3, 4), 1);
  t.same([out.h, out.w], [2, 4]);
  t.same(Array.from(out.data), [1, 2, 10, 20, 3, 4, 30, 40]);
});

t.test('max-pool floors odd sizes; pad+concat pads diff//2 before', async (t) => {
  const x = { c: 1, h: 3, w: 5, data: Float64Array.from({ length: 15 }, (_, i) => i) };
  const p = maxPool2x2(x);
  t.same([p.h, p.w, ...p.data], [1, 2, 6, 8]);
  const skip = { c: 1, h: 3, w: 5, data: new Float64Array(15) };
  const up = { c: 1, h: 2, w: 2, data: Float64Array.of(1, 2, 3, 4) };
  const cat = padConcat(skip, up);
  t.equal(cat.c, 2);
  // diffY = 1 → top 0, bottom 1; diffX = 3 → left 1, right 2.
  t.same(Array.from(cat.data.subarray(15)), [0, 1, 2, 0, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0]);
});

t.test('reference forward on a synthetic model: shapes, finiteness, ties to class 0', async (t) => {
  const model = syntheticModel({ width: 2, classes: 3, seed: 3 });
  const r = rng(5);
  const h = 19, w = 23;
  const input = { c: 3, h, w, data: Float64Array.from({ length: 3 * h * w }, () => r()) };
  const logits = referenceForward(model, input);
  t.same([logits.c, logits.h, logits.w], [3, h, w]);
  t.ok(logits.data.every(Number.isFinite));
  t.same(Array.from(argmaxClasses({ c: 3, h: 1, w: 2, data: [0, 1, 0, 2, 0, 2] })), [0, 1], 'exact ties go to the lowest class');
});
