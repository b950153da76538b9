import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { instantiateKernels } from '../src/wasm/instance.js';
import { KERNEL_EXPORT_NAMES } from '../src/wasm/exports.js';
import { PACKAGE_ROOT } from './helpers.js';

t.test('kernel module exports exactly the mirrored names', async (t) => {
  const bytes = readFileSync(join(PACKAGE_ROOT, 'build', 'kernels.wasm'));
  const module = await WebAssembly.compile(bytes);
  const exported = WebAssembly.Module.exports(module).filter((e) => e.kind === 'function').map((e) => e.name).sort();
  t.same(exported, [...KERNEL_EXPORT_NAMES].sort());
  const k = await instantiateKernels(module);
  t.ok(k.exports.heapBase() >= 0);
  const p = k.arena.allocF32(10);
  t.equal(p % 16, 0, 'arena aligns to 16 bytes');
});
