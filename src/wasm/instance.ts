/**
 * Instantiating the kernel module and owning its memory.
 *
 * The module imports its memory (`env.memory`) and has no other imports; its exports are the
 * kernels (see ./exports.ts, the typed mirror) and `heapBase()`. The host owns every byte above
 * `heapBase()` through an Arena; kernels never allocate. This file imports nothing from `node:`:
 * callers pass the module in any form of ./source.ts (compiled, as edge runtimes require; bytes;
 * a Response; a URL).
 */
import { FreqregError } from '../errors.js';
import type { KernelExports } from './exports.js';
import { compileWasm, type WasmSource } from './source.js';

export const PAGE_BYTES = 65536;

export interface KernelInstance {
  exports: KernelExports;
  memory: WebAssembly.Memory;
  arena: Arena;
}

export interface InstantiateOptions {
  /** Upper bound on linear memory, in bytes (default 2 GiB). */
  maxBytes?: number;
  /** Use this (possibly shared) memory instead of creating one. */
  memory?: WebAssembly.Memory;
}

export async function instantiateKernels(source: WasmSource, options: InstantiateOptions = {}): Promise<KernelInstance> {
  const module = await compileWasm(source, 'the kernel module');
  const maxPages = Math.floor((options.maxBytes ?? 2 ** 31) / PAGE_BYTES);
  const memory = options.memory ?? new WebAssembly.Memory({ initial: 16, maximum: maxPages });
  let instance: WebAssembly.Instance;
  try {
    instance = await WebAssembly.instantiate(module, { env: { memory } });
  } catch (e) {
    throw new FreqregError('wasm', 'WASM_FEATURE', `the kernel module cannot be instantiated here (${(e as Error).message}); a runtime with WebAssembly SIMD is needed`);
  }
  const exports = instance.exports as unknown as KernelExports;
  const arena = new Arena(memory, exports.heapBase(), maxPages * PAGE_BYTES);
  return { exports, memory, arena };
}

/**
 * A bump allocator over the kernel memory. Plan buffers once (per image size), reuse them;
 * `mark()`/`release(mark)` free everything allocated after a mark. Views on the memory must be
 * re-created after an allocation that grows it (`f32()` does that).
 */
export class Arena {
  private top: number;

  constructor(readonly memory: WebAssembly.Memory, readonly base: number, readonly limit: number) {
    this.top = align16(base);
  }

  /** Allocates `bytes` (16-byte aligned) and returns the byte offset; grows memory as needed. */
  alloc(bytes: number): number {
    const ptr = this.top;
    const end = align16(ptr + bytes);
    if (end > this.limit) {
      throw new FreqregError('engine', 'OUT_OF_MEMORY', `needs ${end} bytes of kernel memory, the limit is ${this.limit}`);
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      try {
        this.memory.grow(Math.ceil((end - have) / PAGE_BYTES));
      } catch {
        throw new FreqregError('engine', 'OUT_OF_MEMORY', `cannot grow kernel memory to ${end} bytes`);
      }
    }
    this.top = end;
    return ptr;
  }

  /** Allocates room for `n` float32 values and returns the byte offset. */
  allocF32(n: number): number {
    return this.alloc(n * 4);
  }

  mark(): number {
    return this.top;
  }

  release(mark: number): void {
    this.top = mark;
  }

  /** Bytes in use above the base. */
  get used(): number {
    return this.top - align16(this.base);
  }

  /** A float32 view of `n` values at byte offset `ptr` (valid until memory grows). */
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }
}

function align16(n: number): number {
  return (n + 15) & ~15;
}
