/**
 * A GIF writer for tests: a real LZW encoder (dictionary up to 4,096 codes, code size growing as
 * the decoder expects, CLEAR when full), so the decoder meets what other encoders write.
 */

export interface GifOptions {
  /** Palette as RGB triples (its entry count rounded up to a power of two, at least 2 colours). */
  palette: number[][];
  interlaced?: boolean;
  /** Put the palette in the image descriptor instead of the header. */
  localTable?: boolean;
  /** Write a graphics control extension before the image (GIF89a). */
  extension?: boolean;
}

/** LZW codes (GIF89a appendix F) of `indices`, packed LSB first. */
export function lzwEncode(indices: Uint8Array, minCodeSize: number): Uint8Array {
  const clear = 1 << minCodeSize, stop = clear + 1;
  const out: number[] = [];
  let acc = 0, bits = 0;
  let codeSize = minCodeSize + 1;
  const emit = (code: number): void => {
    acc |= code << bits;
    bits += codeSize;
    while (bits >= 8) { out.push(acc & 0xff); acc >>>= 8; bits -= 8; }
  };
  let table = new Map<string, number>();
  let next = stop + 1;
  emit(clear);
  let w = '';
  let wCode = -1;
  for (const k of indices) {
    const wk = w === '' ? String(k) : `${w},${k}`;
    const known = w === '' ? k : table.get(wk);
    if (known !== undefined) { w = wk; wCode = known; continue; }
    emit(wCode);
    if (next < 4096) {
      table.set(wk, next++);
      // The decoder grows its code size once its table reaches 2^codeSize (it adds one entry later than we do).
      if (next === (1 << codeSize) + 1 && codeSize < 12) codeSize++;
    } else {
      emit(clear);
      table = new Map();
      next = stop + 1;
      codeSize = minCodeSize + 1;
    }
    w = String(k);
    wCode = k;
  }
  if (wCode >= 0) emit(wCode);
  emit(stop);
  if (bits > 0) out.push(acc & 0xff);
  return Uint8Array.from(out);
}

export function encodeGif(indices: Uint8Array, width: number, height: number, o: GifOptions): Uint8Array {
  let depth = 1;
  while (1 << depth < o.palette.length) depth++;
  const table: number[] = [];
  for (let i = 0; i < 1 << depth; i++) table.push(...(o.palette[i] ?? [0, 0, 0]));
  const minCodeSize = Math.max(2, depth);
  let rows = indices;
  if (o.interlaced) {
    rows = new Uint8Array(indices.length);
    let r = 0;
    for (const [start, step] of [[0, 8], [4, 8], [2, 4], [1, 2]]) {
      for (let y = start; y < height; y += step) rows.set(indices.subarray(y * width, (y + 1) * width), width * r++);
    }
  }
  const data = lzwEncode(rows, minCodeSize);
  const bytes: number[] = [...'GIF89a'].map((c) => c.charCodeAt(0));
  const u16 = (v: number): number[] => [v & 0xff, v >> 8];
  bytes.push(...u16(width), ...u16(height), o.localTable ? 0 : 0x80 | (depth - 1), 0, 0);
  if (!o.localTable) bytes.push(...table);
  if (o.extension) bytes.push(0x21, 0xf9, 4, 0, 0, 0, 0, 0);
  bytes.push(0x2c, ...u16(0), ...u16(0), ...u16(width), ...u16(height), (o.localTable ? 0x80 | (depth - 1) : 0) | (o.interlaced ? 0x40 : 0));
  if (o.localTable) bytes.push(...table);
  bytes.push(minCodeSize);
  for (let i = 0; i < data.length; i += 255) {
    const chunk = data.subarray(i, i + 255);
    bytes.push(chunk.length, ...chunk);
  }
  bytes.push(0, 0x3b);
  return Uint8Array.from(bytes);
}
