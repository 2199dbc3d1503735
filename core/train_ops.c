/* Shared pieces of the CPU backward kernels: see train_ops.h. */
#include "train_ops.h"

#include <math.h>
#include <string.h>

void gesta_grad_column_sums(const float *m, int64_t rows, int64_t cols,
                            float *out) {
  /* Row by row over blocks of columns: one pass over memory, in order. */
  enum { BLOCK = 256 };
  for (int64_t j0 = 0; j0 < cols; j0 += BLOCK) {
    int64_t w = cols - j0 < BLOCK ? cols - j0 : BLOCK;
    double acc[BLOCK] = {0};
    for (int64_t r = 0; r < rows; r++) {
      const float *row = m + r * cols + j0;
      for (int64_t j = 0; j < w; j++)
        acc[j] += row[j];
    }
    for (int64_t j = 0; j < w; j++)
      out[j0 + j] = (float)acc[j];
  }
}

uint32_t gesta_dropout_threshold(double rate) {
  double t = ceil(rate * 16777216.0);
  if (!(t > 0.0))
    return 0;
  return t >= 16777216.0 ? 16777216u : (uint32_t)t;
}

float gesta_dropout_scale(double rate) {
  return rate < 1.0 ? (float)(1.0 / (1.0 - rate)) : 0.0f;
}
