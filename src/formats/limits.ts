/**
 * Resource limits for every checkpoint parser, from the resource-limit table of
 * docs/bad-inputs.md. Each limit is checked BEFORE the allocation it guards, with checked
 * (BigInt or bounded-Number) arithmetic. Tests pass tiny limits to reach the checks cheaply.
 */

export interface Limits {
  /** Input file (.pt or .tar.xz) size in bytes. */
  maxInputBytes: number;
  /** xz output, counted while streaming. The xz dictionary cap (64 MiB) is fixed inside build/xz.wasm. */
  maxDecompressedBytes: number;
  /** Tar headers of any kind (files, directories, pax records) before the archive ends. */
  maxTarMembers: number;
  /** Length of a tar member name (ustar prefix/name joined, or pax path), in bytes. */
  maxTarNameBytes: number;
  /** Size of one pax extended header or GNU long-name record. */
  maxTarExtendedHeaderBytes: number;
  /** Zip central-directory records. */
  maxZipEntries: number;
  /** Zip central-directory size in bytes. */
  maxZipCentralDirectoryBytes: number;
  /** Zip entry name length in bytes. */
  maxZipNameBytes: number;
  /** Size of data.pkl. */
  maxPickleBytes: number;
  /** Opcodes interpreted. */
  maxPickleOpcodes: number;
  /** Items on the pickle stack (all marks together). */
  maxPickleStack: number;
  /** Open MARKs, and nesting of containers. */
  maxPickleDepth: number;
  /** Distinct memo slots. */
  maxPickleMemo: number;
  /** One BINUNICODE string, in bytes. */
  maxPickleStringBytes: number;
  /** Tensor rank. */
  maxTensorRank: number;
  /** One storage or one tensor view, in bytes (AssemblyScript's BLOCK_MAXSIZE is just under 1 GiB). */
  maxTensorBytes: number;
  /** Stored elements over all tensors of a checkpoint (sparse: non-zeros; dense: every element read). */
  maxTotalParameters: number;
  /**
   * Dense weight elements an engine may expand the coefficients to (dense and reference engines;
   * the spectral engine never expands). Checked before the first weight is allocated.
   */
  maxDenseWeights: number;
  /**
   * Engine working memory in bytes: activations for one image, estimated from the image size and
   * the model before anything is allocated (src/engines/budget.ts), plus the spectral engine's
   * per-model tables. Above it: OUT_OF_MEMORY.
   */
  maxActivationBytes: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/**
 * The largest checkpoint a model of this architecture needs: the upstream UNet (31 M weights) with
 * every coefficient stored, as float32, is 124 MB; the FR file itself is 4.5 KB (41.5 KiB as .pt).
 * Model files and xz output are capped at twice that, so refusing or accepting one never costs
 * more than about 256 MiB of input.
 */
const MAX_MODEL_BYTES = 256 * MiB;

/** Defaults for Node and other hosts with memory to spare. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxInputBytes: MAX_MODEL_BYTES,
  maxDecompressedBytes: MAX_MODEL_BYTES,
  maxTarMembers: 64,
  maxTarNameBytes: 255,
  maxTarExtendedHeaderBytes: 64 * KiB,
  maxZipEntries: 4096,
  maxZipCentralDirectoryBytes: 1 * MiB,
  maxZipNameBytes: 1024,
  maxPickleBytes: 16 * MiB,
  maxPickleOpcodes: 5_000_000,
  maxPickleStack: 100_000,
  maxPickleDepth: 256,
  maxPickleMemo: 1_000_000,
  maxPickleStringBytes: 64 * KiB,
  maxTensorRank: 8,
  maxTensorBytes: 1 * GiB - 1,
  maxTotalParameters: 256_000_000,
  maxDenseWeights: 256_000_000, // 1 GiB of float32 weights
  maxActivationBytes: 1536 * MiB, // with the weights, inside the 2 GiB kernel memory (src/node/kernels.ts)
});

/** Edge runtimes (workerd: 128 MiB per isolate): the upstream model (31 M dense weights) still fits. */
export const EDGE_LIMITS: Readonly<Limits> = Object.freeze({
  ...DEFAULT_LIMITS,
  maxInputBytes: 64 * MiB,
  maxDecompressedBytes: 64 * MiB,
  maxPickleBytes: 4 * MiB,
  maxTensorBytes: 64 * MiB,
  maxTotalParameters: 32_000_000,
  maxDenseWeights: 16_000_000, // 64 MiB: the upstream model runs spectrally here, never dense
  maxActivationBytes: 96 * MiB, // the upstream model spectrally on a 959×640 image needs 73 MiB
});

/** Largest tensor dimension (the kernels index with i32); not host-dependent. */
export const MAX_TENSOR_DIM = 2 ** 31 - 1;

/** DEFAULT_LIMITS with some fields replaced. */
export function withLimits(overrides: Partial<Limits> = {}, base: Readonly<Limits> = DEFAULT_LIMITS): Limits {
  return { ...base, ...overrides };
}
