/* Metrics for people and programs: scikit-learn's classification report
 * and a confusion matrix as text, and the same numbers as JSON. */
#ifndef GESTA_METRICS_REPORT_H
#define GESTA_METRICS_REPORT_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "gesta/metrics.h"

/* The per-class table (precision, recall, f1-score, support) with the
 * macro and weighted averages, as classification_report prints it. */
void metrics_report_table(FILE *out, const gesta_confusion *cm,
                          const char *const *names);

/* The matrix: one row per true class ("  1 LowerArms  ..."), columns
 * numbered like the rows so long names do not widen them. */
void metrics_report_matrix(FILE *out, const gesta_confusion *cm,
                           const char *const *names);

/* Adds "accuracy", "correct", "samples", "classes", "per_class",
 * "macro_avg", "weighted_avg" and "confusion_matrix" (rows true) to obj. */
void metrics_report_json(cJSON *obj, const gesta_confusion *cm,
                         const char *const *names);

#endif
