/* Status codes and the error object. */
#include "gesta/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void gesta_error_clear(gesta_error *err) {
  if (!err)
    return;
  err->status = GESTA_STATUS_OK;
  err->message[0] = '\0';
  err->detail[0] = '\0';
}

static void error_vset(gesta_error *err, gesta_status status,
                       const char *prefix, const char *fmt, va_list ap) {
  size_t used;
  err->status = status;
  err->detail[0] = '\0';
  used = (size_t)snprintf(err->message, sizeof err->message, "%s", prefix);
  if (used >= sizeof err->message)
    return;
  vsnprintf(err->message + used, sizeof err->message - used, fmt, ap);
}

gesta_status gesta_error_set(gesta_error *err, gesta_status status,
                             const char *fmt, ...) {
  va_list ap;
  if (!err)
    return status;
  va_start(ap, fmt);
  error_vset(err, status, "", fmt, ap);
  va_end(ap);
  return status;
}

gesta_status gesta_error_set_at(gesta_error *err, gesta_status status,
                                const char *file, gesta_mark mark,
                                const char *fmt, ...) {
  char prefix[512] = "";
  va_list ap;
  if (!err)
    return status;
  if (file && mark.line > 0)
    snprintf(prefix, sizeof prefix, "%s:%d:%d: ", file, mark.line, mark.column);
  else if (file)
    snprintf(prefix, sizeof prefix, "%s: ", file);
  va_start(ap, fmt);
  error_vset(err, status, prefix, fmt, ap);
  va_end(ap);
  return status;
}

void gesta_error_add_detail(gesta_error *err, const char *fmt, ...) {
  size_t used;
  va_list ap;
  if (!err)
    return;
  used = strlen(err->detail);
  if (used >= sizeof err->detail - 1)
    return;
  va_start(ap, fmt);
  vsnprintf(err->detail + used, sizeof err->detail - used, fmt, ap);
  va_end(ap);
}

void gesta_error_prefix(gesta_error *err, const char *fmt, ...) {
  char old[GESTA_ERROR_MESSAGE_MAX];
  size_t used, rest;
  va_list ap;
  if (!err)
    return;
  memcpy(old, err->message, sizeof old);
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  /* Truncating a long message is fine; its start says the most. */
  used = strlen(err->message);
  rest = sizeof err->message - 1 - used;
  old[sizeof old - 1] = '\0';
  if (strlen(old) < rest)
    rest = strlen(old);
  memcpy(err->message + used, old, rest);
  err->message[used + rest] = '\0';
}

const char *gesta_status_name(gesta_status status) {
  switch (status) {
  case GESTA_STATUS_OK:
    return "ok";
  case GESTA_STATUS_BAD_INPUT:
    return "bad input";
  case GESTA_STATUS_IO_ERROR:
    return "i/o error";
  case GESTA_STATUS_OUT_OF_MEMORY:
    return "out of memory";
  case GESTA_STATUS_UNSUPPORTED:
    return "unsupported";
  case GESTA_STATUS_BACKEND_ERROR:
    return "backend error";
  case GESTA_STATUS_INTERNAL:
    return "internal error";
  }
  return "unknown status";
}

int gesta_status_exit_code(gesta_status status) {
  switch (status) {
  case GESTA_STATUS_OK:
    return 0;
  case GESTA_STATUS_BAD_INPUT:
  case GESTA_STATUS_IO_ERROR: /* a file the user named cannot be read */
  case GESTA_STATUS_UNSUPPORTED:
    return 2;
  default:
    return 1;
  }
}
