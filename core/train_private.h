/* The trainer's insides, shared by its setup (train.c) and its steps
 * (train_step.c). */
#ifndef GESTA_TRAIN_PRIVATE_H
#define GESTA_TRAIN_PRIVATE_H

#include "train_internal.h"

/* Where the loss finds what it needs at the output layer. */
typedef enum train_loss_source {
  TRAIN_LOSS_PROBS = 0,    /* Keras' clipped cross-entropy on the output */
  TRAIN_LOSS_SAVED_LOGITS, /* fused softmax: the layer keeps its logits */
  TRAIN_LOSS_INPUT_LOGITS  /* a softmax op: its input is the logits */
} train_loss_source;

typedef struct train_layer {
  int node;
  const gesta_op_kernel *kernel;
  bool reaches_output; /* its output influences the loss */
  gesta_op_call call;
  gesta_op_grad_call grad_call;
  /* Time-distributed layers see T folded into the batch, as in the
   * executor. */
  gesta_tensor inputs[GESTA_MAX_INPUTS];
  gesta_tensor output;
  gesta_tensor saved;
  gesta_tensor output_grad;
  gesta_tensor input_grads[GESTA_MAX_INPUTS];
  /* Where the kernel writes input k's gradient this step: the value's own
   * gradient (first writer) or a scratch to add to it. */
  bool accumulate[GESTA_MAX_INPUTS];
} train_layer;

struct gesta_trainer {
  const gesta_model *model;
  gesta_backend *backend;
  const gesta_train_kernels *tk;
  int64_t batch;
  gesta_trainer_options options;
  gesta_grad_hook hook;
  void *hook_user;
  int64_t steps;

  /* Values: 0 the model input, node + 1 a layer's output. */
  gesta_shape *shapes;
  gesta_buffer **values;
  gesta_buffer **value_grads; /* NULL for the input and unreached values */
  gesta_buffer *scratch[GESTA_MAX_INPUTS];

  gesta_buffer **params;
  gesta_tensor *param_tensors;
  gesta_buffer **grads; /* NULL: non-trainable or not reached */
  gesta_tensor *grad_tensors;

  gesta_buffer **saved; /* per node */
  gesta_buffer *workspace;
  gesta_tensor workspace_tensor;
  train_layer *layers; /* per node */

  /* Optimiser state: n_state tensors, slot s of param state_param[i]. */
  int n_state;
  gesta_buffer **state;
  gesta_tensor *state_tensors;
  int *state_param;
  char (*state_names)[GESTA_NAME_MAX + 64];

  train_loss_source loss_source;
  int64_t out_rows, out_cols;
  float *host_output, *host_logits, *host_grad;
};

/* Value v's full shape, batch first. */
gesta_tensor gesta_trainer_value_tensor(const gesta_trainer *t, int v);

#endif
