/* pool.c — the worker pool (see pool.h): pthreads that spin briefly on an atomic job counter
 * before sleeping on a condition variable. A training step hands the pool hundreds of kernels
 * of tens of microseconds each, back to back; a condition-variable wake-up alone costs about
 * as much as such a kernel, so a worker that has just finished keeps polling for the next
 * job for POOL_SPIN_NS and sleeps only when none came (between steps, during I/O). */
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define POOL_SPIN_NS 200000 /* 0.2 ms */

struct Pool {
  int n;                   /* threads including the caller */
  pthread_t *threads;
  pthread_mutex_t mu;
  pthread_cond_t go;
  atomic_llong gen;        /* job generation: workers run each generation once */
  atomic_int remaining;    /* workers still busy with the current job */
  atomic_int sleepers;     /* workers waiting on `go` */
  atomic_int quit;
  PoolFn fn;               /* the job: written before gen is raised, read after it is seen */
  void *ctx;
  int64_t total, row, grain; /* row > 0: boundaries at r * row + j * grain */
};

typedef struct Worker {
  Pool *p;
  int index;               /* 1 .. n-1 (0 is the caller) */
} Worker;

/* boundary i of n + 1: an even split, moved down to an allowed boundary (monotonic in i) */
static int64_t bound(const Pool *p, int i) {
  if (i >= p->n) return p->total;
  int64_t per = p->total / p->n, extra = p->total % p->n, b = i * per + (i < extra ? i : extra);
  return p->row > 0 ? b - b % p->row % p->grain : b;
}

static void chunk(const Pool *p, int i, int64_t *b, int64_t *e) {
  *b = bound(p, i);
  *e = bound(p, i + 1);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* Polls until gen differs from seen or quit is set, for up to POOL_SPIN_NS; 1 if it did. */
static int spin_for_job(Pool *p, long long seen) {
  int64_t until = 0;
  for (unsigned i = 1;; i++) {
    if (atomic_load_explicit(&p->gen, memory_order_acquire) != seen || atomic_load(&p->quit)) return 1;
    relax();
    if ((i & 255) == 0) {
      int64_t t = now_ns();
      if (!until) until = t + POOL_SPIN_NS;
      else if (t > until) return 0;
      sched_yield(); /* let a thread that needs this core run */
    }
  }
}

static void *worker(void *arg) {
  Worker *w = arg;
  Pool *p = w->p;
  long long seen = 0;
  for (;;) {
    if (!spin_for_job(p, seen)) {
      pthread_mutex_lock(&p->mu);
      atomic_fetch_add(&p->sleepers, 1);
      while (!atomic_load(&p->quit) && atomic_load(&p->gen) == seen) pthread_cond_wait(&p->go, &p->mu);
      atomic_fetch_sub(&p->sleepers, 1);
      pthread_mutex_unlock(&p->mu);
    }
    if (atomic_load(&p->quit)) break;
    seen = atomic_load_explicit(&p->gen, memory_order_acquire);
    int64_t b, e;
    chunk(p, w->index, &b, &e);
    if (e > b) p->fn(p->ctx, b, e);
    atomic_fetch_sub_explicit(&p->remaining, 1, memory_order_release);
  }
  free(w);
  return NULL;
}

/* wakes the workers that went to sleep: gen (or quit) is already set, so a worker that checks
 * after this lock sees it, and one that checked before is waiting and gets the broadcast */
static void wake(Pool *p) {
  if (atomic_load(&p->sleepers) == 0) return;
  pthread_mutex_lock(&p->mu);
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
}

Pool *pool_new(int nthreads) {
  Pool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->n = nthreads > 1 ? nthreads : 1;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->go, NULL);
  p->threads = calloc((size_t)p->n, sizeof(pthread_t));
  if (!p->threads) {
    pool_free(p);
    return NULL;
  }
  for (int i = 1; i < p->n; i++) {
    Worker *w = malloc(sizeof *w);
    if (!w || pthread_create(&p->threads[i], NULL, worker, w ? (*w = (Worker){p, i}, w) : NULL) != 0) {
      free(w);
      p->n = i; /* the ones started run; shut them down cleanly */
      pool_free(p);
      return NULL;
    }
  }
  return p;
}

void pool_free(Pool *p) {
  if (!p) return;
  atomic_store(&p->quit, 1);
  pthread_mutex_lock(&p->mu);
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
  for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
  pthread_cond_destroy(&p->go);
  pthread_mutex_destroy(&p->mu);
  free(p->threads);
  free(p);
}

int pool_size(const Pool *p) { return p ? p->n : 1; }

void pool_run(Pool *p, PoolFn fn, void *ctx, int64_t n, int64_t min_chunk) {
  pool_run_aligned(p, fn, ctx, n, min_chunk, 0, 1);
}

void pool_run_aligned(Pool *p, PoolFn fn, void *ctx, int64_t n, int64_t min_chunk, int64_t row, int64_t grain) {
  if (!p || p->n == 1 || n < 2 * (min_chunk > 0 ? min_chunk : 1)) {
    if (n > 0) fn(ctx, 0, n);
    return;
  }
  p->fn = fn;
  p->ctx = ctx;
  p->total = n;
  p->row = grain > 0 ? row : 0;
  p->grain = grain > 0 ? grain : 1;
  atomic_store_explicit(&p->remaining, p->n - 1, memory_order_relaxed);
  atomic_fetch_add(&p->gen, 1); /* seq_cst: ordered before wake()'s read of sleepers */
  wake(p);
  int64_t b, e;
  chunk(p, 0, &b, &e);
  if (e > b) fn(ctx, b, e);
  /* the others' shares are the same size as ours: they end about when we do */
  for (unsigned i = 1; atomic_load_explicit(&p->remaining, memory_order_acquire) > 0; i++) {
    relax();
    if ((i & 1023) == 0) sched_yield(); /* a worker that has no core of its own yet */
  }
}
