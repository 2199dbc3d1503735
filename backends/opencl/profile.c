/* Profiling events: while gesta_opencl_profile_begin is in force, every
 * command the backend enqueues gets an event tagged with the layer the
 * executor said it is running (the vtable's begin_layer); take waits for
 * the queue once and turns the events into per-layer device times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencl_private.h"

static void profile_drop_records(gesta_opencl_profiler *p) {
  for (int i = 0; i < p->n_records; i++) {
    if (p->records[i].event)
      clReleaseEvent(p->records[i].event);
    if (p->records[i].start)
      clReleaseEvent(p->records[i].start);
  }
  p->n_records = 0;
  p->n_labels = 0;
  p->label = -1;
  p->lost = 0;
}

void gesta_opencl_profile_release(gesta_opencl *cl) {
  profile_drop_records(&cl->profile);
  free(cl->profile.records);
  free(cl->profile.labels);
  memset(&cl->profile, 0, sizeof cl->profile);
}

cl_event *gesta_opencl_profile_event(gesta_opencl *cl,
                                     gesta_opencl_command kind) {
  gesta_opencl_profiler *p = &cl->profile;
  gesta_opencl_record *r;
  if (!p->active)
    return NULL;
  if (p->n_records == p->cap_records) {
    int cap = p->cap_records ? 2 * p->cap_records : 256;
    gesta_opencl_record *grown =
        realloc(p->records, (size_t)cap * sizeof *grown);
    if (!grown) {
      /* The run goes on unmeasured rather than failing. */
      p->lost++;
      return NULL;
    }
    p->records = grown;
    p->cap_records = cap;
  }
  r = &p->records[p->n_records++];
  r->event = NULL;
  r->start = NULL;
  r->label = p->label;
  r->gemm_size = 0;
  r->kind = kind;
  snprintf(r->what, sizeof r->what, "%s",
           kind == GESTA_OPENCL_COPY ? "copy" : "");
  return &r->event;
}

gesta_opencl_record *gesta_opencl_profile_last(gesta_opencl *cl) {
  gesta_opencl_profiler *p = &cl->profile;
  return p->active && p->n_records ? &p->records[p->n_records - 1] : NULL;
}

void gesta_opencl_profile_label(void *impl, const char *layer) {
  gesta_opencl *cl = impl;
  gesta_opencl_profiler *p = &cl->profile;
  if (!p->active)
    return;
  p->label = -1;
  if (!layer)
    return;
  /* Plans run their layers in order: search from the newest label. */
  for (int i = p->n_labels - 1; i >= 0; i--)
    if (strcmp(p->labels[i], layer) == 0) {
      p->label = i;
      return;
    }
  if (p->n_labels == p->cap_labels) {
    int cap = p->cap_labels ? 2 * p->cap_labels : 32;
    char(*grown)[GESTA_NAME_MAX] =
        realloc(p->labels, (size_t)cap * sizeof *grown);
    if (!grown)
      return; /* its commands count as outside any layer */
    p->labels = grown;
    p->cap_labels = cap;
  }
  snprintf(p->labels[p->n_labels], sizeof p->labels[0], "%s", layer);
  p->label = p->n_labels++;
}

static gesta_opencl *profile_backend(gesta_backend *backend, const char *what,
                                     gesta_error *err) {
  gesta_opencl *cl = gesta_opencl_from_backend(backend);
  if (!cl) {
    gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                    "%s: profiling events need the OpenCL backend, not %s",
                    what, backend ? gesta_backend_name(backend) : "none");
    return NULL;
  }
  if (!cl->profile.enabled) {
    gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                    "%s: the OpenCL backend on %s was opened without "
                    "profiling (set gesta_opencl_options.profiling)",
                    what, cl->label);
    return NULL;
  }
  return cl;
}

gesta_status gesta_opencl_profile_begin(gesta_backend *backend,
                                        gesta_error *err) {
  gesta_opencl *cl =
      profile_backend(backend, "gesta_opencl_profile_begin", err);
  if (!cl)
    return GESTA_STATUS_BAD_INPUT;
  profile_drop_records(&cl->profile);
  cl->profile.active = true;
  return GESTA_STATUS_OK;
}

static gesta_status profile_time(gesta_opencl *cl, cl_event ev,
                                 cl_profiling_info what, cl_ulong *out,
                                 gesta_error *err) {
  cl_int rc = clGetEventProfilingInfo(ev, what, sizeof *out, out, NULL);
  if (rc != CL_SUCCESS) {
    gesta_opencl_check(rc, "clGetEventProfilingInfo", err);
    gesta_error_add_detail(err, "on %s", cl->label);
  }
  return rc == CL_SUCCESS ? GESTA_STATUS_OK : GESTA_STATUS_BACKEND_ERROR;
}

/* Start and end of one record in device nanoseconds. */
static gesta_status profile_span(gesta_opencl *cl, const gesta_opencl_record *r,
                                 cl_ulong *start, cl_ulong *end,
                                 gesta_error *err) {
  cl_ulong marker = 0;
  gesta_status st =
      profile_time(cl, r->event, CL_PROFILING_COMMAND_START, start, err);
  if (st == GESTA_STATUS_OK)
    st = profile_time(cl, r->event, CL_PROFILING_COMMAND_END, end, err);
  /* From the marker's end: CLBlast's earlier kernels (padding, transposes)
   * ran between it and the last one. */
  if (st == GESTA_STATUS_OK && r->start &&
      clGetEventProfilingInfo(r->start, CL_PROFILING_COMMAND_END, sizeof marker,
                              &marker, NULL) == CL_SUCCESS &&
      marker > 0 && marker < *start)
    *start = marker;
  if (*end < *start)
    *end = *start;
  return st;
}

static gesta_status profile_collect(gesta_opencl *cl, gesta_opencl_profile *out,
                                    gesta_error *err) {
  gesta_opencl_profiler *p = &cl->profile;
  cl_ulong first = 0, last = 0;
  /* One entry per label and one for commands outside any layer. */
  int *slot = malloc((size_t)(p->n_labels + 1) * sizeof *slot);
  out->layers = calloc((size_t)(p->n_labels + 1), sizeof *out->layers);
  out->gemm_sizes = calloc((size_t)(p->n_records + 1), sizeof *out->gemm_sizes);
  if (!slot || !out->layers || !out->gemm_sizes) {
    free(slot);
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory reading profiling events");
  }
  for (int i = 0; i <= p->n_labels; i++)
    slot[i] = -1;
  for (int i = 0; i < p->n_records; i++) {
    const gesta_opencl_record *r = &p->records[i];
    gesta_opencl_profile_layer *l;
    cl_ulong start, end, ns;
    int key = r->label + 1;
    gesta_status st;
    if (!r->event)
      continue;
    st = profile_span(cl, r, &start, &end, err);
    if (st != GESTA_STATUS_OK) {
      free(slot);
      return st;
    }
    if (out->commands == 0 || start < first)
      first = start;
    if (out->commands == 0 || end > last)
      last = end;
    if (slot[key] < 0) {
      slot[key] = out->n_layers++;
      snprintf(out->layers[slot[key]].label, sizeof out->layers[0].label, "%s",
               r->label >= 0 ? p->labels[r->label] : "");
    }
    l = &out->layers[slot[key]];
    ns = end - start;
    gesta_log(cl->ctx, GESTA_LOG_DEBUG, "profile: %s %s %.3f ms",
              r->label >= 0 ? p->labels[r->label] : "-", r->what,
              1e-6 * (double)ns);
    l->busy_ns += ns;
    l->commands++;
    out->busy_ns += ns;
    out->commands++;
    if (r->kind == GESTA_OPENCL_GEMM) {
      l->gemm_ns += ns;
      l->gemms++;
      out->gemm_ns += ns;
      out->gemm_sizes[out->gemms++] = r->gemm_size;
    } else if (r->kind == GESTA_OPENCL_COPY) {
      l->copy_ns += ns;
      out->copy_ns += ns;
    }
  }
  out->span_ns = last - first;
  out->lost = p->lost;
  free(slot);
  return GESTA_STATUS_OK;
}

gesta_status gesta_opencl_profile_take(gesta_backend *backend,
                                       gesta_opencl_profile *out,
                                       gesta_error *err) {
  gesta_opencl *cl = profile_backend(backend, "gesta_opencl_profile_take", err);
  gesta_status st;
  memset(out, 0, sizeof *out);
  if (!cl)
    return GESTA_STATUS_BAD_INPUT;
  if (!cl->profile.active)
    return gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                           "gesta_opencl_profile_take without "
                           "gesta_opencl_profile_begin");
  cl->profile.active = false;
  st = gesta_opencl_check(clFinish(cl->queue), "clFinish", err);
  if (st == GESTA_STATUS_OK)
    st = profile_collect(cl, out, err);
  profile_drop_records(&cl->profile);
  if (st != GESTA_STATUS_OK)
    gesta_opencl_profile_free(out);
  return st;
}

void gesta_opencl_profile_free(gesta_opencl_profile *profile) {
  if (!profile)
    return;
  free(profile->layers);
  free(profile->gemm_sizes);
  memset(profile, 0, sizeof *profile);
}
