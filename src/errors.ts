/**
 * The one error type for everything freqreg refuses. `code` comes from the table below;
 * `layer` names the parser or stage; `where` says the byte offset, archive entry or tensor.
 * Tests assert `code`, never the message text.
 */
export const ERROR_CODES = {
  // xz / tar
  XZ_MAGIC: 'not an xz stream',
  XZ_TRUNCATED: 'xz stream ends early',
  XZ_DATA: 'xz stream is corrupt',
  XZ_MEMLIMIT: 'xz dictionary larger than allowed',
  XZ_UNSUPPORTED_CHECK: 'xz integrity check not supported',
  XZ_TRAILING: 'data after the xz stream',
  XZ_OPTIONS: 'xz stream uses unsupported flags or filters',
  DECOMPRESSED_TOO_LARGE: 'decompressed data larger than allowed',
  TAR_NAME: 'unsafe tar member name',
  TAR_TYPE: 'tar member is not a regular file',
  TAR_SIZE: 'bad tar size field',
  TAR_CHECKSUM: 'tar header checksum mismatch',
  TAR_HEADER_TOO_LARGE: 'tar extended header too large',
  TAR_PAX: 'tar pax record malformed or not allowed',
  TAR_AMBIGUOUS: 'tar holds more than one checkpoint',
  TAR_TOO_MANY_ENTRIES: 'tar has too many members',
  TAR_TRUNCATED: 'tar ends early',
  TAR_EMPTY: 'tar holds no checkpoint',
  // zip / torch archive
  PT_LEGACY_UNSUPPORTED: 'legacy (pre-zip) PyTorch format',
  PT_TORCHSCRIPT: 'TorchScript archive, not a state dict',
  PT_MISSING_RECORD: 'record missing from the checkpoint',
  PT_BYTEORDER: 'unsupported byte order',
  PT_STORAGE_CONFLICT: 'storage used with two types or sizes',
  ZIP_LAYOUT: 'records not under one archive folder',
  ZIP_EOCD: 'zip end-of-central-directory record missing or invalid',
  ZIP_CD: 'zip central directory invalid',
  ZIP_OVERLAP: 'zip entries overlap',
  ZIP_DUPLICATE: 'zip entry name appears twice',
  ZIP_HEADER_MISMATCH: 'zip local and central headers disagree',
  ZIP_METHOD: 'zip compression method not supported',
  ZIP_UNSUPPORTED: 'zip feature not supported',
  ZIP_RANGE: 'zip offset or size out of range',
  ZIP_CRC: 'zip entry CRC mismatch',
  ZIP_NAME: 'unsafe zip entry name',
  // pickle
  PICKLE_GLOBAL: 'pickle names a global that is not allowed',
  PICKLE_OPCODE: 'pickle opcode not allowed',
  PICKLE_ARGS: 'bad arguments to an allowed pickle callable',
  PICKLE_BUILD: 'pickle BUILD on a type that does not allow it',
  PICKLE_TYPE: 'pickle container type confusion',
  PICKLE_MEMO: 'pickle memo misuse',
  PICKLE_STACK: 'pickle stack underflow',
  PICKLE_TRUNCATED: 'pickle ends early',
  PICKLE_PROTO: 'pickle protocol not supported',
  PICKLE_TRAILING: 'data after the pickle STOP, or unbalanced stack',
  PICKLE_DEPTH: 'pickle nesting too deep',
  PICKLE_TOO_LARGE: 'pickle too large',
  PICKLE_INT_RANGE: 'pickle integer out of range',
  PICKLE_UTF8: 'pickle string is not valid UTF-8',
  PICKLE_PERSID: 'bad pickle persistent id',
  PICKLE_DUPLICATE_KEY: 'pickle dict key set twice',
  // tensors and model
  SHAPE_OVERFLOW: 'tensor element count overflows',
  STORAGE_SIZE: 'storage size differs from what is declared',
  TENSOR_OOB: 'tensor view outside its storage',
  TENSOR_GEOMETRY: 'bad tensor size or stride',
  TENSOR_OVERLAP: 'tensor view reads a storage element more than once',
  SPARSE_INVALID: 'invalid sparse tensor',
  MODEL_SPEC: 'state dict does not describe a frequency-regularized UNet',
  MODEL_TOO_LARGE: 'model larger than allowed',
  // packed format
  PACK_HEADER: 'bad packed-model header',
  PACK_OFFSETS: 'bad packed-model offsets',
  PACK_TRAILING: 'data after the packed model',
  PACK_TENSOR: 'bad packed-model tensor',
  PACK_INDEX: 'bad packed-model coefficient index',
  PACK_CHECKSUM: 'packed-model checksum mismatch',
  // images
  NOT_PNG: 'not a PNG file',
  PNG_HEADER: 'bad PNG header',
  PNG_CRC: 'PNG chunk CRC mismatch',
  PNG_PALETTE: 'bad PNG palette',
  PNG_STRUCTURE: 'bad PNG chunk structure',
  IMAGE_DIMENSIONS: 'bad image dimensions',
  IMAGE_TOO_LARGE: 'image larger than allowed',
  IMAGE_DATA: 'image data larger than declared',
  IMAGE_TRUNCATED: 'image data shorter than declared',
  PNG_DATA: 'PNG compressed or filtered data is corrupt',
  IMAGE_FORMAT: 'not an image format freqreg reads (PNG or JPEG)',
  JPEG_STRUCTURE: 'bad JPEG marker structure',
  JPEG_UNSUPPORTED: 'JPEG variant not supported',
  JPEG_DATA: 'JPEG compressed data is corrupt',
  MASK_INVALID: 'masks differ in size or hold a class out of range',
  INPUT_TOO_SMALL: 'input image too small for the network',
  NOT_GIF: 'not a GIF file',
  GIF_STRUCTURE: 'bad GIF block structure',
  GIF_DATA: 'GIF image data is corrupt',
  // training data and state
  MASK_MISSING: 'photo without a mask',
  MASK_SIZE: 'mask and photo differ in size',
  MASK_CLASS: 'mask holds a class index out of range',
  NOT_A_MASK: 'image is not a mask (colours, or levels other than 0/255 and class indices)',
  MANIFEST: 'bad manifest line',
  CHECKPOINT_HEADER: 'bad training checkpoint header',
  CHECKPOINT_CHECKSUM: 'training checkpoint checksum mismatch',
  CHECKPOINT_MISMATCH: 'training checkpoint does not fit this run',
  INPUT_SHAPE: 'input does not match the model',
  // engine and runtime
  UNKNOWN_FORMAT: 'file format not recognised',
  ENGINE_UNAVAILABLE: 'engine not available here',
  WASM_FEATURE: 'WebAssembly feature missing',
  WASM_TRAP: 'WebAssembly kernel trapped',
  OUT_OF_MEMORY: 'working memory larger than allowed',
  TIMEOUT: 'time budget exceeded',
  // gradients
  RANKS_INVALID: 'trainable rank count is not a positive integer',
  TRAINABLE_VALUES: 'values do not match the trainable set',
  TARGET_INVALID: 'target does not match the logits (wrong size or class out of range)',
  LOSS_SHAPE: 'loss gradient does not match the logits',
  NOT_FINITE: 'NaN or infinity where a finite number is needed',
  INTERNAL: 'unexpected internal failure (a bug; please report it)',
  // files and command line
  FILE_NOT_REGULAR: 'not a regular file',
  FILE_TOO_LARGE: 'file larger than allowed',
  FILE_READ: 'file cannot be read',
  FILE_WRITE: 'file cannot be written',
  OUTPUT_EXISTS: 'output exists',
  OUTPUT_PATH: 'unsafe output path',
  DATA_MISSING: 'data file missing',
  USAGE: 'bad command-line usage',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export type ErrorLayer =
  | 'xz' | 'tar' | 'zip' | 'pickle' | 'torch' | 'tensor' | 'model' | 'packed'
  | 'png' | 'jpeg' | 'gif' | 'image' | 'engine' | 'wasm' | 'cli' | 'file' | 'train';

export interface ErrorWhere {
  /** Byte offset in the stream the layer reads. */
  offset?: number;
  /** Archive member or zip entry name. */
  entry?: string;
  /** State-dict key. */
  tensor?: string;
  /** File path (CLI only). */
  file?: string;
}

export class FreqregError extends Error {
  readonly code: ErrorCode;
  readonly layer: ErrorLayer;
  readonly where: ErrorWhere;

  constructor(layer: ErrorLayer, code: ErrorCode, detail: string, where: ErrorWhere = {}) {
    super(`${layer}: ${ERROR_CODES[code]}: ${detail}${formatWhere(where)}`);
    this.name = 'FreqregError';
    this.code = code;
    this.layer = layer;
    this.where = where;
  }
}

function formatWhere(where: ErrorWhere): string {
  const parts: string[] = [];
  if (where.file !== undefined) parts.push(`file ${where.file}`);
  if (where.entry !== undefined) parts.push(`entry ${where.entry}`);
  if (where.tensor !== undefined) parts.push(`tensor ${where.tensor}`);
  if (where.offset !== undefined) parts.push(`byte ${where.offset}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/** Shorthand used by every parser: `fail('tar', 'TAR_SIZE', 'size field "18" is not octal', { offset })`. */
export function fail(layer: ErrorLayer, code: ErrorCode, detail: string, where?: ErrorWhere): never {
  throw new FreqregError(layer, code, detail, where);
}

/**
 * Any thrown value as a FreqregError, for the public entry points' last line of defence: a
 * FreqregError passes through; a WebAssembly trap is WASM_TRAP; a failed allocation is
 * OUT_OF_MEMORY; anything else (a TypeError or RangeError from a bug) is INTERNAL.
 */
export function toFreqregError(e: unknown, layer: ErrorLayer, where?: ErrorWhere): FreqregError {
  if (e instanceof FreqregError) return e;
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  if (typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError) return new FreqregError('wasm', 'WASM_TRAP', message, where);
  if (e instanceof RangeError && /allocation failed|out of memory/i.test(e.message)) {
    return new FreqregError(layer, 'OUT_OF_MEMORY', message, where);
  }
  return new FreqregError(layer, 'INTERNAL', message, where);
}
