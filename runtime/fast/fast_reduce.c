/* fast_reduce.c — reduce_sum / reduce_mean / reduce_max over any set of axes, f32, one pass
 * over the input in row-major order: the output index advances with strides that are 0 on
 * the reduced axes. After collapsing dims the innermost loop is either a row reduction (the
 * last axis reduced: a scalar accumulator) or a column reduction (the last axis kept: a
 * vector accumulation into the output row). Sums accumulate in f64 per output element. */
#include <stdlib.h>

#include "fast_internal.h"

int fast_reduce(FastCx *c) {
  const Tensor *x = c->in[0];
  if (x->dt != DT_F32) return -1;
  int op = c->n->op, r = x->rank;
  const AttrVal *axes = ir_get(c->n, "axes");
  int red[IR_MAX_RANK] = {0};
  for (int i = 0; i < axes->n; i++) {
    int64_t a = axes->ints[i] < 0 ? axes->ints[i] + r : axes->ints[i];
    if (a < 0 || a >= r) return -1;
    red[a] = 1;
  }
  if (!fast_alloc_out(c, DT_F32)) return 0;
  int64_t nout = c->out->n, count = 1;
  int64_t sh[IR_MAX_RANK], si[IR_MAX_RANK], so[IR_MAX_RANK];
  int64_t s = 1;
  for (int i = r - 1; i >= 0; i--) {
    sh[i] = x->shape[i];
    si[i] = s;
    s *= x->shape[i];
    if (red[i]) count *= x->shape[i];
  }
  s = 1;
  for (int i = r - 1; i >= 0; i--) {
    so[i] = red[i] ? 0 : s;
    if (!red[i]) s *= x->shape[i];
  }
  if (r == 0) {
    ((float *)c->out->data)[0] = ((const float *)x->data)[0];
    return 1;
  }
  int64_t *st[2] = {si, so};
  int rr = fast_collapse(r, sh, 2, st);
  double *acc = malloc(sizeof(double) * (size_t)(nout ? nout : 1));
  if (!acc) {
    rt_tensor_free(c->out);
    snprintf(c->err, c->errlen, "out of memory");
    return 0;
  }
  int is_max = op == OP_REDUCE_MAX;
  for (int64_t i = 0; i < nout; i++) acc[i] = is_max ? -INFINITY : 0.0;
  const float *a = x->data;
  int64_t idx[IR_MAX_RANK] = {0}, io = 0, ii = 0, inner = sh[rr - 1], so1 = so[rr - 1];
  int has_nan = 0;
  for (;;) {
    const float *A = a + ii;
    double *O = acc + io;
    if (so1 == 0) { /* row: the last (collapsed) axis is reduced */
      if (is_max) {
        double m = O[0];
        for (int64_t k = 0; k < inner; k++) {
          if (A[k] > m) m = A[k];
          if (isnan(A[k])) has_nan = 1;
        }
        O[0] = m;
      } else {
        double t = 0;
        for (int64_t k = 0; k < inner; k++) t += A[k];
        O[0] += t;
      }
    } else if (is_max) {
      for (int64_t k = 0; k < inner; k++) {
        if (A[k] > O[k]) O[k] = A[k];
        if (isnan(A[k])) has_nan = 1;
      }
    } else {
      for (int64_t k = 0; k < inner; k++) O[k] += A[k];
    }
    ii += inner;
    int d = rr - 2;
    for (; d >= 0; d--) {
      io += so[d];
      if (++idx[d] < sh[d]) break;
      io -= so[d] * sh[d];
      idx[d] = 0;
    }
    if (d < 0) break;
  }
  if (is_max && has_nan) { /* max propagates NaN (as the interpreter): rare, redo simply */
    free(acc);
    rt_tensor_free(c->out);
    return -1;
  }
  float *o = c->out->data;
  double scale = op == OP_REDUCE_MEAN ? 1.0 / (double)(count ? count : 1) : 1.0;
  for (int64_t i = 0; i < nout; i++) o[i] = (float)(acc[i] * scale);
  free(acc);
  return 1;
}
