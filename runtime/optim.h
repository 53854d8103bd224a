/* optim.h — optimizers and learning-rate schedules.
 *
 * AdamW (Loshchilov & Hutter): decoupled weight decay, bias correction with a step counter
 * kept per module instance (a module only steps when a task that uses it trained), Adam
 * (L2 through the gradient), and SGD with momentum. Global-norm gradient clipping is a
 * scale factor the caller computes (optim_clip_scale) and passes in.
 *
 * Schedules run over the total sequential step count (1-based):
 *   inverse_sqrt  lr * min(step / warmup, sqrt(warmup / step))
 *   cosine        linear warmup, then min_lr + (lr - min_lr) * (1 + cos(pi * progress)) / 2
 *   linear        linear warmup, then linear decay to min_lr at the last step
 *   constant      linear warmup, then lr
 */
#ifndef MAMC_OPTIM_H
#define MAMC_OPTIM_H

#include "tensor.h"

typedef enum { OPT_ADAMW, OPT_ADAM, OPT_SGD } OptKind;
typedef enum { SCHED_INVERSE_SQRT, SCHED_COSINE, SCHED_LINEAR, SCHED_CONSTANT } SchedKind;

typedef struct OptimOpts {
  OptKind kind;
  double beta1, beta2, eps, weight_decay, momentum;
} OptimOpts;

typedef struct Schedule {
  SchedKind kind;
  double lr, min_lr;
  int64_t warmup, total;
} Schedule;

double sched_lr(const Schedule *s, int64_t step);

/* Sum of squares of every element of the gradients (f32/f64), in f64. */
double optim_sq_norm(const Tensor *g);
/* The factor that brings a global gradient norm down to max_norm (1 when max_norm <= 0 or
 * the norm is already below it). */
double optim_clip_scale(double norm, double max_norm);

/* One update of parameter w with gradient g (scaled by gscale first), state m, v (same shape
 * as w; v unused by SGD), at the module's step t (1-based) and learning rate lr. */
void optim_update(const OptimOpts *o, Tensor *w, const Tensor *g, Tensor *m, Tensor *v, int64_t t, double lr,
                  double gscale);
/* optim_update on elements [lo, hi) only (any split gives the same bits: elements are independent). */
void optim_update_range(const OptimOpts *o, Tensor *w, const Tensor *g, Tensor *m, Tensor *v, int64_t t,
                        double lr, double gscale, int64_t lo, int64_t hi);

/* ---- the batched, threaded path (optim_fast.c) ---------------------------------------------------
 * The same bits as optim_update / optim_sq_norm: loops specialised for f32 storage compute the
 * same f64 expressions per element, in the same order; work is split between the threads of
 * pool (NULL: the caller's alone) where the split cannot change a result. */
struct Pool;

/* One parameter of a batched update: w, its gradient g, state m, v, and its module's step t. */
typedef struct OptimItem {
  Tensor *w;
  const Tensor *g;
  Tensor *m, *v;
  int64_t t;
} OptimItem;

/* optim_update(o, it[i].w, it[i].g, it[i].m, it[i].v, it[i].t, lr, gscale) for every i < n; the
 * elements of all items together are split in contiguous ranges between the threads. */
void optim_update_all(const OptimOpts *o, const OptimItem *it, int n, double lr, double gscale,
                      struct Pool *pool);

/* One f32 gradient of optim_scale_sq_norms: in g, the factor; out, the sum of squares. */
typedef struct OptimNormItem {
  Tensor *g;
  float scale;
  double sq;
} OptimNormItem;

/* For every item: g *= scale elementwise in f32, then sq = optim_sq_norm(g) (each tensor summed
 * in element order by one thread; several tensors interleaved to hide the additions' latency). */
void optim_scale_sq_norms(OptimNormItem *it, int n, struct Pool *pool);

#endif
