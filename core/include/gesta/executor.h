/* gesta — running a model: a plan is a model laid out on a backend for one
 * batch size. Shape inference runs once, activations share buffers by
 * lifetime, and a run is a flat list of kernel calls. */
#ifndef GESTA_EXECUTOR_H
#define GESTA_EXECUTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "gesta/backend.h"
#include "gesta/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gesta_plan gesta_plan;

typedef struct gesta_plan_options {
  /* A layer whose op the backend cannot run is an error instead of running
   * on the CPU reference. */
  bool strict;
} gesta_plan_options;

/* The model must have weights. The plan borrows model and backend. A layer
 * the backend cannot run falls back to the CPU reference (its inputs are
 * copied to the host and its output back), logged as a warning and listed
 * in the placement report; options->strict makes that an error. options
 * may be NULL (defaults). */
gesta_status gesta_plan_new_with_options(const gesta_model *model,
                                         gesta_backend *backend, int64_t batch,
                                         const gesta_plan_options *options,
                                         gesta_plan **out, gesta_error *err);
/* Same with default options. */
gesta_status gesta_plan_new(const gesta_model *model, gesta_backend *backend,
                            int64_t batch, gesta_plan **out, gesta_error *err);
void gesta_plan_free(gesta_plan *plan);

/* Full shapes, batch first. */
gesta_shape gesta_plan_input_shape(const gesta_plan *plan);
gesta_shape gesta_plan_output_shape(const gesta_plan *plan);
/* Bytes of activation memory the plan allocated (after buffer reuse). */
size_t gesta_plan_activation_bytes(const gesta_plan *plan);

/* Where each layer runs, in model order (one entry per layer). */
typedef struct gesta_placement {
  const char *layer;  /* borrowed from the model */
  const char *op;     /* op name */
  const char *device; /* what runs it: gesta_backend_device_name() of the
                         backend or of the CPU reference, or "view" for a
                         layer that only reinterprets its input */
  bool fallback;      /* runs on the CPU reference instead of the backend */
  char reason[160];   /* why it fell back; "" otherwise */
} gesta_placement;
int gesta_plan_placement_count(const gesta_plan *plan);
const gesta_placement *gesta_plan_placement_at(const gesta_plan *plan,
                                               int layer);

/* Runs the model on host input (input shape's count floats) and writes the
 * host output (output shape's count floats). */
gesta_status gesta_plan_run(gesta_plan *plan, const float *input, float *output,
                            gesta_error *err);

/* Called after each layer with its output copied to the host (borrowed,
 * valid during the call); full shape, batch first. A non-OK return stops
 * the run with that error. */
typedef gesta_status (*gesta_plan_observer)(void *user, int layer,
                                            const gesta_shape *shape,
                                            const float *data,
                                            gesta_error *err);

/* gesta_plan_run that also shows every layer's output (each one is copied
 * to the host, so this waits for the device after every layer: for checks
 * and debugging, not speed). */
gesta_status gesta_plan_run_observed(gesta_plan *plan, const float *input,
                                     float *output,
                                     gesta_plan_observer observer, void *user,
                                     gesta_error *err);

/* Runs one layer on its own: inputs[k] (host, the full shape of the
 * layer's k-th input) in, output (host, the layer's full output shape)
 * out. Other layers' buffers may be overwritten. */
gesta_status gesta_plan_run_layer(gesta_plan *plan, int layer,
                                  const float *const *inputs, float *output,
                                  gesta_error *err);
/* Full shapes (batch first) of a layer's k-th input and of its output. */
gesta_shape gesta_plan_layer_input_shape(const gesta_plan *plan, int layer,
                                         int k);
gesta_shape gesta_plan_layer_output_shape(const gesta_plan *plan, int layer);

#ifdef __cplusplus
}
#endif
#endif
