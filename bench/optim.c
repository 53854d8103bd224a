/* optim.c — the trainer's optimizer phase (normalise the gradient sums, sum their squares, AdamW)
 * on the parameters of the default model (examples/multi.mam: d 128, ffn 512, a 4,000-token
 * tied embedding, 2+2 layers; 1.43M parameters), new path (optim_scale_sq_norms,
 * optim_update_all) against the named baseline: a copy of the scalar implementation it replaced
 * (below, as it was in runtime/optim.c and runtime/trainer.c). Both run on the same data,
 * interleaved step by step; the medians and their ratio are printed, and the parameters, both
 * moments and every step's sums of squares must come out bit-identical (exit 1 otherwise).
 *
 *   bench_optim [THREADS [STEPS [FIRST_STEP]]]   (bench/optim.sh; THREADS: a pool's)
 *
 * FIRST_STEP (default 1) matters: from step ~1,850 on, Adam's 1 - beta2^t is 1 and the new
 * path skips a division (optim_fast.c); the default run (8,000 steps) spends 77% of its steps there.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "optim.h"
#include "pool.h"
#include "rng.h"

/* ---- the baseline: the scalar implementation, as it was ----------------------------------------- */

static double old_sq_norm(const Tensor *g) {
  double s = 0;
  if (g->dt == DT_F32) {
    const float *x = g->data;
    for (int64_t i = 0; i < g->n; i++) s += (double)x[i] * x[i];
  } else if (g->dt == DT_F64) {
    const double *x = g->data;
    for (int64_t i = 0; i < g->n; i++) s += x[i] * x[i];
  } else {
    for (int64_t i = 0; i < g->n; i++) {
      double v = rt_tensor_get(g, i);
      s += v * v;
    }
  }
  return s;
}

#define LOAD(t, i) ((t)->dt == DT_F32 ? (double)((const float *)(t)->data)[i] : ((const double *)(t)->data)[i])
#define STORE(t, i, x)                                                                     \
  do {                                                                                     \
    if ((t)->dt == DT_F32)                                                                 \
      ((float *)(t)->data)[i] = (float)(x);                                                \
    else                                                                                   \
      ((double *)(t)->data)[i] = (x);                                                      \
  } while (0)

static void old_update(const OptimOpts *o, Tensor *w, const Tensor *g, Tensor *m, Tensor *v, int64_t t, double lr,
                       double gscale) {
  if (o->kind == OPT_SGD) {
    for (int64_t i = 0; i < w->n; i++) {
      double gi = LOAD(g, i) * gscale + o->weight_decay * LOAD(w, i);
      double mi = o->momentum > 0 ? o->momentum * LOAD(m, i) + gi : gi;
      STORE(m, i, mi);
      STORE(w, i, LOAD(w, i) - lr * mi);
    }
    return;
  }
  double b1 = o->beta1, b2 = o->beta2;
  double c1 = 1.0 - pow(b1, (double)t), c2 = 1.0 - pow(b2, (double)t);
  double step = lr / c1, decay = o->kind == OPT_ADAMW ? 1.0 - lr * o->weight_decay : 1.0;
  double l2 = o->kind == OPT_ADAM ? o->weight_decay : 0.0;
  for (int64_t i = 0; i < w->n; i++) {
    double wi = LOAD(w, i), gi = LOAD(g, i) * gscale + l2 * wi;
    double mi = b1 * LOAD(m, i) + (1 - b1) * gi;
    double vi = b2 * LOAD(v, i) + (1 - b2) * gi * gi;
    STORE(m, i, mi);
    STORE(v, i, vi);
    STORE(w, i, wi * decay - step * mi / (sqrt(vi / c2) + o->eps));
  }
}

/* ---- the model's parameters ------------------------------------------------------------------------ */

enum { MAXT = 256 };
static int64_t shapes[MAXT][2];
static int ntensors;

static void add(int64_t r, int64_t c) { shapes[ntensors][0] = r, shapes[ntensors][1] = c, ntensors++; }
static void linear(int64_t din, int64_t dout) { add(din, dout), add(1, dout); }
static void attention(int64_t d) {
  for (int i = 0; i < 4; i++) linear(d, d);
}
static void layer_norm(int64_t d) { add(1, d), add(1, d); }

static void multi_model(void) {
  const int64_t d = 128, ffn = 512, vocab = 4000;
  add(vocab, d);
  for (int l = 0; l < 2; l++) /* encoder */
    layer_norm(d), attention(d), layer_norm(d), linear(d, ffn), linear(ffn, d);
  layer_norm(d);
  for (int l = 0; l < 2; l++) /* decoder */
    layer_norm(d), attention(d), layer_norm(d), attention(d), layer_norm(d), linear(d, ffn), linear(ffn, d);
  layer_norm(d);
  for (int l = 0; l < 4; l++) add(1, d); /* to_lang[l] */
}

/* One side's state: parameters, gradient sums (normalised in place), moments. */
typedef struct Side {
  Tensor w[MAXT], g[MAXT], m[MAXT], v[MAXT];
} Side;

static void side_alloc(Side *s) {
  for (int q = 0; q < ntensors; q++) {
    Tensor *ts[4] = {&s->w[q], &s->g[q], &s->m[q], &s->v[q]};
    for (int k = 0; k < 4; k++)
      if (!rt_tensor_alloc(ts[k], DT_F32, 2, shapes[q])) {
        fprintf(stderr, "out of memory\n");
        exit(2);
      }
  }
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *x, int n) {
  qsort(x, (size_t)n, sizeof *x, cmp_double);
  return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

static Side old_side, new_side;

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1, steps = argc > 2 ? atoi(argv[2]) : 30;
  int64_t first = argc > 3 ? atoll(argv[3]) : 1;
  if (threads < 1 || steps < 1 || first < 1) {
    fprintf(stderr, "usage: bench_optim [THREADS [STEPS [FIRST_STEP]]]\n");
    return 2;
  }
  multi_model();
  int64_t total = 0;
  for (int q = 0; q < ntensors; q++) total += shapes[q][0] * shapes[q][1];
  side_alloc(&old_side);
  side_alloc(&new_side);
  uint64_t key = rng_key(20261129, 7);
  for (int q = 0; q < ntensors; q++)
    for (int64_t i = 0; i < old_side.w[q].n; i++)
      ((float *)old_side.w[q].data)[i] = ((float *)new_side.w[q].data)[i] =
          (float)(0.05 * rng_normal(key, ((uint64_t)q << 32) + (uint64_t)i));
  Pool *pool = threads > 1 ? pool_new(threads) : NULL;
  OptimOpts o = {OPT_ADAMW, 0.9, 0.98, 1e-9, 0.01, 0};
  Schedule sched = {SCHED_COSINE, 2e-3, 0, 400, 8000};
  double *t_old = malloc(sizeof(double) * (size_t)steps), *t_new = malloc(sizeof(double) * (size_t)steps);
  double *u_old = malloc(sizeof(double) * (size_t)steps), *u_new = malloc(sizeof(double) * (size_t)steps);
  OptimItem items[MAXT];
  OptimNormItem norms[MAXT];
  int same = 1;
  printf("optimizer phase (normalise, sum of squares, AdamW) on %d tensors, %lld parameters, %d thread%s, "
         "steps %lld-%lld\n", ntensors, (long long)total, threads, threads > 1 ? "s" : "", (long long)first,
         (long long)(first + steps - 1));
  for (int s = 0; s < steps; s++) {
    /* this step's gradient sums (token-weighted, as the trainer accumulates them) */
    float wsum = 400 + 50 * (float)(s % 7);
    for (int q = 0; q < ntensors; q++)
      for (int64_t i = 0; i < old_side.g[q].n; i++)
        ((float *)old_side.g[q].data)[i] = ((float *)new_side.g[q].data)[i] =
            (float)(wsum * 0.01 * rng_normal(key, ((uint64_t)(s + 1) << 40) + ((uint64_t)q << 32) + (uint64_t)i));
    int64_t t = first + s;
    double lr = sched_lr(&sched, t);
    float inv = (float)(1.0 / wsum);

    double t0 = now(); /* the baseline: trainer.c's loops around the scalar optimizer */
    double sq_old = 0;
    for (int q = 0; q < ntensors; q++) {
      float *a = old_side.g[q].data;
      for (int64_t i = 0; i < old_side.g[q].n; i++) a[i] *= inv;
    }
    for (int q = 0; q < ntensors; q++) sq_old += old_sq_norm(&old_side.g[q]);
    double t0u = now();
    double scale_old = optim_clip_scale(sqrt(sq_old), 1.0);
    for (int q = 0; q < ntensors; q++)
      old_update(&o, &old_side.w[q], &old_side.g[q], &old_side.m[q], &old_side.v[q], t, lr, scale_old);
    double t1 = now(); /* the new path */
    double sq_new = 0;
    for (int q = 0; q < ntensors; q++) norms[q] = (OptimNormItem){&new_side.g[q], inv, 0};
    optim_scale_sq_norms(norms, ntensors, pool);
    for (int q = 0; q < ntensors; q++) sq_new += norms[q].sq;
    double t1u = now();
    double scale_new = optim_clip_scale(sqrt(sq_new), 1.0);
    for (int q = 0; q < ntensors; q++)
      items[q] = (OptimItem){&new_side.w[q], &new_side.g[q], &new_side.m[q], &new_side.v[q], t};
    optim_update_all(&o, items, ntensors, lr, scale_new, pool);
    double t2 = now();
    t_old[s] = t1 - t0, t_new[s] = t2 - t1;
    u_old[s] = t1 - t0u, u_new[s] = t2 - t1u;
    if (memcmp(&sq_old, &sq_new, sizeof sq_old) != 0) {
      fprintf(stderr, "step %d: sum of squares %.17g (baseline) != %.17g\n", s + 1, sq_old, sq_new);
      same = 0;
    }
  }
  for (int q = 0; q < ntensors; q++) {
    const Tensor *a[3] = {&old_side.w[q], &old_side.m[q], &old_side.v[q]};
    const Tensor *b[3] = {&new_side.w[q], &new_side.m[q], &new_side.v[q]};
    for (int k = 0; k < 3; k++)
      if (memcmp(a[k]->data, b[k]->data, sizeof(float) * (size_t)a[k]->n) != 0) {
        fprintf(stderr, "tensor %d: %s differs from the baseline's\n", q, k == 0 ? "w" : k == 1 ? "m" : "v");
        same = 0;
      }
  }
  double mo = median(t_old, steps), mn = median(t_new, steps), uo = median(u_old, steps), un = median(u_new, steps);
  printf("  baseline (scalar, as before): %8.3f ms/step  (%.2f ns/parameter; the update %.3f ms)\n", 1e3 * mo,
         1e9 * mo / (double)total, 1e3 * uo);
  printf("  new path:                     %8.3f ms/step  (%.2f ns/parameter; the update %.3f ms)\n", 1e3 * mn,
         1e9 * mn / (double)total, 1e3 * un);
  printf("  ratio baseline/new: %.2fx over %d steps (medians); results %s\n", mo / mn, steps,
         same ? "bit-identical" : "DIFFER");
  pool_free(pool);
  free(t_old);
  free(t_new);
  free(u_old);
  free(u_new);
  return same ? 0 : 1;
}
