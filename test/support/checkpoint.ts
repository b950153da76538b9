/**
 * Writes a state dict of coefficient tensors as a PyTorch zip checkpoint (the layout torch.save
 * writes: sparse COO tensors or dense float32 tensors), for round trips and end-to-end fuzzing
 * without Python. The mirror of src/formats/torch.ts's reader, for the subset FR models use.
 */
import type { CoeffTensor, FrModel } from '../../src/model.js';
import { f32Bytes, i64Bytes, statePickle, torchZip, type PickleWriter } from './writers.js';

export type StorageForm = 'sparse' | 'dense';

/** The model's layers as the state dict they were read from (weights, then `.bias` keys). */
export function modelDict(model: FrModel): Map<string, CoeffTensor> {
  const dict = new Map<string, CoeffTensor>();
  for (const layer of model.layers) {
    dict.set(layer.name, { shape: [...layer.shape], indices: layer.indices, values: layer.values, dtype: 'float32', sparse: layer.sparse });
    if (layer.bias) {
      const bias = layer.bias;
      dict.set(layer.name.replace(/\.weight$/, '.bias'), { shape: [bias.length], indices: Int32Array.from(bias.keys()), values: Float32Array.from(bias), dtype: 'float32', sparse: false });
    }
  }
  return dict;
}

/** A torch zip checkpoint holding `dict`; each tensor sparse or dense as `form` says (default: as the tensor was read). */
export function writeCheckpoint(dict: Map<string, CoeffTensor>, form?: StorageForm): Uint8Array {
  const storages: Record<string, Uint8Array> = {};
  const entries: [string, (w: PickleWriter) => void][] = [];
  let next = 0;
  for (const [name, t] of dict) {
    const rank = t.shape.length, nnz = t.values.length;
    if ((form ?? (t.sparse ? 'sparse' : 'dense')) === 'sparse') {
      const ik = String(next++), vk = String(next++);
      const indices: number[] = new Array(rank * nnz);
      for (let k = 0; k < nnz; k++) for (let a = 0; a < rank; a++) indices[a * nnz + k] = t.indices[k * rank + a]; // (rank, nnz)
      storages[ik] = i64Bytes(indices);
      storages[vk] = f32Bytes([...t.values]);
      entries.push([name, (w) => w.sparse(
        { key: ik, type: 'LongStorage', numel: rank * nnz, size: [rank, nnz], stride: [nnz, 1] },
        { key: vk, type: 'FloatStorage', numel: nnz, size: [nnz], stride: [1] }, t.shape)]);
    } else {
      const numel = t.shape.reduce((a, b) => a * b, 1);
      const strides = t.shape.map((_, a) => t.shape.slice(a + 1).reduce((x, y) => x * y, 1));
      const values = new Float32Array(numel);
      for (let k = 0; k < nnz; k++) {
        let p = 0;
        for (let a = 0; a < rank; a++) p += t.indices[k * rank + a] * strides[a];
        values[p] = t.values[k];
      }
      const key = String(next++);
      storages[key] = new Uint8Array(values.buffer);
      entries.push([name, (w) => w.dense({ key, type: 'FloatStorage', numel, size: t.shape, stride: strides })]);
    }
  }
  return torchZip(statePickle(entries), storages);
}
