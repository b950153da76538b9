// The type of `import m from 'freqreg/kernels.wasm'` (and kernels-mt.wasm, xz.wasm): workerd
// (and wrangler) give a compiled WebAssembly.Module; a bundler that emits the file as an asset
// (esbuild's `file` loader) gives its URL. createSegmenter takes either. Vite: import
// 'freqreg/kernels.wasm?url' instead, typed by vite/client as a string.
import type { WasmImport } from '../dist/index.js';

declare const wasm: WasmImport;
export default wasm;
