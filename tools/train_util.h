/* Helpers shared by gesta dataset and gesta train: Ctrl-C as a request to
 * stop cleanly, terminal detection, progress bars, small file writes. */
#ifndef GESTA_TRAIN_UTIL_H
#define GESTA_TRAIN_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "gesta/gesta.h"

/* Catches SIGINT (and SIGTERM) so the command can finish what it is doing
 * (a batch, a video) and stop cleanly; train_interrupt_restore puts the
 * previous handlers back. A second Ctrl-C while a stop is pending ends the
 * process at once, as the user then means it. */
void train_interrupt_install(void);
void train_interrupt_restore(void);
bool train_interrupted(void);
/* For gesta_dataset_build_options.cancelled. */
bool train_interrupted_cb(void *user);

/* A progress bar like Keras': "12/30 [=========>..........] ". */
void train_format_bar(char *buf, size_t size, int64_t done, int64_t total,
                      int width);
/* "1m 05s", "12s", "850ms" */
void train_format_seconds(char *buf, size_t size, double seconds);

/* Writes text to path atomically (temporary file, fsync, rename). */
gesta_status train_write_file(const char *path, const char *text, size_t n,
                              gesta_error *err);
/* Copies a file (atomically). */
gesta_status train_copy_file(const char *from, const char *to,
                             gesta_error *err);
/* Joins dir and name into a malloc'd string; NULL when out of memory. */
char *train_path(const char *dir, const char *name);
/* mkdir -p for one level; an existing folder is fine. */
gesta_status train_make_dir(const char *dir, gesta_error *err);

#endif
