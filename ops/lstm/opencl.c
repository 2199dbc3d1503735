/* lstm on OpenCL, laid out like the CPU reference: the input projection of
 * all N * T steps is one CLBlast GEMM into the workspace (plus the bias),
 * then each step accumulates h_{t-1} . recurrent_kernel into its slice with
 * one more GEMM (rows n * T + t: leading dimension T * 4u) and one fused
 * kernel applies the gates. Workspace: projections (N, T, 4u), h (N, u),
 * c (N, u), a second h (N, u). At inference, layers of at most
 * LSTM_OPENCL_STEP_UNITS units run each step as one kernel (lstm_step)
 * instead, the two h slots taking turns.
 *
 * When given `saved` (the trainer), forward keeps every step's activated
 * gates, cell state and output there in the CPU reference's layout, and
 * backward runs back through time from them (lstm_train.cl): one kernel and
 * one recurrent GEMM per step, then one GEMM each for the input, kernel and
 * recurrent-kernel gradients over all N * T steps. */
#include <assert.h>
#include <limits.h>

#include "op_util.h"
#include "opencl/opencl_internal.h"
#include "opencl/opencl_train.h"

/* lstm_step does 4u multiply-adds per work item and reads the recurrent
 * kernel once per sample: cheap for small layers, where CLBlast's launch
 * costs more than the product; large ones keep the GEMM. */
#define LSTM_OPENCL_STEP_UNITS 128

typedef struct lstm_opencl_geom {
  int64_t n, t, f, u;
} lstm_opencl_geom;

static lstm_opencl_geom lstm_opencl_geometry(const gesta_op_call *call) {
  const gesta_shape *in = &call->inputs[0].shape;
  lstm_opencl_geom g;
  assert(in->rank == 3);
  g.n = in->dims[0];
  g.t = in->dims[1];
  g.f = in->dims[2];
  g.u = gesta_node_attr_int(call->node, "units");
  return g;
}

static size_t lstm_opencl_workspace_bytes(const gesta_op_call *call) {
  lstm_opencl_geom g = lstm_opencl_geometry(call);
  return (size_t)(g.n * g.t * 4 * g.u + 3 * g.n * g.u) * sizeof(float);
}

static gesta_status lstm_opencl_bias(gesta_opencl *cl,
                                     const gesta_op_call *call, cl_mem ws,
                                     cl_uint ws_off, cl_ulong count,
                                     cl_uint gates, gesta_error *err) {
  cl_mem bias = gesta_opencl_mem(&call->params[2]);
  cl_uint bias_off = gesta_opencl_offset(&call->params[2]);
  size_t global[1] = {(size_t)count};
  gesta_cl_arg args[] = {GESTA_CL_ARG(ws),    GESTA_CL_ARG(ws_off),
                         GESTA_CL_ARG(count), GESTA_CL_ARG(gates),
                         GESTA_CL_ARG(bias),  GESTA_CL_ARG(bias_off)};
  return gesta_opencl_launch(cl, "lstm", "lstm_add_bias", 1, global, NULL, args,
                             (int)(sizeof args / sizeof args[0]), err);
}

/* Inference with lstm_step: one launch per step. */
static gesta_status lstm_opencl_steps(gesta_opencl *cl,
                                      const gesta_op_call *call, cl_mem ws,
                                      cl_uint ws_off, cl_uint h_a, cl_uint h_b,
                                      cl_uint c_off, gesta_error *err) {
  lstm_opencl_geom g = lstm_opencl_geometry(call);
  cl_int sequences = gesta_node_attr_bool(call->node, "return_sequences");
  cl_mem y = gesta_opencl_mem(call->output);
  cl_uint y_off = gesta_opencl_offset(call->output);
  cl_mem rk = gesta_opencl_mem(&call->params[1]);
  cl_uint rk_off = gesta_opencl_offset(&call->params[1]);
  cl_uint n = (cl_uint)g.n, steps = (cl_uint)g.t, units = (cl_uint)g.u;
  size_t global[2] = {(size_t)units, (size_t)n};
  for (cl_uint t = 0; t < steps; t++) {
    cl_uint h_in = t % 2 ? h_a : h_b, h_out = t % 2 ? h_b : h_a;
    gesta_cl_arg args[] = {
        GESTA_CL_ARG(ws),    GESTA_CL_ARG(ws_off), GESTA_CL_ARG(ws),
        GESTA_CL_ARG(h_in),  GESTA_CL_ARG(h_out),  GESTA_CL_ARG(c_off),
        GESTA_CL_ARG(rk),    GESTA_CL_ARG(rk_off), GESTA_CL_ARG(y),
        GESTA_CL_ARG(y_off), GESTA_CL_ARG(n),      GESTA_CL_ARG(steps),
        GESTA_CL_ARG(units), GESTA_CL_ARG(t),      GESTA_CL_ARG(sequences)};
    gesta_status st =
        gesta_opencl_launch(cl, "lstm", "lstm_step", 2, global, NULL, args,
                            (int)(sizeof args / sizeof args[0]), err);
    if (st != GESTA_STATUS_OK)
      return st;
  }
  return GESTA_STATUS_OK;
}

static gesta_status lstm_opencl_forward(const gesta_op_call *call,
                                        gesta_error *err) {
  gesta_opencl *cl = gesta_opencl_from_backend(call->backend);
  lstm_opencl_geom g = lstm_opencl_geometry(call);
  int64_t gates = 4 * g.u, rows = g.n * g.t;
  cl_int sequences = gesta_node_attr_bool(call->node, "return_sequences");
  cl_mem ws, y, recurrent;
  cl_uint ws_off, h_off, c_off, h2_off, y_off, n, steps, units;
  size_t recurrent_off;
  gesta_cl_span saved = {NULL, 0, 0};
  gesta_status st;

  if (!cl)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "lstm: the OpenCL kernel ran on a non-OpenCL "
                           "backend");
  if (rows == 0)
    return GESTA_STATUS_OK;
  if (!call->workspace)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "lstm: the executor gave no workspace");
  /* Kernel offsets into the workspace are 32-bit float counts. */
  if ((uint64_t)gesta_opencl_offset(call->workspace) + rows * gates +
          3 * g.n * g.u >
      UINT_MAX)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "lstm: %lld steps of %lld gates are beyond the "
                           "OpenCL kernels' 32-bit offsets",
                           (long long)rows, (long long)gates);
  ws = gesta_opencl_mem(call->workspace);
  ws_off = gesta_opencl_offset(call->workspace);
  h_off = ws_off + (cl_uint)(rows * gates);
  c_off = h_off + (cl_uint)(g.n * g.u);
  h2_off = c_off + (cl_uint)(g.n * g.u);
  y = gesta_opencl_mem(call->output);
  y_off = gesta_opencl_offset(call->output);
  recurrent = gesta_opencl_mem(&call->params[1]);
  recurrent_off = gesta_opencl_offset(&call->params[1]);
  n = (cl_uint)g.n;
  steps = (cl_uint)g.t;
  units = (cl_uint)g.u;

  st = gesta_opencl_sgemm(cl, false, false, (size_t)rows, (size_t)gates,
                          (size_t)g.f, 1.0f, gesta_opencl_mem(&call->inputs[0]),
                          gesta_opencl_offset(&call->inputs[0]), (size_t)g.f,
                          gesta_opencl_mem(&call->params[0]),
                          gesta_opencl_offset(&call->params[0]), (size_t)gates,
                          0.0f, ws, ws_off, (size_t)gates, err);
  if (st == GESTA_STATUS_OK && call->n_params > 2)
    st = lstm_opencl_bias(cl, call, ws, ws_off, (cl_ulong)(rows * gates),
                          (cl_uint)gates, err);
  if (st != GESTA_STATUS_OK)
    return st;

  if (call->saved) {
    saved = gesta_cl_span_of(call->saved);
    if ((uint64_t)saved.offset + rows * 6 * g.u > UINT_MAX)
      return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                             "lstm: %lld steps of %lld units are beyond the "
                             "OpenCL kernels' 32-bit offsets",
                             (long long)rows, (long long)g.u);
  }
  if (!saved.mem && g.u <= LSTM_OPENCL_STEP_UNITS)
    return lstm_opencl_steps(cl, call, ws, ws_off, h_off, h2_off, c_off, err);
  for (cl_uint t = 0; t < steps; t++) {
    size_t global[2] = {(size_t)units, (size_t)n};
    gesta_cl_arg args[] = {GESTA_CL_ARG(ws),
                           GESTA_CL_ARG(ws_off),
                           GESTA_CL_ARG(ws),
                           GESTA_CL_ARG(h_off),
                           GESTA_CL_ARG(c_off),
                           GESTA_CL_ARG(y),
                           GESTA_CL_ARG(y_off),
                           GESTA_CL_ARG(saved.mem),
                           GESTA_CL_ARG(saved.offset),
                           GESTA_CL_ARG(n),
                           GESTA_CL_ARG(steps),
                           GESTA_CL_ARG(units),
                           GESTA_CL_ARG(t),
                           GESTA_CL_ARG(sequences)};
    /* Without saved state, lstm_gates takes the same arguments less
     * saved's two. */
    gesta_cl_arg plain[12];
    for (int a = 0; a < 12; a++)
      plain[a] = args[a < 7 ? a : a + 2];
    /* h_0 = 0 makes the first step's recurrent product zero. */
    if (t > 0) {
      st = gesta_opencl_sgemm(
          cl, false, false, (size_t)g.n, (size_t)gates, (size_t)g.u, 1.0f, ws,
          h_off, (size_t)g.u, recurrent, recurrent_off, (size_t)gates, 1.0f, ws,
          ws_off + (size_t)t * (size_t)gates, (size_t)(g.t * gates), err);
      if (st != GESTA_STATUS_OK)
        return st;
    }
    if (saved.mem)
      st = gesta_opencl_launch(cl, "lstm", "lstm_gates_saved", 2, global, NULL,
                               args, (int)(sizeof args / sizeof args[0]), err);
    else
      st = gesta_opencl_launch(cl, "lstm", "lstm_gates", 2, global, NULL, plain,
                               12, err);
    if (st != GESTA_STATUS_OK)
      return st;
  }
  return GESTA_STATUS_OK;
}

static size_t lstm_opencl_saved_bytes(const gesta_op_call *call) {
  lstm_opencl_geom g = lstm_opencl_geometry(call);
  return (size_t)(g.n * g.t * 6 * g.u) * sizeof(float);
}

/* dZ (N, T, 4u) gate pre-activation gradients, the previous step's outputs
 * (N, T, u), dc and what the recurrent kernel sends back (N, u each), then
 * the bias sums' scratch. */
static size_t
lstm_opencl_backward_workspace_bytes(const gesta_op_grad_call *call) {
  lstm_opencl_geom g = lstm_opencl_geometry(call->forward);
  return ((size_t)(g.n * g.t * 5 * g.u + 2 * g.n * g.u) +
          gesta_cl_colsum_scratch((cl_ulong)(g.n * g.t), (cl_uint)(4 * g.u))) *
         sizeof(float);
}

/* The gradients of the kernel, recurrent kernel, bias and input from dZ,
 * over all N * T steps at once. */
static gesta_status
lstm_opencl_param_grads(gesta_opencl *cl, const gesta_op_grad_call *call,
                        lstm_opencl_geom g, gesta_cl_span dz,
                        gesta_cl_span hprev, gesta_cl_span scratch,
                        gesta_error *err) {
  const gesta_op_call *fw = call->forward;
  size_t rows = (size_t)(g.n * g.t), gates = (size_t)(4 * g.u);
  size_t f = (size_t)g.f, u = (size_t)g.u;
  gesta_cl_span x = gesta_cl_span_of(&fw->inputs[0]);
  gesta_cl_span kernel = gesta_cl_span_of(&fw->params[0]);
  gesta_cl_span dx = gesta_cl_grad_span(call->input_grads, 0);
  gesta_cl_span dkernel = gesta_cl_grad_span(call->param_grads, 0);
  gesta_cl_span drecurrent = gesta_cl_grad_span(call->param_grads, 1);
  gesta_cl_span dbias = fw->n_params > 2
                            ? gesta_cl_grad_span(call->param_grads, 2)
                            : gesta_cl_grad_span(NULL, 0);
  gesta_status st = GESTA_STATUS_OK;
  if (dx.mem)
    st = gesta_opencl_sgemm(cl, false, true, rows, f, gates, 1.0f, dz.mem,
                            dz.offset, gates, kernel.mem, kernel.offset, gates,
                            0.0f, dx.mem, dx.offset, f, err);
  if (st == GESTA_STATUS_OK && dkernel.mem)
    st = gesta_opencl_sgemm(cl, true, false, f, gates, rows, 1.0f, x.mem,
                            x.offset, f, dz.mem, dz.offset, gates, 0.0f,
                            dkernel.mem, dkernel.offset, gates, err);
  if (st == GESTA_STATUS_OK && drecurrent.mem)
    st = gesta_opencl_sgemm(cl, true, false, u, gates, rows, 1.0f, hprev.mem,
                            hprev.offset, u, dz.mem, dz.offset, gates, 0.0f,
                            drecurrent.mem, drecurrent.offset, gates, err);
  if (st == GESTA_STATUS_OK && dbias.mem)
    st = gesta_cl_colsums(cl, GESTA_CL_SUM, dz, dz, dz, (cl_ulong)rows,
                          (cl_uint)gates, false, scratch, dbias, err);
  return st;
}

static gesta_status lstm_opencl_backward(const gesta_op_grad_call *call,
                                         gesta_error *err) {
  const gesta_op_call *fw = call->forward;
  gesta_opencl *cl = gesta_cl_from_call(fw, "lstm", err);
  lstm_opencl_geom g = lstm_opencl_geometry(fw);
  int64_t gates = 4 * g.u, rows = g.n * g.t;
  cl_int sequences = gesta_node_attr_bool(fw->node, "return_sequences");
  gesta_cl_span saved = gesta_cl_span_of(fw->saved);
  gesta_cl_span dy = gesta_cl_span_of(call->output_grad);
  gesta_cl_span ws = gesta_cl_span_of(call->workspace);
  gesta_cl_span recurrent = gesta_cl_span_of(&fw->params[1]);
  gesta_cl_span dz, hprev, state, scratch;
  cl_uint dz_off, hprev_off, dc_off, dhr_off;
  cl_uint n = (cl_uint)g.n, steps = (cl_uint)g.t, units = (cl_uint)g.u;
  gesta_status st;
  if (!cl)
    return GESTA_STATUS_INTERNAL;
  if (!saved.mem || !ws.mem)
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "lstm: backward without the states forward saved "
                           "or without its workspace");
  if (rows == 0)
    return GESTA_STATUS_OK;
  if ((uint64_t)ws.offset + lstm_opencl_backward_workspace_bytes(call) / 4 >
          UINT_MAX ||
      (uint64_t)saved.offset + rows * 6 * g.u > UINT_MAX)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "lstm: %lld steps of %lld gates are beyond the "
                           "OpenCL kernels' 32-bit offsets",
                           (long long)rows, (long long)gates);
  dz = gesta_cl_span_at(ws, 0, (cl_ulong)(rows * gates));
  hprev =
      gesta_cl_span_at(ws, (cl_ulong)(rows * gates), (cl_ulong)(rows * g.u));
  state = gesta_cl_span_at(ws, (cl_ulong)(rows * 5 * g.u),
                           (cl_ulong)(2 * g.n * g.u));
  scratch = gesta_cl_span_at(state, state.count, 0);
  dz_off = dz.offset;
  hprev_off = hprev.offset;
  dc_off = state.offset;
  dhr_off = state.offset + (cl_uint)(g.n * g.u);
  /* dc and dh start at zero after the last step. */
  st = gesta_cl_fill_zero(cl, state, err);
  for (cl_uint t = steps; t-- > 0 && st == GESTA_STATUS_OK;) {
    size_t global[2] = {(size_t)units, (size_t)n};
    gesta_cl_arg args[] = {GESTA_CL_ARG(saved.mem), GESTA_CL_ARG(saved.offset),
                           GESTA_CL_ARG(dy.mem),    GESTA_CL_ARG(dy.offset),
                           GESTA_CL_ARG(ws.mem),    GESTA_CL_ARG(dz_off),
                           GESTA_CL_ARG(hprev_off), GESTA_CL_ARG(dc_off),
                           GESTA_CL_ARG(dhr_off),   GESTA_CL_ARG(n),
                           GESTA_CL_ARG(steps),     GESTA_CL_ARG(units),
                           GESTA_CL_ARG(t),         GESTA_CL_ARG(sequences)};
    st = gesta_opencl_launch(cl, "lstm", "lstm_backward_step", 2, global, NULL,
                             args, (int)(sizeof args / sizeof args[0]), err);
    /* What h_{t-1} receives through the recurrent kernel. */
    if (st == GESTA_STATUS_OK && t > 0)
      st = gesta_opencl_sgemm(
          cl, false, true, (size_t)g.n, (size_t)g.u, (size_t)gates, 1.0f,
          ws.mem, dz_off + (size_t)t * (size_t)gates, (size_t)(g.t * gates),
          recurrent.mem, recurrent.offset, (size_t)gates, 0.0f, ws.mem, dhr_off,
          (size_t)g.u, err);
  }
  if (st != GESTA_STATUS_OK)
    return st;
  return lstm_opencl_param_grads(cl, call, g, dz, hprev, scratch, err);
}

const gesta_op_kernel gesta_op_lstm_opencl = {
    .forward = lstm_opencl_forward,
    .workspace_bytes = lstm_opencl_workspace_bytes,
    .backward = lstm_opencl_backward,
    .backward_workspace_bytes = lstm_opencl_backward_workspace_bytes,
    .saved_bytes = lstm_opencl_saved_bytes,
};
