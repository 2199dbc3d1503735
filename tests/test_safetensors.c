/* safetensors: a bit-exact round trip, and every corrupt file built byte by
 * byte here refused with a message naming the file and the problem. */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "gesta/gesta.h"
#include "gesta/safetensors.h"

static void tmp_path(char *buf, size_t size, const char *name) {
  snprintf(buf, size, "%s/st_%s.safetensors", GESTA_TEST_TMP, name);
}

static void write_bytes(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  if (size > 0) {
    assert_int_equal(fwrite(data, 1, size, f), size);
  }
  assert_int_equal(fclose(f), 0);
}

static unsigned char *read_bytes(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  long n = ftell(f);
  assert_true(n >= 0);
  assert_int_equal(fseek(f, 0, SEEK_SET), 0);
  unsigned char *data = malloc((size_t)n + 1);
  assert_non_null(data);
  assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *size = (size_t)n;
  return data;
}

/* A file with the given header text, a stated header length (the true one
 * when stated_len is UINT64_MAX) and data_size bytes of data. */
static void write_raw(const char *path, const char *header, uint64_t stated_len,
                      size_t data_size) {
  size_t header_len = strlen(header);
  uint64_t len = stated_len == UINT64_MAX ? header_len : stated_len;
  size_t size = 8 + header_len + data_size;
  unsigned char *bytes = calloc(1, size);
  assert_non_null(bytes);
  for (int i = 0; i < 8; i++) {
    bytes[i] = (unsigned char)(len >> (8 * i));
  }
  memcpy(bytes + 8, header, header_len);
  for (size_t i = 0; i < data_size; i++) {
    bytes[8 + header_len + i] = (unsigned char)i;
  }
  write_bytes(path, bytes, size);
  free(bytes);
}

/* Opens path, expects status and a message holding the file's path and
 * every one of the NULL-terminated fragments. */
static void expect_open_fails(const char *path, gesta_status status, ...) {
  gesta_safetensors *file = (gesta_safetensors *)1;
  gesta_error err;
  gesta_error_clear(&err);
  assert_int_equal(gesta_safetensors_open(path, &file, &err), status);
  assert_null(file);
  assert_int_equal(err.status, status);
  if (!strstr(err.message, path)) {
    fail_msg("message does not name the file: %s", err.message);
  }
  va_list ap;
  va_start(ap, status);
  const char *fragment;
  while ((fragment = va_arg(ap, const char *)) != NULL) {
    if (!strstr(err.message, fragment)) {
      fail_msg("expected '%s' in: %s", fragment, err.message);
    }
  }
  va_end(ap);
}

static void expect_header_fails(const char *name, const char *header,
                                size_t data_size, const char *fragment) {
  char path[512];
  tmp_path(path, sizeof path, name);
  write_raw(path, header, UINT64_MAX, data_size);
  expect_open_fails(path, GESTA_STATUS_BAD_INPUT, fragment, NULL);
}

static float bits_to_float(uint32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

static void test_round_trip(void **state) {
  (void)state;
  char path[512];
  tmp_path(path, sizeof path, "round_trip");
  static const int64_t d0[1] = {0}, d1[] = {5}, d2[] = {2, 3}, d3[] = {2, 1, 2},
                       d4[] = {1, 2, 2, 1}, d5[] = {1, 1, 2, 1, 3},
                       de[] = {0, 4};
  float v0[1] = {3.25f}, v1[5], v2[6], v3[4], v4[4], v5[6];
  /* Values a text round trip would spoil: signed zero, NaN payload,
   * infinity, a subnormal. */
  v1[0] = -0.0f;
  v1[1] = bits_to_float(0x7fc01234u);
  v1[2] = INFINITY;
  v1[3] = bits_to_float(0x00000001u);
  v1[4] = 1.0f / 3.0f;
  for (int i = 0; i < 6; i++) {
    v2[i] = (float)i * 0.5f - 1.0f;
    v5[i] = (float)(i * i);
  }
  for (int i = 0; i < 4; i++) {
    v3[i] = (float)-i;
    v4[i] = 1e30f * (float)i;
  }
  const gesta_named_tensor tensors[] = {
      {"scalar", gesta_shape_make(0, d0), v0},
      {"layer.kernel", gesta_shape_make(1, d1), v1},
      {"r2", gesta_shape_make(2, d2), v2},
      {"r3 with \"quotes\" and \\", gesta_shape_make(3, d3), v3},
      {"r4", gesta_shape_make(4, d4), v4},
      {"r5", gesta_shape_make(5, d5), v5},
      {"empty", gesta_shape_make(2, de), NULL},
      {"empty1", gesta_shape_make(1, d0), NULL},
  };
  const int n = (int)(sizeof tensors / sizeof tensors[0]);
  const gesta_metadata_pair meta[] = {{"format", "gesta"},
                                      {"note", "a \"quoted\" value"}};
  gesta_error err;
  gesta_error_clear(&err);
  assert_int_equal(gesta_safetensors_write(path, tensors, n, meta, 2, &err),
                   GESTA_STATUS_OK);

  /* The header is padded to a multiple of 8 and no temporary is left. */
  size_t size;
  unsigned char *bytes = read_bytes(path, &size);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; i--) {
    header_len = (header_len << 8) | bytes[i];
  }
  assert_int_equal(header_len % 8, 0);
  assert_int_equal(size, 8 + header_len + (1 + 5 + 6 + 4 + 4 + 6) * 4);
  free(bytes);
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  assert_int_equal(access(tmp, F_OK), -1);

  gesta_safetensors *file = NULL;
  assert_int_equal(gesta_safetensors_open(path, &file, &err), GESTA_STATUS_OK);
  assert_int_equal(gesta_safetensors_count(file), n);
  for (int i = 0; i < n; i++) {
    /* Written contiguously in order, the empty ones last: file order is the
     * order given. */
    const gesta_safetensors_entry *at = gesta_safetensors_entry_at(file, i);
    assert_non_null(at);
    assert_string_equal(at->name, tensors[i].name);
    const gesta_safetensors_entry *e =
        gesta_safetensors_find(file, tensors[i].name);
    assert_ptr_equal(e, at);
    assert_true(gesta_shape_equal(&e->shape, &tensors[i].shape));
    size_t bytes_expected = (size_t)gesta_shape_count(&tensors[i].shape) * 4;
    assert_int_equal(e->bytes, bytes_expected);
    float out[8];
    memset(out, 0xab, sizeof out);
    gesta_safetensors_read(e, out);
    if (bytes_expected > 0) {
      assert_memory_equal(out, tensors[i].data, bytes_expected);
    }
  }
  assert_null(gesta_safetensors_entry_at(file, n));
  assert_null(gesta_safetensors_entry_at(file, -1));
  assert_null(gesta_safetensors_find(file, "nope"));
  assert_string_equal(gesta_safetensors_metadata(file, "format"), "gesta");
  assert_string_equal(gesta_safetensors_metadata(file, "note"),
                      "a \"quoted\" value");
  assert_null(gesta_safetensors_metadata(file, "missing"));
  gesta_safetensors_close(file);
}

static void test_empty_file_without_metadata(void **state) {
  (void)state;
  char path[512];
  tmp_path(path, sizeof path, "empty");
  gesta_error err;
  assert_int_equal(gesta_safetensors_write(path, NULL, 0, NULL, 0, &err),
                   GESTA_STATUS_OK);
  gesta_safetensors *file = NULL;
  assert_int_equal(gesta_safetensors_open(path, &file, &err), GESTA_STATUS_OK);
  assert_int_equal(gesta_safetensors_count(file), 0);
  assert_null(gesta_safetensors_metadata(file, "format"));
  gesta_safetensors_close(file);
}

static void test_write_errors(void **state) {
  (void)state;
  char path[512];
  snprintf(path, sizeof path, "%s/no_such_dir/x.safetensors", GESTA_TEST_TMP);
  float v[2] = {1, 2};
  int64_t dims[] = {2};
  gesta_named_tensor t[2] = {{"a", gesta_shape_make(1, dims), v},
                             {"a", gesta_shape_make(1, dims), v}};
  gesta_error err;
  assert_int_equal(gesta_safetensors_write(path, t, 1, NULL, 0, &err),
                   GESTA_STATUS_IO_ERROR);
  assert_non_null(strstr(err.message, "no_such_dir"));
  assert_int_equal(access(path, F_OK), -1);

  tmp_path(path, sizeof path, "write_errors");
  assert_int_equal(gesta_safetensors_write(path, t, 2, NULL, 0, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "'a' is given twice"));
  t[0].data = NULL;
  assert_int_equal(gesta_safetensors_write(path, t, 1, NULL, 0, &err),
                   GESTA_STATUS_BAD_INPUT);
  assert_non_null(strstr(err.message, "'a' has no data"));
  assert_int_equal(access(path, F_OK), -1);
}

static void test_truncated(void **state) {
  (void)state;
  char path[512], cut[512];
  tmp_path(path, sizeof path, "to_truncate");
  float v[16] = {0};
  int64_t dims[] = {4, 4};
  gesta_named_tensor t = {"weights.kernel", gesta_shape_make(2, dims), v};
  gesta_error err;
  assert_int_equal(gesta_safetensors_write(path, &t, 1, NULL, 0, &err),
                   GESTA_STATUS_OK);
  size_t size;
  unsigned char *bytes = read_bytes(path, &size);

  tmp_path(cut, sizeof cut, "truncated_data");
  write_bytes(cut, bytes, size - 5);
  expect_open_fails(cut, GESTA_STATUS_BAD_INPUT, "'weights.kernel'",
                    "out of range", NULL);

  tmp_path(cut, sizeof cut, "truncated_header");
  write_bytes(cut, bytes, 20);
  expect_open_fails(cut, GESTA_STATUS_BAD_INPUT, "past the end of the file",
                    NULL);

  tmp_path(cut, sizeof cut, "short");
  write_bytes(cut, bytes, 5);
  expect_open_fails(cut, GESTA_STATUS_BAD_INPUT, "fewer than the 8-byte", NULL);
  write_bytes(cut, bytes, 0);
  expect_open_fails(cut, GESTA_STATUS_BAD_INPUT, "fewer than the 8-byte", NULL);
  free(bytes);
}

static void test_header_length_past_end(void **state) {
  (void)state;
  char path[512];
  tmp_path(path, sizeof path, "len_past_end");
  write_raw(path, "{}", 1000, 0);
  expect_open_fails(path, GESTA_STATUS_BAD_INPUT, "header length 1000",
                    "past the end", NULL);
  write_raw(path, "{}", UINT64_MAX - 3, 0);
  expect_open_fails(path, GESTA_STATUS_BAD_INPUT, "past the end", NULL);
}

static void test_header_not_json(void **state) {
  (void)state;
  expect_header_fails("not_json", "{not json}", 0, "not valid JSON");
  expect_header_fails("empty_header", "", 0, "not valid JSON");
  expect_header_fails("trailing", "{} x", 0, "not valid JSON");
  expect_header_fails("not_object", "[1, 2]", 0, "not an object");
  expect_header_fails("entry_not_object", "{\"a\": 3}", 0,
                      "tensor 'a' is not an object");
  expect_header_fails("bad_metadata", "{\"__metadata__\": {\"k\": 1}}", 0,
                      "metadata value 'k' is not a string");
}

static void test_offsets_out_of_range(void **state) {
  (void)state;
  expect_header_fails(
      "offsets_range",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8,
      "tensor 'a': data_offsets [0, 16] are out of range");
  expect_header_fails(
      "offsets_reversed",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8,
      "data_offsets [8, 4] are out of range");
  expect_header_fails(
      "offsets_negative",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 8,
      "tensor 'a' has no data_offsets");
  expect_header_fails("offsets_missing",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4,
                      "tensor 'a' has no data_offsets");
  expect_header_fails(
      "offsets_one",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
      "tensor 'a' has no data_offsets");
}

static void test_offsets_overlap(void **state) {
  (void)state;
  expect_header_fails(
      "overlap",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
      12, "tensors 'a' [0, 8) and 'b' [4, 12) overlap");
  /* Listed out of order in the header, still found. */
  expect_header_fails(
      "overlap_same",
      "{\"z\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[4,16]},"
      "\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
      "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
      16, "overlap");
}

static void test_size_shape_mismatch(void **state) {
  (void)state;
  expect_header_fails(
      "size_mismatch",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
      "tensor 'a' of shape (3,) needs 12 bytes but its data_offsets span 8");
  expect_header_fails("rank6",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1],"
                      "\"data_offsets\":[0,4]}}",
                      4,
                      "tensor 'a' has 6 dimensions; gesta supports at most 5");
  expect_header_fails("no_shape",
                      "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4,
                      "tensor 'a' has no shape");
}

static void test_wrong_dtype(void **state) {
  (void)state;
  expect_header_fails(
      "f16", "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}",
      4, "tensor 'h' has dtype F16; gesta reads F32 only");
  expect_header_fails(
      "i64", "{\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}",
      8, "tensor 'i' has dtype I64; gesta reads F32 only");
  expect_header_fails("no_dtype",
                      "{\"i\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                      "tensor 'i' has no dtype");
}

static void test_bad_dims(void **state) {
  (void)state;
  expect_header_fails("huge_dims",
                      "{\"big\":{\"dtype\":\"F32\",\"shape\":[2147483648,"
                      "2147483648,2147483648],\"data_offsets\":[0,4]}}",
                      4,
                      "tensor 'big': the product of its dimensions overflows");
  expect_header_fails("too_big_dim",
                      "{\"big\":{\"dtype\":\"F32\",\"shape\":[4294967296],"
                      "\"data_offsets\":[0,4]}}",
                      4, "tensor 'big': dimension 0 of its shape");
  expect_header_fails("negative_dim",
                      "{\"neg\":{\"dtype\":\"F32\",\"shape\":[2,-1],"
                      "\"data_offsets\":[0,4]}}",
                      4, "tensor 'neg': dimension 1 of its shape");
  expect_header_fails("fraction_dim",
                      "{\"f\":{\"dtype\":\"F32\",\"shape\":[1.5],"
                      "\"data_offsets\":[0,4]}}",
                      4, "tensor 'f': dimension 0");
}

static void test_duplicate_names(void **state) {
  (void)state;
  expect_header_fails(
      "duplicate",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
      8, "names 'a' more than once");
  expect_header_fails("duplicate_metadata",
                      "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0,
                      "'k' more than once");
}

static void test_nonexistent_file(void **state) {
  (void)state;
  char path[512];
  tmp_path(path, sizeof path, "does_not_exist");
  unlink(path);
  expect_open_fails(path, GESTA_STATUS_IO_ERROR, "cannot open", NULL);
  expect_open_fails(GESTA_TEST_TMP, GESTA_STATUS_IO_ERROR, "not a regular file",
                    NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_empty_file_without_metadata),
      cmocka_unit_test(test_write_errors),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_header_length_past_end),
      cmocka_unit_test(test_header_not_json),
      cmocka_unit_test(test_offsets_out_of_range),
      cmocka_unit_test(test_offsets_overlap),
      cmocka_unit_test(test_size_shape_mismatch),
      cmocka_unit_test(test_wrong_dtype),
      cmocka_unit_test(test_bad_dims),
      cmocka_unit_test(test_duplicate_names),
      cmocka_unit_test(test_nonexistent_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
