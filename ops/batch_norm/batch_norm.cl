/* batch_norm inference: the per-channel scale and shift are folded once
 * into the workspace (as on the CPU, in double where the device has it),
 * then each element is one multiply-add. */
#ifdef cl_khr_fp64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

/* epsilon arrives as two floats (eps_hi + eps_lo) so that the double path
 * sees the attribute's double value, not its float rounding. */
__kernel void batch_norm_fold(__global const float *gamma, uint gamma_off,
                              __global const float *beta, uint beta_off,
                              __global const float *mean, uint mean_off,
                              __global const float *var, uint var_off,
                              __global float *ws, uint ws_off, uint channels,
                              float eps_hi, float eps_lo) {
  uint ch = get_global_id(0);
  if (ch >= channels)
    return;
#ifdef cl_khr_fp64
  double eps = (double)eps_hi + (double)eps_lo;
  double s =
      (double)gamma[gamma_off + ch] / sqrt((double)var[var_off + ch] + eps);
  ws[ws_off + ch] = (float)s;
  ws[ws_off + channels + ch] =
      (float)((double)beta[beta_off + ch] - (double)mean[mean_off + ch] * s);
#else
  float s = gamma[gamma_off + ch] / sqrt(var[var_off + ch] + eps_hi);
  ws[ws_off + ch] = s;
  ws[ws_off + channels + ch] = beta[beta_off + ch] - mean[mean_off + ch] * s;
#endif
}

__kernel void batch_norm_apply(__global const float *x, uint x_off,
                               __global float *y, uint y_off,
                               __global const float *ws, uint ws_off,
                               uint channels, ulong count) {
  ulong i = get_global_id(0);
  if (i >= count)
    return;
  uint ch = (uint)(i % channels);
  y[y_off + i] = x[x_off + i] * ws[ws_off + ch] + ws[ws_off + channels + ch];
}
