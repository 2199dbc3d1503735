/* tanh: y = tanh(x). */
__kernel void tanh_forward(__global const float *x, uint x_off,
                           __global float *y, uint y_off, ulong count) {
  ulong i = get_global_id(0);
  if (i >= count)
    return;
  y[y_off + i] = tanh(x[x_off + i]);
}
