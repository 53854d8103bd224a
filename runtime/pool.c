/* pool.c — the worker pool (see pool.h): pthreads, one mutex, two condition variables. */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

struct Pool {
  int n;                 /* threads including the caller */
  pthread_t *threads;
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  int64_t gen;           /* job generation: workers run each generation once */
  int remaining;         /* workers still busy with the current job */
  int quit;
  PoolFn fn;
  void *ctx;
  int64_t total;
};

typedef struct Worker {
  Pool *p;
  int index;             /* 1 .. n-1 (0 is the caller) */
} Worker;

static void chunk(const Pool *p, int i, int64_t *b, int64_t *e) {
  int64_t per = p->total / p->n, extra = p->total % p->n;
  *b = i * per + (i < extra ? i : extra);
  *e = *b + per + (i < extra ? 1 : 0);
}

static void *worker(void *arg) {
  Worker *w = arg;
  Pool *p = w->p;
  int64_t seen = 0;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->quit && p->gen == seen) pthread_cond_wait(&p->go, &p->mu);
    if (p->quit) break;
    seen = p->gen;
    int64_t b, e;
    chunk(p, w->index, &b, &e);
    PoolFn fn = p->fn;
    void *ctx = p->ctx;
    pthread_mutex_unlock(&p->mu);
    if (e > b) fn(ctx, b, e);
    pthread_mutex_lock(&p->mu);
    if (--p->remaining == 0) pthread_cond_signal(&p->done);
  }
  pthread_mutex_unlock(&p->mu);
  free(w);
  return NULL;
}

Pool *pool_new(int nthreads) {
  Pool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->n = nthreads > 1 ? nthreads : 1;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->go, NULL);
  pthread_cond_init(&p->done, NULL);
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
  pthread_mutex_lock(&p->mu);
  p->quit = 1;
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
  for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
  pthread_cond_destroy(&p->go);
  pthread_cond_destroy(&p->done);
  pthread_mutex_destroy(&p->mu);
  free(p->threads);
  free(p);
}

int pool_size(const Pool *p) { return p ? p->n : 1; }

void pool_run(Pool *p, PoolFn fn, void *ctx, int64_t n, int64_t min_chunk) {
  if (!p || p->n == 1 || n < 2 * (min_chunk > 0 ? min_chunk : 1)) {
    if (n > 0) fn(ctx, 0, n);
    return;
  }
  pthread_mutex_lock(&p->mu);
  p->fn = fn;
  p->ctx = ctx;
  p->total = n;
  p->remaining = p->n - 1;
  p->gen++;
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
  int64_t b, e;
  chunk(p, 0, &b, &e);
  if (e > b) fn(ctx, b, e);
  pthread_mutex_lock(&p->mu);
  while (p->remaining > 0) pthread_cond_wait(&p->done, &p->mu);
  pthread_mutex_unlock(&p->mu);
}
