/* optim.c — AdamW / Adam / SGD updates and learning-rate schedules (see optim.h). */
#include "optim.h"

#include <math.h>

double sched_lr(const Schedule *s, int64_t step) {
  if (step < 1) step = 1;
  double w = (double)(s->warmup > 0 ? s->warmup : 0), t = (double)step;
  if (s->kind == SCHED_INVERSE_SQRT) {
    if (w <= 0) return s->lr / sqrt(t);
    return s->lr * fmin(t / w, sqrt(w / t));
  }
  if (w > 0 && t <= w) return s->lr * t / w;
  double total = (double)(s->total > s->warmup ? s->total : s->warmup + 1);
  double progress = fmin(1.0, (t - w) / fmax(1.0, total - w));
  switch (s->kind) {
  case SCHED_COSINE: return s->min_lr + (s->lr - s->min_lr) * 0.5 * (1.0 + cos(3.141592653589793 * progress));
  case SCHED_LINEAR: return s->lr + (s->min_lr - s->lr) * progress;
  default: return s->lr;
  }
}

double optim_sq_norm(const Tensor *g) {
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

double optim_clip_scale(double norm, double max_norm) {
  if (max_norm <= 0 || !(norm > max_norm)) return 1.0;
  return max_norm / (norm + 1e-6);
}

/* The update in f64 per element; parameters and state are f32 or f64. */
#define LOAD(t, i) ((t)->dt == DT_F32 ? (double)((const float *)(t)->data)[i] : ((const double *)(t)->data)[i])
#define STORE(t, i, x)                                                                     \
  do {                                                                                     \
    if ((t)->dt == DT_F32)                                                                 \
      ((float *)(t)->data)[i] = (float)(x);                                                \
    else                                                                                   \
      ((double *)(t)->data)[i] = (x);                                                      \
  } while (0)

void optim_update(const OptimOpts *o, Tensor *w, const Tensor *g, Tensor *m, Tensor *v, int64_t t, double lr,
                  double gscale) {
  OptimItem it = {w, g, m, v, t};
  optim_update_all(o, &it, 1, lr, gscale, NULL); /* f32: optim_fast.c's loops; otherwise the range below */
}

/* The generic update (any mix of f32 and f64 storage); optim_fast.c's f32 loops compute the
 * same expressions. */
void optim_update_range(const OptimOpts *o, Tensor *w, const Tensor *g, Tensor *m, Tensor *v, int64_t t,
                        double lr, double gscale, int64_t lo, int64_t hi) {
  if (o->kind == OPT_SGD) {
    for (int64_t i = lo; i < hi; i++) {
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
  for (int64_t i = lo; i < hi; i++) {
    double wi = LOAD(w, i), gi = LOAD(g, i) * gscale + l2 * wi;
    double mi = b1 * LOAD(m, i) + (1 - b1) * gi;
    double vi = b2 * LOAD(v, i) + (1 - b2) * gi * gi;
    STORE(m, i, mi);
    STORE(v, i, vi);
    STORE(w, i, wi * decay - step * mi / (sqrt(vi / c2) + o->eps));
  }
}
