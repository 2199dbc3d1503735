/* dense: the CLBlast GEMM writes the output rows, then one pass adds the
 * bias and applies the activation (gesta_activate, from the prelude). A softmax
 * activation reuses the softmax op's row kernel. */

/* y = activation(y + bias) over count elements of rows of `cols`. */
__kernel void dense_bias_activate(__global float *y, uint y_off, ulong count,
                                  uint cols, __global const float *bias,
                                  uint bias_off, int has_bias, int activation) {
  ulong i = get_global_id(0);
  if (i >= count)
    return;
  float v = y[y_off + i];
  if (has_bias)
    v += bias[bias_off + (uint)(i % cols)];
  y[y_off + i] = gesta_activate(v, activation);
}
