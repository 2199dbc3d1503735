/* lstm on the CPU. The input projection x_t . kernel (+ bias) of all N * T
 * steps is one GEMM into the workspace, cut by rows across threads; each
 * step then adds h_{t-1} . recurrent_kernel to its slice with one more GEMM
 * and applies the gates, samples cut across threads when there are many.
 * Workspace: projections (N, T, 4u), then h (N, u), c (N, u).
 *
 * When given `saved` (training), forward keeps every step's activated gates,
 * cell state and output in `saved`, as rows n * T + t of gates (4u), then c
 * (u), then h (u), and backward runs back through time from them. */
#include <assert.h>
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "cpu/parallel.h"
#include "op_util.h"
#include "train_ops.h"

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

typedef struct lstm_step_args {
  lstm_geom g;
  int64_t t;
  const float *step; /* pre-activations of step t, sample stride T * 4u */
  float *h, *c, *y, *saved;
  bool sequences;
  int parts; /* samples cut into */
} lstm_step_args;

/* The gates of step t for samples [n0, n1). */
static void lstm_step_gates(const lstm_step_args *a, int64_t n0, int64_t n1) {
  const lstm_geom *g = &a->g;
  int64_t gates = 4 * g->u, rows = g->n * g->t, t = a->t;
  for (int64_t n = n0; n < n1; n++) {
    const float *z = a->step + n * g->t * gates;
    float *hn = a->h + n * g->u, *cn = a->c + n * g->u;
    for (int64_t k = 0; k < g->u; k++) {
      float i = lstm_sigmoid(z[k]);
      float f = lstm_sigmoid(z[g->u + k]);
      float cell = tanhf(z[2 * g->u + k]);
      float o = lstm_sigmoid(z[3 * g->u + k]);
      cn[k] = f * cn[k] + i * cell;
      hn[k] = o * tanhf(cn[k]);
      if (a->saved) {
        int64_t row = n * g->t + t;
        float *sg = a->saved + row * gates;
        sg[k] = i;
        sg[g->u + k] = f;
        sg[2 * g->u + k] = cell;
        sg[3 * g->u + k] = o;
        a->saved[rows * gates + row * g->u + k] = cn[k];
        a->saved[rows * (gates + g->u) + row * g->u + k] = hn[k];
      }
    }
    if (a->sequences)
      memcpy(a->y + (n * g->t + t) * g->u, hn, (size_t)g->u * sizeof(float));
  }
}

static void lstm_step_part(void *ctx, int p) {
  const lstm_step_args *a = ctx;
  lstm_step_gates(a, gesta_cpu_split(a->g.n, a->parts, p),
                  gesta_cpu_split(a->g.n, a->parts, p + 1));
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
  float *proj, *h, *c, *saved = NULL;

  /* Whenever the caller keeps state (the trainer), training or not: the
   * gradients of an evaluation-mode forward are the same function. */
  if (call->saved)
    saved = gesta_tensor_host_data(call->saved);
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

  gesta_cpu_sgemm(CblasNoTrans, CblasNoTrans, (int)rows, (int)gates, (int)g.f,
                  1.0f, x, (int)g.f, kernel, (int)gates, 0.0f, proj,
                  (int)gates);
  if (bias)
    gesta_cpu_add_bias(proj, bias, rows, gates);
  memset(h, 0, (size_t)(2 * g.n * g.u) * sizeof(float));

  for (int64_t t = 0; t < g.t; t++) {
    /* Step t of every sample: rows n * T + t, i.e. stride T * 4u. h_0 = 0
     * makes the first step's recurrent product zero. */
    lstm_step_args a = {g, t, proj + t * gates, h, c, y, saved, sequences, 1};
    a.parts = gesta_cpu_parts(5 * g.n * g.u, GESTA_CPU_GRAIN_MATH);
    if (a.parts > g.n)
      a.parts = (int)g.n;
    if (t > 0)
      gesta_cpu_sgemm(CblasNoTrans, CblasNoTrans, (int)g.n, (int)gates,
                      (int)g.u, 1.0f, h, (int)g.u, recurrent, (int)gates, 1.0f,
                      proj + t * gates, (int)(g.t * gates));
    gesta_cpu_run(a.parts, lstm_step_part, &a);
  }
  if (!sequences)
    memcpy(y, h, (size_t)(g.n * g.u) * sizeof(float));
  return GESTA_STATUS_OK;
}

static size_t lstm_saved_bytes(const gesta_op_call *call) {
  lstm_geom g = lstm_geometry(call);
  return (size_t)(g.n * g.t * 6 * g.u) * sizeof(float);
}

/* dZ (N, T, 4u) gate pre-activation gradients, the previous step's outputs
 * (N, T, u), then dc and what the recurrent kernel sends back (N, u each). */
static size_t lstm_backward_workspace_bytes(const gesta_op_grad_call *call) {
  lstm_geom g = lstm_geometry(call->forward);
  return (size_t)(g.n * g.t * 5 * g.u + 2 * g.n * g.u) * sizeof(float);
}

/* Back through time: step t's gate gradients from dh (the output's
 * gradient plus what step t + 1 sent back through the recurrent kernel)
 * and dc; then the kernels' gradients, the bias's and the input's in one
 * GEMM each over all N * T steps. */
static gesta_status lstm_backward(const gesta_op_grad_call *call,
                                  gesta_error *err) {
  const gesta_op_call *fw = call->forward;
  lstm_geom g = lstm_geometry(fw);
  int64_t gates = 4 * g.u, rows = g.n * g.t, u = g.u;
  const float *x = gesta_tensor_host_data(&fw->inputs[0]);
  const float *kernel = gesta_tensor_host_data(&fw->params[0]);
  const float *recurrent = gesta_tensor_host_data(&fw->params[1]);
  const float *dy = gesta_tensor_host_data(call->output_grad);
  float *dx = gesta_grad_host(call->input_grads, 0);
  float *dkernel = gesta_grad_host(call->param_grads, 0);
  float *drecurrent = gesta_grad_host(call->param_grads, 1);
  float *dbias =
      fw->n_params > 2 ? gesta_grad_host(call->param_grads, 2) : NULL;
  bool sequences = gesta_node_attr_bool(fw->node, "return_sequences");
  const float *sg, *sc, *sh;
  float *dz, *hprev, *dc, *dhr;

  if (rows > INT_MAX || g.f > INT_MAX || gates > INT_MAX ||
      g.t * gates > INT_MAX)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "lstm: %lld steps of %lld gates are beyond the "
                           "BLAS interface's int sizes",
                           (long long)rows, (long long)gates);
  if (!fw->saved || !call->workspace)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "lstm: backward without the states forward saved "
                           "or without its workspace");
  if (rows == 0)
    return GESTA_STATUS_OK;
  sg = gesta_tensor_host_data(fw->saved);
  sc = sg + rows * gates;
  sh = sc + rows * u;
  dz = gesta_tensor_host_data(call->workspace);
  hprev = dz + rows * gates;
  dc = hprev + rows * u;
  dhr = dc + g.n * u;
  memset(dhr, 0, (size_t)(g.n * u) * sizeof(float));
  memset(dc, 0, (size_t)(g.n * u) * sizeof(float));

  for (int64_t t = g.t - 1; t >= 0; t--) {
    for (int64_t n = 0; n < g.n; n++) {
      int64_t row = n * g.t + t;
      const float *gt = sg + row * gates;
      const float *ct = sc + row * u;
      const float *cprev = t > 0 ? sc + (row - 1) * u : NULL;
      const float *dyt = sequences      ? dy + row * u
                         : t == g.t - 1 ? dy + n * u
                                        : NULL;
      float *dzt = dz + row * gates;
      float *dcn = dc + n * u;
      for (int64_t k = 0; k < u; k++) {
        float i = gt[k], f = gt[u + k], cell = gt[2 * u + k], o = gt[3 * u + k];
        float tc = tanhf(ct[k]);
        float dhk = dhr[n * u + k] + (dyt ? dyt[k] : 0.0f);
        float dck = dcn[k] + dhk * o * (1.0f - tc * tc);
        dzt[k] = dck * cell * i * (1.0f - i);
        dzt[u + k] = cprev ? dck * cprev[k] * f * (1.0f - f) : 0.0f;
        dzt[2 * u + k] = dck * i * (1.0f - cell * cell);
        dzt[3 * u + k] = dhk * tc * o * (1.0f - o);
        dcn[k] = dck * f;
      }
      if (t > 0)
        memcpy(hprev + row * u, sh + (row - 1) * u, (size_t)u * sizeof(float));
      else
        memset(hprev + row * u, 0, (size_t)u * sizeof(float));
    }
    /* What h_{t-1} receives through the recurrent kernel. */
    if (t > 0)
      gesta_cpu_sgemm(CblasNoTrans, CblasTrans, (int)g.n, (int)u, (int)gates,
                      1.0f, dz + t * gates, (int)(g.t * gates), recurrent,
                      (int)gates, 0.0f, dhr, (int)u);
  }
  if (dx)
    gesta_cpu_sgemm(CblasNoTrans, CblasTrans, (int)rows, (int)g.f, (int)gates,
                    1.0f, dz, (int)gates, kernel, (int)gates, 0.0f, dx,
                    (int)g.f);
  if (dkernel)
    gesta_cpu_sgemm(CblasTrans, CblasNoTrans, (int)g.f, (int)gates, (int)rows,
                    1.0f, x, (int)g.f, dz, (int)gates, 0.0f, dkernel,
                    (int)gates);
  if (drecurrent)
    gesta_cpu_sgemm(CblasTrans, CblasNoTrans, (int)u, (int)gates, (int)rows,
                    1.0f, hprev, (int)u, dz, (int)gates, 0.0f, drecurrent,
                    (int)gates);
  if (dbias)
    gesta_grad_column_sums(dz, rows, gates, dbias);
  return GESTA_STATUS_OK;
}

const gesta_op_kernel gesta_op_lstm_cpu = {
    .forward = lstm_forward,
    .workspace_bytes = lstm_workspace_bytes,
    .backward = lstm_backward,
    .backward_workspace_bytes = lstm_backward_workspace_bytes,
    .saved_bytes = lstm_saved_bytes,
};
