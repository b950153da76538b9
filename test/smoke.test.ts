import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { instantiateKernels } from '../src/wasm/instance.js';
import { KERNEL_EXPORT_NAMES } from '../src/wasm/exports.js';
import { execFileSync } from 'node:child_process';
import { chooseKernels, kernelFile, relaxedSimdAvailable } from '../src/wasm/features.js';
import { enableRelaxedSimd } from '../src/node/kernels.js';
import { kernelBuild, kernelModuleBytes, PACKAGE_ROOT } from './helpers.js';

t.test('every kernel build exports exactly the mirrored names', async (t) => {
  enableRelaxedSimd(); // V8 runs relaxed SIMD where it needs a flag, so the relaxed builds compile
  for (const build of ['simd', 'fma'] as const) {
    for (const threaded of [false, true]) {
      const file = kernelFile(build, threaded);
      const exported = WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(join(PACKAGE_ROOT, 'build', file))))
        .filter((e) => e.kind === 'function').map((e) => e.name).sort();
      t.same(exported, [...KERNEL_EXPORT_NAMES].sort(), file);
    }
  }
});

t.test('the kernel module in use instantiates and its arena aligns', async (t) => {
  const module = await WebAssembly.compile(kernelModuleBytes());
  const k = await instantiateKernels(module);
  t.ok(k.exports.heapBase() >= 0);
  const p = k.arena.allocF32(10);
  t.equal(p % 16, 0, 'arena aligns to 16 bytes');
});

t.test('kernel build choice: relaxed SIMD where V8 runs it, FREQREG_KERNELS forces one', async (t) => {
  const saved = process.env.FREQREG_KERNELS;
  t.teardown(() => {
    if (saved === undefined) delete process.env.FREQREG_KERNELS;
    else process.env.FREQREG_KERNELS = saved;
  });
  const bytes = (file: string) => readFileSync(join(PACKAGE_ROOT, 'build', file));
  // A fresh Node without flags: the plain build validates everywhere SIMD does; the relaxed one
  // only where relaxed SIMD is on (Node 20 needs the flag, newer Node has it).
  const probe = `const fs = require('node:fs');
    console.log(JSON.stringify(['kernels.wasm', 'kernels-fma.wasm'].map((f) => WebAssembly.validate(fs.readFileSync(${JSON.stringify(join(PACKAGE_ROOT, 'build'))} + '/' + f)))));`;
  const [plain, fma] = JSON.parse(execFileSync(process.execPath, ['-e', probe], { encoding: 'utf8' })) as boolean[];
  t.equal(plain, true, 'build/kernels.wasm validates without any flag');
  const v8Major = Number(process.versions.v8.split('.')[0]);
  if (v8Major < 12) t.equal(fma, false, `V8 ${process.versions.v8} without --experimental-wasm-relaxed-simd refuses build/kernels-fma.wasm`);
  delete process.env.FREQREG_KERNELS;
  t.equal(kernelBuild(), 'fma', 'by default the relaxed build (the Node layer turns the V8 flag on where needed)');
  t.equal(relaxedSimdAvailable(), true, 'after which the probe validates');
  t.equal(WebAssembly.validate(bytes('kernels-fma.wasm')), true, 'and so does build/kernels-fma.wasm');
  t.equal(chooseKernels({ simd: 'a', fma: 'b' }), 'b');
  process.env.FREQREG_KERNELS = 'simd';
  t.equal(kernelBuild(), 'simd', 'FREQREG_KERNELS=simd');
  process.env.FREQREG_KERNELS = 'fma';
  t.equal(kernelBuild(), 'fma', 'FREQREG_KERNELS=fma');
  process.env.FREQREG_KERNELS = 'avx';
  t.throws(() => kernelBuild(), { code: 'USAGE' }, 'FREQREG_KERNELS=avx is refused');
  t.same(['simd', 'fma'].flatMap((b) => [kernelFile(b as 'simd', false), kernelFile(b as 'simd', true)]),
    ['kernels.wasm', 'kernels-mt.wasm', 'kernels-fma.wasm', 'kernels-fma-mt.wasm']);
});
