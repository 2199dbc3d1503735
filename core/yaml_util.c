/* Reading typed values out of a libyaml document with positioned errors. */
#include "yaml_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gesta_mark gesta_yaml_mark(const yaml_node_t *node) {
  gesta_mark mark = {0, 0};
  if (node) {
    mark.line = (int)node->start_mark.line + 1;
    mark.column = (int)node->start_mark.column + 1;
  }
  return mark;
}

const char *gesta_yaml_kind(const yaml_node_t *node) {
  if (!node)
    return "nothing";
  switch (node->type) {
  case YAML_MAPPING_NODE:
    return "a mapping";
  case YAML_SEQUENCE_NODE:
    return "a list";
  default:
    return "a value";
  }
}

gesta_status gesta_yaml_fail(gesta_yaml_reader *reader, const yaml_node_t *at,
                             const char *fmt, ...) {
  char text[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  return gesta_error_set_at(reader->err, GESTA_STATUS_BAD_INPUT, reader->file,
                            gesta_yaml_mark(at), "%s%s", reader->where, text);
}

int gesta_yaml_edit_distance(const char *a, const char *b) {
  enum { CAP = 255 };
  int row[CAP + 1];
  size_t la = strlen(a), lb = strlen(b);
  if (la > CAP)
    la = CAP;
  if (lb > CAP)
    lb = CAP;
  for (size_t j = 0; j <= lb; j++)
    row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int diagonal = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int above = row[j];
      int best = diagonal + (a[i - 1] != b[j - 1]);
      if (above + 1 < best)
        best = above + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diagonal = above;
    }
  }
  return row[lb];
}

/* Keras spellings like kernel_size for kernel are prefixes of each other. */
static bool yaml_is_prefix_match(const char *word, const char *candidate) {
  size_t lw = strlen(word), lc = strlen(candidate);
  size_t shorter = lw < lc ? lw : lc;
  return shorter >= 4 && strncmp(word, candidate, shorter) == 0;
}

const char *gesta_yaml_suggest(const char *word, const char *const *candidates,
                               int n_candidates) {
  size_t len = strlen(word);
  int limit = len <= 3 ? 1 : len <= 8 ? 2 : 3;
  const char *best = NULL;
  int best_distance = limit + 1;
  for (int i = 0; i < n_candidates; i++) {
    int d = gesta_yaml_edit_distance(word, candidates[i]);
    if (d < best_distance && d < (int)len) {
      best = candidates[i];
      best_distance = d;
    }
  }
  for (int i = 0; !best && i < n_candidates; i++)
    if (yaml_is_prefix_match(word, candidates[i]))
      best = candidates[i];
  return best;
}

static const char *yaml_scalar_text(const yaml_node_t *node) {
  return (const char *)node->data.scalar.value;
}

/* A plain `~`, `null` or nothing at all is YAML's null, not a word. */
static bool yaml_is_null(const yaml_node_t *node) {
  const char *text = NULL;
  if (node->type != YAML_SCALAR_NODE ||
      node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return false;
  text = yaml_scalar_text(node);
  return !*text || !strcmp(text, "~") || !strcmp(text, "null") ||
         !strcmp(text, "Null") || !strcmp(text, "NULL");
}

static gesta_status yaml_scalar(gesta_yaml_reader *reader, const char *key,
                                const yaml_node_t *value, const char *expected,
                                const char **out) {
  if (value->type != YAML_SCALAR_NODE)
    return gesta_yaml_fail(reader, value, "key '%s' must be %s, got %s", key,
                           expected, gesta_yaml_kind(value));
  if (yaml_is_null(value) || !*yaml_scalar_text(value))
    return gesta_yaml_fail(reader, value, "key '%s' has no value (expected %s)",
                           key, expected);
  if (strlen(yaml_scalar_text(value)) != value->data.scalar.length)
    return gesta_yaml_fail(reader, value, "key '%s' contains a NUL character",
                           key);
  *out = yaml_scalar_text(value);
  return GESTA_STATUS_OK;
}

gesta_status gesta_yaml_unknown(gesta_yaml_reader *reader,
                                const yaml_node_t *at, const char *what,
                                const char *word, const char *const *candidates,
                                int n_candidates) {
  char list[768] = "";
  size_t used = 0;
  const char *hint = gesta_yaml_suggest(word, candidates, n_candidates);
  if (hint)
    return gesta_yaml_fail(reader, at, "unknown %s '%s' (did you mean '%s'?)",
                           what, word, hint);
  for (int i = 0; i < n_candidates && used < sizeof list; i++)
    used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                             i ? ", " : "", candidates[i]);
  return gesta_yaml_fail(reader, at, "unknown %s '%s' (known %ss: %s)", what,
                         word, what, list);
}

gesta_status gesta_yaml_check_mapping(gesta_yaml_reader *reader,
                                      const yaml_node_t *node,
                                      const char *what) {
  yaml_node_pair_t *pairs, *top;
  if (node->type != YAML_MAPPING_NODE)
    return gesta_yaml_fail(reader, node, "%s must be a mapping, got %s", what,
                           gesta_yaml_kind(node));
  pairs = node->data.mapping.pairs.start;
  top = node->data.mapping.pairs.top;
  for (yaml_node_pair_t *p = pairs; p < top; p++) {
    yaml_node_t *key = yaml_document_get_node(reader->doc, p->key);
    if (!key || key->type != YAML_SCALAR_NODE || yaml_is_null(key))
      return gesta_yaml_fail(reader, key ? key : node,
                             "keys of %s must be plain words, got %s", what,
                             key ? gesta_yaml_kind(key) : "nothing");
    for (yaml_node_pair_t *q = pairs; q < p; q++) {
      yaml_node_t *earlier = yaml_document_get_node(reader->doc, q->key);
      if (!strcmp(yaml_scalar_text(earlier), yaml_scalar_text(key)))
        return gesta_yaml_fail(
            reader, key, "key '%s' is given twice (first at line %d)",
            yaml_scalar_text(key), gesta_yaml_mark(earlier).line);
    }
  }
  return GESTA_STATUS_OK;
}

gesta_status gesta_yaml_check_keys(gesta_yaml_reader *reader,
                                   const yaml_node_t *map,
                                   const char *const *allowed, int n_allowed) {
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
       p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *key = yaml_document_get_node(reader->doc, p->key);
    const char *text = yaml_scalar_text(key);
    bool known = false;
    for (int i = 0; i < n_allowed && !known; i++)
      known = !strcmp(text, allowed[i]);
    if (known)
      continue;
    return gesta_yaml_unknown(reader, key, "key", text, allowed, n_allowed);
  }
  return GESTA_STATUS_OK;
}

yaml_node_t *gesta_yaml_lookup(gesta_yaml_reader *reader,
                               const yaml_node_t *map, const char *key,
                               yaml_node_t **key_node) {
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
       p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(reader->doc, p->key);
    if (k && k->type == YAML_SCALAR_NODE && !strcmp(yaml_scalar_text(k), key)) {
      if (key_node)
        *key_node = k;
      return yaml_document_get_node(reader->doc, p->value);
    }
  }
  return NULL;
}

gesta_status gesta_yaml_get_text(gesta_yaml_reader *reader, const char *key,
                                 const yaml_node_t *value, const char **out) {
  return yaml_scalar(reader, key, value, "a single value", out);
}

gesta_status gesta_yaml_get_string(gesta_yaml_reader *reader, const char *key,
                                   const yaml_node_t *value, char *out,
                                   size_t size) {
  const char *text = NULL;
  gesta_status st = yaml_scalar(reader, key, value, "a string", &text);
  if (st != GESTA_STATUS_OK)
    return st;
  if (strlen(text) >= size)
    return gesta_yaml_fail(reader, value,
                           "key '%s' is too long (at most %zu characters)", key,
                           size - 1);
  memcpy(out, text, strlen(text) + 1);
  return GESTA_STATUS_OK;
}

gesta_status gesta_yaml_get_int(gesta_yaml_reader *reader, const char *key,
                                const yaml_node_t *value, int64_t min,
                                int64_t max, int64_t *out) {
  const char *text = NULL;
  char *end;
  long long v;
  gesta_status st = yaml_scalar(reader, key, value, "an integer", &text);
  if (st != GESTA_STATUS_OK)
    return st;
  errno = 0;
  v = strtoll(text, &end, 10);
  if (end == text || *end != '\0')
    return gesta_yaml_fail(reader, value,
                           "key '%s' must be an integer, got '%s'", key, text);
  if (errno == ERANGE || v < min || v > max)
    return gesta_yaml_fail(reader, value,
                           "key '%s' must be between %lld and %lld, got %s",
                           key, (long long)min, (long long)max, text);
  *out = (int64_t)v;
  return GESTA_STATUS_OK;
}

gesta_status gesta_yaml_get_number(gesta_yaml_reader *reader, const char *key,
                                   const yaml_node_t *value, double min,
                                   double max, double *out) {
  const char *text = NULL;
  char *end;
  double v;
  gesta_status st = yaml_scalar(reader, key, value, "a number", &text);
  if (st != GESTA_STATUS_OK)
    return st;
  errno = 0;
  v = strtod(text, &end);
  if (end == text || *end != '\0' || errno == ERANGE || !isfinite(v))
    return gesta_yaml_fail(
        reader, value, "key '%s' must be a finite number, got '%s'", key, text);
  if (v < min || v > max)
    return gesta_yaml_fail(reader, value,
                           "key '%s' must be between %g and %g, got %s", key,
                           min, max, text);
  *out = v;
  return GESTA_STATUS_OK;
}

gesta_status gesta_yaml_get_bool(gesta_yaml_reader *reader, const char *key,
                                 const yaml_node_t *value, bool *out) {
  const char *text = NULL;
  gesta_status st = yaml_scalar(reader, key, value, "true or false", &text);
  if (st != GESTA_STATUS_OK)
    return st;
  if (!strcmp(text, "true") || !strcmp(text, "True") || !strcmp(text, "TRUE"))
    *out = true;
  else if (!strcmp(text, "false") || !strcmp(text, "False") ||
           !strcmp(text, "FALSE"))
    *out = false;
  else
    return gesta_yaml_fail(
        reader, value, "key '%s' must be true or false, got '%s'", key, text);
  return GESTA_STATUS_OK;
}

gesta_status gesta_yaml_get_enum(gesta_yaml_reader *reader, const char *key,
                                 const yaml_node_t *value, const char *choices,
                                 int *out) {
  const char *text = NULL, *p = choices;
  size_t len;
  gesta_status st = yaml_scalar(reader, key, value, choices, &text);
  if (st != GESTA_STATUS_OK)
    return st;
  len = strlen(text);
  for (int index = 0; p; index++) {
    const char *bar = strchr(p, '|');
    size_t n = bar ? (size_t)(bar - p) : strlen(p);
    if (n == len && !strncmp(p, text, n)) {
      *out = index;
      return GESTA_STATUS_OK;
    }
    p = bar ? bar + 1 : NULL;
  }
  return gesta_yaml_fail(reader, value, "key '%s' must be one of %s, got '%s'",
                         key, choices, text);
}

gesta_status gesta_yaml_get_ints(gesta_yaml_reader *reader, const char *key,
                                 const yaml_node_t *value, int min_len,
                                 int max_len, int64_t min, int64_t max,
                                 int64_t *out, int *n_out) {
  yaml_node_item_t *start, *top;
  int n;
  if (value->type != YAML_SEQUENCE_NODE)
    return gesta_yaml_fail(reader, value,
                           "key '%s' must be a list of integers, got %s", key,
                           gesta_yaml_kind(value));
  start = value->data.sequence.items.start;
  top = value->data.sequence.items.top;
  n = (int)(top - start);
  if (n < min_len || n > max_len) {
    if (min_len == max_len)
      return gesta_yaml_fail(reader, value,
                             "key '%s' must list %d integers, got %d", key,
                             min_len, n);
    return gesta_yaml_fail(reader, value,
                           "key '%s' must list %d to %d integers, got %d", key,
                           min_len, max_len, n);
  }
  for (int i = 0; i < n; i++) {
    yaml_node_t *item = yaml_document_get_node(reader->doc, start[i]);
    gesta_status st = gesta_yaml_get_int(reader, key, item, min, max, &out[i]);
    if (st != GESTA_STATUS_OK)
      return st;
  }
  *n_out = n;
  return GESTA_STATUS_OK;
}

static gesta_status yaml_syntax_error(const yaml_parser_t *parser,
                                      const char *name, const char *text,
                                      size_t length, gesta_error *err) {
  gesta_mark mark = {(int)parser->problem_mark.line + 1,
                     (int)parser->problem_mark.column + 1};
  const char *problem = parser->problem ? parser->problem : "invalid YAML";
  if (parser->error == YAML_MEMORY_ERROR)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "%s: out of memory while parsing YAML", name);
  if (parser->error == YAML_READER_ERROR) {
    /* The reader reports a byte offset, not a line and column. */
    mark.line = mark.column = 1;
    for (size_t i = 0; i < parser->problem_offset && i < length; i++) {
      if (text[i] == '\n') {
        mark.line++;
        mark.column = 1;
      } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
        mark.column++;
      }
    }
  }
  if (parser->context)
    return gesta_error_set_at(err, GESTA_STATUS_BAD_INPUT, name, mark,
                              "%s (%s started at line %d, column %d)", problem,
                              parser->context,
                              (int)parser->context_mark.line + 1,
                              (int)parser->context_mark.column + 1);
  return gesta_error_set_at(err, GESTA_STATUS_BAD_INPUT, name, mark, "%s",
                            problem);
}

gesta_status gesta_yaml_load(yaml_document_t *doc, const char *name,
                             const char *text, size_t length,
                             gesta_error *err) {
  yaml_parser_t parser;
  yaml_document_t extra;
  yaml_node_t *extra_root;
  gesta_mark extra_mark;
  gesta_status st = GESTA_STATUS_OK;
  if (!yaml_parser_initialize(&parser))
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                           "out of memory creating a YAML parser");
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, length);
  if (!yaml_parser_load(&parser, doc)) {
    st = yaml_syntax_error(&parser, name, text, length, err);
    goto done;
  }
  if (!yaml_document_get_root_node(doc)) {
    st = gesta_error_set_at(err, GESTA_STATUS_BAD_INPUT, name,
                            (gesta_mark){1, 1},
                            "the file is empty: a model needs at least the "
                            "keys gesta, name, input and layers");
    goto fail;
  }
  /* A second document would be silently ignored otherwise. */
  if (!yaml_parser_load(&parser, &extra)) {
    st = yaml_syntax_error(&parser, name, text, length, err);
    goto fail;
  }
  extra_root = yaml_document_get_root_node(&extra);
  extra_mark = gesta_yaml_mark(extra_root);
  yaml_document_delete(&extra);
  if (extra_root) {
    st = gesta_error_set_at(err, GESTA_STATUS_BAD_INPUT, name, extra_mark,
                            "a second YAML document starts here; the file "
                            "must hold exactly one");
    goto fail;
  }
  goto done;
fail:
  yaml_document_delete(doc);
done:
  yaml_parser_delete(&parser);
  return st;
}

gesta_status gesta_yaml_read_file(const char *path, size_t max_bytes,
                                  char **text, size_t *length,
                                  gesta_error *err) {
  char *buf = NULL;
  size_t used = 0, capacity = 0;
  gesta_status st = GESTA_STATUS_OK;
  FILE *f = fopen(path, "rb");
  if (!f)
    return gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot open '%s': %s",
                           path, strerror(errno));
  for (;;) {
    size_t got;
    if (used + 1 >= capacity) {
      char *grown;
      if (capacity > max_bytes) {
        st = gesta_error_set(err, GESTA_STATUS_BAD_INPUT,
                             "'%s' is larger than %zu bytes; is it the right "
                             "file?",
                             path, max_bytes);
        goto fail;
      }
      capacity = capacity ? capacity * 2 : 8192;
      if (!(grown = realloc(buf, capacity))) {
        st = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory reading '%s'", path);
        goto fail;
      }
      buf = grown;
    }
    got = fread(buf + used, 1, capacity - used - 1, f);
    used += got;
    if (got == 0)
      break;
  }
  if (ferror(f)) {
    st = gesta_error_set(err, GESTA_STATUS_IO_ERROR, "cannot read '%s': %s",
                         path, strerror(errno));
    goto fail;
  }
  fclose(f);
  buf[used] = '\0';
  *text = buf;
  *length = used;
  return GESTA_STATUS_OK;
fail:
  free(buf);
  fclose(f);
  return st;
}
