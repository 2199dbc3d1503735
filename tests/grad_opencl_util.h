/* What the OpenCL training tests share: one layer laid out on any backend
 * with its own buffers (forward in training mode, backward, results
 * downloaded), the OpenCL devices to run on, Oclgrind's log, and a tally
 * with one line per case. */
#ifndef GESTA_TEST_GRAD_OPENCL_UTIL_H
#define GESTA_TEST_GRAD_OPENCL_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "gesta/backend.h"
#include "gesta/context.h"
#include "gesta/model.h"
#include "gesta/op.h"

/* Oclgrind simulates every work item: cases of at most this many input or
 * output elements run there. */
#define GOU_OCLGRIND_MAX 512
#define GOU_MAX_TARGETS 8

double gou_uniform(uint64_t *state, double lo, double hi);

typedef struct gou_layer {
  gesta_backend *backend;
  const gesta_model *model;
  const gesta_op_kernel *kernel;
  gesta_buffer *bufs[40];
  int n_bufs, n_params;
  gesta_tensor x, y, dy, dx, saved, ws;
  gesta_tensor params[GESTA_MAX_PARAMS], dparams[GESTA_MAX_PARAMS];
  gesta_op_call call;
  gesta_op_grad_call grad;
  /* After gou_layer_fetch: */
  float *host_y, *host_dx, *host_saved; /* host_saved NULL: nothing saved */
  int64_t saved_floats;
  float *host_params[GESTA_MAX_PARAMS];  /* after forward */
  float *host_dparams[GESTA_MAX_PARAMS]; /* NULL: not trainable */
} gou_layer;

/* The model's only layer on `backend` for batch n, its parameters copied
 * from the model's host weights. */
gesta_status gou_layer_make(gesta_backend *backend, const gesta_model *model,
                            int64_t n, bool training, bool logits, gou_layer *l,
                            gesta_error *err);
/* Uploads x and dy, poisons the gradients with NaN, runs forward then
 * backward (seed fixed). */
gesta_status gou_layer_run(gou_layer *l, const float *x, const float *dy,
                           gesta_error *err);
/* Downloads output, saved state, input gradient, parameters and their
 * gradients into the host_ arrays. */
gesta_status gou_layer_fetch(gou_layer *l, gesta_error *err);
void gou_layer_free(gou_layer *l);

typedef struct gou_target {
  gesta_backend *backend;
  char label[32]; /* "opencl:P:D" */
  bool oclgrind;
} gou_target;

typedef struct gou_run {
  gou_target targets[GOU_MAX_TARGETS];
  int n_targets;
  char oclgrind_log[512];
  bool oclgrind_log_ours;
  long oclgrind_seen;
  int passed, failed, skipped;
  const char *prefix; /* of report lines: "grad_opencl" */
} gou_run;

/* Before any OpenCL call: Oclgrind's checks on, its log in a file of this
 * process unless the caller set OCLGRIND_LOG. */
void gou_oclgrind_setup(gou_run *run);
/* true when Oclgrind logged nothing since the last look; else why. */
bool gou_oclgrind_clean(gou_run *run, char *why, size_t size);
/* Every OpenCL device (or those matching spec: "P:D" or text in the
 * platform or device name). */
void gou_open_devices(const gesta_context *ctx, gou_run *run, const char *spec);
void gou_close(gou_run *run);

/* "PREFIX.OP  LABEL  TARGET  ..." and the tally. */
void gou_report(gou_run *run, bool ok, const char *op, const char *label,
                const char *target, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#endif
