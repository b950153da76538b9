/**
 * Synchronous xz decoder over xz-embedded compiled to WebAssembly (build/xz.wasm, extracted from
 * the xz-decompress package by scripts/extract-xz-wasm.mjs). No `node:` imports: the caller
 * supplies the compiled module, so this runs in browsers and edge runtimes (which cannot compile
 * WebAssembly from bytes).
 *
 * The module's C side (xz-decompress/src/native/xz-decompress.c) keeps one context per decode:
 *   u32[0] buffer size, then an xz_buf {in, in_pos, in_size, out, out_pos, out_size}, then xz_dec*.
 * `supply_input(ctx, n)` sets in_size = n, in_pos = 0; `get_next_output(ctx)` runs
 * xz_dec_catrun(dec, buf, finish = in_size == 0) and returns xz-embedded's `enum xz_ret`.
 * The decoder was created with XZ_DYNALLOC and a 64 MiB dictionary cap.
 *
 * Policy: nothing is returned before the stream ends cleanly with its check verified; the output
 * is counted while streaming and refused as soon as it passes the cap; the input must be exactly
 * one stream (no padding, no second stream, no trailing bytes); the check must be CRC32 or CRC64.
 */
import { fail, FreqregError } from '../errors.js';
import { describeBytes, startsWith } from './magic.js';
import { compileWasmSync } from '../wasm/source.js';

export const XZ_HEADER_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] as const;
const XZ_FOOTER_MAGIC = [0x59, 0x5a] as const; // "YZ"
const STREAM_HEADER_BYTES = 12;
const STREAM_FOOTER_BYTES = 12;

/** xz-embedded `enum xz_ret` (xz.h). */
const XzRet = {
  OK: 0, STREAM_END: 1, UNSUPPORTED_CHECK: 2, MEM_ERROR: 3, MEMLIMIT_ERROR: 4,
  FORMAT_ERROR: 5, OPTIONS_ERROR: 6, DATA_ERROR: 7, BUF_ERROR: 8,
} as const;

/** Stream-flags check types (xz file format §2.1.1.2) this decoder accepts. */
const CHECK_NAMES: Record<number, string> = { 0x00: 'none', 0x01: 'CRC32', 0x04: 'CRC64', 0x0a: 'SHA-256' };
const ACCEPTED_CHECKS = new Set([0x01, 0x04]);

/** Calls into the wasm without making progress before we call the input truncated (xz_dec_run needs two). */
const MAX_IDLE_CALLS = 4;

interface XzExports {
  memory: WebAssembly.Memory;
  create_context(): number;
  destroy_context(ctx: number): void;
  supply_input(ctx: number, n: number): void;
  get_next_output(ctx: number): number;
}

/**
 * What the caller passes: build/xz.wasm compiled (a fresh instance per call) or as bytes (compiled
 * here, synchronously; not where compiling from bytes is forbidden, as in workerd), or an instance
 * to reuse. createSegmenter also takes a Response or a URL (src/wasm/source.ts).
 */
export type XzWasm = WebAssembly.Module | BufferSource | WebAssembly.Instance;

function xzExports(wasm: XzWasm): XzExports {
  let instance: WebAssembly.Instance;
  const module = wasm instanceof WebAssembly.Instance ? undefined : compileWasmSync(wasm, 'the xz module');
  try {
    instance = module ? new WebAssembly.Instance(module, {}) : (wasm as WebAssembly.Instance);
  } catch (e) {
    fail('wasm', 'ENGINE_UNAVAILABLE', `cannot instantiate the xz module: ${(e as Error).message}`);
  }
  const ex = instance.exports;
  for (const name of ['create_context', 'destroy_context', 'supply_input', 'get_next_output']) {
    if (typeof ex[name] !== 'function') fail('wasm', 'ENGINE_UNAVAILABLE', `xz module has no function "${name}"; is it build/xz.wasm?`);
  }
  if (!(ex.memory instanceof WebAssembly.Memory)) fail('wasm', 'ENGINE_UNAVAILABLE', 'xz module exports no memory');
  return ex as unknown as XzExports;
}

/** Refuses, before decoding, input that is not an xz stream or whose check cannot be verified. */
function checkStreamHeader(input: Uint8Array): void {
  if (!startsWith(input, XZ_HEADER_MAGIC)) {
    fail('xz', 'XZ_MAGIC', `expected an xz stream (FD 37 7A 58 5A 00), got ${describeBytes(input)}`, { offset: 0 });
  }
  if (input.length < STREAM_HEADER_BYTES) fail('xz', 'XZ_TRUNCATED', `stream header needs ${STREAM_HEADER_BYTES} bytes, input has ${input.length}`, { offset: 0 });
  const check = input[7];
  if (input[6] === 0 && !ACCEPTED_CHECKS.has(check)) {
    const name = CHECK_NAMES[check] ?? `type 0x${check.toString(16)}`;
    fail('xz', 'XZ_UNSUPPORTED_CHECK', `integrity check ${name}; expected CRC32 or CRC64`, { offset: 7 });
  }
}

/** Reads an xz multibyte integer (file format §1.2); undefined if malformed or past `end`. */
function readVarint(b: Uint8Array, pos: number, end: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let i = 0; i < 9 && pos + i < end; i++) {
    const byte = b[pos + i];
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return value > Number.MAX_SAFE_INTEGER ? undefined : { value, next: pos + i + 1 };
  }
  return undefined;
}

/**
 * Length of the stream that ends at the end of `input`, from its footer and index (§2.1.2, §4);
 * undefined if the input does not end with a stream footer. The decoder has already verified the
 * footer and index against the blocks, so this only locates the stream's start.
 */
function lastStreamLength(input: Uint8Array): number | undefined {
  const n = input.length;
  if (n < STREAM_HEADER_BYTES + STREAM_FOOTER_BYTES || !startsWith(input, XZ_FOOTER_MAGIC, n - 2)) return undefined;
  const dv = new DataView(input.buffer, input.byteOffset, n);
  const indexBytes = (dv.getUint32(n - 8, true) + 1) * 4;
  const indexStart = n - STREAM_FOOTER_BYTES - indexBytes;
  if (indexStart < STREAM_HEADER_BYTES || input[indexStart] !== 0x00) return undefined;
  const indexEnd = n - STREAM_FOOTER_BYTES;
  const count = readVarint(input, indexStart + 1, indexEnd);
  if (!count) return undefined;
  let pos = count.next, blocks = 0;
  for (let r = 0; r < count.value; r++) {
    const unpadded = readVarint(input, pos, indexEnd);
    if (!unpadded) return undefined;
    const uncompressed = readVarint(input, unpadded.next, indexEnd);
    if (!uncompressed) return undefined;
    blocks += Math.ceil(unpadded.value / 4) * 4;
    pos = uncompressed.next;
  }
  return STREAM_HEADER_BYTES + blocks + indexBytes + STREAM_FOOTER_BYTES;
}

/**
 * End of a complete stream (footer and index consistent) that starts at 0 and is followed only by
 * stream padding (zero bytes) and fewer than 12 other bytes: the only input the decoder reports as
 * truncated although a whole stream is there (it waits for a second stream header). At most 12
 * candidate ends are tried, each in time linear in the index, so the scan is linear in the input.
 */
function completeStreamPrefix(input: Uint8Array): number | undefined {
  const n = input.length;
  const tail = Math.max(STREAM_HEADER_BYTES + STREAM_FOOTER_BYTES, n - (STREAM_HEADER_BYTES - 1));
  let paddingStart = tail;
  while (paddingStart > STREAM_HEADER_BYTES + STREAM_FOOTER_BYTES && input[paddingStart - 1] === 0) paddingStart--;
  const candidates = [paddingStart];
  for (let end = n - 1; end >= tail; end--) if (end !== paddingStart) candidates.push(end);
  for (const end of candidates) {
    if (end <= n && input[end - 2] === XZ_FOOTER_MAGIC[0] && input[end - 1] === XZ_FOOTER_MAGIC[1] && lastStreamLength(input.subarray(0, end)) === end) return end;
  }
  return undefined;
}

/**
 * Uncompressed size the stream's index declares, if the input ends with a footer and an index
 * that parse; undefined otherwise (such input is refused anyway, and is decoded only to say why).
 * Not trusted: the decoder verifies the index against the blocks, and the output is checked
 * against this size as it arrives.
 */
function declaredOutputBytes(input: Uint8Array): number | undefined {
  const n = input.length;
  if (lastStreamLength(input) !== n) return undefined;
  const dv = new DataView(input.buffer, input.byteOffset, n);
  const indexEnd = n - STREAM_FOOTER_BYTES;
  const indexStart = indexEnd - (dv.getUint32(n - 8, true) + 1) * 4;
  const count = readVarint(input, indexStart + 1, indexEnd)!;
  let pos = count.next, total = 0;
  for (let r = 0; r < count.value; r++) {
    const uncompressed = readVarint(input, readVarint(input, pos, indexEnd)!.next, indexEnd)!;
    total += uncompressed.value;
    pos = uncompressed.next;
  }
  return total;
}

/** Step by which the output buffer grows where it can grow in place. */
const GROWTH_BYTES = 1 << 20;

interface ResizableArrayBuffer extends ArrayBuffer { resize(bytes: number): void }
const ResizableBuffer = ArrayBuffer as unknown as new (bytes: number, options: { maxByteLength: number }) => ResizableArrayBuffer;
const CAN_RESIZE = typeof (ArrayBuffer.prototype as Partial<ResizableArrayBuffer>).resize === 'function';

/**
 * The decoder's output, in one buffer of at most `max` bytes. Where ArrayBuffers can grow in place
 * (ES2024: Node 20, current browsers and workerd) it grows with the output, so memory follows the
 * bytes produced; elsewhere it is allocated at `max` at once. Never copied into a second buffer.
 */
class OutputBuffer {
  private readonly buffer: ArrayBuffer;
  private readonly view: Uint8Array;
  length = 0;

  constructor(readonly max: number) {
    this.buffer = CAN_RESIZE ? new ResizableBuffer(0, { maxByteLength: max }) : new ArrayBuffer(max);
    this.view = new Uint8Array(this.buffer); // length-tracking over a resizable buffer
  }

  append(bytes: Uint8Array): void {
    const end = this.length + bytes.length;
    if (end > this.buffer.byteLength) (this.buffer as ResizableArrayBuffer).resize(Math.min(this.max, Math.ceil(end / GROWTH_BYTES) * GROWTH_BYTES));
    this.view.set(bytes, this.length);
    this.length = end;
  }

  /**
   * The output. Some Web APIs refuse views over a resizable buffer (Chromium's TextDecoder, which
   * the tar, zip and pickle readers use), so where the runtime can, the buffer is handed over as a
   * fixed-length one (`transferToFixedLength`, no second copy kept); Node 20 has no such method and
   * its TextDecoder takes the view as it is.
   */
  bytes(): Uint8Array {
    const buffer = this.buffer as ArrayBuffer & { resizable?: boolean; transferToFixedLength?: (bytes: number) => ArrayBuffer };
    if (buffer.resizable && typeof buffer.transferToFixedLength === 'function') return new Uint8Array(buffer.transferToFixedLength(this.length));
    return new Uint8Array(this.buffer, 0, this.length);
  }
}

function failOnDecoderError(ret: number, consumed: number): never {
  const where = { offset: consumed };
  switch (ret) {
    case XzRet.UNSUPPORTED_CHECK: fail('xz', 'XZ_UNSUPPORTED_CHECK', 'integrity check not supported by the decoder', where);
    case XzRet.MEM_ERROR: fail('xz', 'XZ_MEMLIMIT', 'decoder could not allocate its dictionary', where);
    case XzRet.MEMLIMIT_ERROR: fail('xz', 'XZ_MEMLIMIT', 'dictionary larger than 64 MiB', where);
    // The first stream's magic was checked up front, so a format error is a second, bogus stream.
    case XzRet.FORMAT_ERROR: fail('xz', 'XZ_TRAILING', 'bytes after the xz stream are not another stream', where);
    case XzRet.OPTIONS_ERROR: fail('xz', 'XZ_OPTIONS', 'stream uses flags or filters this decoder does not support', where);
    case XzRet.DATA_ERROR: fail('xz', 'XZ_DATA', 'compressed data, index or check is corrupt', where);
    case XzRet.BUF_ERROR: fail('xz', 'XZ_TRUNCATED', 'input ended inside the stream', where);
    default: fail('xz', 'XZ_DATA', `decoder returned unknown status ${ret}`, where);
  }
}

/**
 * Decodes one whole xz stream. Throws XZ_MAGIC, XZ_TRUNCATED, XZ_DATA, XZ_MEMLIMIT, XZ_OPTIONS,
 * XZ_UNSUPPORTED_CHECK, XZ_TRAILING, DECOMPRESSED_TOO_LARGE (before decoding when the index
 * declares more than `maxOutputBytes`, else as soon as the running output count passes it), or
 * WASM_TRAP / ENGINE_UNAVAILABLE.
 *
 * Memory: the output is written into one buffer bounded by the size the index declares (the
 * decoder then verifies that size), so accepting a stream costs its output once, never twice. Input that does
 * not end with a parseable index is refused; it is decoded only to name the fault, and its output
 * is counted and dropped.
 *
 * Given a Module, each call runs in a fresh instance, so a trap cannot poison later calls. Given an
 * Instance, its context is destroyed after every call, error or not; after a WASM_TRAP the caller
 * must discard that instance.
 */
export function decodeXz(input: Uint8Array, wasm: XzWasm, maxOutputBytes: number): Uint8Array {
  checkStreamHeader(input);
  const declared = declaredOutputBytes(input);
  if (declared !== undefined && declared > maxOutputBytes) {
    fail('xz', 'DECOMPRESSED_TOO_LARGE', `the index declares ${declared} bytes of output; the cap is ${maxOutputBytes}`, { offset: input.length - STREAM_FOOTER_BYTES });
  }
  const ex = xzExports(wasm);
  const out = declared === undefined ? undefined : new OutputBuffer(declared);
  let total = 0;
  let ctx = 0;
  try {
    ctx = ex.create_context();
    if (ctx === 0) fail('xz', 'XZ_MEMLIMIT', 'decoder could not allocate its context');
    let u8 = new Uint8Array(ex.memory.buffer);
    let u32 = new Uint32Array(ex.memory.buffer);
    const word = (i: number): number => u32[(ctx >>> 2) + i];
    const refreshViews = (): void => {
      if (u8.buffer !== ex.memory.buffer) { u8 = new Uint8Array(ex.memory.buffer); u32 = new Uint32Array(ex.memory.buffer); }
    };
    const bufferBytes = word(0), inPtr = word(1), outPtr = word(4);
    let fed = 0, idle = 0;
    for (;;) {
      if (word(2) === word(3)) { // in_pos === in_size: feed the next chunk (0 bytes once exhausted, which means "finish")
        const n = Math.min(bufferBytes, input.length - fed);
        u8.set(input.subarray(fed, fed + n), inPtr);
        fed += n;
        ex.supply_input(ctx, n);
      }
      const ret = ex.get_next_output(ctx);
      refreshViews();
      const consumed = fed - (word(3) - word(2));
      if (ret !== XzRet.OK && ret !== XzRet.STREAM_END) failOnDecoderError(ret, consumed);
      const produced = word(5);
      if (produced > maxOutputBytes - total) {
        fail('xz', 'DECOMPRESSED_TOO_LARGE', `output passed the ${maxOutputBytes}-byte cap`, { offset: consumed });
      }
      if (out && produced > out.max - total) {
        fail('xz', 'XZ_DATA', `output passed the ${out.max} bytes the index declares`, { offset: consumed });
      }
      if (produced > 0) out?.append(u8.subarray(outPtr, outPtr + produced));
      total += produced;
      u32[(ctx >>> 2) + 5] = 0; // out_pos = 0
      if (ret === XzRet.STREAM_END) break;
      idle = produced === 0 && fed === input.length ? idle + 1 : 0;
      if (idle > MAX_IDLE_CALLS) fail('xz', 'XZ_TRUNCATED', 'input ended inside the stream', { offset: input.length });
    }
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) fail('wasm', 'WASM_TRAP', `xz decoder trapped: ${e.message}`);
    // Fewer than 12 bytes after a complete stream: the decoder waits for a second stream header
    // and reports truncation; say what it is.
    const streamEnd = e instanceof FreqregError && e.code === 'XZ_TRUNCATED' ? completeStreamPrefix(input) : undefined;
    if (streamEnd !== undefined) fail('xz', 'XZ_TRAILING', `${input.length - streamEnd} bytes after the xz stream`, { offset: streamEnd });
    throw e;
  } finally {
    if (ctx !== 0) {
      try { ex.destroy_context(ctx); } catch { /* a trapped instance is discarded by the caller */ }
    }
  }

  if (!out) {
    fail('xz', 'XZ_TRAILING', 'expected exactly one xz stream with no padding or trailing bytes', { offset: lastStreamLength(input) ?? input.length });
  }
  if (total !== out.max) fail('xz', 'XZ_DATA', `the stream produced ${total} bytes, its index declares ${out.max}`, { offset: input.length - STREAM_FOOTER_BYTES });
  return out.bytes();
}
