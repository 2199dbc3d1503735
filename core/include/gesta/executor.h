/* gesta — running a model: a plan is a model laid out on a backend for one
 * batch size. Shape inference runs once, activations share buffers by
 * lifetime, and a run is a flat list of kernel calls. */
#ifndef GESTA_EXECUTOR_H
#define GESTA_EXECUTOR_H

#include <stdint.h>

#include "gesta/backend.h"
#include "gesta/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gesta_plan gesta_plan;

/* The model must have weights. The plan borrows model and backend. */
gesta_status gesta_plan_new(const gesta_model *model, gesta_backend *backend,
                            int64_t batch, gesta_plan **out, gesta_error *err);
void gesta_plan_free(gesta_plan *plan);

/* Full shapes, batch first. */
gesta_shape gesta_plan_input_shape(const gesta_plan *plan);
gesta_shape gesta_plan_output_shape(const gesta_plan *plan);
/* Bytes of activation memory the plan allocated (after buffer reuse). */
size_t gesta_plan_activation_bytes(const gesta_plan *plan);

/* Runs the model on host input (input shape's count floats) and writes the
 * host output (output shape's count floats). */
gesta_status gesta_plan_run(gesta_plan *plan, const float *input, float *output,
                            gesta_error *err);

#ifdef __cplusplus
}
#endif
#endif
