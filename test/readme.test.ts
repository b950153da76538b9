/**
 * The README's TypeScript blocks, so they cannot drift from what works. Each carries a marker on
 * the line before it:
 * - `<!-- test: node -->`: run with Node against the packed package (`npm pack`, installed in a
 *   temporary folder with `unet_fr.tar.xz` and in0000.png as `car.png`); its `classes` must equal
 *   Node's mask pixel for pixel.
 * - `<!-- test: node-run -->`: run as written in such an installed package (with `car-mask.png`,
 *   gt0000.png, beside the photo); it must exit 0 and print a finite loss first.
 * - `<!-- test: in FILE -->`: every line (comments aside) appears, in order, in FILE, an example
 *   that test/examples.test.ts (esbuild, vite) or test/edge.test.ts (workerd) builds and runs.
 * - `<!-- test: none: REASON -->`: a fragment that cannot run alone, with the reason and the test
 *   that covers its API.
 * A TypeScript block without a marker fails the test.
 */
import t from 'tap';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { transform } from 'esbuild';
import { PACKAGE_ROOT, upstreamDir } from './helpers.js';
import { maskDiff, nodeClasses } from './support/runtimes.js';
import { installPackage, packPackage } from './support/package.js';

interface Block {
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  /** The marker's text after "test:", or undefined. */
  marker?: string;
  code: string;
}

function readmeBlocks(text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]);
    if (!open) continue;
    let end = i + 1;
    while (end < lines.length && !lines[end].startsWith('```')) end++;
    const marker = /^<!-- test: (.+?) -->$/.exec(lines[i - 1] ?? '')?.[1];
    blocks.push({ line: i + 1, lang: open[1], marker, code: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

/** A line without its `//` comment (a `//` after a space or at the start; none of the blocks has one inside a string), trimmed. */
function codeOf(line: string): string {
  return line.replace(/(^|\s)\/\/.*$/, '').trim();
}

/** The first snippet line (comments aside) not found, in order, among the file's lines; undefined if all are. */
function firstMissing(snippet: string, file: string): string | undefined {
  const have = file.split('\n').map(codeOf);
  let at = 0;
  for (const line of snippet.split('\n').map(codeOf).filter(Boolean)) {
    const found = have.findIndex((h, i) => i >= at && h.includes(line));
    if (found < 0) return line;
    at = found + 1;
  }
  return undefined;
}

const blocks = readmeBlocks(readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8')).filter((b) => b.lang === 'ts' || b.lang === 'js');

t.test('every TypeScript block in the README is tested', async (t) => {
  t.ok(blocks.length >= 5, `${blocks.length} blocks`);
  for (const b of blocks) {
    t.ok(b.marker && (b.marker === 'node' || b.marker === 'node-run' || b.marker.startsWith('in ') || /^none: \S/.test(b.marker)), `README line ${b.line}: has a test marker (${b.marker})`);
  }
});

for (const b of blocks.filter((x) => x.marker?.startsWith('in '))) {
  const file = b.marker!.slice(3);
  t.test(`README line ${b.line}: every line appears in ${file}`, async (t) => {
    const missing = firstMissing(b.code, readFileSync(join(PACKAGE_ROOT, file), 'utf8'));
    t.equal(missing, undefined, missing ? `not found in order in ${file}: ${missing}` : `all lines found in order in ${file}`);
  });
}

const nodeBlocks = blocks.filter((x) => x.marker === 'node');
if (nodeBlocks.length) {
  t.test('README Node blocks run against the packed package', async (t) => {
    const data = upstreamDir(t);
    if (!data) return;
    const root = mkdtempSync(join(tmpdir(), 'freqreg-readme-'));
    t.teardown(() => rmSync(root, { recursive: true, force: true }));
    const tarball = packPackage(root);
    const model = join(data, 'unet_fr.tar.xz'), photo = join(data, 'testimgs/input/in0000.png');
    const want = await nodeClasses(model, photo, 'auto', 1);
    for (const b of nodeBlocks) {
      const dir = installPackage(join(root, `line-${b.line}`), tarball);
      copyFileSync(model, join(dir, 'unet_fr.tar.xz'));
      copyFileSync(photo, join(dir, 'car.png'));
      // The block as written, then its `classes` saved for the comparison.
      const { code } = await transform(`${b.code}\nimport { writeFileSync as saveMask } from 'node:fs';\nsaveMask('mask.bin', classes);\n`, { loader: 'ts', format: 'esm', target: 'node20' });
      writeFileSync(join(dir, 'block.mjs'), code);
      try {
        execFileSync(process.execPath, ['block.mjs'], { cwd: dir, stdio: 'pipe', timeout: 120000 });
      } catch (e) {
        t.fail(`README line ${b.line}: the block fails: ${(e as { stderr?: Buffer }).stderr?.toString() ?? e}`);
        continue;
      }
      const got = readFileSync(join(dir, 'mask.bin'));
      t.equal(got.length, want.classes.length, `README line ${b.line}: ${want.width}×${want.height} classes`);
      const d = maskDiff(got, want.classes, want.width);
      t.equal(d.count, 0, `README line ${b.line}: mask equals Node's pixel for pixel ${d.first}`);
    }
  });
}

const runBlocks = blocks.filter((x) => x.marker === 'node-run');
if (runBlocks.length) {
  t.test('README Node programs run against the packed package', async (t) => {
    const data = upstreamDir(t);
    if (!data) return;
    const root = mkdtempSync(join(tmpdir(), 'freqreg-readme-run-'));
    t.teardown(() => rmSync(root, { recursive: true, force: true }));
    const tarball = packPackage(root);
    for (const b of runBlocks) {
      const dir = installPackage(join(root, `line-${b.line}`), tarball);
      copyFileSync(join(data, 'unet_fr.tar.xz'), join(dir, 'unet_fr.tar.xz'));
      copyFileSync(join(data, 'testimgs/input/in0000.png'), join(dir, 'car.png'));
      copyFileSync(join(data, 'testimgs/mask/gt0000.png'), join(dir, 'car-mask.png'));
      const { code } = await transform(b.code, { loader: 'ts', format: 'esm', target: 'node20' });
      writeFileSync(join(dir, 'block.mjs'), code);
      let out = '';
      try {
        out = execFileSync(process.execPath, ['block.mjs'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120000 });
      } catch (e) {
        t.fail(`README line ${b.line}: the block fails: ${(e as { stderr?: Buffer }).stderr?.toString() ?? e}`);
        continue;
      }
      const loss = Number(out.trim().split(/\s+/)[0]);
      t.ok(Number.isFinite(loss) && loss > 0, `README line ${b.line}: prints a finite loss (${out.trim().slice(0, 80)})`);
    }
  });
}
