// The one WASM module: every kernel family re-exported from its own file.
// Memory is imported and owned by the host (src/wasm/); kernels never allocate.

export function heapBase(): usize {
  return __heap_base;
}

export { idct_table_f32, idct_f32, idct_f32_ref, idct4d_f32, idct4d_f32_ref } from './idct';
export { conv2d_f32_3x3p1, conv2d_f32_3x3p1_ref, conv2d_f32_3x3p1_f23, conv2d_f32_3x3p1_f23_weights, conv2d_f32_3x3p1_f23_scratch, conv2d_f32_1x1, conv2d_f32_1x1_ref } from './conv2d';
export { conv_transpose2d_f32_2x2s2, conv_transpose2d_f32_2x2s2_ref } from './conv_transpose2d';
export { norm_relu_f32, norm_relu_f32_ref } from './norm';
export { maxpool2d_f32_2x2, maxpool2d_f32_2x2_ref } from './pool';
export { pad_concat_f32, pad_concat_f32_ref } from './concat';
export { argmax_f32_u8, argmax_f32_u8_ref } from './argmax';
export * from './spectral';
export {
  spectral_backfuse_f32, spectral_backfuse_f32_ref,
  spectral_conv2d_grad_f64_3x3p1, spectral_conv2d_grad_f64_3x3p1_ref, spectral_gather_f32_2x2s2, spectral_gather_f32_2x2s2_ref,
  spectral_scatter_grad_f64_2x2s2, spectral_scatter_grad_f64_2x2s2_ref,
  spectral_softmax_f32, spectral_softmax_f32_ref, spectral_softmax_grad_f32, spectral_softmax_grad_f32_ref,
} from './spectral_backward';
