/* batch_norm in training (Keras 3's BatchNormalization.call): the batch's
 * per-channel mean and biased variance come from the prelude's column sums;
 * these kernels turn them into 1 / sqrt(var + eps), move the moving
 * statistics, fold scale and shift for batch_norm_apply, and run backward. */

/* Per channel: saved = (mean, invstd) with mean already in place, var in
 * ws[2c..3c); writes invstd, the moving statistics and ws's scale and
 * shift (ws[0..c), ws[c..2c)) as the CPU reference computes them. */
__kernel void batch_norm_train_stats(
    __global float *saved, uint saved_off, __global float *ws, uint ws_off,
    __global const float *gamma, uint gamma_off, __global const float *beta,
    uint beta_off, __global float *moving_mean, uint mean_off,
    __global float *moving_var, uint var_off, uint channels, float momentum,
    float eps_hi, float eps_lo) {
#pragma OPENCL FP_CONTRACT OFF
  uint ch = get_global_id(0);
  if (ch >= channels)
    return;
  float mean = saved[saved_off + ch];
  float var = ws[ws_off + 2 * channels + ch];
#ifdef cl_khr_fp64
  float invstd =
      (float)(1.0 / sqrt((double)var + ((double)eps_hi + (double)eps_lo)));
#else
  float invstd = 1.0f / sqrt(var + eps_hi);
#endif
  saved[saved_off + channels + ch] = invstd;
  moving_mean[mean_off + ch] =
      moving_mean[mean_off + ch] * momentum + mean * (1.0f - momentum);
  moving_var[var_off + ch] =
      moving_var[var_off + ch] * momentum + var * (1.0f - momentum);
  float scale = gamma[gamma_off + ch] * invstd;
  ws[ws_off + ch] = scale;
  ws[ws_off + channels + ch] = beta[beta_off + ch] - mean * scale;
}

/* Inference-mode backward's statistics: (moving mean, 1 / sqrt(moving var
 * + eps)) per channel into stats. */
__kernel void batch_norm_moving_stats(__global const float *moving_mean,
                                      uint mean_off,
                                      __global const float *moving_var,
                                      uint var_off, __global float *stats,
                                      uint stats_off, uint channels,
                                      float eps_hi, float eps_lo) {
  uint ch = get_global_id(0);
  if (ch >= channels)
    return;
  stats[stats_off + ch] = moving_mean[mean_off + ch];
#ifdef cl_khr_fp64
  stats[stats_off + channels + ch] =
      (float)(1.0 / sqrt((double)moving_var[var_off + ch] +
                         ((double)eps_hi + (double)eps_lo)));
#else
  stats[stats_off + channels + ch] =
      1.0f / sqrt(moving_var[var_off + ch] + eps_hi);
#endif
}

/* dx = gamma * invstd / M * (M * dy - dbeta - xhat * dgamma) in training
 * (the statistics depend on x), gamma * invstd * dy at inference; sums =
 * (dbeta, dgamma) per channel, stats = (mean, invstd). */
__kernel void batch_norm_backward_dx(
    __global const float *x, uint x_off, __global const float *dy, uint dy_off,
    __global float *dx, uint dx_off, __global const float *gamma,
    uint gamma_off, __global const float *stats, uint stats_off,
    __global const float *sums, uint sums_off, ulong count, uint channels,
    int training) {
  ulong i = get_global_id(0);
  if (i >= count)
    return;
  uint ch = (uint)(i % channels);
  float mean = stats[stats_off + ch], invstd = stats[stats_off + channels + ch];
  gesta_train_acc d = dy[dy_off + i];
  if (training) {
    gesta_train_acc m = (gesta_train_acc)(count / channels);
    gesta_train_acc xhat = ((gesta_train_acc)x[x_off + i] - mean) * invstd;
    d = (m * d - sums[sums_off + ch] - xhat * sums[sums_off + channels + ch]) /
        m;
  }
  dx[dx_off + i] = (float)((gesta_train_acc)gamma[gamma_off + ch] * invstd * d);
}
