// Pulls the xz-embedded WebAssembly module out of the xz-decompress package into build/xz.wasm,
// so it can be driven synchronously (src/formats/xz.ts) and imported as a module where compiling
// from bytes is forbidden (edge runtimes).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const pkgDir = dirname(require.resolve('xz-decompress/package.json'));
const source = readFileSync(join(pkgDir, 'dist/package/xz-decompress.js'), 'utf8');
const match = source.match(/data:application\/wasm;base64,([A-Za-z0-9+/=]+)/);
if (!match) throw new Error('xz-decompress: embedded WebAssembly module not found; has the package changed?');
mkdirSync('build', { recursive: true });
writeFileSync('build/xz.wasm', Buffer.from(match[1], 'base64'));
