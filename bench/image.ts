/** The benchmark's larger images: in0000.png scaled ×k by nearest neighbour (k = 2: 1918×1280). */
import type { ImageInput } from '../src/input.js';

export function upscale(image: ImageInput, k: number): ImageInput {
  if (k === 1) return image;
  const c = image.channels ?? 3;
  const width = image.width * k, height = image.height * k;
  const data = new Uint8Array(width * height * c);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let ch = 0; ch < c; ch++) data[(y * width + x) * c + ch] = image.data[((Math.floor(y / k) * image.width) + Math.floor(x / k)) * c + ch];
  return { data, width, height, channels: c };
}
