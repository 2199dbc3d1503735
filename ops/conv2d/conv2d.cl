/* conv2d: NHWC im2col tiles for a CLBlast GEMM against the Keras kernel
 * viewed as (kh * kw * C) x filters, then bias and activation in one pass.
 * A softmax activation reuses the softmax op's row kernel. */

/* Writes im2col rows [r0, r0 + m) of (kh * kw * C) columns: work item
 * (j, i) is column j of row i. Taps in the `same` padding are zeros; the
 * column order (ky, kx, ch) matches the kernel's (kh, kw, C, filters). */
__kernel void conv2d_im2col(__global const float *x, uint x_off,
                            __global float *col, uint col_off, ulong r0, uint m,
                            int h, int w, int c, int oh, int ow, int kh, int kw,
                            int sh, int sw, int pad_top, int pad_left) {
  uint j = get_global_id(0);
  uint i = get_global_id(1);
  uint k = (uint)kh * (uint)kw * (uint)c;
  if (j >= k || i >= m)
    return;
  ulong r = r0 + i;
  ulong per_frame = (ulong)oh * (ulong)ow;
  ulong img = r / per_frame;
  int p = (int)(r % per_frame);
  int ch = (int)(j % (uint)c);
  int tap = (int)(j / (uint)c);
  int iy = (p / ow) * sh - pad_top + tap / kw;
  int ix = (p % ow) * sw - pad_left + tap % kw;
  float v = 0.0f;
  if (iy >= 0 && iy < h && ix >= 0 && ix < w)
    v = x[x_off +
          ((img * (ulong)h + (ulong)iy) * (ulong)w + (ulong)ix) * (ulong)c +
          (ulong)ch];
  col[col_off + (ulong)i * k + j] = v;
}

/* y = activation(y + bias) over count elements of rows of `cols`. */
__kernel void conv2d_bias_activate(__global float *y, uint y_off, ulong count,
                                   uint cols, __global const float *bias,
                                   uint bias_off, int has_bias,
                                   int activation) {
  ulong i = get_global_id(0);
  if (i >= count)
    return;
  float v = y[y_off + i];
  if (has_bias)
    v += bias[bias_off + (uint)(i % cols)];
  y[y_off + i] = gesta_activate(v, activation);
}
