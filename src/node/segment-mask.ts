/** `freqreg segment`'s mask for an image's logits: argmax over the classes, grey levels, a PNG. */
import { argmaxClasses } from '../engines/reference.js';
import { maskToGrey } from '../metrics.js';
import { encodeGreyPng } from './png.js';

/** The mask PNG of logits (classes, height, width): 0/255 for 2 classes, evenly spread greys for more. */
export function maskPng(logits: Float32Array, classes: number, width: number, height: number): Uint8Array {
  const argmax = argmaxClasses({ c: classes, h: height, w: width, data: logits });
  return encodeGreyPng(maskToGrey(argmax, classes), width, height);
}
