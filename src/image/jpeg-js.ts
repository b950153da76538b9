/**
 * jpeg-js's decoder module alone, typed (the package's main also loads its encoder, and its
 * types cover only the main). See node_modules/jpeg-js/lib/decoder.js, function `decode`.
 */
// @ts-ignore TS7016: the module ships no declaration; its signature is given below.
import decodeUntyped from 'jpeg-js/lib/decoder.js';

export interface JpegJsOptions {
  /** Return a Uint8Array rather than a Node Buffer (the only way to run without Buffer). */
  useTArray: true;
  /** Convert YCbCr to RGB (3 components); undefined lets jpeg-js guess. */
  colorTransform?: boolean;
  /** 4 channels (RGBA) or 3 (RGB; greyscale comes out as RGB too). */
  formatAsRGBA: boolean;
  /** Skip blocks outside the component's grid instead of failing. */
  tolerantDecoding: boolean;
  /** Pixels (in millions) above which the frame header is refused. */
  maxResolutionInMP: number;
  /** Bytes (in MiB) jpeg-js may allocate, by its own count. */
  maxMemoryUsageInMB: number;
}

export const jpegJsDecode = decodeUntyped as (data: Uint8Array, options: JpegJsOptions) => { width: number; height: number; data: Uint8Array };
