/** `freqreg inspect MODEL`: layers, totals, file size and compression ratio. */
import { FreqregError } from '../errors.js';
import { countParameters, distinctPerAxis, denseSize, type FrModel } from '../model.js';
import type { Command } from './command.js';
import { loadModelFile } from './load.js';
import { formatPlan, planSpectral } from '../engines/spectral-plan.js';
import { chooseForm } from '../engines/index.js';
import { checkInputSize } from '../input.js';
import { DEFAULT_PNG_LIMITS } from '../image/png.js';

/** "959x640" → [959, 640]. */
function parseSize(text: string): [number, number] {
  const m = /^(\d+)[x×](\d+)$/.exec(text);
  if (!m) throw new FreqregError('cli', 'USAGE', `--plan takes WxH, e.g. 959x640; got "${text}"`);
  const size: [number, number] = [Number(m[1]), Number(m[2])];
  checkInputSize(...size);
  const { maxWidth, maxHeight } = DEFAULT_PNG_LIMITS; // the largest image any command reads
  if (size[0] > maxWidth || size[1] > maxHeight) throw new FreqregError('cli', 'USAGE', `--plan ${text}: at most ${maxWidth}x${maxHeight}, the largest image freqreg reads`);
  return size;
}

export interface ModelSummary {
  file: string;
  format: string;
  fileBytes: number;
  arch: FrModel['arch'];
  tensors: number;
  nonzero: { weights: number; biases: number; total: number };
  denseWeights: number;
  /** Dense float32 bytes over file bytes. */
  compressionRatio: number;
  layers: {
    name: string;
    kind: string;
    shape: number[];
    dtype: string;
    storage: 'sparse' | 'dense';
    nonzero: number;
    distinctPerAxis: number[];
  }[];
}

export function summarize(model: FrModel, file: string, format: string, fileBytes: number): ModelSummary {
  const counts = countParameters(model);
  return {
    file,
    format,
    fileBytes,
    arch: model.arch,
    tensors: model.layers.length + model.layers.filter((l) => l.bias).length,
    nonzero: { weights: counts.weights, biases: counts.biases, total: counts.weights + counts.biases },
    denseWeights: counts.denseWeights,
    compressionRatio: (counts.denseWeights * 4) / fileBytes,
    layers: model.layers.map((l) => ({
      name: l.name,
      kind: l.kind,
      shape: [...l.shape],
      dtype: l.dtype,
      storage: l.sparse ? 'sparse' : 'dense',
      nonzero: l.values.reduce((n, v) => n + (v !== 0 ? 1 : 0), 0),
      distinctPerAxis: distinctPerAxis(l).map((s) => s.length),
    })),
  };
}

export function formatSummary(s: ModelSummary): string {
  const rows = s.layers.map((l) => [l.name, l.kind, l.shape.join('×'), String(l.nonzero), l.distinctPerAxis.join(','), `${l.storage} ${l.dtype}`]);
  const head = ['layer', 'kind', 'shape', 'non-zeros', 'distinct/axis', 'stored'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const n = (x: number) => x.toLocaleString('en-US');
  return [
    `${s.file} (${s.format}, ${n(s.fileBytes)} bytes)`,
    `UNet: ${s.arch.inChannels} input channels, width ${s.arch.width}, ${s.arch.classes} classes`,
    '',
    fmt(head),
    ...rows.map(fmt),
    '',
    `non-zero parameters: ${n(s.nonzero.total)} (weights ${n(s.nonzero.weights)}, biases ${n(s.nonzero.biases)}) in ${s.tensors} tensors`,
    `dense weights: ${n(s.denseWeights)} (${(s.denseWeights * 4 / 2 ** 20).toFixed(1)} MiB as float32)`,
    `compression: ${s.compressionRatio.toFixed(0)}× (dense float32 bytes / file bytes)`,
  ].join('\n');
}

export const inspectCommand: Command = {
  summary: 'print a model\'s layers, non-zero parameters and compression',
  usage: 'MODEL [--json] [--plan WxH]',
  options: { json: { type: 'boolean' }, plan: { type: 'string' } },
  help: {
    '--json': 'print one JSON object instead of the table (off)',
    '--plan WxH': 'also print, per layer, the estimated FLOPs and bytes of the spectral and dense forms for a W×H image, and what auto runs (off)',
  },
  async run(values, positionals) {
    if (positionals.length !== 1) throw new FreqregError('cli', 'USAGE', 'inspect takes exactly one MODEL file');
    const file = positionals[0];
    const loaded = await loadModelFile(file);
    const summary = summarize(loaded.model, file, loaded.format, loaded.bytes);
    const plan = values.plan === undefined ? undefined : planSpectral(loaded.model, ...parseSize(String(values.plan)));
    const auto = chooseForm(loaded.model);
    if (values.json) {
      console.log(JSON.stringify(plan ? { ...summary, plan: { ...plan, auto } } : summary, null, 2));
    } else {
      console.log(formatSummary(summary));
      if (plan) console.log(`\n${formatPlan(plan)}\nauto runs the whole network ${auto}ally`.replace('spectralally', 'spectrally').replace('denseally', 'densely'));
    }
    return 0;
  },
};
