/* conv2d: NHWC im2col tiles for a CLBlast GEMM against the Keras kernel
 * viewed as (kh * kw * C) x filters, then bias and activation in one pass.
 * A softmax activation reuses the softmax op's row kernel. */

/* Writes im2col rows [r0, r0 + m) of k = kh * kw * C columns. Taps in
 * the `same` padding are zeros; the column order (ky, kx, ch) matches the
 * kernel's (kh, kw, C, filters). The host splits r0 into its frame img0
 * and pixel p0 and keeps m * k below 2^32, so every division is 32-bit:
 * GPUs emulate 64-bit division, which cost more than the copy itself.
 *
 * Two layouts of the same copy, measured: on GPUs work item e writes
 * element e of the tile (column e % k of row e / k), so a warp's stores
 * are one contiguous run; on CPU devices (PoCL) work item e copies the C
 * channels of tap e % (kh * kw) of row e / (kh * kw), paying the index
 * arithmetic once per C floats (4x faster there, 1.3x slower on an
 * NVIDIA H200, whose per-lane strided stores do not coalesce). */
#define CONV2D_IM2COL_ARGS                                                     \
  __global const float *x, uint x_off, __global float *col, uint col_off,      \
      ulong img0, uint p0, uint m, int h, int w, int c, int oh, int ow,        \
      int kh, int kw, int sh, int sw, int pad_top, int pad_left

/* The input offset of tap `tap` of tile row i, or -1 in the padding. */
long conv2d_im2col_source(uint i, int tap, ulong img0, uint p0, int h, int w,
                          int c, int oh, int ow, int kw, int sh, int sw,
                          int pad_top, int pad_left) {
  uint per_frame = (uint)oh * (uint)ow;
  uint q = p0 + i;
  uint f = q / per_frame;
  int p = (int)(q - f * per_frame);
  int oy = p / ow, ty = tap / kw;
  int iy = oy * sh - pad_top + ty;
  int ix = (p - oy * ow) * sw - pad_left + (tap - ty * kw);
  if (iy < 0 || iy >= h || ix < 0 || ix >= w)
    return -1;
  return (long)((((img0 + f) * (ulong)h + (ulong)iy) * (ulong)w + (ulong)ix) *
                (ulong)c);
}

__kernel void conv2d_im2col(CONV2D_IM2COL_ARGS) {
  uint e = get_global_id(0);
  uint k = (uint)kh * (uint)kw * (uint)c;
  if (e >= m * k)
    return;
  uint i = e / k, j = e - i * k;
  int tap = (int)(j / (uint)c), ch = (int)j - tap * c;
  long at = conv2d_im2col_source(i, tap, img0, p0, h, w, c, oh, ow, kw, sh, sw,
                                 pad_top, pad_left);
  col[col_off + e] = at < 0 ? 0.0f : x[x_off + (ulong)at + (ulong)ch];
}

__kernel void conv2d_im2col_taps(CONV2D_IM2COL_ARGS) {
  uint e = get_global_id(0);
  uint taps = (uint)kh * (uint)kw;
  if (e >= m * taps)
    return;
  uint i = e / taps, tap = e - i * taps;
  long at = conv2d_im2col_source(i, (int)tap, img0, p0, h, w, c, oh, ow, kw, sh,
                                 sw, pad_top, pad_left);
  __global float *dst = col + col_off + (ulong)e * (ulong)c;
  if (at < 0) {
    for (int ch = 0; ch < c; ch++)
      dst[ch] = 0.0f;
  } else {
    __global const float *src = x + x_off + (ulong)at;
    for (int ch = 0; ch < c; ch++)
      dst[ch] = src[ch];
  }
}

/* y = activation(y + bias) over count elements of rows of `cols`; the
 * column needs a division, 32-bit while the index fits (as it does for
 * any tensor under 16 GiB). */
__kernel void conv2d_bias_activate(__global float *y, uint y_off, ulong count,
                                   uint cols, __global const float *bias,
                                   uint bias_off, int has_bias,
                                   int activation) {
  ulong i = get_global_id(0);
  if (i >= count)
    return;
  float v = y[y_off + i];
  if (has_bias)
    v += bias[bias_off + (i >> 32 ? (uint)(i % cols) : (uint)i % cols)];
  y[y_off + i] = gesta_activate(v, activation);
}

/* Direct convolution for CPU devices, where CLBlast's untuned kernels and
 * the im2col round trip through memory cost more than the arithmetic: work
 * item (g, b) computes P output pixels r = b * P + p for filters
 * [g * G * V, (g + 1) * G * V) in G vectors of V floats (the compiler maps
 * them onto SIMD registers; each input value loaded serves G * V filters,
 * each kernel row P pixels), reading the input in place and the kernel's
 * (kh, kw, C, filters) rows as vectors, then adds the bias and applies the
 * activation. Taps in the `same` padding read a clamped in-bounds address
 * and select zero, as im2col's zeros do. Terms are summed in im2col's
 * column order (ky, kx, ch). */
#define conv2d_load1(i, p) ((p)[i])
#define conv2d_store1(v, i, p) ((p)[i] = (v))

#define CONV2D_DIRECT(NAME, V, G, P, FLOATV, VLOADV, VSTOREV)                  \
  __kernel void NAME(                                                          \
      __global const float *x, uint x_off, __global const float *wt,           \
      uint w_off, __global const float *bias, uint bias_off, int has_bias,     \
      __global float *y, uint y_off, ulong rows, uint filters, int h, int w,   \
      int c, int oh, int ow, int kh, int kw, int sh, int sw, int pad_top,      \
      int pad_left, int activation) {                                          \
    uint f0 = (uint)get_global_id(0) * (V * G);                                \
    ulong r0 = (ulong)get_global_id(1) * P;                                    \
    if (f0 >= filters || r0 >= rows)                                           \
      return;                                                                  \
    ulong per_frame = (ulong)oh * (ulong)ow;                                   \
    ulong frame_floats = (ulong)h * (ulong)w * (ulong)c;                       \
    ulong frame[P];                                                            \
    int iy0[P], ix0[P];                                                        \
    FLOATV acc[G][P];                                                          \
    for (int p = 0; p < P; p++) {                                              \
      ulong r = r0 + (ulong)p < rows ? r0 + (ulong)p : rows - 1;               \
      int pix = (int)(r % per_frame);                                          \
      frame[p] = x_off + r / per_frame * frame_floats;                         \
      iy0[p] = (pix / ow) * sh - pad_top;                                      \
      ix0[p] = (pix % ow) * sw - pad_left;                                     \
      for (int g = 0; g < G; g++)                                              \
        acc[g][p] = (FLOATV)(0.0f);                                            \
    }                                                                          \
    __global const float *wrow = wt + w_off + f0;                              \
    for (int ky = 0; ky < kh; ky++)                                            \
      for (int kx = 0; kx < kw; kx++) {                                        \
        __global const float *src[P];                                          \
        bool in[P];                                                            \
        for (int p = 0; p < P; p++) {                                          \
          int iy = iy0[p] + ky, ix = ix0[p] + kx;                              \
          in[p] = iy >= 0 && iy < h && ix >= 0 && ix < w;                      \
          iy = clamp(iy, 0, h - 1);                                            \
          ix = clamp(ix, 0, w - 1);                                            \
          src[p] = x + frame[p] + ((ulong)iy * (ulong)w + (ulong)ix) * c;      \
        }                                                                      \
        for (int ch = 0; ch < c; ch++) {                                       \
          FLOATV wv[G];                                                        \
          for (int g = 0; g < G; g++)                                          \
            wv[g] = VLOADV(g, wrow);                                           \
          wrow += filters;                                                     \
          for (int p = 0; p < P; p++) {                                        \
            float v = in[p] ? src[p][ch] : 0.0f;                               \
            for (int g = 0; g < G; g++)                                        \
              acc[g][p] = fma((FLOATV)(v), wv[g], acc[g][p]);                  \
          }                                                                    \
        }                                                                      \
      }                                                                        \
    for (int p = 0; p < P; p++) {                                              \
      ulong r = r0 + (ulong)p;                                                 \
      if (r >= rows)                                                           \
        break;                                                                 \
      for (int g = 0; g < G; g++) {                                            \
        float out[V];                                                          \
        VSTOREV(acc[g][p], 0, out);                                            \
        for (int j = 0; j < V; j++) {                                          \
          uint f = f0 + (uint)(g * V + j);                                     \
          float v = out[j];                                                    \
          if (has_bias)                                                        \
            v += bias[bias_off + f];                                           \
          y[y_off + r * filters + f] = gesta_activate(v, activation);          \
        }                                                                      \
      }                                                                        \
    }                                                                          \
  }

/* Widest first; the host picks the first whose G * V divides the filters
 * and launches P = the last number's pixels per work item. */
CONV2D_DIRECT(conv2d_direct_32x12, 16, 2, 12, float16, vload16, vstore16)
CONV2D_DIRECT(conv2d_direct_16x8, 16, 1, 8, float16, vload16, vstore16)
CONV2D_DIRECT(conv2d_direct_4x8, 4, 1, 8, float4, vload4, vstore4)
CONV2D_DIRECT(conv2d_direct_1x8, 1, 1, 8, float, conv2d_load1, conv2d_store1)
