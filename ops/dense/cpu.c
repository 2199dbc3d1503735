/* dense on the CPU: every row of the input (all leading axes together) in
 * one GEMM against the (features x units) kernel, then bias and the fused
 * activation. */
#include <assert.h>
#include <cblas.h>
#include <limits.h>

#include "activation.h"
#include "op_util.h"

static gesta_status dense_forward(const gesta_op_call *call, gesta_error *err) {
  const gesta_shape *in = &call->inputs[0].shape;
  const float *x = gesta_tensor_host_data(&call->inputs[0]);
  const float *kernel = gesta_tensor_host_data(&call->params[0]);
  const float *bias =
      call->n_params > 1 ? gesta_tensor_host_data(&call->params[1]) : NULL;
  float *y = gesta_tensor_host_data(call->output);
  int64_t features, units, rows;
  gesta_activation act = gesta_node_attr_enum(call->node, "activation");
  assert(in->rank >= 1);
  features = in->dims[in->rank - 1];
  units = gesta_node_attr_int(call->node, "units");
  rows = features > 0 ? gesta_shape_count(in) / features : 0;
  if (rows == 0)
    return GESTA_STATUS_OK;
  if (rows > INT_MAX || features > INT_MAX || units > INT_MAX)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "dense: a %lld x %lld by %lld x %lld matrix "
                           "product is beyond the BLAS interface's int sizes",
                           (long long)rows, (long long)features,
                           (long long)features, (long long)units);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)units,
              (int)features, 1.0f, x, (int)features, kernel, (int)units, 0.0f,
              y, (int)units);
  if (bias)
    for (int64_t r = 0; r < rows; r++)
      for (int64_t u = 0; u < units; u++)
        y[r * units + u] += bias[u];
  gesta_activation_apply(act, y, rows, units);
  return GESTA_STATUS_OK;
}

const gesta_op_kernel gesta_op_dense_cpu = {
    .forward = dense_forward,
    .workspace_bytes = NULL,
};
