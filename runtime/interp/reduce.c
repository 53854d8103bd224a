/* reduce.c — reductions over a set of axes: reduce_sum, reduce_mean, reduce_max.
 *
 *   x[d0, ..., d{r-1}], axes (negative from the end), keepdim
 *   -> y[the dims not in axes] (keepdim: those in axes become 1)
 *
 * Accumulation in f64 (i32: exact in int64, wrapped to 32 bits). reduce_mean needs a float
 * operand; mean and max over an empty extent are errors; reduce_max propagates NaN.
 */
#include <stdlib.h>

#include "kernels.h"

typedef enum { R_SUM, R_MEAN, R_MAX } RedOp;

static int reduce(Kern *k, RedOp op) {
  const Tensor *x = k->in[0];
  Tensor *y = k->out;
  const AttrVal *axes = ir_get(k->n, "axes");
  int red[IR_MAX_RANK] = {0};
  for (int i = 0; i < axes->n; i++) {
    int a;
    if (!kaxis(k, axes->ints[i], x->rank, &a)) return 0;
    red[a] = 1;
  }
  if (op == R_MEAN && !kneed_float(k, 0)) return 0;
  /* ost: stride into y for each axis of x (0 along reduced axes); cnt: reduced extent */
  int64_t ost[IR_MAX_RANK], idx[IR_MAX_RANK] = {0}, s = 1, cnt = 1;
  for (int i = x->rank - 1; i >= 0; i--) {
    if (red[i]) {
      ost[i] = 0;
      cnt *= x->shape[i];
    } else {
      ost[i] = s;
      s *= x->shape[i];
    }
  }
  if (s != y->n) return kfail(k, "result has %lld elements, expected %lld", (long long)y->n, (long long)s);
  if (cnt == 0 && op != R_SUM && y->n > 0) return kfail(k, "reduction over an empty extent");
  double *acc = malloc((size_t)(y->n ? y->n : 1) * sizeof *acc);
  int64_t *iacc = malloc((size_t)(y->n ? y->n : 1) * sizeof *iacc);
  if (!acc || !iacc) {
    free(acc);
    free(iacc);
    return kfail(k, "out of memory");
  }
  for (int64_t j = 0; j < y->n; j++) {
    acc[j] = op == R_MAX ? -INFINITY : 0.0;
    iacc[j] = op == R_MAX ? INT64_MIN : 0;
  }
  int ints = is_int(x);
  for (int64_t i = 0; i < x->n; i++, knext(idx, x->shape, x->rank)) {
    int64_t j = koff(idx, ost, x->rank);
    if (ints) {
      int64_t v = ldi(x, i);
      if (op == R_MAX)
        iacc[j] = v > iacc[j] ? v : iacc[j];
      else
        iacc[j] += v;
      continue;
    }
    double v = ld(x, i);
    if (op != R_MAX)
      acc[j] += v;
    else if (!isnan(acc[j]) && (isnan(v) || v > acc[j]))
      acc[j] = v;
  }
  for (int64_t j = 0; j < y->n; j++) {
    if (ints)
      sti(y, j, iacc[j]);
    else
      st(y, j, op == R_MEAN ? acc[j] / (double)cnt : acc[j]);
  }
  free(acc);
  free(iacc);
  return 1;
}

int interp_REDUCE_SUM(Kern *k) { return reduce(k, R_SUM); }
int interp_REDUCE_MEAN(Kern *k) { return reduce(k, R_MEAN); }
int interp_REDUCE_MAX(Kern *k) { return reduce(k, R_MAX); }
