/**
 * The ONNX exporter (src/onnx-export.ts, src/formats/onnx.ts): the graph of each PyTorch fixture
 * model loads in onnxruntime-node and runs, its logits are those of freqreg's dense engine, and
 * its mask equals the dense engine's except where the dense engine's top-two margin is below
 * NEAR_TIE_MARGIN; one graph serves several image sizes (the padding is computed in the graph);
 * `freqreg export MODEL --onnx OUT.onnx` writes the same bytes.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importPeer, peerInstalled, type OrtSession } from '../bench/peers.js';
import { loadModelFile } from '../src/node/load.js';
import { createNodeEngine } from '../src/node/engines.js';
import { argmaxClasses } from '../src/engines/reference.js';
import { exportOnnx, ONNX_INPUT, ONNX_OUTPUT } from '../src/onnx-export.js';
import { main } from '../src/node/cli.js';
import { NEAR_TIE_MARGIN, fixtureCase, topTwoMargin } from './support/compare.js';
import { fixturesDir, readFixtures, rng } from './helpers.js';

/** onnxruntime's float32 kernels vs freqreg's (Winograd, other summation orders): relative to the largest logit. */
const TOL_ONNX_VS_DENSE = 1e-4;

/** onnxruntime-node comes from bench/peers/ (its own lockfile, so a plain npm ci stays lean). */
const ORT_MISSING = peerInstalled('onnxruntime-node') ? false : 'onnxruntime-node is not installed: npm ci --prefix bench/peers (.ci/run does)';
if (ORT_MISSING && process.env.CI === 'true') t.fail(ORT_MISSING);
const ort = ORT_MISSING ? undefined : await importPeer('onnxruntime-node');

async function runOnnx(session: OrtSession, input: Float32Array, channels: number, width: number, height: number): Promise<Float32Array> {
  const out = await session.run({ [ONNX_INPUT]: new ort!.Tensor('float32', input, [1, channels, height, width]) });
  return out[ONNX_OUTPUT]!.data as Float32Array;
}

t.test('exported graphs of the PyTorch fixtures run in onnxruntime-node like the dense engine', { skip: ORT_MISSING }, async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  for (const f of readFixtures(dir)) {
    const { model } = await loadModelFile(join(dir, f.model));
    const bytes = exportOnnx(model, { version: 'test' });
    const session = await ort!.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    t.same(session.inputNames, [ONNX_INPUT], `${f.name}: input name`);
    t.same(session.outputNames, [ONNX_OUTPUT], `${f.name}: output name`);
    const c = fixtureCase(dir, f);
    // The fixture's own odd-sized image, and a synthetic one of another odd size (same graph).
    const r = rng(7);
    const cases = [
      { label: `${c.width}×${c.height} fixture image`, input: c.input, width: c.width, height: c.height },
      { label: '37×29 random', input: Float32Array.from({ length: f.in_channels * 29 * 37 }, () => r()), width: 37, height: 29 },
    ];
    const engine = await createNodeEngine('dense', model, 1);
    for (const k of cases) {
      const got = await runOnnx(session, k.input, f.in_channels, k.width, k.height);
      const want = (await engine.run(k.input, k.width, k.height)).data;
      const label = `${f.name} ${k.label}`;
      t.equal(got.length, want.length, `${label}: logits size`);
      let maxAbs = 0, maxDiff = 0;
      for (let i = 0; i < want.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(want[i]));
        maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
      }
      t.ok(maxDiff <= TOL_ONNX_VS_DENSE * maxAbs, `${label}: max |Δ| ${maxDiff.toExponential(2)} of largest logit ${maxAbs.toFixed(2)}`);
      const shape = { c: f.classes, h: k.height, w: k.width };
      const a = argmaxClasses({ ...shape, data: got }), b = argmaxClasses({ ...shape, data: want });
      let outside = 0, atTies = 0;
      for (let p = 0; p < a.length; p++) {
        if (a[p] === b[p]) continue;
        if (topTwoMargin(want, f.classes, a.length, p) < NEAR_TIE_MARGIN) atTies++;
        else outside++;
      }
      t.equal(outside, 0, `${label}: masks equal outside margins < ${NEAR_TIE_MARGIN} (${atTies} near-tie pixels differ)`);
    }
    await engine.dispose();
    await session.release();
  }
});

t.test('freqreg export MODEL --onnx OUT.onnx', { skip: ORT_MISSING }, async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  const f = readFixtures(dir)[0]!;
  const tmp = mkdtempSync(join(tmpdir(), 'freqreg-onnx-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const out = join(tmp, 'model.onnx');
  const log = console.log;
  console.log = () => {};
  let code: number;
  try {
    code = await main(['export', join(dir, f.model_xz), '--onnx', out]);
  } finally {
    console.log = log;
  }
  t.equal(code, 0, 'exit code 0');
  const { model } = await loadModelFile(join(dir, f.model));
  const bytes = readFileSync(out);
  const session = await ort!.InferenceSession.create(bytes);
  t.same(session.outputNames, [ONNX_OUTPUT], 'the written file loads');
  await session.release();
  t.equal(Buffer.compare(bytes, Buffer.from(exportOnnx(model, { version: versionOf() }))), 0, 'same bytes as exportOnnx()');
  const errors: string[] = [];
  const err = console.error;
  console.error = (m: string) => { errors.push(m); };
  try {
    t.equal(await main(['export', join(dir, f.model_xz), '--onnx', out, '-o', join(tmp, 'x.pt')]), 2, '--onnx with -o is a usage error');
    t.equal(await main(['export', join(dir, f.model_xz), '--onnx', out]), 3, 'an existing OUT is not replaced without --overwrite');
  } finally {
    console.error = err;
  }
});

function versionOf(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}
