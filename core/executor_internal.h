/* The plan's insides, shared by planning (executor.c) and running
 * (executor_run.c). */
#ifndef GESTA_EXECUTOR_INTERNAL_H
#define GESTA_EXECUTOR_INTERNAL_H

#include "gesta/executor.h"

/* Value index v: 0 is the model input, v = node + 1 a layer's output. */
typedef struct plan_slot {
  size_t bytes;
  bool in_use;
  gesta_buffer *buffer;
} plan_slot;

typedef struct plan_call {
  int node;
  const gesta_op_kernel *kernel;
  gesta_op_call call;
  /* What the kernel reads and writes: the backend's tensors, or host copies
   * when the layer falls back to the CPU reference. */
  gesta_tensor inputs[GESTA_MAX_INPUTS];
  gesta_tensor output;
  bool fallback;
  /* Fallback only: the backend's tensors the host copies come from and go
   * back to, and the host buffers (owned). */
  gesta_tensor device_inputs[GESTA_MAX_INPUTS];
  gesta_tensor device_output;
  gesta_buffer *host_buffers[GESTA_MAX_INPUTS + 1];
} plan_call;

struct gesta_plan {
  const gesta_model *model;
  gesta_backend *backend;
  gesta_backend *cpu; /* the CPU reference for fallbacks; NULL if none */
  int64_t batch;
  gesta_plan_options options;

  int *value_slot;     /* value -> slot */
  gesta_shape *shapes; /* value -> full shape (batch first) */
  plan_slot *slots;
  int n_slots;

  gesta_buffer **param_buffers; /* on the backend */
  gesta_tensor *param_tensors;
  gesta_buffer **host_param_buffers; /* CPU copies, for fallback layers */
  gesta_tensor *host_param_tensors;
  gesta_buffer *workspace_buffer, *host_workspace_buffer;
  gesta_tensor workspace, host_workspace;

  plan_call *calls;
  int n_calls;
  int *node_call; /* node -> call index, -1 for a view */
  gesta_placement *placements;
};

gesta_tensor gesta_plan_value_tensor(const gesta_plan *plan, int value);

#endif
