/**
 * `freqreg export MODEL [-o OUT.pt]`: any checkpoint the loader reads → a PyTorch checkpoint laid
 * out as the upstream `model2File` writes it (src/formats/torch-write.ts), for `torch.load` and the
 * upstream `file2Model`. Same output rules as `pack`.
 */
import { writeTorchZip } from '../formats/torch-write.js';
import { EXIT, type Command } from './command.js';
import { convertModel } from './pack.js';

export const exportCommand: Command = {
  summary: 'write a model as a PyTorch checkpoint (.pt) again',
  usage: 'MODEL [-o OUT.pt] [--overwrite]',
  options: { output: { type: 'string', short: 'o' }, overwrite: { type: 'boolean' } },
  help: {
    '--output, -o FILE': 'where to write (MODEL\'s name with .pt, in the current folder)',
    '--overwrite': 'replace FILE if it exists (off)',
  },
  async run(values, positionals) {
    const r = await convertModel(values, positionals, 'export', '.pt', (tensors) => writeTorchZip(tensors));
    console.log(`wrote ${r.output} (${r.bytes.toLocaleString('en-US')} bytes: ${r.tensors} tensors, ${r.stored.toLocaleString('en-US')} stored coefficients, from ${r.format})`);
    return EXIT.OK;
  },
};
