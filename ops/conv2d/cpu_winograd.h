/* conv2d on the CPU: 3x3, stride 1 inference by Winograd's F(4x4, 3x3)
 * (cpu_winograd.c). */
#ifndef GESTA_CONV2D_CPU_WINOGRAD_H
#define GESTA_CONV2D_CPU_WINOGRAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu_taps.h"

/* Whether conv2d_winograd_forward takes this convolution. */
bool conv2d_winograd_fits(const conv2d_geom *g);

/* Workspace floats for `parts` threads. */
int64_t conv2d_winograd_workspace(const conv2d_geom *g, int parts);

/* The whole forward pass (bias when not NULL, then ReLU when relu is set)
 * on up to `parts` threads, with ws of conv2d_winograd_workspace(g,
 * parts) floats. */
void conv2d_winograd_forward(const conv2d_geom *g, const float *x,
                             const float *kernel, const float *bias, bool relu,
                             float *y, float *ws, int parts);

#endif
