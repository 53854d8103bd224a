/* fast_rows.c — row kernels over the last axis, f32 with f64 row statistics: softmax,
 * log_softmax, layernorm, rmsnorm, cross_entropy (log-softmax of each row read at its
 * target, with label smoothing and an ignored id) and its gradient (cross_entropy_grad), which
 * reads the forward's row log-sum-exps where the executor kept them (FastLse, fast.h). Other
 * axes: the interpreter. Shapes: x[..., C] viewed as [N, C]. Semantics follow
 * runtime/interp/norm.c and loss.c. */
#include <stdlib.h>
#include <string.h>

#include "fast_internal.h"
#include "fast_math.h"

/* The maximum of A[0..C), over eight lanes so that it vectorises (NaN entries are skipped, as
 * the interpreter's running maximum skips them). */
static float row_max(const float *A, int64_t C) {
  float mx[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
  int64_t j = 0;
  for (; j + 8 <= C; j += 8)
    for (int l = 0; l < 8; l++) mx[l] = A[j + l] > mx[l] ? A[j + l] : mx[l];
  for (int l = 0; j < C; j++, l++) mx[l] = A[j] > mx[l] ? A[j] : mx[l];
  float m = mx[0];
  for (int l = 1; l < 8; l++) m = mx[l] > m ? mx[l] : m;
  return m;
}

/* The sum of A[0..C) in f64, over eight lanes in a fixed order */
FAST_CLONES static double row_sum(const float *A, int64_t C) {
  double z[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= C; j += 8)
    for (int l = 0; l < 8; l++) z[l] += A[j + l];
  for (int l = 0; j < C; j++, l++) z[l] += A[j];
  return ((z[0] + z[1]) + (z[2] + z[3])) + ((z[4] + z[5]) + (z[6] + z[7]));
}

/* E[j] = e^(A[j] - m) for a row whose maximum is m, returning the sum in f64 (eight lanes, a
 * fixed order: deterministic). Each step is its own loop so that GCC vectorises it; entries
 * of -inf (masked) give exactly 0, NaN propagates into the sum. */
FAST_CLONES static double exp_row(float *E, const float *A, int64_t C, float m) {
  for (int64_t j = 0; j < C; j++) {
    float x = A[j] - m;
    E[j] = x < -87.0f ? -87.0f : x;
  }
  for (int64_t j = 0; j < C; j++) E[j] = fm_exp_nonpos(E[j]);
  for (int64_t j = 0; j < C; j++) E[j] = A[j] == -INFINITY ? 0.0f : E[j];
  return row_sum(E, C);
}

static int last_axis(FastCx *c) {
  int64_t a = ir_get_i(c->n, "axis");
  int r = c->in[0]->rank;
  return r > 0 && (a == -1 || a == r - 1);
}

static int softmax_rows(FastCx *c, int logsm) {
  if (!last_axis(c)) return -1;
  const Tensor *x = c->in[0];
  if (!fast_alloc_out(c, DT_F32)) return 0;
  int64_t C = x->shape[x->rank - 1], N = C ? x->n / C : 0;
  const float *a = x->data;
  float *o = c->out->data;
  for (int64_t i = 0; i < N; i++) {
    const float *A = a + i * C;
    float *O = o + i * C;
    float m = row_max(A, C);
    double z = exp_row(O, A, C, m); /* log_softmax overwrites O below */
    if (logsm) {
      float lz = (float)log(z) + m;
      for (int64_t j = 0; j < C; j++) O[j] = A[j] - lz;
    } else {
      float iz = (float)(1.0 / z);
      for (int64_t j = 0; j < C; j++) O[j] *= iz;
    }
  }
  return 1;
}

static int norm_rows(FastCx *c, int rms) {
  const Tensor *x = c->in[0];
  const float *gain = c->n->nin > 1 ? c->in[1]->data : NULL, *bias = c->n->nin > 2 ? c->in[2]->data : NULL;
  for (int i = 1; i < c->n->nin; i++)
    if (c->in[i]->dt != DT_F32) return -1;
  if (!fast_alloc_out(c, DT_F32)) return 0;
  double eps = ir_get_f(c->n, "eps");
  int64_t C = x->shape[x->rank - 1], N = C ? x->n / C : 0;
  const float *a = x->data;
  float *o = c->out->data;
  for (int64_t i = 0; i < N; i++) {
    const float *A = a + i * C;
    float *O = o + i * C;
    double mean = 0, var = 0;
    if (!rms) {
      for (int64_t j = 0; j < C; j++) mean += A[j];
      mean /= (double)C;
    }
    for (int64_t j = 0; j < C; j++) {
      double d = A[j] - mean;
      var += d * d;
    }
    float rstd = (float)(1.0 / sqrt(var / (double)C + eps)), mu = (float)mean;
    for (int64_t j = 0; j < C; j++) {
      float y = (A[j] - mu) * rstd;
      if (gain) y *= gain[j];
      if (bias) y += bias[j];
      O[j] = y;
    }
  }
  return 1;
}

static int cross_entropy(FastCx *c) {
  const Tensor *x = c->in[0], *t = c->in[1];
  if (x->dt != DT_F32 || t->dt != DT_I32) return -1;
  int64_t C = x->shape[x->rank - 1], N = C ? x->n / C : 0;
  double s = ir_get_f(c->n, "smoothing");
  int64_t ignore = ir_get_i(c->n, "ignore");
  const float *a = x->data;
  const int32_t *tg = t->data;
  double total = 0;
  int64_t count = 0;
  FastLse *keep = c->lse;
  if (keep && keep->cap < N) { /* the row statistics the gradient will read */
    float *v = realloc(keep->v, (size_t)N * sizeof *v);
    if (!v) return snprintf(c->err, c->errlen, "out of memory"), 0;
    keep->v = v, keep->cap = N;
  }
  if (keep) keep->rows = 0;
  float *E = malloc((size_t)(C ? C : 1) * sizeof *E);
  if (!E) return -1;
  for (int64_t i = 0; i < N; i++) {
    if (tg[i] == ignore) continue;
    if (tg[i] < 0 || tg[i] >= C) { /* the interpreter reports it */
      free(E);
      return -1;
    }
    const float *A = a + i * C;
    float m = row_max(A, C);
    double z = exp_row(E, A, C, m), sum = s != 0 ? row_sum(A, C) : 0;
    double lz = log(z) + m;
    double nll = lz - A[tg[i]], smooth = lz - sum / (double)C;
    total += (1 - s) * nll + s * smooth;
    count++;
    if (keep) keep->v[i] = (float)lz;
  }
  free(E);
  if (!fast_alloc_out(c, DT_F32)) return 0;
  if (keep) keep->rows = N;
  ((float *)c->out->data)[0] = count ? (float)(total / (double)count) : 0.0f;
  return 1;
}

/* One counted row of cross_entropy_grad from the forward's log-sum-exp l (finite, so every
 * A[j] - l <= 0): O = (e^(A - l) - u) * sc, exp_row's steps (clamp, exponential, masked
 * entries exactly 0) each its own loop so that GCC vectorises them. */
FAST_CLONES static void xent_grad_row(float *O, const float *A, int64_t C, float l, float u, float sc) {
  for (int64_t j = 0; j < C; j++) {
    float x = A[j] - l;
    O[j] = x < -87.0f ? -87.0f : x;
  }
  for (int64_t j = 0; j < C; j++) O[j] = fm_exp_nonpos(O[j]);
  for (int64_t j = 0; j < C; j++) O[j] = ((A[j] == -INFINITY ? 0.0f : O[j]) - u) * sc;
}

/* cross_entropy_grad: each counted row's softmax written straight into the result, then
 * (p - q) * g / count in place (the probabilities are never a separate matrix). With the
 * forward's row log-sum-exps (c->lse) a row is one pass, p = e^(x - lse); rows whose
 * statistic is not finite (every entry -inf, a NaN, +inf) take the three-pass form, which
 * gives the interpreter's NaN. */
static int cross_entropy_grad(FastCx *c) {
  const Tensor *x = c->in[0], *t = c->in[1], *gt = c->in[2];
  if (x->dt != DT_F32 || t->dt != DT_I32 || gt->dt != DT_F32) return -1;
  int64_t C = x->shape[x->rank - 1], N = C ? x->n / C : 0, ignore = ir_get_i(c->n, "ignore"), count = 0;
  double s = ir_get_f(c->n, "smoothing");
  const int32_t *tg = t->data;
  for (int64_t i = 0; i < N; i++) count += tg[i] != ignore;
  if (!fast_alloc_out(c, DT_F32)) return 0;
  const float *a = x->data;
  float *o = c->out->data, sc = (float)(((const float *)gt->data)[0] / (double)(count > 1 ? count : 1));
  float u = (float)(s / (double)C), hit = (float)(1 - s + s / (double)C);
  const float *lse = c->lse && c->lse->rows == N ? c->lse->v : NULL;
  if (lse) c->lse->reused++;
  for (int64_t i = 0; i < N; i++) {
    float *O = o + i * C;
    if (tg[i] == ignore) {
      memset(O, 0, (size_t)C * sizeof *O);
      continue;
    }
    const float *A = a + i * C;
    if (lse && isfinite(lse[i])) {
      xent_grad_row(O, A, C, lse[i], u, sc);
      if (tg[i] >= 0 && tg[i] < C) { /* the target's p again, as the row's loop computed it */
        float d = A[tg[i]] - lse[i], pt = A[tg[i]] == -INFINITY ? 0.0f : fm_exp_nonpos(d < -87.0f ? -87.0f : d);
        O[tg[i]] = (pt - hit) * sc;
      }
      continue;
    }
    float iz = (float)(1.0 / exp_row(O, A, C, row_max(A, C)));
    float pt = tg[i] >= 0 && tg[i] < C ? O[tg[i]] * iz : 0;
    for (int64_t j = 0; j < C; j++) O[j] = (O[j] * iz - u) * sc;
    if (tg[i] >= 0 && tg[i] < C) O[tg[i]] = (pt - hit) * sc;
  }
  return 1;
}

int fast_rows(FastCx *c) {
  if (c->in[0]->dt != DT_F32 || c->in[0]->rank < 1) return -1;
  switch (c->n->op) {
  case OP_SOFTMAX: return softmax_rows(c, 0);
  case OP_LOG_SOFTMAX: return softmax_rows(c, 1);
  case OP_LAYERNORM: return norm_rows(c, 0);
  case OP_RMSNORM: return norm_rows(c, 1);
  case OP_CROSS_ENTROPY: return cross_entropy(c);
  case OP_CROSS_ENTROPY_GRAD: return cross_entropy_grad(c);
  default: return -1;
  }
}
