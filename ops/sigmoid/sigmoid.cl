/* sigmoid: y = 1 / (1 + exp(-x)), the CPU's formula (the prelude's
 * gesta_sigmoid); exp(-x) overflows to inf for very negative x, giving
 * exactly 0. */
__kernel void sigmoid_forward(__global const float *x, uint x_off,
                              __global float *y, uint y_off, ulong count) {
  ulong i = get_global_id(0);
  if (i >= count)
    return;
  y[y_off + i] = gesta_sigmoid(x[x_off + i]);
}
