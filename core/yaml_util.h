/* Internal helpers for reading a libyaml document: 1-based positions, typed
 * scalars and mapping checks, all reporting a user's mistake through one
 * gesta_error as "file:line:column: <where>message". */
#ifndef GESTA_YAML_UTIL_H
#define GESTA_YAML_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "gesta/error.h"
#include "gesta/op.h"

typedef struct gesta_yaml_reader {
  yaml_document_t *doc; /* borrowed */
  const char *file;     /* the name messages give the file, borrowed */
  gesta_error *err;     /* may be NULL */
  /* Prefix naming the part being read, e.g. "in layer 'conv1': "; empty at
   * the top level. */
  char where[GESTA_NAME_MAX + 32];
} gesta_yaml_reader;

/* Parses `text` into *doc (the caller deletes it on success). The text
 * must hold exactly one non-empty document; syntax errors carry libyaml's
 * problem and position. `name` stands for the file in messages. */
gesta_status gesta_yaml_load(yaml_document_t *doc, const char *name,
                             const char *text, size_t length, gesta_error *err);

/* Reads a whole file into a NUL-terminated buffer (transfer full: free()
 * it); files over max_bytes are refused as not what was meant. */
gesta_status gesta_yaml_read_file(const char *path, size_t max_bytes,
                                  char **text, size_t *length,
                                  gesta_error *err);

/* libyaml counts from 0; editors and our messages from 1. */
gesta_mark gesta_yaml_mark(const yaml_node_t *node);

/* "a mapping", "a list", "a value", for "must be X, got Y" messages. */
const char *gesta_yaml_kind(const yaml_node_t *node);

/* Sets a GESTA_STATUS_BAD_INPUT error at the node's position, prefixed with
 * reader->where, and returns that status. */
gesta_status gesta_yaml_fail(gesta_yaml_reader *reader, const yaml_node_t *at,
                             const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Levenshtein distance, capped at 255 characters per word. */
int gesta_yaml_edit_distance(const char *a, const char *b);

/* The candidate close enough to `word` to be what was meant, or NULL. */
const char *gesta_yaml_suggest(const char *word, const char *const *candidates,
                               int n_candidates);

/* "unknown <what> 'word'", with the closest candidate as a hint or, when
 * none is close, the list of all of them. */
gesta_status gesta_yaml_unknown(gesta_yaml_reader *reader,
                                const yaml_node_t *at, const char *what,
                                const char *word, const char *const *candidates,
                                int n_candidates);

/* Checks that `node` is a mapping whose keys are plain words, each used
 * once; `what` names it for the type error ("'input'", "a layer"). */
gesta_status gesta_yaml_check_mapping(gesta_yaml_reader *reader,
                                      const yaml_node_t *node,
                                      const char *what);

/* Checks that every key of a mapping is one of `allowed`. */
gesta_status gesta_yaml_check_keys(gesta_yaml_reader *reader,
                                   const yaml_node_t *map,
                                   const char *const *allowed, int n_allowed);

/* The value under `key`, or NULL; *key_node (optional) gets the key. */
yaml_node_t *gesta_yaml_lookup(gesta_yaml_reader *reader,
                               const yaml_node_t *map, const char *key,
                               yaml_node_t **key_node);

/* Typed values. `key` names the value in messages; the error points at the
 * value itself. */
gesta_status gesta_yaml_get_string(gesta_yaml_reader *reader, const char *key,
                                   const yaml_node_t *value, char *out,
                                   size_t size);
/* The scalar text of a value (NUL-free, non-empty), borrowed. */
gesta_status gesta_yaml_get_text(gesta_yaml_reader *reader, const char *key,
                                 const yaml_node_t *value, const char **out);
gesta_status gesta_yaml_get_int(gesta_yaml_reader *reader, const char *key,
                                const yaml_node_t *value, int64_t min,
                                int64_t max, int64_t *out);
gesta_status gesta_yaml_get_number(gesta_yaml_reader *reader, const char *key,
                                   const yaml_node_t *value, double min,
                                   double max, double *out);
gesta_status gesta_yaml_get_bool(gesta_yaml_reader *reader, const char *key,
                                 const yaml_node_t *value, bool *out);
/* `choices` is "a|b|c"; *out gets the index of the word given. */
gesta_status gesta_yaml_get_enum(gesta_yaml_reader *reader, const char *key,
                                 const yaml_node_t *value, const char *choices,
                                 int *out);
/* A list of min_len..max_len integers, each in [min, max]. */
gesta_status gesta_yaml_get_ints(gesta_yaml_reader *reader, const char *key,
                                 const yaml_node_t *value, int min_len,
                                 int max_len, int64_t min, int64_t max,
                                 int64_t *out, int *n_out);

#endif
