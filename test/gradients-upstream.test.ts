/**
 * The reference backward against PyTorch float64 autograd on the upstream model (grad fixtures c
 * and d): float64 convolutions through 31 M dense weights, minutes per case, so this file sets its
 * own time limit.
 */
import t from 'tap';
import { referenceGradients } from '../src/engines/reference-backward.js';
import { fixturesDir } from './helpers.js';
import { checkGradientProperties, compareWithFixture, loadCase } from './support/grad-fixtures.js';

t.setTimeout(60 * 60 * 1000);

for (const file of ['c-upstream-in0003-crop.json', 'd-upstream-in0000-240x160.json']) {
  t.test(`reference gradients match PyTorch float64: ${file}`, async (t) => {
    const dir = fixturesDir(t);
    if (!dir) return;
    const { ref, model, input, target } = await loadCase(dir, file);
    const start = performance.now();
    const got = referenceGradients(model, input, ref.width, ref.height, { target }, 64);
    const seconds = (performance.now() - start) / 1000;
    const worst = compareWithFixture(t, file, got, ref);
    checkGradientProperties(t, got);
    t.comment(`${file}: ${ref.width}x${ref.height}, worst layer ${worst.toExponential(2)}, ${seconds.toFixed(1)} s (float64 reference)`);
  });
}
