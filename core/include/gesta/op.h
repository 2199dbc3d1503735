/* gesta — operators: the schema an op declares and the kernels that run it.
 *
 * An op is one folder under ops/: op.c exports `const gesta_op_def
 * gesta_op_<name>`, cpu.c exports `const gesta_op_kernel
 * gesta_op_<name>_cpu`, and later backends add their own file. The build
 * discovers the folders and generates the table gesta_op_find() searches; a
 * kernel a backend lacks is NULL there. */
#ifndef GESTA_OP_H
#define GESTA_OP_H

#include <stdbool.h>
#include <stdint.h>

#include "gesta/error.h"
#include "gesta/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GESTA_MAX_ATTRS 12
#define GESTA_MAX_INPUTS 4
#define GESTA_MAX_PARAMS 8
#define GESTA_NAME_MAX 64

typedef enum gesta_attr_type {
  GESTA_ATTR_INT,   /* integer */
  GESTA_ATTR_FLOAT, /* number */
  GESTA_ATTR_BOOL,  /* true / false */
  GESTA_ATTR_ENUM,  /* one word of `choices` */
  GESTA_ATTR_PAIR   /* an integer n (meaning [n, n]) or a list [a, b] */
} gesta_attr_type;

typedef struct gesta_attr_def {
  const char *name;
  gesta_attr_type type;
  bool required;
  /* Default when not required, written as it would be in YAML ("1", "valid",
   * "0.001", "true", "[2, 2]"); parsed by the same code as the YAML value. */
  const char *default_value;
  const char *choices; /* ENUM only: "valid|same" */
  double min, max;     /* INT, FLOAT, PAIR: inclusive bounds of each value;
                          both 0 = unbounded */
  const char *doc;     /* one line for docs and --help */
} gesta_attr_def;

typedef struct gesta_attr_value {
  int64_t i[2]; /* INT: i[0]; PAIR: both; ENUM: i[0] = index in choices */
  double f;     /* FLOAT */
  bool b;       /* BOOL */
} gesta_attr_value;

/* Fused activations, in the order of GESTA_ACTIVATION_CHOICES. */
typedef enum gesta_activation {
  GESTA_ACTIVATION_LINEAR = 0,
  GESTA_ACTIVATION_RELU,
  GESTA_ACTIVATION_SIGMOID,
  GESTA_ACTIVATION_TANH,
  GESTA_ACTIVATION_SOFTMAX
} gesta_activation;
#define GESTA_ACTIVATION_CHOICES "linear|relu|sigmoid|tanh|softmax"

typedef enum gesta_init_kind {
  GESTA_INIT_ZEROS,
  GESTA_INIT_ONES,
  GESTA_INIT_GLOROT_UNIFORM, /* fans from the Keras kernel layout */
  GESTA_INIT_ORTHOGONAL,     /* Keras' recurrent_kernel default, gain 1 */
  GESTA_INIT_LSTM_BIAS       /* zeros, forget-gate quarter ones */
} gesta_init_kind;

/* One parameter an op needs, as the op's params() declares it. */
typedef struct gesta_param_spec {
  char name[32]; /* Keras name: kernel, bias, gamma, moving_mean, ... */
  gesta_shape shape;
  gesta_init_kind init;
  bool trainable;
} gesta_param_spec;

typedef struct gesta_node gesta_node;
typedef struct gesta_op_def gesta_op_def;

struct gesta_op_def {
  const char *name;
  const char *summary; /* one line for docs and `gesta info --ops` */
  const gesta_attr_def *attrs;
  int n_attrs;
  int min_inputs, max_inputs;
  /* May carry `time_distributed: true` (the op then runs on each of T
   * frames, T folded into the batch). */
  bool allows_time_distributed;
  /* At inference the output is the input reinterpreted (flatten, dropout):
   * the executor gives it the input's buffer and runs no kernel. */
  bool view_at_inference;
  /* Per-sample shapes (no batch dimension; for a time-distributed layer, no
   * T either). Fill *out or return an error saying which shapes are wrong;
   * the caller adds file, line and layer. */
  gesta_status (*infer)(const gesta_node *node, const gesta_shape *inputs,
                        int n_inputs, gesta_shape *out, gesta_error *err);
  /* Parameters in a fixed order (the order kernels receive them). NULL when
   * the op has none. *n_specs <= GESTA_MAX_PARAMS. */
  gesta_status (*params)(const gesta_node *node, const gesta_shape *inputs,
                         gesta_param_spec *specs, int *n_specs,
                         gesta_error *err);
};

/* What a kernel gets: shapes here are full (batch first; a time-distributed
 * layer sees N*T as its batch). */
typedef struct gesta_op_call {
  const gesta_node *node;
  gesta_backend *backend;
  const gesta_tensor *inputs;
  int n_inputs;
  const gesta_tensor *params; /* in the order params() declared */
  int n_params;
  const gesta_tensor *output;
  const gesta_tensor *workspace; /* workspace_bytes() bytes, or NULL */
  /* Training only (false, 0 and NULL at inference): */
  bool training; /* dropout masks its input; batch_norm uses and updates
                    batch statistics */
  uint64_t seed; /* this step's seed for random masks: forward and
                    backward derive the same mask from it */
  const gesta_tensor *saved; /* saved_bytes() kept from forward for
                                backward (e.g. batch statistics), or NULL */
} gesta_op_call;

/* What a backward kernel gets: gradients of the loss L. */
typedef struct gesta_op_grad_call {
  const gesta_op_call *forward; /* inputs, params and output as computed */
  /* dL/d(output); when output_grad_is_logits, dL/d(the values before a
   * fused or standalone softmax), which the loss computes stably. */
  const gesta_tensor *output_grad;
  bool output_grad_is_logits;
  /* dL/d(inputs[k]), overwritten; a NULL buffer = not wanted. */
  const gesta_tensor *input_grads;
  /* dL/d(params[k]), overwritten; a NULL buffer for non-trainable ones. */
  const gesta_tensor *param_grads;
  const gesta_tensor *workspace; /* backward_workspace_bytes(), or NULL */
} gesta_op_grad_call;

typedef struct gesta_op_kernel {
  gesta_status (*forward)(const gesta_op_call *call, gesta_error *err);
  /* Optional (NULL = none): scratch bytes forward needs for this call. */
  size_t (*workspace_bytes)(const gesta_op_call *call);
  /* Training; NULL = the op cannot be trained on this backend. */
  gesta_status (*backward)(const gesta_op_grad_call *call, gesta_error *err);
  size_t (*backward_workspace_bytes)(const gesta_op_grad_call *call);
  /* Bytes forward keeps for backward in call->saved (training only). */
  size_t (*saved_bytes)(const gesta_op_call *call);
} gesta_op_kernel;

enum { GESTA_BACKEND_CPU = 0, GESTA_BACKEND_OPENCL = 1, GESTA_BACKEND_KINDS };

typedef struct gesta_op_entry {
  const gesta_op_def *def;
  const gesta_op_kernel *kernels[GESTA_BACKEND_KINDS]; /* NULL = fall back */
} gesta_op_entry;

/* The generated table of every op compiled in. */
int gesta_op_count(void);
const gesta_op_entry *gesta_op_at(int index);
const gesta_op_entry *gesta_op_find(const char *name); /* NULL if unknown */

/* Index of an attribute in def->attrs, -1 if the op has no such attribute. */
int gesta_op_attr_index(const gesta_op_def *def, const char *name);

/* Parses a YAML-style scalar text (or "[a, b]" for PAIR) into *value
 * against def's type, choices and bounds. Used for defaults and by the
 * YAML loader. The message says what was expected. */
gesta_status gesta_attr_parse(const gesta_attr_def *def, const char *text,
                              gesta_attr_value *value, gesta_error *err);

#ifdef __cplusplus
}
#endif
#endif
