/* The video writer's text overlay, shared by annotate_writer.c (the
 * pipeline) and annotate_overlay.c (the texts waiting for their frames and
 * the drawing). Not installed. */
#ifndef GESTA_ANNOTATE_INTERNAL_H
#define GESTA_ANNOTATE_INTERNAL_H

#include <gst/gst.h>
#include <stdbool.h>

/* Texts handed over with frames that cairooverlay has not drawn yet, in
 * frame order. The writer bounds the frames in flight well below the
 * capacity. */
#define ANNOTATE_OVERLAY_QUEUE 64

typedef struct annotate_overlay_text {
  GstClockTime pts;
  char *text; /* g_malloc'd; NULL: nothing to draw */
} annotate_overlay_text;

typedef struct annotate_overlay {
  int width, height;
  GMutex lock; /* the queue is filled by the caller, emptied by GStreamer's
                  streaming thread */
  annotate_overlay_text queue[ANNOTATE_OVERLAY_QUEUE];
  int head, count;
} annotate_overlay;

void annotate_overlay_init(annotate_overlay *o, int width, int height);
void annotate_overlay_clear(annotate_overlay *o);
/* Queues the text for the frame with this PTS (copied). */
void annotate_overlay_push(annotate_overlay *o, GstClockTime pts,
                           const char *text);
/* cairooverlay's "draw" signal handler; user is the annotate_overlay. */
void annotate_overlay_draw(GstElement *overlay, void *cairo, guint64 timestamp,
                           guint64 duration, gpointer user);

#endif
