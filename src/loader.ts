/**
 * Checkpoint bytes → coefficient tensors → FrModel. Platform-neutral (no `node:` imports): the
 * caller passes build/xz.wasm (compiled, or its bytes), so this runs in Node, browsers and edge workers.
 *
 *   .tar.xz  → xz (src/formats/xz.ts) → tar (tar.ts) → the one *.pt member → zip checkpoint
 *   .pt      → zip (zip.ts) → records + data.pkl (torch.ts, pickle.ts) → Map<string, CoeffTensor>
 *   .frq     → packed (src/formats/packed.ts, docs/format.md) → Map<string, CoeffTensor>
 */
import { fail, toFreqregError } from './errors.js';
import { describeBytes, startsWith } from './formats/magic.js';
import { DEFAULT_LIMITS, type Limits } from './formats/limits.js';
import { FRQ_MAGIC, readPacked } from './formats/packed.js';
import { readTarFiles, selectCheckpointMember } from './formats/tar.js';
import { readTorchZip } from './formats/torch.js';
import { decodeXz, XZ_HEADER_MAGIC, type XzWasm } from './formats/xz.js';
import { buildModel, type CoeffTensor, type FrModel } from './model.js';

/** Container formats readCheckpoint accepts. */
export type CheckpointFormat = 'pt.tar.xz' | 'pt' | 'frq';

const ZIP_LOCAL_MAGIC = [0x50, 0x4b, 0x03, 0x04];
/** torch.save's legacy (pre-1.6) stream: PROTO 2, then LONG1 of the magic 0x1950a86a20f9469cfc6c. */
const LEGACY_TORCH_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const PICKLE_PROTO = 0x80;
const TAR_USTAR_MAGIC = [0x75, 0x73, 0x74, 0x61, 0x72]; // "ustar" at 257
/** Members of torch's legacy tar format (torch < 0.4): `sys_info`, `pickle`, `storages`, `tensors`. */
const LEGACY_TAR_MEMBERS = ['pickle', 'storages', 'tensors'];

/** Signatures of the formats readCheckpoint reads. */
const FORMAT_SIGNATURES: ReadonlyArray<{ format: CheckpointFormat; magic: readonly number[] }> = [
  { format: 'pt.tar.xz', magic: XZ_HEADER_MAGIC },
  { format: 'pt', magic: ZIP_LOCAL_MAGIC },
  { format: 'frq', magic: FRQ_MAGIC },
];

export interface ReadOptions {
  /** build/xz.wasm: compiled, its bytes, or an instance to reuse; needed only for .tar.xz input. */
  xz?: XzWasm;
  /** Overrides of DEFAULT_LIMITS. */
  limits?: Partial<Limits>;
}

/** The container format from magic bytes, or a coded refusal naming what the bytes look like. */
export function detectFormat(bytes: Uint8Array): CheckpointFormat {
  for (const { format, magic } of FORMAT_SIGNATURES) if (startsWith(bytes, magic)) return format;
  if (startsWith(bytes, LEGACY_TORCH_MAGIC)) fail('torch', 'PT_LEGACY_UNSUPPORTED', 'legacy torch.save stream (PyTorch < 1.6); re-save it with a current PyTorch', { offset: 0 });
  if (bytes[0] === PICKLE_PROTO) fail('torch', 'PT_LEGACY_UNSUPPORTED', 'a bare pickle, not a zip checkpoint', { offset: 0 });
  if (startsWith(bytes, TAR_USTAR_MAGIC, 257)) {
    fail('file', 'UNKNOWN_FORMAT', 'an uncompressed tar; expected a .pt (zip), a .tar.xz or a .frq', { offset: 0 });
  }
  fail('file', 'UNKNOWN_FORMAT', `expected a .pt (zip), .tar.xz or .frq checkpoint, got ${describeBytes(bytes)}`, { offset: 0 });
}

function resolveLimits(overrides?: Partial<Limits>): Limits {
  return { ...DEFAULT_LIMITS, ...overrides };
}

/** Unwraps .tar.xz to the checkpoint member's bytes. */
function unwrapTarXz(bytes: Uint8Array, opts: ReadOptions, limits: Limits): Uint8Array {
  if (!opts.xz) fail('engine', 'ENGINE_UNAVAILABLE', 'a .tar.xz checkpoint needs the xz module: pass { xz: <build/xz.wasm, compiled or its bytes> }');
  const tar = decodeXz(bytes, opts.xz, limits.maxDecompressedBytes);
  const files = readTarFiles(tar, limits);
  const names = new Set(files.map((f) => f.name.replace(/^.*\//, '')));
  if (LEGACY_TAR_MEMBERS.every((m) => names.has(m))) fail('torch', 'PT_LEGACY_UNSUPPORTED', 'legacy tar checkpoint (PyTorch < 0.4)');
  const member = selectCheckpointMember(files);
  if (!startsWith(member.bytes, ZIP_LOCAL_MAGIC)) {
    if (member.bytes[0] === PICKLE_PROTO) fail('torch', 'PT_LEGACY_UNSUPPORTED', 'legacy (pre-zip) torch.save stream', { entry: member.name });
    fail('file', 'UNKNOWN_FORMAT', `member is ${describeBytes(member.bytes)}, expected a zip checkpoint`, { entry: member.name });
  }
  return member.bytes;
}

/**
 * Converts anything but a FreqregError escaping a parser into a coded error: a trap is WASM_TRAP,
 * a failed allocation OUT_OF_MEMORY, anything else (a TypeError or RangeError: a bug) INTERNAL.
 */
function guarded<T>(run: () => T): T {
  try {
    return run();
  } catch (e) {
    throw toFreqregError(e, 'file');
  }
}

/** The checkpoint's state dict as coefficient tensors, in file order. */
export function readCheckpoint(bytes: Uint8Array, opts: ReadOptions = {}): Map<string, CoeffTensor> {
  return guarded(() => {
    if (!(bytes instanceof Uint8Array)) fail('file', 'UNKNOWN_FORMAT', `expected the checkpoint's bytes as a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`);
    const limits = resolveLimits(opts.limits);
    if (bytes.length > limits.maxInputBytes) fail('file', 'FILE_TOO_LARGE', `${bytes.length} bytes; the cap is ${limits.maxInputBytes}`);
    const format = detectFormat(bytes);
    if (format === 'frq') return readPacked(bytes, limits);
    const zip = format === 'pt.tar.xz' ? unwrapTarXz(bytes, opts, limits) : bytes;
    return readTorchZip(zip, limits);
  });
}

/** readCheckpoint, then buildModel: a checked FR UNet. */
export function loadModel(bytes: Uint8Array, opts: ReadOptions = {}): FrModel {
  const tensors = readCheckpoint(bytes, opts);
  return guarded(() => buildModel(tensors));
}
