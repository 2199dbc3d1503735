/* conv2d backward: col2im, gathered. The GEMM dcol = dz . kernel^T gives,
 * for im2col rows [r0, r0 + m), each tap's gradient; one work item per
 * input element of the frames those rows touch adds up the taps that read
 * it, so no two work items write the same element. */
__kernel void conv2d_col2im(__global const float *dcol, uint dcol_off,
                            __global float *dx, uint dx_off, ulong first,
                            ulong count, ulong r0, uint m, int h, int w, int c,
                            int oh, int ow, int kh, int kw, int sh, int sw,
                            int pad_top, int pad_left) {
  ulong e = get_global_id(0);
  if (e >= count)
    return;
  ulong i = first + e; /* element of dx */
  int ch = (int)(i % (ulong)c);
  ulong pixel = i / (ulong)c;
  int ix = (int)(pixel % (ulong)w);
  int iy = (int)((pixel / (ulong)w) % (ulong)h);
  ulong img = pixel / ((ulong)w * (ulong)h);
  ulong k = (ulong)kh * (ulong)kw * (ulong)c;
  ulong base = img * (ulong)oh * (ulong)ow;
  float acc = dx[dx_off + i];
  for (int ky = 0; ky < kh; ky++) {
    int ty = iy + pad_top - ky;
    if (ty < 0 || ty % sh != 0 || ty / sh >= oh)
      continue;
    for (int kx = 0; kx < kw; kx++) {
      int tx = ix + pad_left - kx;
      if (tx < 0 || tx % sw != 0 || tx / sw >= ow)
        continue;
      ulong r = base + (ulong)(ty / sh) * (ulong)ow + (ulong)(tx / sw);
      if (r < r0 || r >= r0 + m)
        continue;
      acc += dcol[dcol_off + (r - r0) * k + (ulong)((ky * kw + kx) * c + ch)];
    }
  }
  dx[dx_off + i] = acc;
}
