/* Model weights as safetensors: one F32 tensor per parameter, named
 * "<layer>.<param>" in Keras layouts, so a Keras import is a rename. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gesta/model.h"
#include "gesta/safetensors.h"

/* How many unexpected tensor names an error lists before "and N more". */
#define WEIGHTS_EXTRA_LISTED 3

bool gesta_model_has_weights(const gesta_model *model) {
  for (int i = 0; i < model->n_params; i++) {
    if (!model->params[i].data) {
      return false;
    }
  }
  return true;
}

gesta_status gesta_model_save_weights(const gesta_model *model,
                                      const char *path, gesta_error *err) {
  for (int i = 0; i < model->n_params; i++) {
    if (!model->params[i].data) {
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "cannot save weights to %s: parameter '%s' has "
                             "no values yet (initialise the model or load "
                             "its weights first)",
                             path, model->params[i].name);
    }
  }
  gesta_named_tensor *tensors = NULL;
  if (model->n_params > 0) {
    tensors = calloc((size_t)model->n_params, sizeof *tensors);
    if (!tensors) {
      return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory saving weights to %s", path);
    }
  }
  for (int i = 0; i < model->n_params; i++) {
    tensors[i].name = model->params[i].name;
    tensors[i].shape = model->params[i].spec.shape;
    tensors[i].data = model->params[i].data;
  }
  const gesta_metadata_pair metadata[] = {{"format", "gesta"},
                                          {"model", model->name}};
  gesta_status status =
      gesta_safetensors_write(path, tensors, model->n_params, metadata,
                              (int)(sizeof metadata / sizeof metadata[0]), err);
  free(tensors);
  return status;
}

static bool weights_model_has(const gesta_model *model, const char *name) {
  for (int i = 0; i < model->n_params; i++) {
    if (strcmp(model->params[i].name, name) == 0) {
      return true;
    }
  }
  return false;
}

/* Everything in the file is checked against the model first, so a failed
 * load leaves the model's current weights as they were. */
static gesta_status weights_check(const gesta_model *model,
                                  const gesta_safetensors *file,
                                  const char *path, gesta_error *err) {
  char want[128], found[128];
  int matched = 0;
  for (int i = 0; i < model->n_params; i++) {
    const gesta_param *p = &model->params[i];
    gesta_shape_format(&p->spec.shape, want, sizeof want);
    const gesta_safetensors_entry *e = gesta_safetensors_find(file, p->name);
    if (!e) {
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "weights file %s has no tensor '%s' (expected "
                             "shape %s)",
                             path, p->name, want);
    }
    if (!gesta_shape_equal(&e->shape, &p->spec.shape)) {
      return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "weights file %s: tensor '%s' has shape %s, the "
                             "model expects %s",
                             path, p->name,
                             gesta_shape_format(&e->shape, found, sizeof found),
                             want);
    }
    matched++;
  }
  int n_extra = gesta_safetensors_count(file) - matched;
  if (n_extra <= 0) {
    return GESTA_STATUS_OK;
  }
  char list[512] = "";
  size_t used = 0;
  int listed = 0;
  for (int i = 0; i < gesta_safetensors_count(file); i++) {
    const char *name = gesta_safetensors_entry_at(file, i)->name;
    if (weights_model_has(model, name)) {
      continue;
    }
    if (listed == WEIGHTS_EXTRA_LISTED) {
      snprintf(list + used, sizeof list - used, " and %d more",
               n_extra - listed);
      break;
    }
    int w = snprintf(list + used, sizeof list - used, "%s'%.*s'",
                     listed ? ", " : "", 96, name);
    if (w > 0 && (size_t)w < sizeof list - used) {
      used += (size_t)w;
    }
    listed++;
  }
  return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                         "weights file %s has %d tensor%s the model '%s' does "
                         "not have: %s",
                         path, n_extra, n_extra == 1 ? "" : "s", model->name,
                         list);
}

gesta_status gesta_model_load_weights(gesta_model *model, const char *path,
                                      gesta_error *err) {
  gesta_safetensors *file = NULL;
  float **fresh = NULL;
  gesta_status status = gesta_safetensors_open(path, &file, err);
  if (status != GESTA_STATUS_OK) {
    return status;
  }
  status = weights_check(model, file, path, err);
  if (status != GESTA_STATUS_OK) {
    goto done;
  }
  if (model->n_params > 0) {
    fresh = calloc((size_t)model->n_params, sizeof *fresh);
    if (!fresh) {
      status = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                               "out of memory loading %s", path);
      goto done;
    }
  }
  for (int i = 0; i < model->n_params; i++) {
    const gesta_safetensors_entry *e =
        gesta_safetensors_find(file, model->params[i].name);
    /* A zero-element parameter still gets a buffer: has_weights checks for
     * non-NULL data. */
    fresh[i] = malloc(e->bytes ? e->bytes : sizeof(float));
    if (!fresh[i]) {
      status = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                               "out of memory loading %s (%zu bytes for '%s')",
                               path, e->bytes, e->name);
      goto done;
    }
    gesta_safetensors_read(e, fresh[i]);
  }
  for (int i = 0; i < model->n_params; i++) {
    free(model->params[i].data);
    model->params[i].data = fresh[i];
    fresh[i] = NULL;
  }
  status = GESTA_STATUS_OK;
done:
  if (fresh) {
    for (int i = 0; i < model->n_params; i++) {
      free(fresh[i]);
    }
  }
  free(fresh);
  gesta_safetensors_close(file);
  return status;
}
