/**
 * The repository's data is what its provenance says: every file under fixtures/upstream and
 * fixtures/pytorch has the sha256 its SHA256SUMS lists, nothing unlisted sits beside them, and the
 * compressed upstream logits decompress to the original float32 file.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import t from 'tap';
import { decodeXz } from '../src/formats/xz.js';
import { xzWasmModule } from '../src/node/load.js';
import { PACKAGE_ROOT } from './helpers.js';

/** sha256 of the original reference/logits0000.f32 (fixtures/upstream/README.md). */
const LOGITS_SHA256 = '624bf7ddd115ffcf1d91e4bece6bb885cb641957131c2890d65da740a1a78a56';
const LOGITS_BYTES = 2 * 640 * 959 * 4;

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

for (const folder of ['upstream', 'pytorch']) {
  t.test(`fixtures/${folder}: every file has its listed sha256`, async (t) => {
    const dir = join(PACKAGE_ROOT, 'fixtures', folder);
    const listed = new Map<string, string>();
    for (const line of readFileSync(join(dir, 'SHA256SUMS'), 'utf8').split('\n')) {
      if (!line) continue;
      const m = /^([0-9a-f]{64}) {2}\.\/(.+)$/.exec(line);
      if (!m) { t.fail(`SHA256SUMS line not understood: ${line}`); continue; }
      listed.set(m[2], m[1]);
    }
    t.ok(listed.size >= 30, `${listed.size} files listed`);
    for (const [name, want] of listed) t.equal(sha256(readFileSync(join(dir, name))), want, name);
    const present = filesUnder(dir).map((p) => relative(dir, p)).filter((p) => p !== 'SHA256SUMS' && p !== 'README.md');
    t.same(present.filter((p) => !listed.has(p)), [], 'no file without a listed sha256');
  });
}

t.test('reference/logits0000.f32.xz decompresses to the original float32 logits', async (t) => {
  const xz = readFileSync(join(PACKAGE_ROOT, 'fixtures', 'upstream', 'reference', 'logits0000.f32.xz'));
  const raw = decodeXz(xz, xzWasmModule(), 64 << 20);
  t.equal(raw.length, LOGITS_BYTES, '2 × 640 × 959 float32');
  t.equal(sha256(raw), LOGITS_SHA256, 'sha256 of the original file');
});

t.test('the repository carries its data in under 12 MB', async (t) => {
  const bytes = ['upstream', 'pytorch', 'sample']
    .flatMap((f) => filesUnder(join(PACKAGE_ROOT, 'fixtures', f)))
    .reduce((sum, p) => sum + statSync(p).size, 0);
  t.ok(bytes < 12e6, `fixtures/: ${(bytes / 1e6).toFixed(2)} MB`);
});
