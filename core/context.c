/* The context object: logging and the deterministic random generator. */
#include "gesta/context.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

void gesta_context_init(gesta_context *ctx) {
  ctx->log_level = GESTA_LOG_WARNING;
  ctx->log_fn = NULL;
  ctx->log_user = NULL;
  ctx->seed = 0;
}

static const char *context_level_name(gesta_log_level level) {
  switch (level) {
  case GESTA_LOG_ERROR:
    return "error";
  case GESTA_LOG_WARNING:
    return "warning";
  case GESTA_LOG_INFO:
    return "info";
  case GESTA_LOG_DEBUG:
    return "debug";
  }
  return "log";
}

void gesta_log(const gesta_context *ctx, gesta_log_level level, const char *fmt,
               ...) {
  char message[2048];
  va_list ap;
  if (!ctx || level > ctx->log_level)
    return;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  if (ctx->log_fn)
    ctx->log_fn(ctx->log_user, level, message);
  else
    fprintf(stderr, "gesta: %s: %s\n", context_level_name(level), message);
}

static uint64_t rng_splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void gesta_rng_seed(gesta_rng *rng, uint64_t seed) {
  for (int i = 0; i < 4; i++)
    rng->s[i] = rng_splitmix64(&seed);
}

static uint64_t rng_rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

uint64_t gesta_rng_next(gesta_rng *rng) {
  uint64_t *s = rng->s;
  const uint64_t result = rng_rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rng_rotl(s[3], 45);
  return result;
}

double gesta_rng_uniform(gesta_rng *rng) {
  return (double)(gesta_rng_next(rng) >> 11) * 0x1.0p-53;
}

double gesta_rng_normal(gesta_rng *rng) {
  /* 1 - u keeps the logarithm's argument in (0, 1]. */
  double u1 = 1.0 - gesta_rng_uniform(rng);
  double u2 = gesta_rng_uniform(rng);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
