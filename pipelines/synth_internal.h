/* gesta synth — what its files share: the dataset builder (synth.c) and
 * its encoder (synth_encode.c), the clip sampler (synth_plan.c) and the
 * renderer (synth_draw.c). Not installed; the public API is
 * gesta/synth.h. */
#ifndef GESTA_SYNTH_INTERNAL_H
#define GESTA_SYNTH_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "gesta/error.h"
#include "gesta/synth.h"

/* Initialises GStreamer and checks that every element the encoder uses is
 * installed; the error names each missing one and its Debian package. */
gesta_status gesta_synth_encoder_check(gesta_error *err);

/* Encodes clip (forwards, or backwards when reversed) as MPEG-4 part 2 in
 * AVI at GESTA_SYNTH_FPS into path, single-threaded with timestamps from
 * the frame index so the bytes depend on the frames alone. Writes the file
 * in place: the caller picks a temporary name and renames it. */
gesta_status gesta_synth_encoder_write(const gesta_synth_clip *clip,
                                       bool reversed, const char *path,
                                       gesta_error *err);

/* ---- Drawing (synth_plan.c samples a clip, synth_draw.c renders it) ---- */

#define SYNTH_W GESTA_SYNTH_WIDTH
#define SYNTH_H GESTA_SYNTH_HEIGHT
#define SYNTH_PI 3.14159265358979323846
#define SYNTH_MAX_CLUTTER 8

/* The drawn class of each pair; its partner plays it backwards. */
typedef enum synth_pair { SYNTH_ARMS, SYNTH_SIT, SYNTH_WALK } synth_pair;

typedef enum synth_background {
  SYNTH_BG_FLAT,
  SYNTH_BG_GRADIENT,
  SYNTH_BG_NOISE,
  SYNTH_BG_CLUTTER
} synth_background;

typedef struct synth_rgb {
  double r, g, b;
} synth_rgb;

/* What the clips of one group share, like the actor and the room of a
 * UCF101 group. Lengths are in figure heights. */
typedef struct synth_look {
  synth_background background;
  synth_rgb bg1, bg2, figure, head, ground, prop;
  bool head_filled, has_ground;
  double line_width; /* in figure heights */
  double head_r, neck, torso, thigh, shin, upper_arm, forearm;
  double shoulder_w, hip_w;
} synth_look;

typedef struct synth_clutter {
  int kind; /* 0 disc, 1 box, 2 bar */
  double x, y, vx, vy, size, angle, spin;
  synth_rgb colour;
} synth_clutter;

/* One clip: the look with this clip's variations, and its motion. */
typedef struct synth_plan {
  synth_look look;
  synth_pair pair;
  int frames;
  double scale;          /* pixels per figure height */
  double cx, base_y;     /* feet position, pixels */
  double t0, duration;   /* arms and sit: when the movement happens */
  double from, to, bend; /* arms: angles; sit: arm rest and lift */
  bool stool;
  double foot_x;                   /* sit: half distance of the feet */
  double speed, phase, omega, amp; /* walk, pixels per frame */
  double arm_amp;                  /* walk */
  double gradient_angle, noise_cell;
  int clutter_count;
  synth_clutter clutter[SYNTH_MAX_CLUTTER];
  double jitter, sway, sensor_noise; /* pixels, pixels, 8-bit levels */
} synth_plan;

/* Independent streams per (seed, group, ...). */
uint64_t gesta_synth_mix(uint64_t h, uint64_t v);

/* Which pair a class belongs to. */
synth_pair gesta_synth_pair_of(gesta_synth_class cls);

/* Samples clip `clip` of group `group` for the pair's drawn class: the
 * group's look with this clip's variations, and its motion. */
void gesta_synth_plan_make(uint64_t seed, int group, int clip, synth_pair pair,
                           synth_plan *p);

static inline synth_rgb synth_mix_rgb(synth_rgb a, synth_rgb b, double t) {
  return (synth_rgb){a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t,
                     a.b + (b.b - a.b) * t};
}

static inline double synth_clamp(double x, double lo, double hi) {
  return x < lo ? lo : x > hi ? hi : x;
}

#endif
