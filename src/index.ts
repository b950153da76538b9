/**
 * freqreg's runtime-agnostic core: what `import ... from 'freqreg'` gives in browsers, edge
 * workers and any runtime with WebAssembly. Nothing here (or below it) imports `node:` or touches
 * files or the process; test/core-imports.test.ts bundles this file with every Node built-in made
 * an error to keep it so. Bytes in (`Uint8Array`), WASM modules in any form of src/wasm/source.ts
 * (compiled, bytes, a Response, a URL), images as `{ data, width, height, channels }` (an
 * `ImageData` works as is).
 *
 * Node's entry (src/node/index.ts) adds file loading, build/ kernels and worker threads; the
 * browser entry (src/browser.ts) adds a Web Worker thread pool.
 */
export { createSegmenter, argmax } from './segmenter.js';
export type { Segmenter, SegmenterOptions, Segmentation } from './segmenter.js';

export { loadModel, readCheckpoint, detectFormat } from './loader.js';
export type { CheckpointFormat, ReadOptions } from './loader.js';
export { DEFAULT_LIMITS, EDGE_LIMITS, withLimits } from './formats/limits.js';
export type { Limits } from './formats/limits.js';
export type { XzWasm } from './formats/xz.js';
export { readPacked, writePacked } from './formats/packed.js';
export { writeTorchZip } from './formats/torch-write.js';
export { exportOnnx } from './onnx-export.js';
export { buildModel, countParameters, unetKeys, UNET_DEPTH } from './model.js';
export type { CoeffTensor, Dtype, FrLayer, FrModel, UNetArch } from './model.js';

export { createEngine } from './engines/index.js';
export type { EngineContext } from './engines/index.js';
export { ENGINE_NAMES } from './engines/engine.js';
export type { Engine, EngineName, Logits } from './engines/engine.js';
export { argmaxClasses } from './engines/reference.js';
export type { EngineOptions } from './engines/index.js';

export { computeGradients, targetFromMask } from './gradients.js';
export type { GradientOptions } from './gradients.js';
export type { GradientResult, LayerGradient, LossSpec, LossTerms } from './engines/gradients.js';
export { referenceGradients } from './engines/reference-backward.js';
export { segmentationLoss, DICE_EPS } from './engines/loss.js';
export { trainableModel, trainableValues, setTrainableValues, zigzagPositions } from './engines/trainable.js';
export type { TrainableModel } from './engines/trainable.js';

export { instantiateKernels, Arena, PAGE_BYTES } from './wasm/instance.js';
export { compileWasm } from './wasm/source.js';
export { bestKernelBuild, chooseKernels, kernelFile, relaxedSimdAvailable } from './wasm/features.js';
export type { KernelBuild } from './wasm/features.js';
export type { WasmImport, WasmSource } from './wasm/source.js';
export type { InstantiateOptions, KernelInstance } from './wasm/instance.js';
export { serialParallel, runCalls } from './wasm/parallel.js';
export type { KernelCall, Parallel } from './wasm/parallel.js';
export type { KernelExports } from './wasm/exports.js';

export { imageToTensor, imageToTensorInto, checkInputSize, MIN_SIDE } from './input.js';
export type { ImageInput } from './input.js';
export { decodeImage, decodePng, encodePng } from './image/png-fflate.js';
export { decodePngWith, encodePngWith, inspectPng, DEFAULT_PNG_LIMITS, EDGE_PNG_LIMITS, DEFAULT_IMAGE_LIMITS, EDGE_IMAGE_LIMITS } from './image/png.js';
export type { DecodedPng, EncodableImage, ImageLimits, Inflate, Deflate, PngInfo, PngLimits } from './image/png.js';
export { decodeImageWith } from './image/decode.js';
export type { DecodedImage } from './image/decode.js';
export { decodeJpeg, readJpegLayout, MAX_JPEG_SCANS } from './image/jpeg.js';
export type { JpegInfo, JpegComponent } from './image/jpeg.js';
export { imageFormatOf } from './image/sniff.js';
export type { ImageFormat } from './image/sniff.js';
export { dice, meanDice, maskFromGrey, maskToGrey } from './metrics.js';

export { FreqregError, ERROR_CODES } from './errors.js';
export type { ErrorCode, ErrorLayer, ErrorWhere } from './errors.js';

// Training (src/train/): the same loop in Node (`freqreg train`) and in a browser Worker.
export { Trainer, classDice } from './train/trainer.js';
export type { TrainOptions, TrainData, TrainStart, EngineFactory, StepRecord, EvalRecord } from './train/trainer.js';
export { randomCoefficients, coefficientsOf, coefficientTensors, modelOf, trainableLayers, toHalfPrecision } from './train/coefficients.js';
export { parseManifest, matchMasks, pairFolders, loadSample, loadSamples, splitValidation } from './train/data.js';
export type { DataFiles, PairSpec, PairProblem, LoadOptions } from './train/data.js';
export { augmentPair, plainPair, DEFAULT_AUGMENT, NO_AUGMENT } from './train/augment.js';
export type { Sample, AugmentOptions } from './train/augment.js';
export { decodeMask } from './train/mask.js';
export { decodeGif } from './image/gif.js';
export { Rng } from './train/rng.js';
