/* global_avg_pool2d: one work item per (frame, channel), summing the frame
 * in the CPU reference's order, in double where the device has it. */
#ifdef cl_khr_fp64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

__kernel void global_avg_pool2d_forward(__global const float *x, uint x_off,
                                        __global float *y, uint y_off,
                                        ulong frames, uint hw, uint c) {
  ulong i = get_global_id(0);
  if (i >= frames * c)
    return;
  ulong img = i / c;
  uint ch = (uint)(i % c);
  __global const float *in = x + x_off + img * hw * c + ch;
#ifdef cl_khr_fp64
  double sum = 0.0;
  for (uint p = 0; p < hw; p++)
    sum += in[(ulong)p * c];
  y[y_off + i] = (float)(sum / (double)hw);
#else
  /* Compensated summation stands in for the missing double. */
  float sum = 0.0f, carry = 0.0f;
  for (uint p = 0; p < hw; p++) {
    float term = in[(ulong)p * c] - carry;
    float next = sum + term;
    carry = (next - sum) - term;
    sum = next;
  }
  y[y_off + i] = sum / (float)hw;
#endif
}
