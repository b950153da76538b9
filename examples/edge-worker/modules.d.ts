// Modules workerd provides from config.capnp: `wasm` modules import as a compiled
// WebAssembly.Module, `data` modules as an ArrayBuffer.
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
declare module '*.bin' {
  const bytes: ArrayBuffer;
  export default bytes;
}
