/* optim_fast.c — the optimizer's batched, threaded path (optim.h): f32 loops with optim.c's bits.
 *
 * Every loop here computes, per element, the f64 expressions of optim.c (optim_update_range,
 * optim_sq_norm) and the trainer's f32 normalisation, in the same order and with the same
 * roundings, so the results are bit-identical to the generic path. What makes them fast:
 *   - the dtype test and the per-tensor constants leave the loop, which then vectorises;
 *   - this file is compiled with -fno-math-errno (CMakeLists.txt), so sqrt becomes the
 *     (correctly rounded) vector instruction instead of a libm call — the same value;
 *   - on x86-64 with AVX the loops are also built for 4 doubles a vector (target("avx"), picked
 *     at run time). FMA is never enabled, so no multiply-add is contracted, whatever -ffp-contract.
 *   - sums of squares stay sequential per tensor (clipping reads the global norm), but several
 *     tensors are summed at once in one loop, as independent chains, to hide the adds' latency;
 *   - pool threads split the update over elements, and the sums over whole tensors.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "optim.h"
#include "pool.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define OPT_AVX 1
#define AVX_FN __attribute__((target("avx")))
#else
#define OPT_AVX 0
#endif
#define INLINE static inline __attribute__((always_inline))

/* ---- per-element loops (f32 storage, f64 arithmetic) ---------------------------------------------- */

/* Per-tensor constants: exactly the values optim_update_range computes before its loop. */
typedef struct OptK {
  double gs, l2, b1, b2, omb1, omb2, c2, step, decay, eps; /* Adam(W) */
  double wd, mom, lr;                                      /* SGD */
} OptK;

/* w, g, m, v: [n]. optim_update_range's Adam(W) element, term for term. Once 1 - beta2^t rounds
 * to 1 (beta2 0.98: from step 1,850 on) vi / c2 is vi exactly (vi is never a signalling NaN),
 * and the loop saves one of its two divisions: the divider bounds it. */
#define ADAM_ELEM(VHAT)                                                                            \
  do {                                                                                             \
    double wi = w[i], gi = (double)g[i] * gs + l2 * wi;                                            \
    double mi = b1 * m[i] + omb1 * gi;                                                             \
    double vi = b2 * v[i] + omb2 * gi * gi;                                                        \
    m[i] = (float)mi;                                                                              \
    v[i] = (float)vi;                                                                              \
    w[i] = (float)(wi * decay - step * mi / (sqrt(VHAT) + eps));                                   \
  } while (0)
INLINE void adam_loop(const OptK *k, float *restrict w, const float *restrict g, float *restrict m,
                      float *restrict v, int64_t n) {
  const double gs = k->gs, l2 = k->l2, b1 = k->b1, b2 = k->b2, omb1 = k->omb1, omb2 = k->omb2, c2 = k->c2,
               step = k->step, decay = k->decay, eps = k->eps;
  if (c2 == 1.0)
    for (int64_t i = 0; i < n; i++) ADAM_ELEM(vi);
  else
    for (int64_t i = 0; i < n; i++) ADAM_ELEM(vi / c2);
}
#undef ADAM_ELEM

/* w, g, m: [n]. SGD with momentum (mom > 0) or without. */
INLINE void sgd_loop(const OptK *k, float *restrict w, const float *restrict g, float *restrict m, int64_t n) {
  const double gs = k->gs, wd = k->wd, mom = k->mom, lr = k->lr;
  if (mom > 0) {
    for (int64_t i = 0; i < n; i++) {
      double gi = (double)g[i] * gs + wd * w[i], mi = mom * m[i] + gi;
      m[i] = (float)mi;
      w[i] = (float)(w[i] - lr * mi);
    }
  } else {
    for (int64_t i = 0; i < n; i++) {
      double gi = (double)g[i] * gs + wd * w[i];
      m[i] = (float)gi;
      w[i] = (float)(w[i] - lr * gi);
    }
  }
}

/* Scales four f32 arrays p0..p3 (each [n]) by s0..s3 and adds their squares into four sums,
 * each in element order: four independent chains of additions. */
INLINE void sq4_loop(float *restrict p0, float *restrict p1, float *restrict p2, float *restrict p3,
                     const float *s, double *acc, int64_t n) {
  const float s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
  double a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  for (int64_t i = 0; i < n; i++) {
    float x0 = p0[i] * s0, x1 = p1[i] * s1, x2 = p2[i] * s2, x3 = p3[i] * s3;
    p0[i] = x0, p1[i] = x1, p2[i] = x2, p3[i] = x3;
    a0 += (double)x0 * x0, a1 += (double)x1 * x1, a2 += (double)x2 * x2, a3 += (double)x3 * x3;
  }
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

static void adam_base(const OptK *k, float *w, const float *g, float *m, float *v, int64_t n) {
  adam_loop(k, w, g, m, v, n);
}
static void sgd_base(const OptK *k, float *w, const float *g, float *m, int64_t n) { sgd_loop(k, w, g, m, n); }
static void sq4_base(float *p0, float *p1, float *p2, float *p3, const float *s, double *acc, int64_t n) {
  sq4_loop(p0, p1, p2, p3, s, acc, n);
}
#if OPT_AVX
AVX_FN static void adam_avx(const OptK *k, float *w, const float *g, float *m, float *v, int64_t n) {
  adam_loop(k, w, g, m, v, n);
}
AVX_FN static void sgd_avx(const OptK *k, float *w, const float *g, float *m, int64_t n) { sgd_loop(k, w, g, m, n); }
AVX_FN static void sq4_avx(float *p0, float *p1, float *p2, float *p3, const float *s, double *acc, int64_t n) {
  sq4_loop(p0, p1, p2, p3, s, acc, n);
}
#endif

typedef void (*AdamFn)(const OptK *, float *, const float *, float *, float *, int64_t);
typedef void (*SgdFn)(const OptK *, float *, const float *, float *, int64_t);
typedef void (*Sq4Fn)(float *, float *, float *, float *, const float *, double *, int64_t);

#if OPT_AVX
static int have_avx(void) { return !getenv("MAMC_OPTIM_NO_AVX") && __builtin_cpu_supports("avx"); }
#endif

/* ---- the update ----------------------------------------------------------------------------------- */

enum { GROUP = 256 };  /* items per pool job (a longer list runs in several) */
enum { MIN_RANGE = 32768 }; /* elements a thread takes at least */

typedef struct UpdJob {
  const OptimOpts *o;
  const OptimItem *it;
  double lr, gscale;
  int n;
  char fast[GROUP];
  OptK k[GROUP];
  int64_t off[GROUP + 1]; /* the items' first elements in the flat range; off[n] = total */
  AdamFn adam;
  SgdFn sgd;
} UpdJob;

static void upd_range(void *ctx, int64_t b, int64_t e) {
  const UpdJob *j = ctx;
  int i = 0;
  while (j->off[i + 1] <= b) i++;
  for (; i < j->n && j->off[i] < e; i++) {
    const OptimItem *x = &j->it[i];
    int64_t lo = (b > j->off[i] ? b : j->off[i]) - j->off[i], hi = (e < j->off[i + 1] ? e : j->off[i + 1]) - j->off[i];
    if (hi <= lo) continue;
    if (!j->fast[i]) {
      optim_update_range(j->o, x->w, x->g, x->m, x->v, x->t, j->lr, j->gscale, lo, hi);
      continue;
    }
    float *w = (float *)x->w->data + lo, *m = (float *)x->m->data + lo;
    const float *g = (const float *)x->g->data + lo;
    if (j->o->kind == OPT_SGD)
      j->sgd(&j->k[i], w, g, m, hi - lo);
    else
      j->adam(&j->k[i], w, g, m, (float *)x->v->data + lo, hi - lo);
  }
}

void optim_update_all(const OptimOpts *o, const OptimItem *it, int n, double lr, double gscale, Pool *pool) {
  UpdJob j; /* read-only for the threads */
  j.o = o, j.lr = lr, j.gscale = gscale;
  j.adam = adam_base, j.sgd = sgd_base;
#if OPT_AVX
  if (have_avx()) j.adam = adam_avx, j.sgd = sgd_avx;
#endif
  for (int first = 0; first < n; first += GROUP) {
    j.it = it + first;
    j.n = n - first < GROUP ? n - first : GROUP;
    j.off[0] = 0;
    for (int i = 0; i < j.n; i++) {
      const OptimItem *x = &j.it[i];
      j.fast[i] = x->w->dt == DT_F32 && x->g->dt == DT_F32 && x->m->dt == DT_F32 &&
                  (o->kind == OPT_SGD || x->v->dt == DT_F32);
      j.off[i + 1] = j.off[i] + x->w->n;
      OptK *k = &j.k[i];
      if (i > 0 && x->t == j.it[i - 1].t) { /* a module's tensors share its step */
        *k = j.k[i - 1];
        continue;
      }
      /* optim_update_range's constants, computed the same way */
      double b1 = o->beta1, b2 = o->beta2;
      double c1 = 1.0 - pow(b1, (double)x->t), c2 = 1.0 - pow(b2, (double)x->t);
      *k = (OptK){.gs = gscale, .b1 = b1, .b2 = b2, .omb1 = 1 - b1, .omb2 = 1 - b2, .c2 = c2, .eps = o->eps,
                  .step = lr / c1, .decay = o->kind == OPT_ADAMW ? 1.0 - lr * o->weight_decay : 1.0,
                  .l2 = o->kind == OPT_ADAM ? o->weight_decay : 0.0, .wd = o->weight_decay,
                  .mom = o->momentum, .lr = lr};
    }
    pool_run(pool, upd_range, &j, j.off[j.n], MIN_RANGE);
  }
}

/* ---- scaled sums of squares ------------------------------------------------------------------------ */

enum { LANES = 4, BLOCK = 512 };

typedef struct SqJob {
  OptimNormItem *it;
  int n;
  atomic_int next; /* the next item a lane takes */
  Sq4Fn sq4;
} SqJob;

/* One thread: four lanes, each summing one item at a time, taking the next free item when done. */
static void sq_lanes(void *ctx, int64_t b, int64_t e) {
  SqJob *j = ctx;
  float dummy[LANES][BLOCK] = {{0}}; /* idle lanes' arrays: zeros times 1 stay zeros */
  int cur[LANES];
  int64_t pos[LANES];
  double acc[LANES];
  for (int l = 0; l < LANES; l++) cur[l] = -1;
  for (;;) {
    int active = 0;
    for (int l = 0; l < LANES; l++) {
      while (cur[l] < j->n && (cur[l] < 0 || pos[l] == j->it[cur[l]].g->n)) { /* done: the next item */
        if (cur[l] >= 0) j->it[cur[l]].sq = acc[l];
        int k = atomic_fetch_add(&j->next, 1);
        cur[l] = k < j->n ? k : j->n; /* j->n: drained */
        pos[l] = 0, acc[l] = 0;
        OptimNormItem *x = &j->it[cur[l] < j->n ? cur[l] : 0];
        if (cur[l] < j->n && (x->g->dt != DT_F32 || !x->g->data)) { /* not the trainer's f32: alone */
          if (x->g->data)
            for (int64_t i = 0; i < x->g->n; i++) rt_tensor_set(x->g, i, rt_tensor_get(x->g, i) * x->scale);
          x->sq = x->g->data ? optim_sq_norm(x->g) : 0;
          cur[l] = -1;
        }
      }
      if (cur[l] < j->n) active++;
    }
    if (!active) break;
    float *p[LANES], s[LANES];
    int64_t len = BLOCK;
    for (int l = 0; l < LANES; l++) {
      if (cur[l] < j->n) {
        int64_t left = j->it[cur[l]].g->n - pos[l];
        if (left < len) len = left;
      }
    }
    for (int l = 0; l < LANES; l++) {
      if (cur[l] < j->n) {
        p[l] = (float *)j->it[cur[l]].g->data + pos[l], s[l] = j->it[cur[l]].scale;
        pos[l] += len;
      } else {
        p[l] = dummy[l], s[l] = 1;
      }
    }
    double a[LANES];
    for (int l = 0; l < LANES; l++) a[l] = cur[l] < j->n ? acc[l] : 0;
    j->sq4(p[0], p[1], p[2], p[3], s, a, len);
    for (int l = 0; l < LANES; l++)
      if (cur[l] < j->n) acc[l] = a[l];
  }
}

void optim_scale_sq_norms(OptimNormItem *it, int n, Pool *pool) {
  if (n <= 0) return;
  SqJob j = {.it = it, .n = n, .sq4 = sq4_base};
  atomic_init(&j.next, 0);
#if OPT_AVX
  if (have_avx()) j.sq4 = sq4_avx;
#endif
  int64_t total = 0;
  for (int i = 0; i < n; i++) total += it[i].g->n;
  int threads = pool_size(pool);
  if (total < 2 * MIN_RANGE || n < 2) threads = 1;
  pool_run(threads > 1 ? pool : NULL, sq_lanes, &j, threads, 1);
}
