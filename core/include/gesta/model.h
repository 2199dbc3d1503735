/* gesta — a model: the graph read from a YAML description, its metadata
 * (classes, input, preprocessing) and its parameters.
 *
 * The struct is public so tools can read it; change it only through the
 * functions below. */
#ifndef GESTA_MODEL_H
#define GESTA_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "gesta/context.h"
#include "gesta/error.h"
#include "gesta/op.h"
#include "gesta/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GESTA_PATH_MAX 4096

/* One layer of the graph. */
struct gesta_node {
  char name[GESTA_NAME_MAX];
  const gesta_op_entry *op;
  gesta_mark mark; /* where the layer starts in the YAML */

  gesta_attr_value attrs[GESTA_MAX_ATTRS]; /* indexed like op->def->attrs */
  bool attr_given[GESTA_MAX_ATTRS];        /* false: the default was used */
  gesta_mark attr_marks[GESTA_MAX_ATTRS];

  /* Inputs by name as written (empty list: the previous layer, or the model
   * input for the first layer), resolved to node indices (-1 = the model
   * input) by gesta_model_finalize(). */
  char input_names[GESTA_MAX_INPUTS][GESTA_NAME_MAX];
  gesta_mark input_marks[GESTA_MAX_INPUTS];
  int n_inputs;
  int inputs[GESTA_MAX_INPUTS];

  bool time_distributed;

  /* Filled by gesta_model_finalize(): per-sample shapes (no batch).
   * input_shapes are as the op sees them: without T when time-distributed;
   * output_shape is the layer's own, with T. */
  gesta_shape input_shapes[GESTA_MAX_INPUTS];
  gesta_shape output_shape;
  int first_param, n_params; /* range in model->params */
};

/* Attribute accessors for op code; the name must be one the op declares
 * (asking for another is a programmer error and asserts). */
int64_t gesta_node_attr_int(const gesta_node *node, const char *name);
void gesta_node_attr_pair(const gesta_node *node, const char *name,
                          int64_t out[2]);
double gesta_node_attr_float(const gesta_node *node, const char *name);
bool gesta_node_attr_bool(const gesta_node *node, const char *name);
int gesta_node_attr_enum(const gesta_node *node, const char *name);

typedef struct gesta_param {
  char name[GESTA_NAME_MAX + 32]; /* "<layer>.<param>" */
  gesta_param_spec spec;
  int node;    /* owning layer */
  float *data; /* host copy, gesta_shape_count(&spec.shape) floats; NULL
                  until weights are loaded or initialised */
} gesta_param;

typedef enum gesta_channel_order {
  GESTA_CHANNELS_BGR = 0, /* the seed reads frames with OpenCV */
  GESTA_CHANNELS_RGB,
  GESTA_CHANNELS_GRAY
} gesta_channel_order;

typedef enum gesta_sampling {
  GESTA_SAMPLING_UNIFORM = 0, /* the seed's T evenly spaced frames */
  GESTA_SAMPLING_WINDOW       /* sliding windows of T frames */
} gesta_sampling;

typedef struct gesta_preprocess {
  int64_t height, width;
  gesta_channel_order channels;
  double scale; /* pixel value (0..255) times scale */
  gesta_sampling sampling;
  int64_t frames; /* frames per clip (a per-frame model averages them) */
} gesta_preprocess;

typedef struct gesta_model {
  char path[GESTA_PATH_MAX]; /* the YAML as given, for messages */
  char name[GESTA_NAME_MAX];
  int format_version; /* `gesta:` */

  char **classes; /* n_classes strings */
  int n_classes;

  char input_name[GESTA_NAME_MAX];
  gesta_shape input_shape; /* per sample */
  bool has_preprocess;
  gesta_preprocess preprocess;

  /* `weights:` resolved against the YAML's folder; "" when not given. */
  char weights_path[GESTA_PATH_MAX];

  gesta_node *nodes; /* in topological order after finalize */
  int n_nodes;
  gesta_param *params;
  int n_params;
  int output_node;
} gesta_model;

/* Reads and validates a model description. Every mistake is an error with
 * file:line:column. Weights are not read (see gesta_model_load_weights). */
gesta_status gesta_model_load_file(const gesta_context *ctx, const char *path,
                                   gesta_model **out, gesta_error *err);
/* Same from text; `name` stands for the file in messages and base_dir is
 * where `weights:` is looked for (NULL: the current directory). */
gesta_status gesta_model_load_string(const gesta_context *ctx, const char *text,
                                     size_t length, const char *name,
                                     const char *base_dir, gesta_model **out,
                                     gesta_error *err);
void gesta_model_free(gesta_model *model);

/* Resolves inputs, orders the layers, infers every shape and lists the
 * parameters. The YAML loader calls it; errors carry the layer's position. */
gesta_status gesta_model_finalize(gesta_model *model, gesta_error *err);

typedef struct gesta_param_counts {
  int64_t total, trainable, non_trainable;
} gesta_param_counts;
gesta_param_counts gesta_model_count_params(const gesta_model *model);
int64_t gesta_node_param_count(const gesta_model *model, int node);

/* Keras-style initialisation of every parameter, seeded. */
gesta_status gesta_model_init_weights(gesta_model *model, uint64_t seed,
                                      gesta_error *err);
/* Reads every parameter from a safetensors file; missing, extra or
 * mis-shaped tensors are errors naming the tensor and both shapes. */
gesta_status gesta_model_load_weights(gesta_model *model, const char *path,
                                      gesta_error *err);
gesta_status gesta_model_save_weights(const gesta_model *model,
                                      const char *path, gesta_error *err);
bool gesta_model_has_weights(const gesta_model *model);

#ifdef __cplusplus
}
#endif
#endif
