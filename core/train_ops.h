/* gesta — what the CPU backward kernels share: the dropout mask and column
 * sums for bias gradients (activation derivatives are in activation.h).
 * Internal to the library. */
#ifndef GESTA_TRAIN_OPS_H
#define GESTA_TRAIN_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "gesta/error.h"
#include "gesta/op.h"
#include "gesta/tensor.h"

/* out[j] = sum over rows of m[r][j], accumulated in double so the result
 * does not depend on how many rows there are. */
void gesta_grad_column_sums(const float *m, int64_t rows, int64_t cols,
                            float *out);

/* Host pointer of a gradient tensor, NULL when the caller does not want it
 * (no tensor array, or a tensor without a buffer). */
static inline float *gesta_grad_host(const gesta_tensor *grads, int k) {
  if (!grads || !grads[k].buffer)
    return NULL;
  return gesta_tensor_host_data(&grads[k]);
}

/* The dropout mask, counter-based so that forward and backward (and every
 * backend) derive the same bit for element `index` of a layer's output from
 * the step's seed alone, with nothing stored: the splitmix64 output for
 * counter index + 1 of the stream starting at seed. An element is kept when
 * the hash's top 24 bits are at least gesta_dropout_threshold(rate). */
static inline uint64_t gesta_dropout_hash(uint64_t seed, uint64_t index) {
  uint64_t z = seed + (index + 1) * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* ceil(rate * 2^24): rate 0 keeps everything, rate 1 nothing. */
uint32_t gesta_dropout_threshold(double rate);

/* What kept elements are multiplied by: 1 / (1 - rate) as Keras does (0
 * when rate is 1 and nothing is kept). */
float gesta_dropout_scale(double rate);

static inline bool gesta_dropout_keep(uint64_t seed, uint64_t index,
                                      uint32_t threshold) {
  return (uint32_t)(gesta_dropout_hash(seed, index) >> 40) >= threshold;
}

#endif
