/* The CPU kernels' worker threads: see gesta_cpu_run in parallel.h.
 *
 * One pool per process, like the thread count it is sized by (gesta/cpu.h).
 * Each worker owns a slot the caller writes a part into; a worker spins a
 * few tens of microseconds on its slot, pausing between looks, and then
 * sleeps on its condition variable. Spinning covers the short gaps between
 * the kernels of one layer; sleeping leaves the cores to the rest of the
 * machine between runs. A pool that only spins (libgomp's default) makes
 * every kernel wait for a core that another process holds.
 *
 * A part goes to whichever thread claims it first: the caller, once done
 * with part 0, takes the parts whose workers have not started yet, so a
 * worker that the system has not scheduled (the machine is busy) delays
 * nothing. Parts, not threads, own their scratch and partial sums, so who
 * runs a part never changes a result.
 *
 * One job at a time: a second thread that calls a kernel while a job runs
 * does its parts itself, so it never waits on the first. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "parallel.h"

/* How long a waiting thread keeps looking before it sleeps: about the cost
 * of a sleep and a wake-up, so a job that follows sooner is never slowed
 * by them. */
#define POOL_SPIN_NS 30000
/* Looks between two readings of the clock. */
#define POOL_SPIN_BATCH 64

typedef struct pool_worker {
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  /* Bumped by the caller once fn, ctx and part are in place and `taken`
   * is cleared; the worker looks for a job whenever it differs from the
   * one it last saw. */
  atomic_uint seq;
  atomic_bool sleeping;
  /* Set by the thread that runs the slot's part, the worker or the
   * caller. */
  atomic_bool taken;
  atomic_bool stop;
  void (*fn)(void *ctx, int part);
  void *ctx;
  int part;
  struct cpu_pool *pool;
} pool_worker;

typedef struct cpu_pool {
  /* Held through a whole job, and while the workers are started or
   * stopped. */
  pthread_mutex_t run_lock;
  pthread_mutex_t done_lock;
  pthread_cond_t done;
  /* Parts the workers have still to finish. */
  atomic_int pending;
  atomic_bool caller_sleeping;
  pool_worker *workers;
  int n_workers;
  bool closed; /* after exit began: every job runs on its caller */
} cpu_pool;

static cpu_pool pool = {.run_lock = PTHREAD_MUTEX_INITIALIZER,
                        .done_lock = PTHREAD_MUTEX_INITIALIZER,
                        .done = PTHREAD_COND_INITIALIZER};
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

/* Set on the workers, and on a caller while it runs a part of a split:
 * a kernel called from inside a part runs in one part. */
static _Thread_local bool pool_in_part;

bool gesta_cpu_in_part(void) {
  return pool_in_part;
}

static void pool_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static int64_t pool_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spins until *seq differs from seen, for POOL_SPIN_NS at most; true when
 * it did. */
static bool pool_spin_seq(atomic_uint *seq, unsigned seen) {
  int64_t end = 0;
  for (;;) {
    for (int i = 0; i < POOL_SPIN_BATCH; i++) {
      if (atomic_load_explicit(seq, memory_order_acquire) != seen)
        return true;
      pool_pause();
    }
    if (end == 0)
      end = pool_now_ns() + POOL_SPIN_NS;
    else if (pool_now_ns() >= end)
      return false;
  }
}

static bool pool_spin_done(atomic_int *pending) {
  int64_t end = 0;
  for (;;) {
    for (int i = 0; i < POOL_SPIN_BATCH; i++) {
      if (atomic_load_explicit(pending, memory_order_acquire) == 0)
        return true;
      pool_pause();
    }
    if (end == 0)
      end = pool_now_ns() + POOL_SPIN_NS;
    else if (pool_now_ns() >= end)
      return false;
  }
}

/* Runs the part of w's slot, claimed by this thread, and counts it done. */
static void pool_finish(pool_worker *w) {
  cpu_pool *owner = w->pool;
  w->fn(w->ctx, w->part);
  /* Sequentially consistent, as the caller's `caller_sleeping` store and
   * pending load are: see the worker's sleep. */
  if (atomic_fetch_sub(&owner->pending, 1) == 1 &&
      atomic_load(&owner->caller_sleeping)) {
    pthread_mutex_lock(&owner->done_lock);
    pthread_cond_signal(&owner->done);
    pthread_mutex_unlock(&owner->done_lock);
  }
}

static void *pool_worker_main(void *arg) {
  pool_worker *w = arg;
  /* The first job may be posted before this thread runs: count from the
   * slot's start, not from what it holds now. */
  unsigned seen = 0;
  pool_in_part = true;
  for (;;) {
    if (!pool_spin_seq(&w->seq, seen)) {
      /* The caller checks `sleeping` after it bumps seq, and the worker
       * checks seq after it sets `sleeping` (both sequentially
       * consistent): one of the two sees the other, so no wake-up is
       * lost. */
      pthread_mutex_lock(&w->lock);
      atomic_store(&w->sleeping, true);
      while (atomic_load(&w->seq) == seen)
        pthread_cond_wait(&w->wake, &w->lock);
      atomic_store(&w->sleeping, false);
      pthread_mutex_unlock(&w->lock);
    }
    seen = atomic_load_explicit(&w->seq, memory_order_acquire);
    if (atomic_load(&w->stop))
      return NULL;
    /* The caller may have run this part already, and even posted the
     * next job: the claim decides, and the job read after it is the one
     * claimed. */
    if (!atomic_exchange(&w->taken, true))
      pool_finish(w);
  }
}

static void pool_post(pool_worker *w) {
  atomic_fetch_add(&w->seq, 1);
  if (atomic_load(&w->sleeping)) {
    pthread_mutex_lock(&w->lock);
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
  }
}

/* Stops and joins every worker; run_lock held. */
static void pool_stop(void) {
  for (int i = 0; i < pool.n_workers; i++) {
    atomic_store(&pool.workers[i].stop, true);
    pool_post(&pool.workers[i]);
  }
  for (int i = 0; i < pool.n_workers; i++) {
    pthread_join(pool.workers[i].thread, NULL);
    pthread_cond_destroy(&pool.workers[i].wake);
    pthread_mutex_destroy(&pool.workers[i].lock);
  }
  free(pool.workers);
  pool.workers = NULL;
  pool.n_workers = 0;
}

/* n workers (the caller is the n + 1st thread); run_lock held. Keeps the
 * workers it could start if the system refuses more. */
static void pool_start(int n) {
  sigset_t all, old;
  pool.workers = calloc((size_t)n, sizeof *pool.workers);
  if (!pool.workers)
    return;
  /* Signals go to the application's threads, never to a worker. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  for (int i = 0; i < n; i++) {
    pool_worker *w = &pool.workers[i];
    w->pool = &pool;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    if (pthread_create(&w->thread, NULL, pool_worker_main, w) != 0) {
      pthread_cond_destroy(&w->wake);
      pthread_mutex_destroy(&w->lock);
      break;
    }
    pool.n_workers++;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void pool_close(void) {
  pthread_mutex_lock(&pool.run_lock);
  pool_stop();
  pool.closed = true;
  pthread_mutex_unlock(&pool.run_lock);
}

static void pool_register_close(void) {
  atexit(pool_close);
}

static void pool_run_serial(int parts, void (*fn)(void *ctx, int part),
                            void *ctx) {
  bool outer = pool_in_part;
  pool_in_part = parts > 1 || outer;
  for (int p = 0; p < parts; p++)
    fn(ctx, p);
  pool_in_part = outer;
}

void gesta_cpu_run(int parts, void (*fn)(void *ctx, int part), void *ctx) {
  int want;
  if (parts <= 1 || pool_in_part) {
    pool_run_serial(parts, fn, ctx);
    return;
  }
  pthread_once(&pool_once, pool_register_close);
  if (pthread_mutex_trylock(&pool.run_lock) != 0) {
    pool_run_serial(parts, fn, ctx);
    return;
  }
  want = gesta_cpu_threads() - 1;
  if (!pool.closed && pool.n_workers != want) {
    pool_stop();
    pool_start(want);
  }
  if (pool.closed || parts - 1 > pool.n_workers) {
    pthread_mutex_unlock(&pool.run_lock);
    pool_run_serial(parts, fn, ctx);
    return;
  }
  atomic_store(&pool.pending, parts - 1);
  for (int p = 1; p < parts; p++) {
    pool_worker *w = &pool.workers[p - 1];
    w->fn = fn;
    w->ctx = ctx;
    w->part = p;
    atomic_store(&w->taken, false);
    pool_post(w);
  }
  pool_in_part = true;
  fn(ctx, 0);
  for (int p = parts - 1; p >= 1; p--)
    if (!atomic_exchange(&pool.workers[p - 1].taken, true))
      pool_finish(&pool.workers[p - 1]);
  pool_in_part = false;
  if (!pool_spin_done(&pool.pending)) {
    pthread_mutex_lock(&pool.done_lock);
    atomic_store(&pool.caller_sleeping, true);
    while (atomic_load(&pool.pending) != 0)
      pthread_cond_wait(&pool.done, &pool.done_lock);
    atomic_store(&pool.caller_sleeping, false);
    pthread_mutex_unlock(&pool.done_lock);
  }
  pthread_mutex_unlock(&pool.run_lock);
}
