/* relu: y = max(x, 0), through the prelude's gesta_activate (a NaN input
 * gives 0, as on the CPU). */
__kernel void relu_forward(__global const float *x, uint x_off,
                           __global float *y, uint y_off, ulong count) {
  ulong i = get_global_id(0);
  if (i >= count)
    return;
  y[y_off + i] = gesta_activate(x[x_off + i], GESTA_ACTIVATION_RELU);
}
