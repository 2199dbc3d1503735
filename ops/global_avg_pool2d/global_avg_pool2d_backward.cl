/* global_avg_pool2d backward: every pixel of a frame gets 1 / (H * W) of
 * its channel's gradient, divided in double where the device has it (as
 * the CPU reference does). One work item per input element. */
__kernel void global_avg_pool2d_backward(__global const float *dy, uint dy_off,
                                         __global float *dx, uint dx_off,
                                         ulong count, uint hw, uint c) {
  ulong i = get_global_id(0);
  if (i >= count)
    return;
  ulong img = i / ((ulong)hw * c);
  uint ch = (uint)(i % c);
#ifdef cl_khr_fp64
  dx[dx_off + i] = (float)((double)dy[dy_off + img * c + ch] / (double)hw);
#else
  dx[dx_off + i] = dy[dy_off + img * c + ch] / (float)hw;
#endif
}
