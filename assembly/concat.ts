// Zero-padded copy into a channel slice: the `F.pad` + `torch.cat` of the upstream UNet's Up block.
//
//   in  (C, h, w)
//   out (Ctot, H, W), channels [cOff, cOff + C) are written:
//       out[cOff + c, top + y, left + x] = in[c, y, x], every other pixel of those planes = 0
//
// The UNet passes top = (H - h) >> 1, left = (W - w) >> 1 (F.pad puts diff // 2 first).
// Requires 0 ≤ top, top + h ≤ H, 0 ≤ left, left + w ≤ W. Only input channels [c0, c1) are copied
// (for splitting across threads). Byte pointers, 4-byte alignment; `out` must not overlap `in`.
// With h = H and w = W this is a plain channel-slice copy (the skip half of the concatenation).

/** Zero-padded copy of in (C, h, w) channels [c0, c1) into out (·, H, W) at channel cOff + c. */
export function pad_concat_f32(outPtr: usize, inPtr: usize, h: i32, w: i32, H: i32, W: i32, top: i32, left: i32, cOff: i32, c0: i32, c1: i32): void {
  const plane = <usize>H * W << 2;
  const inPlane = <usize>h * w << 2;
  const rowBytes = <usize>W << 2;
  const inRow = <usize>w << 2;
  for (let c = c0; c < c1; c++) {
    const o = outPtr + <usize>(cOff + c) * plane;
    const src = inPtr + <usize>c * inPlane;
    if (h == H && w == W) {
      memory.copy(o, src, plane);
      continue;
    }
    memory.fill(o, 0, <usize>top * rowBytes);
    for (let y = 0; y < h; y++) {
      const row = o + <usize>(top + y) * rowBytes;
      memory.fill(row, 0, <usize>left << 2);
      memory.copy(row + (<usize>left << 2), src + <usize>y * inRow, inRow);
      memory.fill(row + (<usize>(left + w) << 2), 0, <usize>(W - left - w) << 2);
    }
    memory.fill(o + <usize>(top + h) * rowBytes, 0, <usize>(H - top - h) * rowBytes);
  }
}

/** Scalar twin of pad_concat_f32: one pixel at a time. */
export function pad_concat_f32_ref(outPtr: usize, inPtr: usize, h: i32, w: i32, H: i32, W: i32, top: i32, left: i32, cOff: i32, c0: i32, c1: i32): void {
  for (let c = c0; c < c1; c++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const yy = y - top, xx = x - left;
        let v: f32 = 0;
        if (yy >= 0 && yy < h && xx >= 0 && xx < w) v = load<f32>(inPtr + (((<usize>c * h + yy) * w + xx) << 2));
        store<f32>(outPtr + (((<usize>(cOff + c) * H + y) * W + x) << 2), v);
      }
    }
  }
}
