/* Shared by the OpenCL training tests: see grad_opencl_util.h. */
#define _POSIX_C_SOURCE 200809L

#include "grad_opencl_util.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gesta/opencl.h"

static uint64_t gou_next(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double gou_uniform(uint64_t *state, double lo, double hi) {
  return lo + (hi - lo) * (double)(gou_next(state) >> 11) * 0x1.0p-53;
}

/* ---- one layer ---------------------------------------------------------- */

static gesta_status gou_tensor(gou_layer *l, const gesta_shape *shape,
                               gesta_tensor *t, gesta_error *err) {
  size_t bytes = (size_t)gesta_shape_count(shape) * sizeof(float);
  gesta_buffer *b;
  gesta_status st;
  if (l->n_bufs == (int)(sizeof l->bufs / sizeof l->bufs[0]))
    return gesta_error_set(err, GESTA_STATUS_INTERNAL, "too many buffers");
  st = gesta_buffer_new(l->backend, bytes ? bytes : 4, &b, err);
  if (st != GESTA_STATUS_OK)
    return st;
  l->bufs[l->n_bufs++] = b;
  t->shape = *shape;
  t->buffer = b;
  t->offset = 0;
  return GESTA_STATUS_OK;
}

/* (n, dims...), with (N, T, ...) read as (N*T, ...) when time-distributed. */
static gesta_shape gou_full(int64_t n, const gesta_shape *s, bool td) {
  gesta_shape r = {s->rank + 1, {n}};
  for (int i = 0; i < s->rank; i++)
    r.dims[i + 1] = s->dims[i];
  if (td) {
    r.rank--;
    r.dims[0] = n * s->dims[0];
    for (int i = 1; i < r.rank; i++)
      r.dims[i] = s->dims[i];
  }
  return r;
}

gesta_status gou_layer_make(gesta_backend *backend, const gesta_model *model,
                            int64_t n, bool training, bool logits, gou_layer *l,
                            gesta_error *err) {
  const gesta_node *node = &model->nodes[0];
  gesta_shape xs = gou_full(n, &model->input_shape, node->time_distributed);
  gesta_shape ys = gou_full(n, &node->output_shape, node->time_distributed);
  gesta_status st;
  size_t ws = 0;
  memset(l, 0, sizeof *l);
  l->backend = backend;
  l->model = model;
  l->n_params = node->n_params;
  l->kernel = gesta_backend_kernel(backend, node->op);
  if (!l->kernel || !l->kernel->forward || !l->kernel->backward)
    return gesta_error_set(err, GESTA_STATUS_UNSUPPORTED,
                           "op %s has no forward or backward kernel on %s",
                           node->op->def->name, gesta_backend_name(backend));
  if ((st = gou_tensor(l, &xs, &l->x, err)) ||
      (st = gou_tensor(l, &xs, &l->dx, err)) ||
      (st = gou_tensor(l, &ys, &l->y, err)) ||
      (st = gou_tensor(l, &ys, &l->dy, err)))
    return st;
  for (int i = 0; i < node->n_params; i++) {
    const gesta_param *p = &model->params[node->first_param + i];
    if ((st = gou_tensor(l, &p->spec.shape, &l->params[i], err)) ||
        (st = gesta_buffer_upload(l->params[i].buffer, 0, p->data,
                                  gesta_tensor_bytes(&l->params[i]), err)))
      return st;
    if (p->spec.trainable &&
        (st = gou_tensor(l, &p->spec.shape, &l->dparams[i], err)))
      return st;
  }
  l->call.node = node;
  l->call.backend = backend;
  l->call.inputs = &l->x;
  l->call.n_inputs = 1;
  l->call.params = l->params;
  l->call.n_params = node->n_params;
  l->call.output = &l->y;
  l->call.training = training;
  l->call.seed = 0x1234abcdULL;
  l->grad.forward = &l->call;
  l->grad.output_grad = &l->dy;
  l->grad.output_grad_is_logits = logits;
  l->grad.input_grads = &l->dx;
  l->grad.param_grads = l->dparams;
  if (l->kernel->saved_bytes && l->kernel->saved_bytes(&l->call) > 0) {
    gesta_shape s = {1, {(int64_t)(l->kernel->saved_bytes(&l->call) / 4)}};
    float *zeros = calloc((size_t)s.dims[0] + 1, sizeof *zeros);
    /* Zeros where forward saves nothing (batch_norm at inference). */
    st = zeros ? gou_tensor(l, &s, &l->saved, err)
               : gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                                 "out of memory");
    if (st == GESTA_STATUS_OK)
      st = gesta_buffer_upload(l->saved.buffer, 0, zeros,
                               gesta_tensor_bytes(&l->saved), err);
    free(zeros);
    if (st != GESTA_STATUS_OK)
      return st;
    l->call.saved = &l->saved;
    l->saved_floats = s.dims[0];
  }
  if (l->kernel->workspace_bytes)
    ws = l->kernel->workspace_bytes(&l->call);
  if (l->kernel->backward_workspace_bytes &&
      l->kernel->backward_workspace_bytes(&l->grad) > ws)
    ws = l->kernel->backward_workspace_bytes(&l->grad);
  if (ws > 0) {
    gesta_shape s = {1, {(int64_t)((ws + 3) / 4)}};
    if ((st = gou_tensor(l, &s, &l->ws, err)))
      return st;
    l->call.workspace = &l->ws;
    l->grad.workspace = &l->ws;
  }
  return GESTA_STATUS_OK;
}

static gesta_status gou_poison(const gesta_tensor *t, gesta_error *err) {
  size_t n = (size_t)gesta_shape_count(&t->shape);
  float *nan = malloc(n * sizeof *nan + 1);
  gesta_status st;
  if (!nan)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
  for (size_t i = 0; i < n; i++)
    nan[i] = NAN;
  st = gesta_buffer_upload(t->buffer, 0, nan, n * sizeof *nan, err);
  free(nan);
  return st;
}

gesta_status gou_layer_run(gou_layer *l, const float *x, const float *dy,
                           gesta_error *err) {
  gesta_status st =
      gesta_buffer_upload(l->x.buffer, 0, x, gesta_tensor_bytes(&l->x), err);
  if (st == GESTA_STATUS_OK)
    st = gesta_buffer_upload(l->dy.buffer, 0, dy, gesta_tensor_bytes(&l->dy),
                             err);
  if (st == GESTA_STATUS_OK)
    st = gou_poison(&l->dx, err);
  for (int i = 0; i < l->n_params && st == GESTA_STATUS_OK; i++)
    if (l->dparams[i].buffer)
      st = gou_poison(&l->dparams[i], err);
  if (st == GESTA_STATUS_OK)
    st = l->kernel->forward(&l->call, err);
  if (st == GESTA_STATUS_OK)
    st = l->kernel->backward(&l->grad, err);
  return st;
}

static gesta_status gou_download(const gesta_tensor *t, float **out,
                                 gesta_error *err) {
  size_t bytes = gesta_tensor_bytes(t);
  *out = malloc(bytes + 1);
  if (!*out)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
  return gesta_buffer_download(t->buffer, 0, *out, bytes, err);
}

gesta_status gou_layer_fetch(gou_layer *l, gesta_error *err) {
  gesta_status st = gou_download(&l->y, &l->host_y, err);
  if (st == GESTA_STATUS_OK)
    st = gou_download(&l->dx, &l->host_dx, err);
  if (st == GESTA_STATUS_OK && l->saved.buffer)
    st = gou_download(&l->saved, &l->host_saved, err);
  for (int i = 0; i < l->n_params && st == GESTA_STATUS_OK; i++) {
    st = gou_download(&l->params[i], &l->host_params[i], err);
    if (st == GESTA_STATUS_OK && l->dparams[i].buffer)
      st = gou_download(&l->dparams[i], &l->host_dparams[i], err);
  }
  return st;
}

void gou_layer_free(gou_layer *l) {
  for (int i = 0; i < l->n_bufs; i++)
    gesta_buffer_free(l->bufs[i]);
  free(l->host_y);
  free(l->host_dx);
  free(l->host_saved);
  for (int i = 0; i < GESTA_MAX_PARAMS; i++) {
    free(l->host_params[i]);
    free(l->host_dparams[i]);
  }
  memset(l, 0, sizeof *l);
}

/* ---- devices and Oclgrind ----------------------------------------------- */

void gou_oclgrind_setup(gou_run *run) {
  const char *user = getenv("OCLGRIND_LOG");
  FILE *f;
  if (user && *user) {
    snprintf(run->oclgrind_log, sizeof run->oclgrind_log, "%s", user);
  } else {
    snprintf(run->oclgrind_log, sizeof run->oclgrind_log,
             "%s/oclgrind-grad-%ld.log", GESTA_TEST_TMP, (long)getpid());
    remove(run->oclgrind_log);
    setenv("OCLGRIND_LOG", run->oclgrind_log, 1);
    run->oclgrind_log_ours = true;
  }
  /* As test_ops: not OCLGRIND_UNINITIALIZED (unreliable in 21.10). */
  setenv("OCLGRIND_CHECK_API", "1", 0);
  setenv("OCLGRIND_DATA_RACES", "1", 0);
  f = fopen(run->oclgrind_log, "rb");
  if (f && fseek(f, 0, SEEK_END) == 0)
    run->oclgrind_seen = ftell(f);
  if (f)
    fclose(f);
}

bool gou_oclgrind_clean(gou_run *run, char *why, size_t size) {
  FILE *f = fopen(run->oclgrind_log, "rb");
  char line[256];
  bool clean = true;
  why[0] = '\0';
  if (!f)
    return true;
  if (fseek(f, run->oclgrind_seen, SEEK_SET) != 0) {
    fclose(f);
    return true;
  }
  while (fgets(line, sizeof line, f)) {
    char *s = line + strspn(line, " \t\r\n");
    s[strcspn(s, "\r\n")] = '\0';
    if (!*s)
      continue;
    if (clean)
      snprintf(why, size, "Oclgrind: %s", s);
    else if (strncmp(s, "Kernel:", 7) == 0 && !strstr(why, "Kernel:"))
      snprintf(why + strlen(why), size - strlen(why), " (%s)", s);
    clean = false;
  }
  run->oclgrind_seen = ftell(f);
  fclose(f);
  return clean;
}

static bool gou_contains(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  for (; *hay; hay++) {
    size_t i = 0;
    while (i < n && hay[i] &&
           tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
      i++;
    if (i == n)
      return true;
  }
  return n == 0;
}

void gou_open_devices(const gesta_context *ctx, gou_run *run,
                      const char *spec) {
  gesta_opencl_device_info *list = NULL;
  gesta_error err;
  int n = 0;
  gesta_error_clear(&err);
  if (gesta_opencl_list_devices(&list, &n, &err) != GESTA_STATUS_OK) {
    printf("backend opencl: FAIL: %s\n", err.message);
    run->failed++;
    return;
  }
  if (n == 0)
    printf("backend opencl: no OpenCL device; nothing to compare\n");
  for (int i = 0; i < n && run->n_targets < GOU_MAX_TARGETS; i++) {
    const gesta_opencl_device_info *d = &list[i];
    char id[24];
    gesta_backend *backend = NULL;
    gou_target *t;
    snprintf(id, sizeof id, "%d:%d", d->platform_index, d->device_index);
    if (spec && strcmp(spec, id) != 0 && !gou_contains(d->platform, spec) &&
        !gou_contains(d->name, spec) && !gou_contains(d->vendor, spec) &&
        !gou_contains(d->device_version, spec) &&
        !gou_contains(d->driver_version, spec))
      continue;
    gesta_opencl_options options = {.device_spec = id};
    if (gesta_backend_opencl_new(ctx, &options, &backend, &err) !=
        GESTA_STATUS_OK) {
      printf("backend opencl:%s: FAIL: %s\n", id, err.message);
      run->failed++;
      continue;
    }
    t = &run->targets[run->n_targets++];
    t->backend = backend;
    snprintf(t->label, sizeof t->label, "opencl:%s", id);
    t->oclgrind = strstr(d->platform, "Oclgrind") != NULL;
    printf("backend %s: %s (%s)%s\n", t->label, d->name, d->platform,
           t->oclgrind ? "; memory checks on, small cases only" : "");
  }
  free(list);
  if (spec && run->n_targets == 0) {
    printf("backend opencl: no device matches --device %s\n", spec);
    run->failed++;
  }
}

void gou_close(gou_run *run) {
  for (int i = 0; i < run->n_targets; i++)
    gesta_backend_free(run->targets[i].backend);
  if (run->oclgrind_log_ours)
    remove(run->oclgrind_log);
}

void gou_report(gou_run *run, bool ok, const char *op, const char *label,
                const char *target, const char *fmt, ...) {
  va_list ap;
  printf("%s.%-18s %s  %s  ", run->prefix ? run->prefix : "test", op, label,
         target);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  if (ok)
    run->passed++;
  else
    run->failed++;
}
