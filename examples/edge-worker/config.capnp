# workerd config for the freqreg edge worker. `npm run build:edge` copies it next to the bundle
# (dist-edge/); run it with:
#   node_modules/.bin/workerd serve dist-edge/config.capnp [--socket-addr http=127.0.0.1:PORT]
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "freqreg", worker = .freqregWorker) ],
  sockets = [ (name = "http", address = "127.0.0.1:8787", http = (), service = "freqreg") ],
);

const freqregWorker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "kernels.wasm", wasm = embed "kernels.wasm"),  # imports as a compiled WebAssembly.Module
    (name = "xz.wasm", wasm = embed "xz.wasm"),
    (name = "model.bin", data = embed "model.bin"),        # the checkpoint; imports as an ArrayBuffer
  ],
  compatibilityDate = "2025-09-01",
);
