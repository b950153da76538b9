/**
 * `freqreg pack MODEL [-o OUT.frq]`: any checkpoint the loader reads → the packed `.frq` format
 * (docs/format.md). The model is checked as a UNet first, and the packed bytes are read back and
 * compared before anything is written. Outputs never replace an existing file without --overwrite,
 * and never the input.
 */
import { basename, dirname, resolve } from 'node:path';
import { FreqregError } from '../errors.js';
import { readPacked, writePacked } from '../formats/packed.js';
import { buildModel, type CoeffTensor } from '../model.js';
import { EXIT, type Command } from './command.js';
import { removeStaleTemporaries, samePath, writeFileAtomic } from './files.js';
import { readCheckpointFile } from './load.js';

const MODEL_EXTENSIONS = /(\.pt\.tar\.xz|\.tar\.xz|\.pth|\.pt|\.frq)$/i;

/** `dir/unet_fr.tar.xz` → `unet_fr<extension>`, in the current directory. */
export function defaultOutputName(model: string, extension: string): string {
  return `${basename(model).replace(MODEL_EXTENSIONS, '') || 'model'}${extension}`;
}

export interface ConvertResult { output: string; bytes: number; tensors: number; stored: number; format: string }

/**
 * Reads MODEL, checks it is an FR UNet, serializes it with `write`, and writes the result to
 * `--output` (or the default name) atomically.
 */
export async function convertModel(
  values: Record<string, unknown>, positionals: string[], command: string, extension: string,
  write: (tensors: Map<string, CoeffTensor>) => Uint8Array,
): Promise<ConvertResult> {
  if (positionals.length !== 1) throw new FreqregError('cli', 'USAGE', `${command} takes exactly one MODEL file`);
  const model = positionals[0];
  if (values.output !== undefined && (typeof values.output !== 'string' || values.output === '')) {
    throw new FreqregError('cli', 'USAGE', '--output needs a file name');
  }
  const output = resolve((values.output as string | undefined) ?? defaultOutputName(model, extension));
  if (await samePath(model, output)) throw new FreqregError('file', 'OUTPUT_PATH', 'the output would replace the input', { file: output });
  const { tensors, format } = await readCheckpointFile(model);
  buildModel(tensors);
  const bytes = write(tensors);
  await removeStaleTemporaries(dirname(output), (name) => name === basename(output));
  await writeFileAtomic(output, bytes, values.overwrite === true);
  let stored = 0;
  for (const t of tensors.values()) stored += t.values.length;
  return { output, bytes: bytes.length, tensors: tensors.size, stored, format };
}

function packVerified(tensors: Map<string, CoeffTensor>): Uint8Array {
  const bytes = writePacked(tensors);
  const again = writePacked(readPacked(bytes));
  if (again.length !== bytes.length || again.some((b, i) => b !== bytes[i])) {
    throw new Error('internal error: the packed model does not read back to the same bytes');
  }
  return bytes;
}

export const packCommand: Command = {
  summary: 'write a model in the packed .frq format (lossless, about 1.6 KB upstream)',
  usage: 'MODEL [-o OUT.frq] [--overwrite]',
  options: { output: { type: 'string', short: 'o' }, overwrite: { type: 'boolean' } },
  help: {
    '--output, -o FILE': 'where to write (MODEL\'s name with .frq, in the current folder)',
    '--overwrite': 'replace FILE if it exists (off)',
  },
  async run(values, positionals) {
    const r = await convertModel(values, positionals, 'pack', '.frq', packVerified);
    console.log(`wrote ${r.output} (${r.bytes.toLocaleString('en-US')} bytes: ${r.tensors} tensors, ${r.stored.toLocaleString('en-US')} stored coefficients, from ${r.format})`);
    return EXIT.OK;
  },
};
