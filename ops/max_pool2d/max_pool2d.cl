/* max_pool2d: one work item per output element. With `same` padding a
 * window is clipped at the border rather than padded, so padding never
 * wins the max; the window's first pixel seeds it, as on the CPU, so -inf
 * inputs stay -inf and NaNs propagate alike. */
__kernel void max_pool2d_forward(__global const float *x, uint x_off,
                                 __global float *y, uint y_off, ulong count,
                                 int h, int w, int c, int oh, int ow, int ph,
                                 int pw, int sh, int sw, int pad_top,
                                 int pad_left) {
  ulong i = get_global_id(0);
  if (i >= count)
    return;
  int ch = (int)(i % (ulong)c);
  ulong pixel = i / (ulong)c;
  int ox = (int)(pixel % (ulong)ow);
  int oy = (int)((pixel / (ulong)ow) % (ulong)oh);
  ulong img = pixel / ((ulong)ow * (ulong)oh);
  int y0 = oy * sh - pad_top, y1 = y0 + ph;
  int x0 = ox * sw - pad_left, x1 = x0 + pw;
  if (y0 < 0)
    y0 = 0;
  if (y1 > h)
    y1 = h;
  if (x0 < 0)
    x0 = 0;
  if (x1 > w)
    x1 = w;
  __global const float *frame = x + x_off + img * (ulong)h * (ulong)w * c + ch;
  float best = frame[((ulong)y0 * w + x0) * c];
  for (int iy = y0; iy < y1; iy++)
    for (int ix = x0; ix < x1; ix++) {
      float v = frame[((ulong)iy * w + ix) * c];
      if (v > best)
        best = v;
    }
  y[y_off + i] = best;
}
