/**
 * `freqreg segment INPUT... --model MODEL --out DIR`: one mask PNG per input image. Inputs are PNG
 * files or folders of them (not descended into further). A bad input is reported and skipped; the
 * rest are processed; the exit code is 1 if any failed. Inputs are never written to, and existing
 * outputs are never replaced without --overwrite.
 */
import { promises as fs } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { FreqregError } from '../errors.js';
import { imageToTensor } from '../input.js';
import { argmaxClasses } from '../engines/reference.js';
import { maskToGrey } from '../metrics.js';
import { EXIT, intFlag, type Command } from './command.js';
import { createNodeEngine, parseEngineName } from './engines.js';
import { defaultThreads } from './kernels.js';
import { loadModelFile } from './load.js';
import { decodePng, encodeGreyPng } from './png.js';
import { readRegularFile, samePath, writeFileAtomic } from './files.js';

/** Largest image file read (bytes). */
export const MAX_IMAGE_FILE_BYTES = 64 * 2 ** 20;

/** Expands folders into their `.png` entries (sorted); files are kept as given. */
async function expandInputs(inputs: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const input of inputs) {
    const st = await fs.lstat(input).catch(() => undefined);
    if (st?.isDirectory()) {
      const names = (await fs.readdir(input)).filter((n) => n.toLowerCase().endsWith('.png')).sort();
      out.push(...names.map((n) => join(input, n)));
    } else {
      out.push(input);
    }
  }
  return out;
}

export function maskName(input: string): string {
  return `${basename(input, extname(input))}-mask.png`;
}

export const segmentCommand: Command = {
  summary: 'write a mask PNG for each input image',
  usage: 'INPUT... --model MODEL --out DIR [--engine auto] [--threads N] [--overwrite]',
  options: {
    model: { type: 'string', short: 'm' },
    out: { type: 'string', short: 'o' },
    engine: { type: 'string' },
    threads: { type: 'string' },
    overwrite: { type: 'boolean' },
  },
  help: {
    '--model, -m MODEL': 'the model file: .tar.xz or .pt (required)',
    '--out, -o DIR': 'folder for the masks, created if missing (required)',
    '--engine NAME': 'auto, spectral, dense or reference (auto)',
    '--threads N': `threads to use (${defaultThreads()}, the cores available)`,
    '--overwrite': 'replace masks that already exist (off)',
  },
  async run(values, positionals) {
    if (positionals.length === 0) throw new FreqregError('cli', 'USAGE', 'give at least one INPUT image or folder');
    if (typeof values.model !== 'string') throw new FreqregError('cli', 'USAGE', '--model MODEL is required');
    if (typeof values.out !== 'string') throw new FreqregError('cli', 'USAGE', '--out DIR is required');
    const outDir = resolve(values.out);
    const overwrite = values.overwrite === true;
    const engineName = parseEngineName(values.engine);
    const threads = intFlag(values, 'threads', defaultThreads());

    const inputs = await expandInputs(positionals);
    await fs.mkdir(outDir, { recursive: true });
    const { model } = await loadModelFile(values.model);
    const engine = await createNodeEngine(engineName, model, threads);
    const failed: { file: string; error: string }[] = [];
    const written = new Set<string>();
    let done = 0;
    try {
      for (const file of inputs) {
        try {
          const target = join(outDir, maskName(file));
          if (written.has(target)) throw new FreqregError('file', 'OUTPUT_PATH', `another input already wrote ${target}`, { file });
          for (const other of inputs) {
            if (await samePath(other, target)) throw new FreqregError('file', 'OUTPUT_PATH', `the mask would replace the input ${other}`, { file });
          }
          const image = decodePng(await readRegularFile(file, MAX_IMAGE_FILE_BYTES));
          const input = imageToTensor(image, model.arch.inChannels);
          const logits = await engine.run(input, image.width, image.height);
          const classes = argmaxClasses({ c: logits.classes, h: logits.height, w: logits.width, data: logits.data });
          await writeFileAtomic(target, encodeGreyPng(maskToGrey(classes, logits.classes), image.width, image.height), overwrite);
          written.add(target);
          done++;
          console.log(`${file} → ${target}`);
        } catch (e) {
          if (!(e instanceof FreqregError)) throw e;
          failed.push({ file, error: `${e.message} [${e.code}]` });
          console.error(`skipped ${file}: ${e.message} [${e.code}]`);
        }
      }
    } finally {
      await engine.dispose();
    }
    console.log(`${done} of ${inputs.length} images segmented${failed.length ? `, ${failed.length} failed:` : ''}`);
    for (const f of failed) console.log(`  ${f.file}: ${f.error}`);
    return failed.length ? EXIT.SOME_FAILED : EXIT.OK;
  },
};
