/* lstm on OpenCL, laid out like the CPU reference: the input projection of
 * all N * T steps is one CLBlast GEMM into the workspace (plus the bias),
 * then each step accumulates h_{t-1} . recurrent_kernel into its slice with
 * one more GEMM (rows n * T + t: leading dimension T * 4u) and one fused
 * kernel applies the gates. Workspace: projections (N, T, 4u), h (N, u),
 * c (N, u). */
#include <assert.h>
#include <limits.h>

#include "op_util.h"
#include "opencl/opencl_internal.h"

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
  return (size_t)(g.n * g.t * 4 * g.u + 2 * g.n * g.u) * sizeof(float);
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

static gesta_status lstm_opencl_forward(const gesta_op_call *call,
                                        gesta_error *err) {
  gesta_opencl *cl = gesta_opencl_from_backend(call->backend);
  lstm_opencl_geom g = lstm_opencl_geometry(call);
  int64_t gates = 4 * g.u, rows = g.n * g.t;
  cl_int sequences = gesta_node_attr_bool(call->node, "return_sequences");
  cl_mem ws, y, recurrent;
  cl_uint ws_off, h_off, c_off, y_off, n, steps, units;
  size_t recurrent_off;
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
          2 * g.n * g.u >
      UINT_MAX)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "lstm: %lld steps of %lld gates are beyond the "
                           "OpenCL kernels' 32-bit offsets",
                           (long long)rows, (long long)gates);
  ws = gesta_opencl_mem(call->workspace);
  ws_off = gesta_opencl_offset(call->workspace);
  h_off = ws_off + (cl_uint)(rows * gates);
  c_off = h_off + (cl_uint)(g.n * g.u);
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

  for (cl_uint t = 0; t < steps; t++) {
    size_t global[2] = {(size_t)units, (size_t)n};
    gesta_cl_arg args[] = {
        GESTA_CL_ARG(ws),    GESTA_CL_ARG(ws_off), GESTA_CL_ARG(ws),
        GESTA_CL_ARG(h_off), GESTA_CL_ARG(c_off),  GESTA_CL_ARG(y),
        GESTA_CL_ARG(y_off), GESTA_CL_ARG(n),      GESTA_CL_ARG(steps),
        GESTA_CL_ARG(units), GESTA_CL_ARG(t),      GESTA_CL_ARG(sequences)};
    /* h_0 = 0 makes the first step's recurrent product zero. */
    if (t > 0) {
      st = gesta_opencl_sgemm(
          cl, false, false, (size_t)g.n, (size_t)gates, (size_t)g.u, 1.0f, ws,
          h_off, (size_t)g.u, recurrent, recurrent_off, (size_t)gates, 1.0f, ws,
          ws_off + (size_t)t * (size_t)gates, (size_t)(g.t * gates), err);
      if (st != GESTA_STATUS_OK)
        return st;
    }
    st = gesta_opencl_launch(cl, "lstm", "lstm_gates", 2, global, NULL, args,
                             (int)(sizeof args / sizeof args[0]), err);
    if (st != GESTA_STATUS_OK)
      return st;
  }
  return GESTA_STATUS_OK;
}

const gesta_op_kernel gesta_op_lstm_opencl = {
    .forward = lstm_opencl_forward,
    .workspace_bytes = lstm_opencl_workspace_bytes,
};
