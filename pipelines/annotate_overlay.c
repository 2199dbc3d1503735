/* The writer's text overlay: each frame's text waits in a small queue until
 * cairooverlay draws that frame, then goes on a dark box in the top-left
 * corner.
 *
 * Setting a text property from the caller's thread would race with the
 * streaming thread and label the wrong frames; matching texts to frames by
 * their PTS in the draw callback keeps every label on its own frame. */
#include <cairo.h>
#include <string.h>

#include "annotate_internal.h"

void annotate_overlay_init(annotate_overlay *o, int width, int height) {
  memset(o, 0, sizeof *o);
  o->width = width;
  o->height = height;
  g_mutex_init(&o->lock);
}

void annotate_overlay_clear(annotate_overlay *o) {
  for (int i = 0; i < o->count; i++)
    g_free(o->queue[(o->head + i) % ANNOTATE_OVERLAY_QUEUE].text);
  o->count = 0;
  g_mutex_clear(&o->lock);
}

void annotate_overlay_push(annotate_overlay *o, GstClockTime pts,
                           const char *text) {
  annotate_overlay_text *slot;
  g_mutex_lock(&o->lock);
  /* Cannot happen while the writer bounds the frames in flight; losing
   * the oldest label is better than blocking the caller forever. */
  if (o->count == ANNOTATE_OVERLAY_QUEUE) {
    g_free(o->queue[o->head].text);
    o->head = (o->head + 1) % ANNOTATE_OVERLAY_QUEUE;
    o->count--;
  }
  slot = &o->queue[(o->head + o->count) % ANNOTATE_OVERLAY_QUEUE];
  slot->pts = pts;
  slot->text = text && text[0] ? g_strdup(text) : NULL;
  o->count++;
  g_mutex_unlock(&o->lock);
}

/* The text queued for the frame at `pts`, or NULL; texts of earlier frames
 * (none, unless an element dropped frames) are discarded. (transfer full) */
static char *overlay_take(annotate_overlay *o, GstClockTime pts) {
  char *text = NULL;
  g_mutex_lock(&o->lock);
  while (o->count > 0) {
    annotate_overlay_text *head = &o->queue[o->head];
    if (head->pts > pts)
      break;
    if (head->pts == pts)
      text = head->text;
    else
      g_free(head->text);
    head->text = NULL;
    o->head = (o->head + 1) % ANNOTATE_OVERLAY_QUEUE;
    o->count--;
    if (text)
      break;
  }
  g_mutex_unlock(&o->lock);
  return text;
}

/* Font size from the frame height: readable on UCF101's 240 rows, not
 * covering a thumbnail, not tiny on 1080p. */
static double overlay_font_px(int height) {
  double px = height / 14.0;
  return px < 9 ? 9 : px > 48 ? 48 : px;
}

static void overlay_paint(cairo_t *cr, int width, int height, char *text) {
  double px = overlay_font_px(height), pad = px * 0.3, line = px * 1.25;
  double box_w = px * 4, box_h, text_h;
  cairo_font_extents_t fe;
  int lines = 1;
  char *p;

  for (p = text; *p; p++)
    if (*p == '\n')
      lines++;
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                         CAIRO_FONT_WEIGHT_BOLD);
  cairo_set_font_size(cr, px);
  cairo_font_extents(cr, &fe);
  p = text;
  for (int i = 0; i < lines; i++) {
    char *nl = strchr(p, '\n');
    cairo_text_extents_t te;
    if (nl)
      *nl = '\0';
    cairo_text_extents(cr, p, &te);
    if (te.x_advance + 2 * pad > box_w)
      box_w = te.x_advance + 2 * pad;
    if (nl)
      *nl = '\n';
    p = nl ? nl + 1 : p + strlen(p);
  }
  text_h = fe.ascent + fe.descent > 0 ? fe.ascent + fe.descent : px;
  box_h = (lines - 1) * line + text_h + 2 * pad;
  /* The box alone marks the frame even where no font is installed. */
  cairo_set_source_rgba(cr, 0, 0, 0, 0.65);
  cairo_rectangle(cr, 0, 0, box_w < width ? box_w : width,
                  box_h < height ? box_h : height);
  cairo_fill(cr);
  cairo_set_source_rgb(cr, 1, 1, 1);
  p = text;
  for (int i = 0; i < lines; i++) {
    char *nl = strchr(p, '\n');
    if (nl)
      *nl = '\0';
    cairo_move_to(cr, pad, pad + i * line + fe.ascent);
    cairo_show_text(cr, p);
    p = nl ? nl + 1 : p + strlen(p);
  }
}

void annotate_overlay_draw(GstElement *overlay, void *cairo, guint64 timestamp,
                           guint64 duration, gpointer user) {
  annotate_overlay *o = user;
  char *text = overlay_take(o, timestamp);
  (void)overlay, (void)duration;
  if (!text)
    return;
  cairo_save(cairo);
  overlay_paint(cairo, o->width, o->height, text);
  cairo_restore(cairo);
  g_free(text);
}
