// The one WASM module: every kernel family re-exported from its own file.
// Memory is imported and owned by the host (src/wasm/); kernels never allocate.

export function heapBase(): usize {
  return __heap_base;
}
