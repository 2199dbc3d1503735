/* gesta — status codes and the error object every public call fills.
 *
 * One failure channel: a function returns a gesta_status and, when it is not
 * GESTA_STATUS_OK, has written a message a user can act on into the
 * gesta_error it was given (which may be NULL when the caller does not care).
 * Nothing partial is returned alongside an error. */
#ifndef GESTA_ERROR_H
#define GESTA_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gesta_status {
  GESTA_STATUS_OK = 0,
  GESTA_STATUS_BAD_INPUT,     /* the user's file, model or argument is wrong */
  GESTA_STATUS_IO_ERROR,      /* a file could not be opened, read or written */
  GESTA_STATUS_OUT_OF_MEMORY, /* host or device allocation failed */
  GESTA_STATUS_UNSUPPORTED,   /* valid, but this build or device cannot do it */
  GESTA_STATUS_BACKEND_ERROR, /* the backend (driver, BLAS) failed */
  GESTA_STATUS_INTERNAL       /* a gesta bug: please report it */
} gesta_status;

/* A position in a text file, 1-based like editors show it; 0 = unknown. */
typedef struct gesta_mark {
  int line;
  int column;
} gesta_mark;

#define GESTA_ERROR_MESSAGE_MAX 1024

typedef struct gesta_error {
  gesta_status status;
  char message[GESTA_ERROR_MESSAGE_MAX]; /* for the user: "file:line:col: in
                                            layer 'x': ..." */
  char detail[2048]; /* for a bug report: driver status, build log, ... */
} gesta_error;

void gesta_error_clear(gesta_error *err);

/* Fills err (when not NULL) with a printf-style message and returns status,
 * so a failing path can be `return gesta_error_set(err, ...);`. */
gesta_status gesta_error_set(gesta_error *err, gesta_status status,
                             const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Same, prefixed with "file:line:column: " (file may be NULL, mark.line 0
 * leaves the position out). */
gesta_status gesta_error_set_at(gesta_error *err, gesta_status status,
                                const char *file, gesta_mark mark,
                                const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Appends printf-style text to err->detail. */
void gesta_error_add_detail(gesta_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prepends "prefix" to an error message already set (used to add the file
 * position or the layer name to a message produced deeper down). */
void gesta_error_prefix(gesta_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

const char *gesta_status_name(gesta_status status);

/* The CLI's exit code for a status: 2 for bad input, 1 for anything else. */
int gesta_status_exit_code(gesta_status status);

#ifdef __cplusplus
}
#endif
#endif
