/* max_pool2d backward, gathered: one work item per input element adds the
 * gradient of every window whose maximum it is, so no two work items write
 * the same element. A window's maximum is found again as forward finds it
 * (clipped window, first pixel seeds it, strict comparison: on a tie the
 * first in row-major order wins, as on the CPU and in TF), and windows are
 * visited in the CPU reference's order. */
__kernel void max_pool2d_backward(__global const float *x, uint x_off,
                                  __global const float *dy, uint dy_off,
                                  __global float *dx, uint dx_off, ulong count,
                                  int h, int w, int c, int oh, int ow, int ph,
                                  int pw, int sh, int sw, int pad_top,
                                  int pad_left) {
  ulong i = get_global_id(0);
  if (i >= count)
    return;
  int ch = (int)(i % (ulong)c);
  ulong pixel = i / (ulong)c;
  int ix = (int)(pixel % (ulong)w);
  int iy = (int)((pixel / (ulong)w) % (ulong)h);
  ulong img = pixel / ((ulong)w * (ulong)h);
  __global const float *frame = x + x_off + img * (ulong)h * (ulong)w * c + ch;
  __global const float *grad =
      dy + dy_off + img * (ulong)oh * (ulong)ow * c + ch;
  /* Windows containing row iy: oy * sh - pad_top <= iy < that + ph. */
  int oy0 = iy + pad_top - ph + 1, oy1 = (iy + pad_top) / sh;
  int ox0 = ix + pad_left - pw + 1, ox1 = (ix + pad_left) / sw;
  oy0 = oy0 <= 0 ? 0 : (oy0 + sh - 1) / sh;
  ox0 = ox0 <= 0 ? 0 : (ox0 + sw - 1) / sw;
  if (oy1 >= oh)
    oy1 = oh - 1;
  if (ox1 >= ow)
    ox1 = ow - 1;
  float acc = 0.0f;
  for (int oy = oy0; oy <= oy1; oy++) {
    int y0 = oy * sh - pad_top, y1 = y0 + ph;
    y0 = y0 < 0 ? 0 : y0;
    y1 = y1 > h ? h : y1;
    for (int ox = ox0; ox <= ox1; ox++) {
      int x0 = ox * sw - pad_left, x1 = x0 + pw;
      x0 = x0 < 0 ? 0 : x0;
      x1 = x1 > w ? w : x1;
      float best = frame[((ulong)y0 * w + x0) * c];
      int at_y = y0, at_x = x0;
      for (int yy = y0; yy < y1; yy++)
        for (int xx = x0; xx < x1; xx++) {
          float v = frame[((ulong)yy * w + xx) * c];
          if (v > best) {
            best = v;
            at_y = yy;
            at_x = xx;
          }
        }
      if (at_y == iy && at_x == ix)
        acc += grad[((ulong)oy * ow + ox) * c];
    }
  }
  dx[dx_off + i] = acc;
}
