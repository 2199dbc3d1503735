/* Preprocessing: OpenCV's 8-bit bilinear resize, reproduced bit for bit,
 * then channel scaling to float.
 *
 * The seed resized frames with cv2.resize(frame, (64, 64)) on 8-bit images.
 * OpenCV does that in fixed point (11-bit weights, INTER_RESIZE_COEF_BITS),
 * with a plain copy for equal sizes and a 2x2 average for an exact halving;
 * a float implementation of the textbook formula differs from it by one
 * grey level on many pixels, so this follows OpenCV's arithmetic step by
 * step (imgproc/src/resize.cpp: hal::resize, HResizeLinear, VResizeLinear,
 * ResizeAreaFastVec). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gesta/video.h"

#define RESIZE_COEF_BITS 11
#define RESIZE_COEF_SCALE (1 << RESIZE_COEF_BITS)

/* OpenCV's saturate_cast<short>(float): round half to even, then clamp. */
static short resize_weight(float w) {
  long v = lrintf(w * (float)RESIZE_COEF_SCALE);
  if (v > 32767)
    v = 32767;
  if (v < -32768)
    v = -32768;
  return (short)v;
}

/* OpenCV's saturate_cast<int>(double) for the scale test. */
static int resize_round(double v) {
  return (int)lrint(v);
}

/* Source offset and weights along one axis, as hal::resize computes them:
 * fx = (float)((d + 0.5) * scale - 0.5), floor, and edges clamped with
 * the weight moved onto the edge pixel. */
static void resize_axis(int src_n, int dst_n, int *ofs, short *w) {
  double scale = 1.0 / ((double)dst_n / (double)src_n);
  for (int d = 0; d < dst_n; d++) {
    float f = (float)((d + 0.5) * scale - 0.5);
    int s = (int)floorf(f);
    f -= (float)s;
    if (s < 0)
      f = 0.f, s = 0;
    if (s >= src_n - 1)
      f = 0.f, s = src_n - 1;
    ofs[d] = s;
    w[2 * d] = resize_weight(1.f - f);
    w[2 * d + 1] = resize_weight(f);
  }
}

static void resize_halve(const uint8_t *src, size_t src_stride, int cn,
                         uint8_t *dst, int dst_w, int dst_h,
                         size_t dst_stride) {
  for (int y = 0; y < dst_h; y++) {
    const uint8_t *s0 = src + (size_t)(2 * y) * src_stride;
    const uint8_t *s1 = s0 + src_stride;
    uint8_t *d = dst + (size_t)y * dst_stride;
    for (int x = 0; x < dst_w; x++)
      for (int c = 0; c < cn; c++) {
        int i = 2 * x * cn + c;
        d[x * cn + c] =
            (uint8_t)((s0[i] + s0[i + cn] + s1[i] + s1[i + cn] + 2) >> 2);
      }
  }
}

/* One source row through HResizeLinear: value * 2048-scaled weights. */
static void resize_row(const uint8_t *s, int src_w, int cn, const int *xofs,
                       const short *xw, int dst_w, int *out) {
  for (int x = 0; x < dst_w; x++) {
    int sx = xofs[x] * cn;
    if (xofs[x] >= src_w - 1) {
      for (int c = 0; c < cn; c++)
        out[x * cn + c] = s[sx + c] * RESIZE_COEF_SCALE;
      continue;
    }
    for (int c = 0; c < cn; c++)
      out[x * cn + c] = s[sx + c] * xw[2 * x] + s[sx + c + cn] * xw[2 * x + 1];
  }
}

gesta_status gesta_resize_u8(const uint8_t *src, int src_w, int src_h,
                             size_t src_stride, int cn, uint8_t *dst, int dst_w,
                             int dst_h, size_t dst_stride, gesta_error *err) {
  double scale_x = 1.0 / ((double)dst_w / src_w);
  double scale_y = 1.0 / ((double)dst_h / src_h);
  int iscale_x = resize_round(scale_x), iscale_y = resize_round(scale_y);
  size_t row_bytes = (size_t)dst_w * (size_t)cn;
  int *xofs = NULL, *yofs = NULL, *rows = NULL;
  short *xw = NULL, *yw = NULL;
  int cached[2] = {-1, -1};
  gesta_status status = GESTA_STATUS_OK;

  if (src_w == dst_w && src_h == dst_h) {
    for (int y = 0; y < dst_h; y++)
      memcpy(dst + (size_t)y * dst_stride, src + (size_t)y * src_stride,
             row_bytes);
    return GESTA_STATUS_OK;
  }
  if (fabs(scale_x - iscale_x) < DBL_EPSILON &&
      fabs(scale_y - iscale_y) < DBL_EPSILON && iscale_x == 2 &&
      iscale_y == 2 && cn != 2) {
    resize_halve(src, src_stride, cn, dst, dst_w, dst_h, dst_stride);
    return GESTA_STATUS_OK;
  }

  /* Small tables: a 64x64 output needs under 2 KB besides two rows. */
  xofs = malloc(sizeof *xofs * (size_t)dst_w);
  yofs = malloc(sizeof *yofs * (size_t)dst_h);
  xw = malloc(sizeof *xw * 2 * (size_t)dst_w);
  yw = malloc(sizeof *yw * 2 * (size_t)dst_h);
  rows = malloc(sizeof *rows * 2 * row_bytes);
  if (!xofs || !yofs || !xw || !yw || !rows) {
    status = gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory resizing a %dx%d frame to %dx%d",
                             src_w, src_h, dst_w, dst_h);
    goto done;
  }
  resize_axis(src_w, dst_w, xofs, xw);
  /* Rows keep OpenCV's unclamped weights: hal::resize clamps the row
   * indices (in the invoker) but not fy, unlike the columns. */
  for (int y = 0; y < dst_h; y++) {
    float f = (float)((y + 0.5) * scale_y - 0.5);
    int s = (int)floorf(f);
    f -= (float)s;
    yofs[y] = s;
    yw[2 * y] = resize_weight(1.f - f);
    yw[2 * y + 1] = resize_weight(f);
  }
  for (int y = 0; y < dst_h; y++) {
    int sy[2];
    const int *r[2];
    uint8_t *d = dst + (size_t)y * dst_stride;
    int b0 = yw[2 * y], b1 = yw[2 * y + 1];
    for (int k = 0; k < 2; k++) {
      int v = yofs[y] + k;
      sy[k] = v < 0 ? 0 : v >= src_h ? src_h - 1 : v;
    }
    for (int k = 0; k < 2; k++) {
      int slot = cached[0] == sy[k] ? 0 : cached[1] == sy[k] ? 1 : -1;
      if (slot < 0) {
        /* Overwrite a row this output row does not need. */
        slot = (cached[0] == sy[0] || cached[0] == sy[1]) ? 1 : 0;
        resize_row(src + (size_t)sy[k] * src_stride, src_w, cn, xofs, xw, dst_w,
                   rows + (size_t)slot * row_bytes);
        cached[slot] = sy[k];
      }
      r[k] = rows + (size_t)slot * row_bytes;
    }
    /* VResizeLinear's fixed-point cast: each product keeps 16 bits after
     * dropping 4, then a rounding shift by 2 (22 bits in all). */
    for (size_t i = 0; i < row_bytes; i++)
      d[i] = (uint8_t)((((b0 * (r[0][i] >> 4)) >> 16) +
                        ((b1 * (r[1][i] >> 4)) >> 16) + 2) >>
                       2);
  }
done:
  free(xofs);
  free(yofs);
  free(xw);
  free(yw);
  free(rows);
  return status;
}

int gesta_pixel_format_channels(gesta_pixel_format format) {
  return format == GESTA_PIXEL_GRAY ? 1 : 3;
}

gesta_pixel_format gesta_pixel_format_for(gesta_channel_order channels) {
  switch (channels) {
  case GESTA_CHANNELS_RGB:
    return GESTA_PIXEL_RGB;
  case GESTA_CHANNELS_GRAY:
    return GESTA_PIXEL_GRAY;
  default:
    return GESTA_PIXEL_BGR;
  }
}

gesta_status gesta_preprocess_frame(const gesta_preprocess *pp,
                                    const gesta_frame *frame, uint8_t *scratch,
                                    float *out, gesta_error *err) {
  int cn = frame->channels;
  int64_t n = pp->height * pp->width * cn;
  float lut[256];
  gesta_status status;

  if (cn != gesta_pixel_format_channels(gesta_pixel_format_for(pp->channels)))
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "frame has %d channels but the model wants %s", cn,
                           pp->channels == GESTA_CHANNELS_GRAY ? "gray"
                                                               : "3 channels");
  status = gesta_resize_u8(frame->data, frame->width, frame->height,
                           (size_t)frame->stride, cn, scratch, (int)pp->width,
                           (int)pp->height, (size_t)(pp->width * cn), err);
  if (status != GESTA_STATUS_OK)
    return status;
  /* In double, then rounded once: the seed's frame / 255 in NumPy. */
  for (int v = 0; v < 256; v++)
    lut[v] = (float)((double)v * pp->scale);
  for (int64_t i = 0; i < n; i++)
    out[i] = lut[scratch[i]];
  return GESTA_STATUS_OK;
}

int64_t gesta_sampling_uniform_skip(int64_t frame_count, int64_t frames) {
  int64_t skip = frames > 0 ? frame_count / frames : 1;
  return skip > 1 ? skip : 1;
}
