/**
 * PyTorch zip checkpoint (torch.save, `_use_new_zipfile_serialization`) → coefficient tensors.
 *
 * Layout (caffe2/serialize/inline_container.h): every record sits under one top-level folder
 * `<prefix>/` (not necessarily `archive/`): `data.pkl` (the pickled state dict), `version`
 * (or `.data/version`), optional `byteorder`, and storages `data/<key>`. TorchScript archives
 * (`constants.pkl`, `code/`) are refused, never loaded another way.
 *
 * Allowlisted globals (exact bytes; everything else is PICKLE_GLOBAL):
 *   collections.OrderedDict                 () → empty ordered dict (BUILD may then set `_metadata`)
 *   torch._utils._rebuild_tensor_v2         (storage, offset, size, stride, requires_grad, hooks[, metadata])
 *   torch._utils._rebuild_sparse_tensor     (layout, (indices, values, size[, is_coalesced]))
 *   torch.serialization._get_layout         ("torch.sparse_coo") only
 *   torch.Size                              (tuple of ints)
 *   torch.{Float,Half,Double,Long}Storage   storage types, only inside persistent ids
 * Int, BFloat16 and other storages are left out: no FR checkpoint uses them.
 *
 * Tensors are checked in two passes over the state dict: first every geometry, dtype and the
 * total element count (before any allocation), then values are read. Dense tensors keep only their
 * non-zeros. float16 converts to float32 exactly; float64 is rounded to float32.
 */
import { fail } from '../errors.js';
import type { CoeffTensor, Dtype } from '../model.js';
import { type Limits, MAX_TENSOR_DIM } from './limits.js';
import { quoteName } from './names.js';
import { kindOf, type PickleGlobal, type PickleValue, unpickle } from './pickle.js';
import { readZip, readZipEntry, type ZipArchive, type ZipEntry } from './zip.js';

type StorageDtype = Dtype | 'int64';

interface StorageType { dtype: StorageDtype; itemBytes: number }

const STORAGE_TYPES: ReadonlyMap<string, StorageType> = new Map([
  ['torch\nFloatStorage', { dtype: 'float32', itemBytes: 4 }],
  ['torch\nHalfStorage', { dtype: 'float16', itemBytes: 2 }],
  ['torch\nDoubleStorage', { dtype: 'float64', itemBytes: 8 }],
  ['torch\nLongStorage', { dtype: 'int64', itemBytes: 8 }],
]);

interface Storage { type: 'storage'; key: string; dtype: StorageDtype; itemBytes: number; numel: number; bytes: Uint8Array }
interface SparseLayout { type: 'layout' }
interface TorchSize { type: 'torch.Size'; dims: bigint[] }
/** A strided view as `_rebuild_tensor_v2` describes it; geometry not yet checked. */
interface DenseTensor { type: 'tensor'; storage: Storage; offset: bigint; size: bigint[]; stride: bigint[]; at: number }
interface SparseTensor { type: 'sparse tensor'; indices: DenseTensor; values: DenseTensor; size: bigint[]; at: number }
type TorchObject = Storage | SparseLayout | TorchSize | DenseTensor | SparseTensor;
type Value = PickleValue<TorchObject>;

/** A view whose geometry passed every check; all numbers exact. */
interface CheckedView { shape: number[]; stride: number[]; offset: number; numel: number; storage: Storage }

const SUPPORTED_VERSIONS = { min: 1, max: 10 };

// ---------- pickle values → torch objects ----------

function host<T extends TorchObject['type']>(v: Value, type: T): Extract<TorchObject, { type: T }> | undefined {
  return typeof v === 'object' && v !== null && v.kind === 'host' && v.value.type === type
    ? (v.value as Extract<TorchObject, { type: T }>) : undefined;
}

function intTuple(v: Value): bigint[] | undefined {
  if (typeof v !== 'object' || v === null || v.kind !== 'tuple') return undefined;
  return v.items.every((x): x is bigint => typeof x === 'bigint') ? (v.items as bigint[]) : undefined;
}

function wrap(value: TorchObject): Value {
  return { kind: 'host', value };
}

function badArgs(what: string, at: number): never {
  fail('pickle', 'PICKLE_ARGS', what, { offset: at });
}

const rebuildTensorV2 = (args: Value[], at: number): Value => {
  if (args.length !== 6 && args.length !== 7) badArgs(`_rebuild_tensor_v2 takes 6 or 7 arguments, got ${args.length}`, at);
  const [storageArg, offsetArg, sizeArg, strideArg, requiresGrad, hooks, metadata] = args;
  const storage = host(storageArg, 'storage') ?? badArgs(`_rebuild_tensor_v2 storage is a ${kindOf(storageArg)}`, at);
  if (typeof offsetArg !== 'bigint') badArgs(`_rebuild_tensor_v2 offset is a ${kindOf(offsetArg)}`, at);
  const size = intTuple(sizeArg) ?? badArgs(`_rebuild_tensor_v2 size is not a tuple of ints`, at);
  const stride = intTuple(strideArg) ?? badArgs(`_rebuild_tensor_v2 stride is not a tuple of ints`, at);
  if (typeof requiresGrad !== 'boolean') badArgs(`_rebuild_tensor_v2 requires_grad is a ${kindOf(requiresGrad)}`, at);
  if (typeof hooks !== 'object' || hooks === null || hooks.kind !== 'dict' || !hooks.ordered || hooks.entries.size !== 0) {
    badArgs(`_rebuild_tensor_v2 backward_hooks must be an empty OrderedDict, got ${kindOf(hooks)}`, at);
  }
  if (metadata !== undefined && metadata !== null && !(typeof metadata === 'object' && metadata.kind === 'dict')) {
    badArgs(`_rebuild_tensor_v2 metadata is a ${kindOf(metadata)}`, at);
  }
  return wrap({ type: 'tensor', storage, offset: offsetArg, size, stride, at });
};

const rebuildSparseTensor = (args: Value[], at: number): Value => {
  if (args.length !== 2) badArgs(`_rebuild_sparse_tensor takes 2 arguments, got ${args.length}`, at);
  const [layout, data] = args;
  if (!host(layout, 'layout')) badArgs(`_rebuild_sparse_tensor layout is a ${kindOf(layout)}`, at);
  if (typeof data !== 'object' || data === null || data.kind !== 'tuple' || (data.items.length !== 3 && data.items.length !== 4)) {
    badArgs('_rebuild_sparse_tensor data must be (indices, values, size[, is_coalesced])', at);
  }
  const [indicesArg, valuesArg, sizeArg, coalesced] = data.items;
  const indices = host(indicesArg, 'tensor') ?? badArgs(`sparse indices are a ${kindOf(indicesArg)}`, at);
  const values = host(valuesArg, 'tensor') ?? badArgs(`sparse values are a ${kindOf(valuesArg)}`, at);
  const size = host(sizeArg, 'torch.Size')?.dims ?? intTuple(sizeArg) ?? badArgs(`sparse size is a ${kindOf(sizeArg)}`, at);
  if (coalesced !== undefined && typeof coalesced !== 'boolean') badArgs(`sparse is_coalesced is a ${kindOf(coalesced)}`, at);
  return wrap({ type: 'sparse tensor', indices, values, size, at });
};

/** The allowlist: exact GLOBAL bytes "module\nname" → what REDUCE does (storage types: nothing). Exported for its test. */
export const TORCH_GLOBALS: ReadonlyMap<string, PickleGlobal<TorchObject>> = new Map<string, PickleGlobal<TorchObject>>([
  ['collections\nOrderedDict', {
    call: (args, at) => (args.length === 0 ? { kind: 'dict', entries: new Map(), ordered: true } : badArgs(`OrderedDict takes no arguments here, got ${args.length}`, at)),
  }],
  ['torch._utils\n_rebuild_tensor_v2', { call: rebuildTensorV2 }],
  ['torch._utils\n_rebuild_sparse_tensor', { call: rebuildSparseTensor }],
  ['torch.serialization\n_get_layout', {
    call: (args, at) => {
      if (args.length !== 1 || typeof args[0] !== 'string') badArgs('_get_layout takes one string', at);
      if (args[0] !== 'torch.sparse_coo') fail('tensor', 'SPARSE_INVALID', `layout ${quoteName(args[0])}; only torch.sparse_coo is supported`, { offset: at });
      return wrap({ type: 'layout' });
    },
  }],
  ['torch\nSize', {
    call: (args, at) => {
      const dims = args.length === 1 ? intTuple(args[0]) : undefined;
      return wrap({ type: 'torch.Size', dims: dims ?? badArgs('torch.Size takes one tuple of ints', at) });
    },
  }],
  ...[...STORAGE_TYPES.keys()].map((key): [string, PickleGlobal<TorchObject>] => [key, {}]),
]);

// ---------- archive records ----------

interface Records { prefix: string; archive: ZipArchive; dataPkl: ZipEntry }

function locateRecords(archive: ZipArchive): Records {
  const names = [...archive.entries.keys()];
  if (names.length === 0) fail('torch', 'PT_MISSING_RECORD', 'archive is empty');
  const slash = names[0].indexOf('/');
  if (slash <= 0) fail('zip', 'ZIP_LAYOUT', `record ${quoteName(names[0])} is not in a folder`, { entry: names[0] });
  const prefix = names[0].slice(0, slash + 1);
  for (const name of names) {
    if (!name.startsWith(prefix)) fail('zip', 'ZIP_LAYOUT', `record ${quoteName(name)} is not under ${quoteName(prefix)}`, { entry: name });
    const rest = name.slice(prefix.length);
    if (rest === 'constants.pkl' || rest.startsWith('code/')) fail('torch', 'PT_TORCHSCRIPT', `record ${quoteName(name)} marks a TorchScript archive`, { entry: name });
  }
  const dataPkl = archive.entries.get(`${prefix}data.pkl`);
  if (!dataPkl) fail('torch', 'PT_MISSING_RECORD', `no ${prefix}data.pkl`);

  const versionEntry = archive.entries.get(`${prefix}version`) ?? archive.entries.get(`${prefix}.data/version`);
  if (!versionEntry) fail('torch', 'PT_MISSING_RECORD', `no ${prefix}version`);
  const versionText = String.fromCharCode(...readZipEntry(archive, versionEntry).subarray(0, 32));
  const version = /^[0-9]{1,3}\n?$/.test(versionText) ? Number(versionText.trim()) : NaN;
  if (!(version >= SUPPORTED_VERSIONS.min && version <= SUPPORTED_VERSIONS.max)) {
    fail('torch', 'PT_MISSING_RECORD', `version ${JSON.stringify(versionText)} is not an integer in ${SUPPORTED_VERSIONS.min}…${SUPPORTED_VERSIONS.max}`, { entry: versionEntry.name });
  }
  const byteorder = archive.entries.get(`${prefix}byteorder`);
  if (byteorder) {
    const order = String.fromCharCode(...readZipEntry(archive, byteorder).subarray(0, 16));
    if (order !== 'little') fail('torch', 'PT_BYTEORDER', `byteorder ${JSON.stringify(order)}; only "little" is supported`, { entry: byteorder.name });
  }
  return { prefix, archive, dataPkl };
}

/** persistent_load for ids ('storage', StorageType, key, location, numel). */
function storageLoader(records: Records): (pid: Value, at: number) => Value {
  const loaded = new Map<string, Storage>();
  return (pid, at) => {
    const where = { offset: at };
    if (typeof pid !== 'object' || pid === null || pid.kind !== 'tuple' || pid.items.length !== 5) {
      fail('pickle', 'PICKLE_PERSID', `persistent id is a ${kindOf(pid)}, expected a 5-tuple`, where);
    }
    const [tag, typeRef, key, location, numelArg] = pid.items;
    if (tag !== 'storage') fail('pickle', 'PICKLE_PERSID', `persistent id kind ${JSON.stringify(String(tag))}, expected "storage"`, where);
    const type = typeof typeRef === 'object' && typeRef !== null && typeRef.kind === 'global' ? STORAGE_TYPES.get(typeRef.key) : undefined;
    if (!type) fail('pickle', 'PICKLE_PERSID', `storage type is a ${kindOf(typeRef)}`, where);
    if (typeof key !== 'string' || !/^[0-9]{1,10}$/.test(key)) fail('pickle', 'PICKLE_PERSID', `storage key ${JSON.stringify(String(key))} is not a decimal number`, where);
    if (typeof location !== 'string' || !/^(cpu|cuda(:[0-9]{1,3})?)$/.test(location)) {
      fail('pickle', 'PICKLE_PERSID', `storage location ${JSON.stringify(String(location))}, expected cpu or cuda:N`, where);
    }
    if (typeof numelArg !== 'bigint' || numelArg < 0n) fail('pickle', 'PICKLE_PERSID', `storage size is a ${kindOf(numelArg)}, expected a non-negative int`, where);
    const name = `${records.prefix}data/${key}`;
    const previous = loaded.get(key);
    if (previous) {
      if (previous.dtype !== type.dtype || BigInt(previous.numel) !== numelArg) {
        fail('torch', 'PT_STORAGE_CONFLICT', `storage ${key} used as ${previous.numel} × ${previous.dtype} and as ${numelArg} × ${type.dtype}`, { ...where, entry: name });
      }
      return wrap(previous);
    }
    const entry = records.archive.entries.get(name);
    if (!entry) fail('pickle', 'PICKLE_PERSID', `storage ${key} has no record ${quoteName(name)}`, where);
    if (numelArg * BigInt(type.itemBytes) !== BigInt(entry.size)) {
      fail('tensor', 'STORAGE_SIZE', `storage ${key} declares ${numelArg} × ${type.itemBytes} bytes, the record holds ${entry.size}`, { entry: name });
    }
    const storage: Storage = { type: 'storage', key, ...type, numel: Number(numelArg), bytes: readZipEntry(records.archive, entry) };
    loaded.set(key, storage);
    return wrap(storage);
  };
}

// ---------- geometry (pass 1) ----------

/** Checks dims and returns them as numbers with their element count. */
function checkShape(dims: bigint[], tensor: string, limits: Limits): { shape: number[]; numel: number } {
  if (dims.length > limits.maxTensorRank) fail('tensor', 'TENSOR_GEOMETRY', `rank ${dims.length}; the cap is ${limits.maxTensorRank}`, { tensor });
  let numel = 1n;
  for (const d of dims) {
    if (d < 0n) fail('tensor', 'TENSOR_GEOMETRY', `negative size in [${dims}]`, { tensor });
    if (d > BigInt(MAX_TENSOR_DIM)) fail('tensor', 'SHAPE_OVERFLOW', `size ${d} is beyond 2^31 - 1`, { tensor });
    numel *= d;
  }
  if (numel > BigInt(Number.MAX_SAFE_INTEGER)) fail('tensor', 'SHAPE_OVERFLOW', `[${dims}] has ${numel} elements, beyond 2^53 - 1`, { tensor });
  return { shape: dims.map(Number), numel: Number(numel) };
}

function checkView(t: DenseTensor, tensor: string, limits: Limits): CheckedView {
  const { shape, numel } = checkShape(t.size, tensor, limits);
  if (t.stride.length !== t.size.length) fail('tensor', 'TENSOR_GEOMETRY', `size [${t.size}] and stride [${t.stride}] differ in rank`, { tensor });
  if (t.stride.some((s) => s < 0n)) fail('tensor', 'TENSOR_GEOMETRY', `negative stride in [${t.stride}]`, { tensor });
  if (t.offset < 0n) fail('tensor', 'TENSOR_GEOMETRY', `negative storage offset ${t.offset}`, { tensor });
  if (numel * t.storage.itemBytes > limits.maxTensorBytes) {
    fail('tensor', 'SHAPE_OVERFLOW', `view of ${numel} × ${t.storage.itemBytes} bytes; the cap is ${limits.maxTensorBytes}`, { tensor });
  }
  const storageNumel = BigInt(t.storage.numel);
  let last = t.offset;
  for (let i = 0; i < shape.length; i++) last += (t.size[i] - 1n) * t.stride[i];
  if (numel > 0 ? last >= storageNumel : t.offset > storageNumel) {
    fail('tensor', 'TENSOR_OOB', `view (offset ${t.offset}, size [${t.size}], stride [${t.stride}]) reaches element ${last} of a ${storageNumel}-element storage`, { tensor });
  }
  checkNoOverlap(t, tensor);
  return { shape, stride: t.stride.map(Number), offset: Number(t.offset), numel, storage: t.storage };
}

/**
 * Refuses a view that reads a storage element twice (a zero stride, or strides that overlap), so
 * the work of reading a tensor is bounded by its storage's bytes, not by the size it declares.
 * torch.save writes a parameter's own storage and view; a state dict's tensors never alias
 * themselves (`expand`, `as_strided` views are not parameters). Sufficient condition, checked on
 * the axes of extent > 1 sorted by stride: each stride is larger than the furthest element the
 * smaller-stride axes reach (a mixed-radix numbering, hence one-to-one). Permuted and padded
 * strides pass.
 */
function checkNoOverlap(t: DenseTensor, tensor: string): void {
  const axes = t.size.map((size, i) => ({ size, stride: t.stride[i] })).filter((a) => a.size > 1n);
  if (axes.length === 0 || t.size.some((d) => d === 0n)) return;
  axes.sort((a, b) => (a.stride < b.stride ? -1 : a.stride > b.stride ? 1 : 0));
  let reach = 0n; // furthest offset the axes so far reach
  for (const { size, stride } of axes) {
    if (stride <= reach) {
      fail('tensor', 'TENSOR_OVERLAP', `view (size [${t.size}], stride [${t.stride}]) reads storage elements more than once`, { tensor });
    }
    reach += (size - 1n) * stride;
  }
}

function requireFloat(view: CheckedView, tensor: string): void {
  if (view.storage.dtype === 'int64') fail('model', 'MODEL_SPEC', 'values are int64 (LongStorage), expected float16, float32 or float64', { tensor });
}

type Plan =
  | { kind: 'dense'; name: string; view: CheckedView }
  | { kind: 'sparse'; name: string; shape: number[]; indices: CheckedView; values: CheckedView; nnz: number };

function planTensor(name: string, value: Value, limits: Limits): Plan {
  const dense = host(value, 'tensor');
  if (dense) {
    const view = checkView(dense, name, limits);
    requireFloat(view, name);
    return { kind: 'dense', name, view };
  }
  const sparse = host(value, 'sparse tensor');
  if (!sparse) fail('pickle', 'PICKLE_TYPE', `state-dict value is a ${kindOf(value)}, expected a tensor`, { tensor: name });
  const { shape } = checkShape(sparse.size, name, limits);
  const indices = checkView(sparse.indices, `${name} (indices)`, limits);
  const values = checkView(sparse.values, `${name} (values)`, limits);
  if (indices.storage.dtype !== 'int64') fail('tensor', 'SPARSE_INVALID', `indices are ${indices.storage.dtype}, expected int64`, { tensor: name });
  requireFloat(values, name);
  if (values.shape.length !== 1) fail('tensor', 'SPARSE_INVALID', `values have shape [${values.shape}]; hybrid sparse tensors are not supported`, { tensor: name });
  const nnz = values.shape[0];
  if (indices.shape.length !== 2 || indices.shape[0] !== shape.length || indices.shape[1] !== nnz) {
    fail('tensor', 'SPARSE_INVALID', `indices have shape [${indices.shape}], expected [${shape.length}, ${nnz}]`, { tensor: name });
  }
  return { kind: 'sparse', name, shape, indices, values, nnz };
}

// ---------- values (pass 2) ----------

/** IEEE binary16 → number; exact (every half is a float32). */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f, fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

function floatReader(storage: Storage): (index: number) => number {
  const dv = new DataView(storage.bytes.buffer, storage.bytes.byteOffset, storage.bytes.byteLength);
  switch (storage.dtype) {
    case 'float16': return (i) => halfToFloat(dv.getUint16(i * 2, true));
    case 'float32': return (i) => dv.getFloat32(i * 4, true);
    case 'float64': return (i) => Math.fround(dv.getFloat64(i * 8, true));
    default: throw new Error(`unreachable: ${storage.dtype} is not a float storage`);
  }
}

/** Visits a view's elements in row-major order with their position and storage index. */
function forEachElement(view: CheckedView, visit: (storageIndex: number, position: Int32Array) => void): void {
  const rank = view.shape.length;
  if (view.numel === 0) return;
  const position = new Int32Array(rank);
  let storageIndex = view.offset;
  for (let n = 0; n < view.numel; n++) {
    visit(storageIndex, position);
    for (let axis = rank - 1; axis >= 0; axis--) {
      position[axis]++;
      storageIndex += view.stride[axis];
      if (position[axis] < view.shape[axis]) break;
      storageIndex -= view.stride[axis] * view.shape[axis];
      position[axis] = 0;
    }
  }
}

function readDense(plan: Extract<Plan, { kind: 'dense' }>): CoeffTensor {
  const { view } = plan;
  const read = floatReader(view.storage);
  let nnz = 0;
  forEachElement(view, (i) => { if (read(i) !== 0) nnz++; });
  const rank = view.shape.length;
  const indices = new Int32Array(nnz * rank);
  const values = new Float32Array(nnz);
  let k = 0;
  forEachElement(view, (i, position) => {
    const v = read(i);
    if (v === 0) return;
    indices.set(position, k * rank);
    values[k++] = v;
  });
  return { shape: view.shape, indices, values, dtype: view.storage.dtype as Dtype, sparse: false };
}

function readSparse(plan: Extract<Plan, { kind: 'sparse' }>): CoeffTensor {
  const { shape, nnz, indices: iv, values: vv, name } = plan;
  const rank = shape.length;
  const idx = new DataView(iv.storage.bytes.buffer, iv.storage.bytes.byteOffset, iv.storage.bytes.byteLength);
  const indices = new Int32Array(nnz * rank);
  for (let axis = 0; axis < rank; axis++) {
    for (let k = 0; k < nnz; k++) {
      const v = idx.getBigInt64((iv.offset + axis * iv.stride[0] + k * iv.stride[1]) * 8, true);
      if (v < 0n || v >= BigInt(shape[axis])) {
        fail('tensor', 'SPARSE_INVALID', `index ${v} on axis ${axis} of non-zero ${k} is outside [0, ${shape[axis]})`, { tensor: name });
      }
      indices[k * rank + axis] = Number(v);
    }
  }
  const seen = new Set<number>();
  for (let k = 0; k < nnz; k++) {
    let linear = 0;
    for (let axis = 0; axis < rank; axis++) linear = linear * shape[axis] + indices[k * rank + axis];
    if (seen.has(linear)) fail('tensor', 'SPARSE_INVALID', `non-zero ${k} repeats position [${indices.subarray(k * rank, k * rank + rank)}] (uncoalesced)`, { tensor: name });
    seen.add(linear);
  }
  const read = floatReader(vv.storage);
  const values = new Float32Array(nnz);
  for (let k = 0; k < nnz; k++) values[k] = read(vv.offset + k * vv.stride[0]);
  return { shape, indices, values, dtype: vv.storage.dtype as Dtype, sparse: true };
}

// ---------- entry point ----------

/** Reads a PyTorch zip checkpoint into coefficient tensors, in state-dict order. */
export function readTorchZip(bytes: Uint8Array, limits: Limits): Map<string, CoeffTensor> {
  const records = locateRecords(readZip(bytes, limits));
  const root = unpickle(readZipEntry(records.archive, records.dataPkl), {
    globals: TORCH_GLOBALS, persistentLoad: storageLoader(records), limits,
  });
  if (typeof root !== 'object' || root === null || root.kind !== 'dict') {
    fail('pickle', 'PICKLE_TYPE', `data.pkl holds a ${kindOf(root)}, expected a dict of tensors`, { entry: records.dataPkl.name });
  }
  const plans: Plan[] = [];
  let elements = 0;
  // Elements the views read, against the elements their storages hold: views may share a storage
  // but never read more than is stored, so reading costs at most the bytes present.
  let viewed = 0, stored = 0;
  const storages = new Set<string>();
  for (const [name, value] of root.entries) {
    if (typeof name !== 'string') fail('pickle', 'PICKLE_TYPE', `state-dict key ${name} is an int, expected a str`, { entry: records.dataPkl.name });
    const plan = planTensor(name, value, limits);
    elements += plan.kind === 'dense' ? plan.view.numel : plan.nnz;
    if (elements > limits.maxTotalParameters) fail('model', 'MODEL_TOO_LARGE', `more than ${limits.maxTotalParameters} stored elements`, { tensor: name });
    for (const view of plan.kind === 'dense' ? [plan.view] : [plan.indices, plan.values]) {
      viewed += view.numel;
      if (!storages.has(view.storage.key)) { storages.add(view.storage.key); stored += view.storage.numel; }
    }
    if (viewed > stored) fail('tensor', 'TENSOR_OVERLAP', `the views read ${viewed} elements from storages holding ${stored}`, { tensor: name });
    plans.push(plan);
  }
  return new Map(plans.map((p) => [p.name, p.kind === 'dense' ? readDense(p) : readSparse(p)]));
}
