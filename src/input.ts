/**
 * Images in and masks out, independent of any decoder: an image is `{ data, width, height,
 * channels }` with interleaved samples (an `ImageData` works as is: channels 4). The network
 * input is planar (C, H, W) float32 in [0, 1], as the upstream demo feeds it (RGB / 255).
 */
import { fail } from './errors.js';
import { UNET_DEPTH } from './model.js';

export interface ImageInput {
  /** Interleaved samples, row-major: 8-bit (Uint8Array, Uint8ClampedArray) or 16-bit (Uint16Array). */
  data: ArrayLike<number> & { length: number; BYTES_PER_ELEMENT?: number };
  width: number;
  height: number;
  /** Samples per pixel: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA (default: data.length / pixels). */
  channels?: number;
}

/** Smallest side the 4-level UNet accepts: each level halves it, and the deepest must be ≥ 1. */
export const MIN_SIDE = 1 << UNET_DEPTH;

/** Checks an input size against the network, with a clear error. */
export function checkInputSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    fail('image', 'IMAGE_DIMENSIONS', `width ${width} and height ${height} must be positive integers`);
  }
  if (width < MIN_SIDE || height < MIN_SIDE) {
    fail('image', 'INPUT_TOO_SMALL', `${width}×${height} is smaller than ${MIN_SIDE}×${MIN_SIDE}, the smallest size a ${UNET_DEPTH}-level UNet can pool`);
  }
}

/**
 * The network input (C, H, W) float32: samples / 255 (8-bit) or / 65535 (16-bit); alpha dropped;
 * grey repeated to fill `inChannels` (RGB from grey); RGB to a 1-channel model is refused.
 * With 'float64' the samples are divided in float64 (as PyTorch's `/ 255.0` on a float64 tensor),
 * for the float64 reference.
 */
export function imageToTensor(image: ImageInput, inChannels: number): Float32Array;
export function imageToTensor(image: ImageInput, inChannels: number, precision: 'float64'): Float64Array;
export function imageToTensor(image: ImageInput, inChannels: number, precision: 'float32' | 'float64' = 'float32'): Float32Array | Float64Array {
  const n = inChannels * checkImage(image, inChannels).pixels; // checked before anything is allocated
  const out = precision === 'float64' ? new Float64Array(n) : new Float32Array(n);
  imageToTensorInto(image, inChannels, out);
  return out;
}

/** Refuses an image that cannot be the network's input; its pixels and samples per pixel. */
export function checkImage(image: ImageInput, inChannels: number): { pixels: number; channels: number; colour: number } {
  const { width, height } = image;
  checkInputSize(width, height);
  const pixels = width * height;
  const channels = image.channels ?? image.data.length / pixels;
  if (![1, 2, 3, 4].includes(channels) || image.data.length !== pixels * channels) {
    fail('image', 'IMAGE_DIMENSIONS', `${image.data.length} samples do not fit ${width}×${height} with ${channels} channels`);
  }
  const colour = channels >= 3 ? 3 : 1; // samples that carry colour (alpha dropped)
  if (colour !== inChannels && colour !== 1) {
    fail('image', 'INPUT_SHAPE', `the model takes ${inChannels} channel(s), the image has ${colour} colour channel(s)`);
  }
  return { pixels, channels, colour };
}

/**
 * imageToTensor into a caller's array of inChannels·height·width values (float32, or float64 as
 * the 'float64' precision): a caller converting many images of one size keeps one array, as
 * fresh arrays this large cost their page faults every time.
 */
export function imageToTensorInto(image: ImageInput, inChannels: number, out: Float32Array | Float64Array): void {
  const { pixels, channels, colour } = checkImage(image, inChannels);
  if (out.length !== inChannels * pixels) fail('image', 'INPUT_SHAPE', `the tensor array has ${out.length} values, expected ${inChannels}×${image.height}×${image.width}`);
  const full = image.data instanceof Uint16Array ? 65535 : 255;
  const scale = 1 / full;
  const wide = out instanceof Float64Array;
  for (let c = 0; c < inChannels; c++) {
    const src = colour === 1 ? 0 : c;
    const plane = c * pixels;
    for (let p = 0; p < pixels; p++) {
      const v = image.data[p * channels + src];
      out[plane + p] = wide ? v / full : v * scale;
    }
  }
}
