/* gesta check's comparisons, tolerances, report (table and JSON) and the
 * per-device record of passed checks kept next to the kernel cache. */
#ifndef GESTA_CHECK_REPORT_H
#define GESTA_CHECK_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gesta/gesta.h"
#if GESTA_HAVE_OPENCL
#include "gesta/opencl.h"
#endif

/* How far a device's tensor is from the CPU reference's. */
typedef struct check_stats {
  double max_abs;    /* max |device - cpu| */
  double max_rel;    /* max |device - cpu| / max(|cpu|, 1e-3 * max |cpu|) */
  double nmse;       /* sum (device - cpu)^2 / sum cpu^2 */
  int64_t nonfinite; /* elements finite on one side only, or NaN vs number */
  bool valid;        /* computed */
} check_stats;

void check_stats_compute(const float *got, const float *want, int64_t n,
                         check_stats *out);
/* The relative RMS error sqrt(nmse) the tolerances bound. */
double check_stats_rel(const check_stats *s);
bool check_stats_pass(const check_stats *s, double tolerance);

#define CHECK_MAX_TOLERANCES 32

/* Relative RMS error allowed per op type, and for the model's output after
 * a whole run ("model"). */
typedef struct check_tolerances {
  struct {
    char op[32];
    double rel;
  } items[CHECK_MAX_TOLERANCES];
  int n;
} check_tolerances;

void check_tolerances_default(check_tolerances *t);
/* "op=rel,op=rel": false with why set on a bad item. */
bool check_tolerances_parse(check_tolerances *t, const char *text, char *why,
                            size_t size);
double check_tolerance_for(const check_tolerances *t, const char *op);

typedef struct check_layer {
  const gesta_node *node;
  gesta_shape shape; /* the layer's output, batch first */
  char placement[200];
  bool fallback;
  check_stats isolated; /* the layer alone, on the CPU's inputs */
  check_stats chained;  /* in a whole-model run on the device */
  double tolerance;
  bool isolated_ok, chained_ok;
} check_layer;

typedef struct check_device {
  char spec[32];   /* "P:D" */
  char label[320]; /* what the report calls it */
  char name[128], platform[128], driver[64];
  check_layer *layers; /* one per model layer */
  int first_bad;       /* first layer failing on its own, -1 if none */
  int first_drift;     /* first layer off in the whole run, -1 if none */
  check_stats output;  /* the model's output in the whole run */
  bool output_ok;
  bool passed;
  char error[1200]; /* the device could not run the check: why */
} check_device;

typedef struct check_report {
  const gesta_model *model;
  const char *model_arg;             /* as given on the command line */
  char weights[GESTA_PATH_MAX + 64]; /* "FILE" or "seeded random" text */
  bool random_weights;
  uint64_t seed;
  int64_t batch;
  const char *only_layer; /* --layer, or NULL */
  check_tolerances tolerances;
  check_device *devices;
  int n_devices;
  bool passed;
} check_report;

void check_report_print(FILE *out, const check_report *r);
/* NULL on success, else why the file could not be written. path "-" is
 * stdout. */
gesta_status check_report_write_json(const check_report *r, const char *path,
                                     gesta_error *err);

/* One line a user can paste to rerun only a layer on a device. */
void check_rerun_command(const check_report *r, const check_device *d,
                         int layer, char *buf, size_t size);

/* Records each device's verdict for this model in
 * $XDG_CACHE_HOME/gesta/check-results.json (else ~/.cache/gesta/...),
 * keyed by device name and driver version. Failures to write are logged,
 * never errors: the check's verdict does not depend on them. */
void check_results_record(const gesta_context *ctx, const check_report *r);

#if GESTA_HAVE_OPENCL
/* What `gesta devices` shows for a device: "passed (cnn, lrcn; 2026-11-25)",
 * "FAILED (lrcn: conv2 (conv2d); 2026-11-25)", or NULL when gesta check
 * never ran there with this driver. Returns buf or NULL. */
const char *cli_check_status_for(const gesta_opencl_device_info *d, char *buf,
                                 size_t n);
#endif

#endif
