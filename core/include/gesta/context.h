/* gesta — the context object: logging and seeds. No global mutable state:
 * whatever would be global lives here and is passed down. */
#ifndef GESTA_CONTEXT_H
#define GESTA_CONTEXT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gesta_log_level {
  GESTA_LOG_ERROR = 0,
  GESTA_LOG_WARNING,
  GESTA_LOG_INFO,
  GESTA_LOG_DEBUG
} gesta_log_level;

typedef void (*gesta_log_fn)(void *user, gesta_log_level level,
                             const char *message);

typedef struct gesta_context {
  gesta_log_level log_level; /* messages above this level are dropped */
  gesta_log_fn log_fn;       /* NULL: write "gesta: level: msg" to stderr */
  void *log_user;
  uint64_t seed; /* default seed for anything random (init, dropout, data) */
} gesta_context;

/* Defaults: warnings and errors to stderr, seed 0. */
void gesta_context_init(gesta_context *ctx);

void gesta_log(const gesta_context *ctx, gesta_log_level level, const char *fmt,
               ...) __attribute__((format(printf, 3, 4)));

/* A small deterministic generator (xoshiro256**), seeded by splitmix64.
 * Same seed, same sequence, on every platform. */
typedef struct gesta_rng {
  uint64_t s[4];
} gesta_rng;

void gesta_rng_seed(gesta_rng *rng, uint64_t seed);
uint64_t gesta_rng_next(gesta_rng *rng);
/* Uniform double in [0, 1). */
double gesta_rng_uniform(gesta_rng *rng);
/* Standard normal (Box-Muller, both values used in turn is not needed:
 * one value per call keeps the stream simple to reproduce). */
double gesta_rng_normal(gesta_rng *rng);

#ifdef __cplusplus
}
#endif
#endif
