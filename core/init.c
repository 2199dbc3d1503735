/* Keras-style parameter initialisation. Every value comes from one generator
 * seeded once, drawn parameter by parameter in model order, so a seed names
 * one set of weights on every platform. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "gesta/model.h"

/* Keras' compute_fans(): the kernel layouts keep the input features in the
 * second-to-last axis and the outputs in the last, anything before them is
 * the receptive field. */
static void init_fans(const gesta_shape *shape, double *fan_in,
                      double *fan_out) {
  int r = shape->rank;
  if (r == 0) {
    *fan_in = *fan_out = 1.0;
  } else if (r == 1) {
    *fan_in = *fan_out = (double)shape->dims[0];
  } else {
    double receptive = 1.0;
    for (int i = 0; i < r - 2; i++) {
      receptive *= (double)shape->dims[i];
    }
    *fan_in = (double)shape->dims[r - 2] * receptive;
    *fan_out = (double)shape->dims[r - 1] * receptive;
  }
}

static void init_glorot_uniform(const gesta_shape *shape, float *out,
                                int64_t count, gesta_rng *rng) {
  double fan_in, fan_out;
  init_fans(shape, &fan_in, &fan_out);
  if (count == 0) {
    return;
  }
  double limit = sqrt(6.0 / (fan_in + fan_out));
  for (int64_t i = 0; i < count; i++) {
    out[i] = (float)(limit * (2.0 * gesta_rng_uniform(rng) - 1.0));
  }
}

/* Keras Orthogonal (gain 1): QR of an (m, n) normal matrix, m >= n, with the
 * columns of Q scaled by sign(diag(R)). Gram-Schmidt gives R a positive
 * diagonal by construction, which is exactly that normalised Q; a second
 * orthogonalisation pass keeps the columns orthonormal to rounding even when
 * the drawn matrix is badly conditioned. */
static gesta_status init_orthogonal(const gesta_param *p, float *out,
                                    gesta_rng *rng, gesta_error *err) {
  const gesta_shape *shape = &p->spec.shape;
  if (shape->rank < 2) {
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "parameter '%s': an orthogonal initialiser needs "
                           "at least 2 dimensions, it has %d",
                           p->name, shape->rank);
  }
  int64_t rows = 1;
  for (int i = 0; i < shape->rank - 1; i++) {
    rows *= shape->dims[i];
  }
  int64_t cols = shape->dims[shape->rank - 1];
  if (rows == 0 || cols == 0) {
    return GESTA_STATUS_OK;
  }
  int64_t m = rows > cols ? rows : cols, n = rows > cols ? cols : rows;
  double *a = malloc((size_t)(m * n) * sizeof *a); /* row-major (m, n) */
  if (!a) {
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory initialising '%s'", p->name);
  }
  for (int64_t i = 0; i < m * n; i++) {
    a[i] = gesta_rng_normal(rng);
  }
  for (int64_t j = 0; j < n; j++) {
    for (int pass = 0; pass < 2; pass++) {
      for (int64_t k = 0; k < j; k++) {
        double dot = 0.0;
        for (int64_t i = 0; i < m; i++) {
          dot += a[i * n + k] * a[i * n + j];
        }
        for (int64_t i = 0; i < m; i++) {
          a[i * n + j] -= dot * a[i * n + k];
        }
      }
    }
    double norm = 0.0;
    for (int64_t i = 0; i < m; i++) {
      norm += a[i * n + j] * a[i * n + j];
    }
    norm = sqrt(norm);
    /* A normal draw is rank-deficient with probability zero. */
    if (!(norm > 1e-12)) {
      free(a);
      return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                             "parameter '%s': the random matrix drawn for the "
                             "orthogonal initialiser is singular",
                             p->name);
    }
    for (int64_t i = 0; i < m; i++) {
      a[i * n + j] /= norm;
    }
  }
  /* rows >= cols: Q is the (rows, cols) result; otherwise its transpose. */
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t c = 0; c < cols; c++) {
      double v = rows >= cols ? a[r * n + c] : a[c * n + r];
      out[r * cols + c] = (float)v;
    }
  }
  free(a);
  return GESTA_STATUS_OK;
}

static gesta_status init_fill(const gesta_param *p, float *out, int64_t count,
                              gesta_rng *rng, gesta_error *err) {
  switch (p->spec.init) {
  case GESTA_INIT_ZEROS:
  case GESTA_INIT_ONES:
    for (int64_t i = 0; i < count; i++) {
      out[i] = p->spec.init == GESTA_INIT_ONES ? 1.0f : 0.0f;
    }
    return GESTA_STATUS_OK;
  case GESTA_INIT_GLOROT_UNIFORM:
    init_glorot_uniform(&p->spec.shape, out, count, rng);
    return GESTA_STATUS_OK;
  case GESTA_INIT_ORTHOGONAL:
    return init_orthogonal(p, out, rng, err);
  case GESTA_INIT_LSTM_BIAS: {
    /* Gates i, f, c, o: Keras' unit_forget_bias sets the f quarter to 1. */
    if (p->spec.shape.rank != 1 || count % 4 != 0) {
      return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                             "parameter '%s': an LSTM bias must be one "
                             "dimension of 4 * units values",
                             p->name);
    }
    int64_t units = count / 4;
    for (int64_t i = 0; i < count; i++) {
      out[i] = i >= units && i < 2 * units ? 1.0f : 0.0f;
    }
    return GESTA_STATUS_OK;
  }
  }
  return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                         "parameter '%s': unknown initialiser %d", p->name,
                         (int)p->spec.init);
}

gesta_status gesta_model_init_weights(gesta_model *model, uint64_t seed,
                                      gesta_error *err) {
  gesta_status status = GESTA_STATUS_OK;
  float **fresh = NULL;
  if (model->n_params == 0) {
    return GESTA_STATUS_OK;
  }
  fresh = calloc((size_t)model->n_params, sizeof *fresh);
  if (!fresh) {
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory initialising the weights");
  }
  gesta_rng rng;
  gesta_rng_seed(&rng, seed);
  for (int i = 0; i < model->n_params; i++) {
    const gesta_param *p = &model->params[i];
    int64_t count = gesta_shape_count(&p->spec.shape);
    if (count < 0 || (uint64_t)count > SIZE_MAX / sizeof(float)) {
      status = gesta_error_set(err, GESTA_STATUS_INTERNAL,
                               "parameter '%s' has an invalid size", p->name);
      goto done;
    }
    fresh[i] = malloc(count ? (size_t)count * sizeof(float) : sizeof(float));
    if (!fresh[i]) {
      status = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                               "out of memory initialising '%s' (%lld values)",
                               p->name, (long long)count);
      goto done;
    }
    status = init_fill(p, fresh[i], count, &rng, err);
    if (status != GESTA_STATUS_OK) {
      goto done;
    }
  }
  /* Swapped in only once every parameter is ready: a failure leaves the
   * model's current weights alone. */
  for (int i = 0; i < model->n_params; i++) {
    free(model->params[i].data);
    model->params[i].data = fresh[i];
    fresh[i] = NULL;
  }
done:
  for (int i = 0; i < model->n_params; i++) {
    free(fresh[i]);
  }
  free(fresh);
  return status;
}
