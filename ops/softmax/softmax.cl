/* softmax over rows: one work item per row, in the CPU reference's order
 * (row maximum, exp(x - max), the sum, one reciprocal multiply) so both
 * backends round alike. The sum is in double where the device has it.
 * conv2d and dense launch softmax_rows too, in place, for their fused
 * softmax activation. */
#ifdef cl_khr_fp64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

__kernel void softmax_rows(__global const float *x, uint x_off,
                           __global float *y, uint y_off, ulong rows,
                           uint cols) {
  ulong r = get_global_id(0);
  if (r >= rows || cols == 0)
    return;
  __global const float *in = x + x_off + r * cols;
  __global float *out = y + y_off + r * cols;
  float top = in[0];
  for (uint j = 1; j < cols; j++)
    if (in[j] > top)
      top = in[j];
#ifdef cl_khr_fp64
  double sum = 0.0;
  for (uint j = 0; j < cols; j++) {
    float e = exp(in[j] - top);
    out[j] = e;
    sum += e;
  }
  /* sum >= 1: the maximum contributes exp(0). */
  float inv = (float)(1.0 / sum);
#else
  /* Compensated summation stands in for the missing double. */
  float sum = 0.0f, carry = 0.0f;
  for (uint j = 0; j < cols; j++) {
    float e = exp(in[j] - top);
    out[j] = e;
    float term = e - carry;
    float next = sum + term;
    carry = (next - sum) - term;
    sum = next;
  }
  float inv = 1.0f / sum;
#endif
  for (uint j = 0; j < cols; j++)
    out[j] *= inv;
}
