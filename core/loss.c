/* Categorical cross-entropy, the two ways Keras computes it: from logits
 * (what a softmax layer would read; stable for any magnitude) and from
 * probabilities with Keras' normalise-and-clip. Host arrays: the output of
 * a classifier is small, so the trainer brings it to the host for this. */
#include <math.h>

#include "gesta/train.h"

/* Keras' backend epsilon, the clip of probabilities. */
#define LOSS_EPSILON 1e-7

double gesta_loss_softmax_cross_entropy(const float *logits,
                                        const float *targets, int64_t rows,
                                        int64_t cols, float *grad) {
  double total = 0.0;
  if (rows <= 0 || cols <= 0)
    return 0.0;
  for (int64_t r = 0; r < rows; r++) {
    const float *z = logits + r * cols, *y = targets + r * cols;
    double max = z[0], sum = 0.0, ysum = 0.0, yz = 0.0, lse;
    for (int64_t j = 1; j < cols; j++)
      max = z[j] > max ? z[j] : max;
    for (int64_t j = 0; j < cols; j++) {
      sum += exp((double)z[j] - max);
      ysum += y[j];
      yz += (double)y[j] * ((double)z[j] - max);
    }
    /* Shifted by the maximum: log(sum) is in [0, log(cols)]. */
    lse = log(sum);
    total += ysum * lse - yz;
    if (grad)
      for (int64_t j = 0; j < cols; j++) {
        double p = exp((double)z[j] - max) / sum;
        grad[r * cols + j] = (float)((p * ysum - y[j]) / (double)rows);
      }
  }
  return total / (double)rows;
}

double gesta_loss_cross_entropy(const float *probs, const float *targets,
                                int64_t rows, int64_t cols, float *grad) {
  double total = 0.0;
  if (rows <= 0 || cols <= 0)
    return 0.0;
  for (int64_t r = 0; r < rows; r++) {
    const float *o = probs + r * cols, *y = targets + r * cols;
    double s = 0.0, gp = 0.0;
    for (int64_t j = 0; j < cols; j++)
      s += o[j];
    for (int64_t j = 0; j < cols; j++) {
      double p = o[j] / s, c = p;
      bool clipped = false;
      if (c < LOSS_EPSILON)
        c = LOSS_EPSILON, clipped = true;
      else if (c > 1.0 - LOSS_EPSILON)
        c = 1.0 - LOSS_EPSILON, clipped = true;
      total -= (double)y[j] * log(c);
      /* g_j = dL/dp_j, then through p = o / s:
       * dL/do_k = (g_k - sum_j g_j p_j) / s. */
      if (grad) {
        double g = clipped ? 0.0 : -(double)y[j] / p;
        grad[r * cols + j] = (float)g;
        gp += g * p;
      }
    }
    if (grad)
      for (int64_t j = 0; j < cols; j++)
        grad[r * cols + j] =
            (float)(((double)grad[r * cols + j] - gp) / s / (double)rows);
  }
  return total / (double)rows;
}

int64_t gesta_loss_count_correct(const float *outputs, const float *targets,
                                 int64_t rows, int64_t cols) {
  int64_t correct = 0;
  for (int64_t r = 0; r < rows; r++) {
    const float *o = outputs + r * cols, *y = targets + r * cols;
    int64_t bo = 0, by = 0;
    for (int64_t j = 1; j < cols; j++) {
      if (o[j] > o[bo])
        bo = j;
      if (y[j] > y[by])
        by = j;
    }
    correct += bo == by;
  }
  return correct;
}
