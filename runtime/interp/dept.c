/* dept.c — the kernels of DEPT's trimmed vocabularies (ir/ops.def, docs/dept.md):
 * trim_gather, the rows of a global table that one source's vocabulary uses, and
 * untrim_scatter, their way back (zero-padded) — each other's gradient.
 *
 * rows[K] i32 is a source's index map I_k: the global ids of its vocabulary, strictly
 * ascending, so local id k stands for global id rows[k] and the map is a bijection onto
 * 0..K-1. Both kernels check that, so a bad map is an error naming its first bad entry,
 * never a silent accumulation.
 */
#include "kernels.h"

/* rows strictly ascending in [0, V); 1, or kfail naming the first entry that is not. */
static int check_rows(Kern *k, const Tensor *rows, int64_t V) {
  if (!is_int(rows) || rows->rank != 1) return kfail(k, "rows must be an i32 vector");
  for (int64_t i = 0; i < rows->n; i++) {
    int64_t r = ldi(rows, i);
    if (r < 0 || r >= V)
      return kfail(k, "rows[%lld] = %lld is out of range [0, %lld) of the global table", (long long)i, (long long)r,
                   (long long)V);
    if (i > 0 && r <= ldi(rows, i - 1))
      return kfail(k, "rows must be strictly ascending (an index map), but rows[%lld] = %lld follows %lld",
                   (long long)i, (long long)r, (long long)ldi(rows, i - 1));
  }
  return 1;
}

/* trim_gather: table[V, r1, ...], rows[K] -> y[K, r1, ...], y[k, :] = table[rows[k], :] */
int interp_TRIM_GATHER(Kern *k) {
  const Tensor *tab = k->in[0], *rows = k->in[1];
  Tensor *y = k->out;
  if (tab->dt != y->dt) return kfail(k, "the table is %s, the result %s", dtype_name(tab->dt), dtype_name(y->dt));
  if (tab->rank < 1) return kfail(k, "table must have rank >= 1");
  int64_t V = tab->shape[0], row = 1;
  for (int i = 1; i < tab->rank; i++) row *= tab->shape[i];
  if (!check_rows(k, rows, V)) return 0;
  if (y->n != rows->n * row)
    return kfail(k, "result has %lld elements, expected %lld", (long long)y->n, (long long)(rows->n * row));
  size_t es = (size_t)dtype_size(y->dt);
  for (int64_t i = 0; i < rows->n; i++)
    memcpy((char *)y->data + (size_t)(i * row) * es, (const char *)tab->data + (size_t)(ldi(rows, i) * row) * es,
           (size_t)row * es);
  return 1;
}

/* untrim_scatter: x[K, r1, ...], rows[K] -> y[V, r1, ...] (declared), y = 0 but
 * y[rows[k], :] = x[k, :] */
int interp_UNTRIM_SCATTER(Kern *k) {
  const Tensor *x = k->in[0], *rows = k->in[1];
  Tensor *y = k->out;
  if (x->dt != y->dt) return kfail(k, "the values are %s, the result %s", dtype_name(x->dt), dtype_name(y->dt));
  if (y->rank < 1) return kfail(k, "the result must have rank >= 1");
  int64_t V = y->shape[0], row = 1;
  for (int i = 1; i < y->rank; i++) row *= y->shape[i];
  if (!check_rows(k, rows, V)) return 0;
  if (x->n != rows->n * row)
    return kfail(k, "values have %lld elements, expected %lld", (long long)x->n, (long long)(rows->n * row));
  size_t es = (size_t)dtype_size(y->dt);
  memset(y->data, 0, (size_t)y->n * es);
  for (int64_t i = 0; i < rows->n; i++)
    memcpy((char *)y->data + (size_t)(ldi(rows, i) * row) * es, (const char *)x->data + (size_t)(i * row) * es,
           (size_t)row * es);
  return 1;
}
