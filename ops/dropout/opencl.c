/* dropout on OpenCL: the identity at inference, so the output is a
 * device-side copy of the input (nothing at all when the executor gives both
 * the same memory). In training the mask is the CPU reference's counter-based
 * hash of (step seed, element index), computed again by backward instead of
 * stored, so both backends drop the same elements. */
#include "op_util.h"
#include "opencl/opencl_internal.h"
#include "opencl/opencl_train.h"

static gesta_status dropout_opencl_forward(const gesta_op_call *call,
                                           gesta_error *err) {
  gesta_opencl *cl = gesta_opencl_from_backend(call->backend);
  const gesta_tensor *in = &call->inputs[0];
  size_t bytes = gesta_tensor_bytes(in);
  cl_mem x, y;
  if (!cl)
    return gesta_error_set(
        err, GESTA_STATUS_INTERNAL,
        "dropout: the OpenCL kernel ran on a non-OpenCL backend");
  if (call->training)
    return gesta_cl_dropout(cl, gesta_cl_span_of(in),
                            gesta_cl_span_of(call->output), call->seed,
                            gesta_node_attr_float(call->node, "rate"), err);
  x = gesta_opencl_mem(in);
  y = gesta_opencl_mem(call->output);
  if (bytes == 0 || (x == y && in->offset == call->output->offset))
    return GESTA_STATUS_OK;
  return gesta_opencl_check(
      clEnqueueCopyBuffer(gesta_opencl_queue(cl), x, y, in->offset,
                          call->output->offset, bytes, 0, NULL,
                          gesta_opencl_profile_event(cl, GESTA_OPENCL_COPY)),
      "clEnqueueCopyBuffer(dropout)", err);
}

/* The same mask on the output's gradient. */
static gesta_status dropout_opencl_backward(const gesta_op_grad_call *call,
                                            gesta_error *err) {
  const gesta_op_call *fw = call->forward;
  gesta_opencl *cl = gesta_cl_from_call(fw, "dropout", err);
  gesta_cl_span dx = gesta_cl_grad_span(call->input_grads, 0);
  if (!cl)
    return GESTA_STATUS_INTERNAL;
  if (!fw->training)
    return gesta_cl_copy_backward(call, err);
  if (!dx.mem)
    return GESTA_STATUS_OK;
  return gesta_cl_dropout(cl, gesta_cl_span_of(call->output_grad), dx, fw->seed,
                          gesta_node_attr_float(fw->node, "rate"), err);
}

const gesta_op_kernel gesta_op_dropout_opencl = {
    .forward = dropout_opencl_forward,
    .workspace_bytes = NULL,
    .backward = dropout_opencl_backward,
};
