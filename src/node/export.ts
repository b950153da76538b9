/**
 * `freqreg export MODEL [-o OUT.pt]`: any checkpoint the loader reads → a PyTorch checkpoint laid
 * out as the upstream `model2File` writes it (src/formats/torch-write.ts), for `torch.load` and the
 * upstream `file2Model`. Same output rules as `pack`.
 *
 * `freqreg export MODEL --onnx OUT.onnx`: the model as a dense ONNX graph (src/onnx-export.ts:
 * opset 13, weights from the inverse DCT, symbolic height and width, batch 1), for any ONNX runtime.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FreqregError } from '../errors.js';
import { writeTorchZip } from '../formats/torch-write.js';
import { buildModel } from '../model.js';
import { exportOnnx } from '../onnx-export.js';
import { EXIT, type Command } from './command.js';
import { PACKAGE_ROOT } from './data.js';
import { convertModel } from './pack.js';

/** freqreg's version from its package.json (the ONNX file's producer_version). */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export const exportCommand: Command = {
  summary: 'write a model as a PyTorch checkpoint (.pt) again, or as a dense ONNX graph',
  usage: 'MODEL [-o OUT.pt | --onnx OUT.onnx] [--overwrite]',
  options: { output: { type: 'string', short: 'o' }, onnx: { type: 'string' }, overwrite: { type: 'boolean' } },
  help: {
    '--output, -o FILE': 'where to write the PyTorch checkpoint (MODEL\'s name with .pt, in the current folder)',
    '--onnx FILE': 'write a dense ONNX graph (opset 13, any image size, batch 1) to FILE instead (off)',
    '--overwrite': 'replace FILE if it exists (off)',
  },
  async run(values, positionals) {
    if (values.onnx !== undefined) {
      if (values.output !== undefined) throw new FreqregError('cli', 'USAGE', 'give either --output (PyTorch) or --onnx, not both');
      if (typeof values.onnx !== 'string' || values.onnx === '') throw new FreqregError('cli', 'USAGE', '--onnx needs a file name');
      const version = packageVersion();
      const r = await convertModel({ ...values, output: values.onnx }, positionals, 'export', '.onnx', (tensors) => exportOnnx(buildModel(tensors), { version }));
      console.log(`wrote ${r.output} (${r.bytes.toLocaleString('en-US')} bytes: dense ONNX graph, opset 13, from ${r.stored.toLocaleString('en-US')} coefficients in ${r.tensors} tensors, ${r.format})`);
      return EXIT.OK;
    }
    const r = await convertModel(values, positionals, 'export', '.pt', (tensors) => writeTorchZip(tensors));
    console.log(`wrote ${r.output} (${r.bytes.toLocaleString('en-US')} bytes: ${r.tensors} tensors, ${r.stored.toLocaleString('en-US')} stored coefficients, from ${r.format})`);
    return EXIT.OK;
  },
};
