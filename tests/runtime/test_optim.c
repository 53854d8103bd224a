/* test_optim.c — AdamW, Adam and SGD updates against the textbook formulas written out
 * here in f64 (PyTorch's torch.optim.AdamW semantics), the learning-rate schedules at their
 * defining points, and global-norm clipping; the batched f32 path (optim_fast.c) bit for bit
 * against the generic one, threaded or not. */
#include <stdlib.h>
#include <time.h>

#include "optim.h"
#include "pool.h"
#include "rng.h"
#include "test.h"

static void test_adamw(OptKind kind) {
  uint64_t key = rng_key((uint64_t)time(NULL), kind);
  int64_t n = 37, shape[1] = {37};
  Tensor w, g, m, v;
  rt_tensor_alloc(&w, DT_F64, 1, shape);
  rt_tensor_alloc(&g, DT_F64, 1, shape);
  rt_tensor_alloc(&m, DT_F64, 1, shape);
  rt_tensor_alloc(&v, DT_F64, 1, shape);
  double W[37], M[37] = {0}, V[37] = {0};
  for (int i = 0; i < n; i++) W[i] = ((double *)w.data)[i] = rng_normal(key, (uint64_t)i);
  OptimOpts o = {kind, 0.9, 0.98, 1e-8, 0.01, 0.9};
  double lr = 3e-3, b1 = o.beta1, b2 = o.beta2;
  double worst = 0;
  for (int64_t t = 1; t <= 5; t++) {
    for (int i = 0; i < n; i++) ((double *)g.data)[i] = rng_normal(key, (uint64_t)(1000 * t + i));
    double scale = 0.5;
    optim_update(&o, &w, &g, &m, &v, t, lr, scale);
    for (int i = 0; i < n; i++) {
      double gi = ((double *)g.data)[i] * scale;
      if (kind == OPT_SGD) {
        gi += o.weight_decay * W[i];
        M[i] = o.momentum * M[i] + gi;
        W[i] -= lr * M[i];
      } else {
        if (kind == OPT_ADAM) gi += o.weight_decay * W[i];
        M[i] = b1 * M[i] + (1 - b1) * gi;
        V[i] = b2 * V[i] + (1 - b2) * gi * gi;
        double mh = M[i] / (1 - pow(b1, (double)t)), vh = V[i] / (1 - pow(b2, (double)t));
        if (kind == OPT_ADAMW) W[i] -= lr * o.weight_decay * W[i];
        W[i] -= lr * mh / (sqrt(vh) + o.eps);
      }
      double d = fabs(W[i] - ((double *)w.data)[i]);
      if (d > worst) worst = d;
    }
  }
  printf("%s %s: 5 steps, max |w - reference| = %.2e\n", worst < 1e-12 ? "OK" : "NOT OK",
         kind == OPT_ADAMW ? "adamw" : kind == OPT_ADAM ? "adam" : "sgd", worst);
  CHECK(worst < 1e-12);
  rt_tensor_free(&w);
  rt_tensor_free(&g);
  rt_tensor_free(&m);
  rt_tensor_free(&v);
}

static void test_schedules(void) {
  Schedule s = {SCHED_INVERSE_SQRT, 1e-3, 0, 100, 1000};
  CHECK_NEAR(sched_lr(&s, 50), 0.5e-3, 1e-15);
  CHECK_NEAR(sched_lr(&s, 100), 1e-3, 1e-15);
  CHECK_NEAR(sched_lr(&s, 400), 0.5e-3, 1e-15);
  s = (Schedule){SCHED_COSINE, 1e-3, 1e-5, 10, 110};
  CHECK_NEAR(sched_lr(&s, 5), 0.5e-3, 1e-15);
  CHECK_NEAR(sched_lr(&s, 10), 1e-3, 1e-15);
  CHECK_NEAR(sched_lr(&s, 60), 1e-5 + (1e-3 - 1e-5) * 0.5, 1e-12);
  CHECK_NEAR(sched_lr(&s, 110), 1e-5, 1e-15);
  s.kind = SCHED_LINEAR;
  CHECK_NEAR(sched_lr(&s, 60), (1e-3 + 1e-5) / 2, 1e-15);
  CHECK_NEAR(sched_lr(&s, 200), 1e-5, 1e-15);
  s.kind = SCHED_CONSTANT;
  CHECK_NEAR(sched_lr(&s, 1000), 1e-3, 1e-15);
  CHECK_NEAR(sched_lr(&s, 1), 1e-4, 1e-15);
}

static void test_clip(void) {
  int64_t shape[1] = {4};
  Tensor g;
  rt_tensor_alloc(&g, DT_F32, 1, shape);
  float vals[4] = {3, 4, 0, 0};
  memcpy(g.data, vals, sizeof vals);
  CHECK_NEAR(optim_sq_norm(&g), 25, 1e-12);
  CHECK_NEAR(optim_clip_scale(5, 1), 1.0 / (5 + 1e-6), 1e-12);
  CHECK_NEAR(optim_clip_scale(0.5, 1), 1, 0);
  CHECK_NEAR(optim_clip_scale(5, 0), 1, 0);
  rt_tensor_free(&g);
}

/* ---- the batched f32 path (optim_fast.c): the generic path's bits, with any thread split ---------- */

static void fill(Tensor *t, DType dt, int64_t n, uint64_t key, uint64_t stream, int square) {
  int64_t shape[1] = {n};
  rt_tensor_alloc(t, dt, 1, shape);
  for (int64_t i = 0; i < n; i++) {
    double x = rng_normal(key, (stream << 40) + (uint64_t)i);
    rt_tensor_set(t, i, square ? 1e-3 * x * x : x);
  }
}

static int same_bits(const Tensor *a, const Tensor *b) {
  return a->dt == b->dt && a->n == b->n && memcmp(a->data, b->data, (size_t)(a->n * dtype_size(a->dt))) == 0;
}

static void free4(Tensor *t) {
  for (int k = 0; k < 4; k++) rt_tensor_free(&t[k]);
}

/* f32 storage through the specialised loops == the generic update on the same values held in
 * f64, rounded to f32 once: the same f64 expressions, element by element (at steps 1, 2, 5000). */
static void test_fast_vs_generic(OptKind kind, double momentum) {
  uint64_t key = rng_key((uint64_t)time(NULL), 100 + kind);
  const int64_t sizes[] = {1, 7, 37, 100003};
  OptimOpts o = {kind, 0.9, 0.98, 1e-8, 0.01, momentum};
  int bad = 0;
  for (int s = 0; s < 4; s++) {
    Tensor f[4], d[4], r; /* w, g, m, v */
    for (int k = 0; k < 4; k++) fill(&f[k], DT_F32, sizes[s], key, (uint64_t)(10 * s + k), k == 3);
    const int64_t at[3] = {1, 2, 5000}; /* 5000: 1 - beta2^t is 1 (a division less) */
    for (int st = 0; st < 3; st++) {
      int64_t t = at[st];
      for (int k = 0; k < 4; k++) rt_tensor_convert(&f[k], DT_F64, &d[k]);
      optim_update(&o, &d[0], &d[1], &d[2], &d[3], t, 3e-3, 0.7); /* f64: the generic path */
      OptimItem it = {&f[0], &f[1], &f[2], &f[3], t};
      optim_update_all(&o, &it, 1, 3e-3, 0.7, NULL);
      for (int k = 0; k < 4; k++) {
        if (k == 1 || (k == 3 && kind == OPT_SGD)) continue;
        rt_tensor_convert(&d[k], DT_F32, &r);
        if (!same_bits(&r, &f[k])) bad++;
        rt_tensor_free(&r);
      }
      free4(d);
      for (int64_t i = 0; i < sizes[s]; i++) /* the next step's gradient */
        ((float *)f[1].data)[i] = (float)rng_normal(key, ((uint64_t)(50 + t) << 40) + (uint64_t)i);
    }
    free4(f);
  }
  printf("%s f32 loops == generic f64 path rounded to f32 (%s, momentum %g; n = 1, 7, 37, 100003)\n",
         bad ? "NOT OK" : "OK", kind == OPT_ADAMW ? "adamw" : kind == OPT_ADAM ? "adam" : "sgd", momentum);
  CHECK(bad == 0);
}

/* A list of tensors (one held in f64) updated by 1 and by 3 threads, with and without the AVX
 * loops, and normalised + summed the same ways: every result bit-identical to the generic
 * update and to the two separate passes (a[i] *= inv; optim_sq_norm). */
enum { NT = 7 };
static int64_t step_of(int q) { return (q % 2 ? 5000 : 1) + q; } /* both Adam loops (1 - beta2^t = 1 or not) */
static void test_threads(OptKind kind) {
  uint64_t key = rng_key((uint64_t)time(NULL), 200 + kind);
  const int64_t sizes[NT] = {1, 7, 37, 100003, 5, 70001, 129};
  OptimOpts o = {kind, 0.9, 0.98, 1e-8, 0.01, 0.9};
  Pool *pool = pool_new(3);
  CHECK(pool != NULL);
  enum { REF, ONE, THREE, NOAVX, NV };
  Tensor t[NV][NT][4];
  for (int q = 0; q < NT; q++)
    for (int k = 0; k < 4; k++) {
      DType dt = q == 4 && k != 1 ? DT_F64 : DT_F32; /* tensor 4: f64 parameter and state */
      fill(&t[REF][q][k], dt, sizes[q], key, (uint64_t)(10 * q + k), k == 3);
      for (int c = 1; c < NV; c++) rt_tensor_copy(&t[REF][q][k], &t[c][q][k]);
    }
  int bad = 0;
  double sq[NV][NT];
  for (int c = 0; c < NV; c++) {
    if (c == NOAVX) setenv("MAMC_OPTIM_NO_AVX", "1", 1);
    Pool *p = c == THREE || c == NOAVX ? pool : NULL;
    float inv = 1.0f / 3;
    OptimNormItem ni[NT];
    OptimItem it[NT];
    for (int q = 0; q < NT; q++) {
      Tensor *g = &t[c][q][1];
      if (c == REF) { /* the trainer's two passes, then one update at a time */
        for (int64_t i = 0; i < g->n; i++) ((float *)g->data)[i] *= inv;
        sq[c][q] = optim_sq_norm(g);
        optim_update(&o, &t[c][q][0], g, &t[c][q][2], &t[c][q][3], step_of(q), 1e-3, 0.5);
      }
      ni[q] = (OptimNormItem){g, inv, -1};
      it[q] = (OptimItem){&t[c][q][0], g, &t[c][q][2], &t[c][q][3], step_of(q)};
    }
    if (c != REF) {
      optim_scale_sq_norms(ni, NT, p);
      for (int q = 0; q < NT; q++) sq[c][q] = ni[q].sq;
      optim_update_all(&o, it, NT, 1e-3, 0.5, p);
    }
    unsetenv("MAMC_OPTIM_NO_AVX");
  }
  for (int c = 1; c < NV; c++)
    for (int q = 0; q < NT; q++) {
      if (memcmp(&sq[c][q], &sq[REF][q], sizeof(double)) != 0) bad++;
      for (int k = 0; k < 4; k++)
        if ((k != 3 || kind != OPT_SGD) && !same_bits(&t[c][q][k], &t[REF][q][k])) bad++;
    }
  printf("%s %s: 1 thread, 3 threads, no AVX == one tensor at a time (sums of squares, w, g, m, v)\n",
         bad ? "NOT OK" : "OK", kind == OPT_ADAMW ? "adamw" : kind == OPT_ADAM ? "adam" : "sgd");
  CHECK(bad == 0);
  for (int c = 0; c < NV; c++)
    for (int q = 0; q < NT; q++) free4(t[c][q]);
  pool_free(pool);
}

int main(void) {
  test_adamw(OPT_ADAMW);
  test_adamw(OPT_ADAM);
  test_adamw(OPT_SGD);
  test_schedules();
  test_clip();
  test_fast_vs_generic(OPT_ADAMW, 0);
  test_fast_vs_generic(OPT_ADAM, 0);
  test_fast_vs_generic(OPT_SGD, 0.9);
  test_fast_vs_generic(OPT_SGD, 0);
  test_threads(OPT_ADAMW);
  test_threads(OPT_SGD);
  return test_done();
}
