/* Decoding threads for gesta predict: the next videos' clips are read
 * while the model classifies the current ones, several videos at once.
 *
 * Videos are handed out in order; a thread takes the next video only when
 * its clip has a free slot (2 per thread), so memory stays bounded however
 * many videos are named, and the reader of the results (the main thread)
 * takes them in order, so output does not depend on which thread finished
 * first.
 *
 * The first video is read alone. GStreamer 1.22 loads a plugin on first
 * use, and a thread that asks for an element while another thread is
 * loading its plugin is told the element does not exist ("videoconvert is
 * missing", a demuxer missing, a typefinder skipped). Reading one video
 * first loads the plugins a folder of similar videos needs; a video of
 * another format that still meets the race is read again once. Loading
 * every decoder and typefinder up front instead costs about 0.2 s and
 * 15 MB. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "predict.h"

#if GESTA_HAVE_GSTREAMER

#define PREFETCH_MAX_THREADS 4

typedef struct prefetch_slot {
  predict_clip clip;
  int video; /* the video it holds or is reading; -1: free */
  bool ready;
} prefetch_slot;

struct predict_prefetch {
  const gesta_context *ctx;
  char **videos;
  int n_videos;
  const gesta_preprocess *pp;
  pthread_t threads[PREFETCH_MAX_THREADS];
  int n_threads;
  prefetch_slot *slots;
  int n_slots;
  pthread_mutex_t lock;
  pthread_cond_t changed;
  int next;     /* the next video to read */
  int taken;    /* videos given back by the reader */
  int parallel; /* threads asked for */
  bool first_read, stop;
};

int predict_prefetch_threads(int n_videos) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  int n = cores < 1                      ? 1
          : cores > PREFETCH_MAX_THREADS ? PREFETCH_MAX_THREADS
                                         : (int)cores;
  return n < n_videos ? n : n_videos < 1 ? 1 : n_videos;
}

static void *prefetch_thread(void *user) {
  predict_prefetch *p = user;
  pthread_mutex_lock(&p->lock);
  for (;;) {
    prefetch_slot *s;
    gesta_video_options vo;
    int video;
    while (
        !p->stop && p->next < p->n_videos &&
        (p->next >= p->taken + p->n_slots || (p->next > 0 && !p->first_read)))
      pthread_cond_wait(&p->changed, &p->lock);
    if (p->stop || p->next >= p->n_videos)
      break;
    video = p->next++;
    s = &p->slots[video % p->n_slots];
    s->video = video;
    s->ready = false;
    pthread_mutex_unlock(&p->lock);

    gesta_video_options_init(&vo);
    gesta_error_clear(&s->clip.err);
    s->clip.status = gesta_clip_read_uniform(
        p->ctx, p->videos[video], &vo, p->pp, s->clip.data, s->clip.indices,
        &s->clip.stats, &s->clip.err);
    if (s->clip.status == GESTA_STATUS_UNSUPPORTED && p->parallel > 1) {
      gesta_error_clear(&s->clip.err);
      s->clip.status = gesta_clip_read_uniform(
          p->ctx, p->videos[video], &vo, p->pp, s->clip.data, s->clip.indices,
          &s->clip.stats, &s->clip.err);
    }

    pthread_mutex_lock(&p->lock);
    if (video == 0)
      p->first_read = true;
    s->ready = true;
    pthread_cond_broadcast(&p->changed);
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

gesta_status predict_prefetch_start(const gesta_context *ctx, char **videos,
                                    int n_videos, const gesta_preprocess *pp,
                                    int threads, predict_prefetch **out,
                                    gesta_error *err) {
  predict_prefetch *p;
  size_t floats =
      (size_t)pp->frames * (size_t)pp->height * (size_t)pp->width *
      (size_t)gesta_pixel_format_channels(gesta_pixel_format_for(pp->channels));

  *out = NULL;
  if (threads < 1)
    threads = predict_prefetch_threads(n_videos);
  if (threads > PREFETCH_MAX_THREADS)
    threads = PREFETCH_MAX_THREADS;
  p = calloc(1, sizeof *p);
  if (!p)
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
  p->ctx = ctx;
  p->videos = videos;
  p->n_videos = n_videos;
  p->pp = pp;
  p->n_slots = 2 * threads < n_videos ? 2 * threads : n_videos;
  if (p->n_slots < 1)
    p->n_slots = 1;
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->changed, NULL);
  p->slots = calloc((size_t)p->n_slots, sizeof *p->slots);
  for (int i = 0; p->slots && i < p->n_slots; i++) {
    p->slots[i].video = -1;
    p->slots[i].clip.data = malloc(sizeof(float) * floats);
    p->slots[i].clip.indices =
        malloc(sizeof(int64_t) * (size_t)(pp->frames > 0 ? pp->frames : 1));
    if (!p->slots[i].clip.data || !p->slots[i].clip.indices) {
      predict_prefetch_free(p);
      return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY,
                             "out of memory for %d clips being decoded",
                             p->n_slots);
    }
  }
  if (!p->slots) {
    predict_prefetch_free(p);
    return gesta_error_set(err, GESTA_STATUS_OUT_OF_MEMORY, "out of memory");
  }
  p->parallel = threads;
  for (int i = 0; i < threads; i++) {
    if (pthread_create(&p->threads[i], NULL, prefetch_thread, p) != 0)
      break;
    p->n_threads++;
  }
  if (p->n_threads == 0) {
    predict_prefetch_free(p);
    return gesta_error_set(err, GESTA_STATUS_INTERNAL,
                           "cannot start a thread to decode videos");
  }
  *out = p;
  return GESTA_STATUS_OK;
}

const predict_clip *predict_prefetch_take(predict_prefetch *p, int video) {
  prefetch_slot *s = &p->slots[video % p->n_slots];
  pthread_mutex_lock(&p->lock);
  while (!(s->video == video && s->ready))
    pthread_cond_wait(&p->changed, &p->lock);
  pthread_mutex_unlock(&p->lock);
  return &s->clip;
}

void predict_prefetch_done(predict_prefetch *p, int video) {
  pthread_mutex_lock(&p->lock);
  p->slots[video % p->n_slots].video = -1;
  p->slots[video % p->n_slots].ready = false;
  if (video + 1 > p->taken)
    p->taken = video + 1;
  pthread_cond_broadcast(&p->changed);
  pthread_mutex_unlock(&p->lock);
}

void predict_prefetch_free(predict_prefetch *p) {
  if (!p)
    return;
  pthread_mutex_lock(&p->lock);
  p->stop = true;
  pthread_cond_broadcast(&p->changed);
  pthread_mutex_unlock(&p->lock);
  for (int i = 0; i < p->n_threads; i++)
    pthread_join(p->threads[i], NULL);
  for (int i = 0; p->slots && i < p->n_slots; i++) {
    free(p->slots[i].clip.data);
    free(p->slots[i].clip.indices);
  }
  free(p->slots);
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->changed);
  free(p);
}

#endif
