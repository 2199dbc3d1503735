/* lstm on the CPU. The input projection x_t . kernel (+ bias) of all N * T
 * steps is one GEMM into the workspace; each step then adds
 * h_{t-1} . recurrent_kernel to its slice with one more GEMM and applies
 * the gates. Workspace: projections (N, T, 4u), then h (N, u), c (N, u). */
#include <assert.h>
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "op_util.h"

typedef struct lstm_geom {
  int64_t n, t, f, u;
} lstm_geom;

static lstm_geom lstm_geometry(const gesta_op_call *call) {
  const gesta_shape *in = &call->inputs[0].shape;
  lstm_geom g;
  assert(in->rank == 3);
  g.n = in->dims[0];
  g.t = in->dims[1];
  g.f = in->dims[2];
  g.u = gesta_node_attr_int(call->node, "units");
  return g;
}

static size_t lstm_workspace_bytes(const gesta_op_call *call) {
  lstm_geom g = lstm_geometry(call);
  return (size_t)(g.n * g.t * 4 * g.u + 2 * g.n * g.u) * sizeof(float);
}

static float lstm_sigmoid(float x) {
  return 1.0f / (1.0f + expf(-x));
}

static gesta_status lstm_forward(const gesta_op_call *call, gesta_error *err) {
  lstm_geom g = lstm_geometry(call);
  int64_t gates = 4 * g.u, rows = g.n * g.t;
  const float *x = gesta_tensor_host_data(&call->inputs[0]);
  const float *kernel = gesta_tensor_host_data(&call->params[0]);
  const float *recurrent = gesta_tensor_host_data(&call->params[1]);
  const float *bias =
      call->n_params > 2 ? gesta_tensor_host_data(&call->params[2]) : NULL;
  float *y = gesta_tensor_host_data(call->output);
  bool sequences = gesta_node_attr_bool(call->node, "return_sequences");
  float *proj, *h, *c;

  if (rows == 0)
    return GESTA_STATUS_OK;
  if (rows > INT_MAX || g.f > INT_MAX || gates > INT_MAX ||
      g.t * gates > INT_MAX)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "lstm: %lld steps of %lld gates are beyond the "
                           "BLAS interface's int sizes",
                           (long long)rows, (long long)gates);
  if (!call->workspace)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "lstm: the executor gave no workspace");
  proj = gesta_tensor_host_data(call->workspace);
  h = proj + rows * gates;
  c = h + g.n * g.u;

  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)gates,
              (int)g.f, 1.0f, x, (int)g.f, kernel, (int)gates, 0.0f, proj,
              (int)gates);
  if (bias)
    for (int64_t r = 0; r < rows; r++)
      for (int64_t k = 0; k < gates; k++)
        proj[r * gates + k] += bias[k];
  memset(h, 0, (size_t)(2 * g.n * g.u) * sizeof(float));

  for (int64_t t = 0; t < g.t; t++) {
    /* Step t of every sample: rows n * T + t, i.e. stride T * 4u. h_0 = 0
     * makes the first step's recurrent product zero. */
    float *step = proj + t * gates;
    if (t > 0)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g.n,
                  (int)gates, (int)g.u, 1.0f, h, (int)g.u, recurrent,
                  (int)gates, 1.0f, step, (int)(g.t * gates));
    for (int64_t n = 0; n < g.n; n++) {
      const float *z = step + n * g.t * gates;
      float *hn = h + n * g.u, *cn = c + n * g.u;
      for (int64_t k = 0; k < g.u; k++) {
        float i = lstm_sigmoid(z[k]);
        float f = lstm_sigmoid(z[g.u + k]);
        float cell = tanhf(z[2 * g.u + k]);
        float o = lstm_sigmoid(z[3 * g.u + k]);
        cn[k] = f * cn[k] + i * cell;
        hn[k] = o * tanhf(cn[k]);
      }
      if (sequences)
        memcpy(y + (n * g.t + t) * g.u, hn, (size_t)g.u * sizeof(float));
    }
  }
  if (!sequences)
    memcpy(y, h, (size_t)(g.n * g.u) * sizeof(float));
  return GESTA_STATUS_OK;
}

const gesta_op_kernel gesta_op_lstm_cpu = {
    .forward = lstm_forward,
    .workspace_bytes = lstm_workspace_bytes,
};
