/* gesta synth: what a clip shows. A group's look and a clip's motion and
 * randomness are drawn from generators seeded by (seed, group, ...), so
 * any clip can be made alone and in any order. */
#include <math.h>
#include <string.h>

#include "synth_internal.h"

static const char *const synth_class_names[GESTA_SYNTH_CLASS_COUNT] = {
    "LowerArms", "RaiseArms", "SitDown", "StandUp", "WalkLeft", "WalkRight"};

const char *gesta_synth_class_name(gesta_synth_class cls) {
  if ((int)cls < 0 || cls >= GESTA_SYNTH_CLASS_COUNT)
    return NULL;
  return synth_class_names[cls];
}

gesta_synth_class gesta_synth_class_partner(gesta_synth_class cls) {
  switch (cls) {
  case GESTA_SYNTH_LOWER_ARMS:
    return GESTA_SYNTH_RAISE_ARMS;
  case GESTA_SYNTH_RAISE_ARMS:
    return GESTA_SYNTH_LOWER_ARMS;
  case GESTA_SYNTH_SIT_DOWN:
    return GESTA_SYNTH_STAND_UP;
  case GESTA_SYNTH_STAND_UP:
    return GESTA_SYNTH_SIT_DOWN;
  case GESTA_SYNTH_WALK_LEFT:
    return GESTA_SYNTH_WALK_RIGHT;
  case GESTA_SYNTH_WALK_RIGHT:
    return GESTA_SYNTH_WALK_LEFT;
  default:
    return cls;
  }
}

bool gesta_synth_class_is_drawn(gesta_synth_class cls) {
  return cls == GESTA_SYNTH_RAISE_ARMS || cls == GESTA_SYNTH_SIT_DOWN ||
         cls == GESTA_SYNTH_WALK_RIGHT;
}

synth_pair gesta_synth_pair_of(gesta_synth_class cls) {
  if (cls == GESTA_SYNTH_LOWER_ARMS || cls == GESTA_SYNTH_RAISE_ARMS)
    return SYNTH_ARMS;
  if (cls == GESTA_SYNTH_SIT_DOWN || cls == GESTA_SYNTH_STAND_UP)
    return SYNTH_SIT;
  return SYNTH_WALK;
}

/* Independent streams per (seed, group, ...): splitmix64's finaliser over
 * each value in turn. */
uint64_t gesta_synth_mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

static double synth_uni(gesta_rng *rng, double lo, double hi) {
  return lo + (hi - lo) * gesta_rng_uniform(rng);
}

static double synth_luma(synth_rgb c) {
  return 0.299 * c.r + 0.587 * c.g + 0.114 * c.b;
}

static synth_rgb synth_hsv(double h, double s, double v) {
  double f = (h - floor(h)) * 6.0, p = v * (1 - s);
  double q = v * (1 - s * (f - floor(f))), t = v * (1 - s * (1 - f + floor(f)));
  switch ((int)f % 6) {
  case 0:
    return (synth_rgb){v, t, p};
  case 1:
    return (synth_rgb){q, v, p};
  case 2:
    return (synth_rgb){p, v, t};
  case 3:
    return (synth_rgb){p, q, v};
  case 4:
    return (synth_rgb){t, p, v};
  default:
    return (synth_rgb){v, p, q};
  }
}

/* A random colour whose luma is at least `contrast` away from `against`,
 * pushed towards black or white when the draw falls short. */
static synth_rgb synth_contrasting(gesta_rng *rng, double against,
                                   double contrast) {
  bool dark = against > 0.5;
  synth_rgb c =
      synth_hsv(gesta_rng_uniform(rng), synth_uni(rng, 0, 0.9),
                dark ? synth_uni(rng, 0.0, 0.4) : synth_uni(rng, 0.6, 1.0));
  synth_rgb target = dark ? (synth_rgb){0, 0, 0} : (synth_rgb){1, 1, 1};
  double l = synth_luma(c),
         want = dark ? against - contrast : against + contrast;
  if (dark ? l > want : l < want)
    c = synth_mix_rgb(c, target, (l - want) / (l - synth_luma(target)));
  return c;
}

static synth_rgb synth_jiggle(gesta_rng *rng, synth_rgb c, double amount) {
  c.r = synth_clamp(c.r + synth_uni(rng, -amount, amount), 0, 1);
  c.g = synth_clamp(c.g + synth_uni(rng, -amount, amount), 0, 1);
  c.b = synth_clamp(c.b + synth_uni(rng, -amount, amount), 0, 1);
  return c;
}

static void synth_look_make(uint64_t seed, int group, synth_look *look) {
  gesta_rng rng;
  double hue, bg_luma;
  gesta_rng_seed(&rng,
                 gesta_synth_mix(gesta_synth_mix(seed, 0x4c4f4f4b), group));
  look->background = (synth_background)(gesta_rng_next(&rng) % 4);
  hue = gesta_rng_uniform(&rng);
  look->bg1 =
      synth_hsv(hue, synth_uni(&rng, 0, 0.6), synth_uni(&rng, 0.1, 0.95));
  look->bg2 = synth_hsv(hue + synth_uni(&rng, -0.12, 0.12),
                        synth_uni(&rng, 0, 0.6), synth_uni(&rng, 0.1, 0.95));
  bg_luma = 0.5 * (synth_luma(look->bg1) + synth_luma(look->bg2));
  look->figure = synth_contrasting(&rng, bg_luma, 0.35);
  look->head_filled = gesta_rng_uniform(&rng) < 0.5;
  look->head = gesta_rng_uniform(&rng) < 0.5
                   ? look->figure
                   : synth_contrasting(&rng, bg_luma, 0.3);
  look->has_ground = gesta_rng_uniform(&rng) < 0.5;
  look->ground = synth_mix_rgb(look->bg1, synth_contrasting(&rng, bg_luma, 0.2),
                               synth_uni(&rng, 0.2, 0.5));
  look->prop = synth_contrasting(&rng, bg_luma, 0.2);
  look->line_width = synth_uni(&rng, 0.022, 0.045);
  look->head_r = synth_uni(&rng, 0.06, 0.085);
  look->neck = synth_uni(&rng, 0.015, 0.04);
  look->torso = synth_uni(&rng, 0.27, 0.33);
  look->thigh = synth_uni(&rng, 0.21, 0.25);
  look->shin = synth_uni(&rng, 0.2, 0.24);
  look->upper_arm = synth_uni(&rng, 0.13, 0.17);
  look->forearm = synth_uni(&rng, 0.12, 0.16);
  look->shoulder_w = synth_uni(&rng, 0.05, 0.09);
  look->hip_w = synth_uni(&rng, 0.03, 0.06);
}

/* Within a group every clip varies colours, line width, size, position,
 * timing and noise; the background style and proportions stay. */
void gesta_synth_plan_make(uint64_t seed, int group, int clip, synth_pair pair,
                           synth_plan *p) {
  gesta_rng rng;
  synth_look *look = &p->look;
  double reach, margin, travel, leg;
  memset(p, 0, sizeof *p);
  synth_look_make(seed, group, look);
  gesta_rng_seed(
      &rng,
      gesta_synth_mix(
          gesta_synth_mix(
              gesta_synth_mix(gesta_synth_mix(seed, 0x434c4950), group), pair),
          clip));
  p->pair = pair;
  look->bg1 = synth_jiggle(&rng, look->bg1, 0.04);
  look->bg2 = synth_jiggle(&rng, look->bg2, 0.04);
  look->figure = synth_jiggle(&rng, look->figure, 0.04);
  look->head = synth_jiggle(&rng, look->head, 0.04);
  look->line_width *= synth_uni(&rng, 0.85, 1.15);
  p->frames = GESTA_SYNTH_MIN_FRAMES +
              (int)(gesta_rng_next(&rng) %
                    (GESTA_SYNTH_MAX_FRAMES - GESTA_SYNTH_MIN_FRAMES + 1));
  p->scale =
      pair == SYNTH_WALK ? synth_uni(&rng, 70, 140) : synth_uni(&rng, 85, 175);
  /* Raised hands reach about 1.1 figure heights above the feet. */
  p->base_y = synth_uni(&rng, p->scale * 1.12 + 6, SYNTH_H - 6);
  reach = 0.45 * p->scale + 8;
  p->cx = synth_uni(&rng, reach, SYNTH_W - reach);
  leg = look->thigh + look->shin;
  if (pair == SYNTH_WALK) {
    p->amp = synth_uni(&rng, 0.3, 0.5);
    p->arm_amp = p->amp * synth_uni(&rng, 0.5, 1.1);
    p->speed = synth_uni(&rng, 0.7, 2.0) * p->scale / 100;
    margin = 0.3 * p->scale + 4;
    travel = p->speed * (p->frames - 1);
    if (travel > SYNTH_W - 2 * margin) {
      travel = SYNTH_W - 2 * margin;
      p->speed = travel / (p->frames - 1);
    }
    p->cx = synth_uni(&rng, margin, SYNTH_W - margin - travel);
    /* Feet do not slide: half a gait cycle advances two leg swings. */
    p->omega = p->speed * SYNTH_PI / (2 * leg * p->scale * sin(p->amp));
    p->phase = synth_uni(&rng, 0, 2 * SYNTH_PI);
  } else {
    p->duration = p->frames * synth_uni(&rng, 0.3, 0.75);
    p->t0 =
        synth_uni(&rng, -0.15 * p->duration, p->frames - 0.85 * p->duration);
    if (pair == SYNTH_ARMS) {
      p->from = synth_uni(&rng, 0.05, 0.35);
      p->to = synth_uni(&rng, 2.6, 3.05);
      p->bend = synth_uni(&rng, 0, 0.5);
    } else {
      p->from = synth_uni(&rng, 0.08, 0.4);
      p->to = synth_uni(&rng, 0, 0.6);
      p->stool = gesta_rng_uniform(&rng) < 0.6;
      p->foot_x = look->hip_w + synth_uni(&rng, 0.02, 0.08);
      p->bend = synth_uni(&rng, 0.9, 1.05); /* seat height in shins */
    }
  }
  p->gradient_angle = synth_uni(&rng, 0, 2 * SYNTH_PI);
  p->noise_cell = synth_uni(&rng, 4, 24);
  if (look->background == SYNTH_BG_CLUTTER) {
    p->clutter_count =
        3 + (int)(gesta_rng_next(&rng) % (SYNTH_MAX_CLUTTER - 2));
    for (int i = 0; i < p->clutter_count; i++) {
      synth_clutter *c = &p->clutter[i];
      /* Any direction equally likely: drift carries no left/right hint. */
      double dir = synth_uni(&rng, 0, 2 * SYNTH_PI);
      double v = synth_uni(&rng, 0.1, 1.2);
      c->kind = (int)(gesta_rng_next(&rng) % 3);
      c->x = synth_uni(&rng, -20, SYNTH_W + 20);
      c->y = synth_uni(&rng, -20, SYNTH_H + 20);
      c->vx = v * cos(dir);
      c->vy = v * sin(dir);
      c->size = synth_uni(&rng, 8, 40);
      c->angle = synth_uni(&rng, 0, SYNTH_PI);
      c->spin = synth_uni(&rng, -0.03, 0.03);
      c->colour = synth_contrasting(&rng, synth_luma(look->bg1), 0.15);
    }
  }
  p->jitter = synth_uni(&rng, 0, 2.5);
  p->sway = synth_uni(&rng, 0, 1.0);
  p->sensor_noise = synth_uni(&rng, 0, 6);
}
