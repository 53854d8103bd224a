/* test_optim.c — AdamW, Adam and SGD updates against the textbook formulas written out
 * here in f64 (PyTorch's torch.optim.AdamW semantics), the learning-rate schedules at their
 * defining points, and global-norm clipping. */
#include <stdlib.h>
#include <time.h>

#include "optim.h"
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

int main(void) {
  test_adamw(OPT_ADAMW);
  test_adamw(OPT_ADAM);
  test_adamw(OPT_SGD);
  test_schedules();
  test_clip();
  return test_done();
}
