/**
 * `freqreg gradients MODEL IMAGE TARGET`: the training loss of one image and its gradient with
 * respect to the first R zig-zag coefficients of every layer, as JSON in the shape of the PyTorch
 * fixtures (fixtures/pytorch/grad/), so any framework's gradients can be compared with freqreg's.
 */
import { FreqregError } from '../errors.js';
import type { GradientResult, LayerGradient } from '../engines/gradients.js';
import { computeGradients, targetFromMask } from '../gradients.js';
import { imageToTensor } from '../input.js';
import { intFlag, threadsFlag, type Command } from './command.js';
import { createNodeEngine } from './engines.js';
import { readRegularFile } from './files.js';
import { defaultThreads } from './kernels.js';
import { loadModelFile } from './load.js';
import { decodeImage, decodePng } from './png.js';
import { MAX_IMAGE_FILE_BYTES } from './segment.js';

/** Trainable positions per layer when --ranks is not given: the fixtures' R. */
export const DEFAULT_RANKS = 64;

const GRADIENT_ENGINES = ['reference', 'spectral'] as const;
type GradientEngine = (typeof GRADIENT_ENGINES)[number];

/** One layer as the fixture files have it (PyTorch's names for the layer kinds). */
export function layerJson(layer: LayerGradient) {
  const positions: number[][] = [];
  for (let r = 0; r < layer.ranks; r++) positions.push(Array.from(layer.positions.subarray(r * 4, r * 4 + 4)));
  return {
    name: layer.name,
    kind: layer.kind === 'conv' ? 'conv2d' : 'conv_transpose2d',
    shape: layer.shape,
    ranks: layer.ranks,
    positions,
    values: Array.from(layer.values),
    grads: Array.from(layer.grads),
    ...(layer.biasGrads && { bias_grads: Array.from(layer.biasGrads) }),
  };
}

function formatHuman(result: GradientResult, engine: string): string {
  const lines = [
    `loss ${result.loss.toPrecision(10)} = cross-entropy ${result.ce.toPrecision(10)} + Dice loss ${result.diceLoss.toPrecision(10)} (${engine} engine)`,
    '',
    `${'layer'.padEnd(44)} ${'R'.padStart(4)} ${'max |g|'.padStart(12)}`,
  ];
  for (const layer of result.layers) {
    let max = 0;
    for (const g of layer.grads) max = Math.max(max, Math.abs(g));
    lines.push(`${layer.name.padEnd(44)} ${String(layer.ranks).padStart(4)} ${max.toExponential(4).padStart(12)}`);
  }
  return lines.join('\n');
}

export const gradientsCommand: Command = {
  summary: 'print the training loss of one image and its gradients per layer',
  usage: 'MODEL IMAGE TARGET [--ranks 64] [--engine reference] [--threads N] [--json]',
  options: { ranks: { type: 'string' }, engine: { type: 'string' }, threads: { type: 'string' }, json: { type: 'boolean' } },
  help: {
    'IMAGE': 'the photo: PNG or JPEG',
    'TARGET': 'a PNG of class indices (0, 1, …) per pixel; for 2 classes a 0/255 mask works too',
    '--ranks R': `trainable coefficients per layer: its first R zig-zag positions, zeros included (${DEFAULT_RANKS})`,
    '--engine NAME': 'reference (float64) or spectral (reference)',
    '--threads N': `threads for the spectral engine (${defaultThreads()}, the cores available)`,
    '--json': 'print the loss, its terms and per layer the positions, values and gradients, as the PyTorch fixtures (off)',
  },
  async run(values, positionals) {
    if (positionals.length !== 3) throw new FreqregError('cli', 'USAGE', 'gradients takes MODEL IMAGE TARGET');
    const [modelFile, imageFile, targetFile] = positionals;
    const ranks = intFlag(values, 'ranks', DEFAULT_RANKS);
    const engineName = (values.engine ?? 'reference') as GradientEngine;
    if (!GRADIENT_ENGINES.includes(engineName)) throw new FreqregError('cli', 'USAGE', `--engine must be reference or spectral, got "${String(values.engine)}"`);
    const threads = threadsFlag(values, defaultThreads());

    const { model } = await loadModelFile(modelFile);
    const image = decodeImage(await readRegularFile(imageFile, MAX_IMAGE_FILE_BYTES));
    const mask = decodePng(await readRegularFile(targetFile, MAX_IMAGE_FILE_BYTES));
    if (mask.width !== image.width || mask.height !== image.height) {
      throw new FreqregError('engine', 'TARGET_INVALID', `the target is ${mask.width}×${mask.height}, the image ${image.width}×${image.height}`, { file: targetFile });
    }
    const grey = mask.channels === 1 ? mask.data : mask.data.filter((_, i) => i % mask.channels === 0);
    const target = targetFromMask(grey, model.arch.classes);
    const { width, height } = image;

    let result: GradientResult;
    if (engineName === 'reference') {
      // float64 input (RGB / 255 in float64), as the fixtures' PyTorch pipeline feeds it.
      result = await computeGradients(model, imageToTensor(image, model.arch.inChannels, 'float64'), width, height, { target }, { ranks });
    } else {
      const engine = await createNodeEngine(engineName, model, threads, { train: { ranks } });
      try {
        result = await computeGradients(engine, imageToTensor(image, model.arch.inChannels), width, height, { target });
      } finally {
        await engine.dispose();
      }
    }
    if (values.json) {
      console.log(JSON.stringify({
        model: modelFile, image: imageFile, target: targetFile, engine: engineName, width, height,
        classes: model.arch.classes, ranks,
        loss: result.loss, ce: result.ce, dice_loss: result.diceLoss,
        layers: result.layers.map(layerJson),
      }, null, 1));
    } else {
      console.log(formatHuman(result, engineName));
    }
    return 0;
  },
};
