/* gesta — training: a trainer is a model laid out on a backend for one batch
 * size with everything a training step needs: every activation kept (no
 * buffer reuse), their gradients, the parameters' gradients and the
 * optimiser's state, all in the backend's memory next to the weights.
 *
 * A step is forward (training mode) -> loss -> backward (layers in reverse,
 * gradients of a value read by several layers summed) -> the gradient hook
 * (where a data-parallel all-reduce goes) -> the optimiser's update. */
#ifndef GESTA_TRAIN_H
#define GESTA_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "gesta/backend.h"
#include "gesta/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- loss ---------------------------------------------------------------
 * Categorical cross-entropy, averaged over rows (every axis of the output
 * but the last). The targets are rows of class probabilities, usually
 * one-hot. */

/* From logits z (what a softmax would read): per row
 * sum(y) * logsumexp(z) - sum(y * z), which never overflows. grad, when not
 * NULL, gets dL/dz = (softmax(z) * sum(y) - y) / rows. Returns the mean
 * loss. */
double gesta_loss_softmax_cross_entropy(const float *logits,
                                        const float *targets, int64_t rows,
                                        int64_t cols, float *grad);

/* Keras' categorical_crossentropy on probabilities p (from_logits=False):
 * each row is divided by its sum, clipped to [1e-7, 1 - 1e-7], and the loss
 * is -sum(y * log(p)). grad, when not NULL, gets dL/dp (zero where the clip
 * was active, as the clip's own derivative). Returns the mean loss. */
double gesta_loss_cross_entropy(const float *probs, const float *targets,
                                int64_t rows, int64_t cols, float *grad);

/* Rows whose largest output is where the target's largest value is. */
int64_t gesta_loss_count_correct(const float *outputs, const float *targets,
                                 int64_t rows, int64_t cols);

/* ---- optimiser ---------------------------------------------------------- */

typedef enum gesta_optim_kind {
  GESTA_OPTIM_ADAM = 0,
  GESTA_OPTIM_SGD
} gesta_optim_kind;

typedef struct gesta_optim_config {
  gesta_optim_kind kind;
  double learning_rate;
  double beta1, beta2, epsilon; /* Adam */
  double momentum;              /* SGD; 0 = plain SGD (no state) */
  bool nesterov;                /* SGD with momentum */
} gesta_optim_config;

/* Keras' defaults: Adam lr 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-7. */
void gesta_optim_config_adam(gesta_optim_config *config);
/* Keras' SGD: lr 0.01, momentum 0, no Nesterov. */
void gesta_optim_config_sgd(gesta_optim_config *config);
/* "adam" or "sgd". */
const char *gesta_optim_name(gesta_optim_kind kind);

/* ---- the trainer -------------------------------------------------------- */

typedef struct gesta_trainer gesta_trainer;

typedef struct gesta_trainer_options {
  gesta_optim_config optim;
  /* Seeds the random masks (dropout): step s of layer l gets a seed derived
   * from (seed, s, l), so a resumed run repeats them exactly. */
  uint64_t seed;
} gesta_trainer_options;

/* Adam with Keras' defaults, seed 0. */
void gesta_trainer_options_init(gesta_trainer_options *options);

/* Called once per step after backward and before the update, with every
 * gradient in the backend's memory (gesta_trainer_grad). A data-parallel
 * run all-reduces them here. A non-OK return stops the step (no update). */
typedef gesta_status (*gesta_grad_hook)(void *user, gesta_trainer *trainer,
                                        gesta_error *err);

/* The trainer borrows model and backend and copies the model's weights to
 * the backend (the model must have weights). Every layer needs a forward
 * and a backward kernel on the backend: a layer without one is an error
 * naming it (training never falls back to the CPU). options may be NULL
 * (defaults). */
gesta_status gesta_trainer_new(const gesta_model *model, gesta_backend *backend,
                               int64_t batch,
                               const gesta_trainer_options *options,
                               gesta_trainer **out, gesta_error *err);
void gesta_trainer_free(gesta_trainer *trainer);

void gesta_trainer_set_grad_hook(gesta_trainer *trainer, gesta_grad_hook hook,
                                 void *user);
void gesta_trainer_set_learning_rate(gesta_trainer *trainer, double lr);
const gesta_optim_config *gesta_trainer_optim(const gesta_trainer *trainer);

/* Full shapes, batch first; the targets have the output's shape. */
gesta_shape gesta_trainer_input_shape(const gesta_trainer *trainer);
gesta_shape gesta_trainer_output_shape(const gesta_trainer *trainer);
/* Backend bytes the trainer holds (activations, gradients, state). */
size_t gesta_trainer_memory_bytes(const gesta_trainer *trainer);

typedef struct gesta_train_stats {
  double loss;     /* mean over the batch's rows */
  int64_t correct; /* rows whose arg-max matches the target's */
  int64_t rows;
} gesta_train_stats;

/* One training step on a host batch: forward in training mode, loss,
 * backward, the hook, the update. stats may be NULL. A loss that is not
 * finite stops the step before the update with an error saying so. */
gesta_status gesta_trainer_step(gesta_trainer *trainer, const float *input,
                                const float *targets, gesta_train_stats *stats,
                                gesta_error *err);

/* Forward (training mode), loss and backward only: the gradients are left
 * for gesta_trainer_grad / gesta_trainer_read_grad; nothing is updated but
 * batch_norm's moving statistics, and the step count does not move (the
 * same masks again). For checks and custom loops. */
gesta_status gesta_trainer_compute_gradients(gesta_trainer *trainer,
                                             const float *input,
                                             const float *targets,
                                             gesta_train_stats *stats,
                                             gesta_error *err);

/* Inference-mode forward (dropout off, batch_norm on its moving
 * statistics) with the trainer's current weights. output (the output
 * shape's count floats) and targets (then stats is filled) may be NULL. */
gesta_status gesta_trainer_evaluate(gesta_trainer *trainer, const float *input,
                                    const float *targets, float *output,
                                    gesta_train_stats *stats, gesta_error *err);

/* Optimiser updates done so far (Keras' `iterations`); setting it is for
 * resuming from a checkpoint. */
int64_t gesta_trainer_step_count(const gesta_trainer *trainer);
void gesta_trainer_set_step_count(gesta_trainer *trainer, int64_t steps);

/* The gradient of model->params[param] on the backend (borrowed, valid
 * until the trainer is freed), NULL for a non-trainable parameter. */
const gesta_tensor *gesta_trainer_grad(const gesta_trainer *trainer, int param);
/* Downloads that gradient (its shape's count floats). */
gesta_status gesta_trainer_read_grad(gesta_trainer *trainer, int param,
                                     float *host, gesta_error *err);

/* Copies the trainer's weights (trainable and moving statistics) into the
 * model's host copies, e.g. before gesta_model_save_weights. */
gesta_status gesta_trainer_download_weights(gesta_trainer *trainer,
                                            gesta_model *model,
                                            gesta_error *err);
/* Copies the model's host weights to the trainer (after loading a
 * checkpoint); the model must be the one the trainer was made from. */
gesta_status gesta_trainer_upload_weights(gesta_trainer *trainer,
                                          const gesta_model *model,
                                          gesta_error *err);

/* The optimiser's state as named tensors for checkpoints: Adam has "m" and
 * "v" per trainable parameter, SGD with momentum "momentum"; names are
 * "optimizer.<slot>.<param name>". Plain SGD has none. */
int gesta_trainer_state_count(const gesta_trainer *trainer);
/* Name (borrowed) and shape of state tensor i. */
const char *gesta_trainer_state_name(const gesta_trainer *trainer, int i,
                                     gesta_shape *shape);
gesta_status gesta_trainer_state_read(gesta_trainer *trainer, int i,
                                      float *host, gesta_error *err);
gesta_status gesta_trainer_state_write(gesta_trainer *trainer, int i,
                                       const float *host, gesta_error *err);

#ifdef __cplusplus
}
#endif
#endif
