/* move.c — data movement kernels: reshape, expand, transpose, slice, concat, gather, and
 * the gradients of slice and gather: pad and scatter_add.
 * Elements are copied as stored (floats in fdt, or i32), so these are exact; scatter_add
 * sums in f64 and rounds each result once.
 */
#include <stdlib.h>

#include "kernels.h"

static int same_dtype(Kern *k, const Tensor *x) {
  if (x->dt == k->out->dt) return 1;
  return kfail(k, "operand dtype %s differs from the result's %s", dtype_name(x->dt), dtype_name(k->out->dt));
}

/* reshape: x[...] -> y[declared type], same elements in row-major order. */
int interp_RESHAPE(Kern *k) {
  const Tensor *x = k->in[0];
  char s1[200], s2[200];
  if (!same_dtype(k, x)) return 0;
  if (x->n != k->out->n)
    return kfail(k, "cannot reshape %s (%lld elements) to %s (%lld elements)", kshape(s1, sizeof s1, x),
                 (long long)x->n, kshape(s2, sizeof s2, k->out), (long long)k->out->n);
  if (x->n) memcpy(k->out->data, x->data, (size_t)x->n * (size_t)dtype_size(x->dt));
  return 1;
}

/* expand: x[...] -> y[declared type], NumPy broadcasting (dims aligned right; 1 repeats). */
int interp_EXPAND(Kern *k) {
  const Tensor *x = k->in[0];
  Tensor *y = k->out;
  int64_t sx[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
  char s1[200], s2[200];
  if (!same_dtype(k, x)) return 0;
  if (!kbcast_strides(x, y->rank, y->shape, sx))
    return kfail(k, "%s does not broadcast to %s", kshape(s1, sizeof s1, x), kshape(s2, sizeof s2, y));
  for (int64_t i = 0; i < y->n; i++, knext(idx, y->shape, y->rank)) copy_el(y, i, x, koff(idx, sx, y->rank));
  return 1;
}

/* transpose {perm}: x[d0, ..., d{r-1}] -> y[d{perm[0]}, ..., d{perm[r-1]}],
 * y[i0, ..., i{r-1}] = x at index j with j[perm[a]] = i[a]. */
int interp_TRANSPOSE(Kern *k) {
  const Tensor *x = k->in[0];
  Tensor *y = k->out;
  const AttrVal *perm = ir_get(k->n, "perm");
  int64_t sx[IR_MAX_RANK], sp[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
  int seen[IR_MAX_RANK] = {0};
  if (!same_dtype(k, x)) return 0;
  if (perm->n != x->rank || y->rank != x->rank) return kfail(k, "perm has %d entries for rank %d", perm->n, x->rank);
  kstrides(x, sx);
  for (int a = 0; a < perm->n; a++) {
    int64_t pa = perm->ints[a];
    if (pa < 0 || pa >= x->rank || seen[pa]) return kfail(k, "perm is not a permutation of 0..%d", x->rank - 1);
    seen[pa] = 1;
    if (y->shape[a] != x->shape[pa]) return kfail(k, "result dim %d is %lld, expected %lld", a,
                                                  (long long)y->shape[a], (long long)x->shape[pa]);
    sp[a] = sx[pa];
  }
  for (int64_t i = 0; i < y->n; i++, knext(idx, y->shape, y->rank)) copy_el(y, i, x, koff(idx, sp, y->rank));
  return 1;
}

/* The positions a slice {axis, start, end, step} of a tensor of `n` elements along its axis
 * reads: s, s + step, ... (len of them). 0 with a message if out of bounds. */
static int slice_range(Kern *k, int64_t n, int64_t *s_out, int64_t *e_out, int64_t *step_out, int64_t *len_out) {
  const AttrVal *endv = ir_get(k->n, "end");
  int64_t start = ir_get_i(k->n, "start"), step = ir_get_i(k->n, "step");
  int64_t s = start < 0 ? start + n : start;
  int64_t e = endv->set ? (endv->i < 0 ? endv->i + n : endv->i) : n;
  if (step < 1) return kfail(k, "step must be positive, got %lld", (long long)step);
  if (s < 0 || s > n || e < s || e > n)
    return kfail(k, "range [%lld:%lld] out of bounds for dimension %lld", (long long)start,
                 (long long)(endv->set ? endv->i : n), (long long)n);
  *s_out = s;
  *e_out = e;
  *step_out = step;
  *len_out = (e - s + step - 1) / step;
  return 1;
}

/* slice {axis, start, end, step}: along `axis` of x (length n) keep start, start+step, ...
 * below end. start/end negative count from the end (+n); end unset means n; step >= 1.
 * y has x's shape with that axis of length ceil((end - start) / step). */
int interp_SLICE(Kern *k) {
  const Tensor *x = k->in[0];
  Tensor *y = k->out;
  int axis;
  int64_t s, e, step, len;
  if (!same_dtype(k, x) || !kaxis(k, ir_get_i(k->n, "axis"), x->rank, &axis)) return 0;
  if (!slice_range(k, x->shape[axis], &s, &e, &step, &len)) return 0;
  if (y->rank != x->rank || y->shape[axis] != len)
    return kfail(k, "slice [%lld:%lld:%lld] of length %lld gives %lld elements, the result type has %lld",
                 (long long)s, (long long)e, (long long)step, (long long)x->shape[axis], (long long)len,
                 (long long)(y->rank == x->rank ? y->shape[axis] : -1));
  int64_t sx[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
  kstrides(x, sx);
  int64_t base = s * sx[axis];
  sx[axis] *= step; /* y index i reads x index i with i[axis] -> s + step * i[axis] */
  for (int64_t i = 0; i < y->n; i++, knext(idx, y->shape, y->rank)) copy_el(y, i, x, base + koff(idx, sx, x->rank));
  return 1;
}

/* pad {axis, start, end, step}: x -> y[declared type], the inverse placement of slice: y is
 * zero except at the positions that the same slice of y reads, which hold x:
 *   y[..., s + step * i, ...] = x[..., i, ...]   (slice's gradient) */
int interp_PAD(Kern *k) {
  const Tensor *x = k->in[0];
  Tensor *y = k->out;
  int axis;
  int64_t s, e, step, len;
  if (!same_dtype(k, x) || !kaxis(k, ir_get_i(k->n, "axis"), y->rank, &axis)) return 0;
  if (!slice_range(k, y->shape[axis], &s, &e, &step, &len)) return 0;
  int ok = x->rank == y->rank && x->shape[axis] == len;
  for (int i = 0; ok && i < y->rank; i++) ok = i == axis || x->shape[i] == y->shape[i];
  if (!ok) {
    char s1[200], s2[200];
    return kfail(k, "operand %s is not the slice [%lld:%lld:%lld] of the result %s along axis %d",
                 kshape(s1, sizeof s1, x), (long long)s, (long long)e, (long long)step, kshape(s2, sizeof s2, y), axis);
  }
  int64_t sy[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
  kstrides(y, sy);
  int64_t base = s * sy[axis];
  sy[axis] *= step; /* x index i goes to y index i with i[axis] -> s + step * i[axis] */
  for (int64_t i = 0; i < x->n; i++, knext(idx, x->shape, x->rank)) copy_el(y, base + koff(idx, sy, y->rank), x, i);
  return 1;
}

/* concat {axis}: x0, x1, ... equal except along axis -> y, their blocks in operand order. */
int interp_CONCAT(Kern *k) {
  Tensor *y = k->out;
  int axis;
  if (!kaxis(k, ir_get_i(k->n, "axis"), y->rank, &axis)) return 0;
  int64_t outer = 1, inner = 1, total = 0;
  for (int i = 0; i < axis; i++) outer *= y->shape[i];
  for (int i = axis + 1; i < y->rank; i++) inner *= y->shape[i];
  for (int j = 0; j < k->nin; j++) {
    const Tensor *x = k->in[j];
    char s1[200], s2[200];
    if (!same_dtype(k, x)) return 0;
    int ok = x->rank == y->rank;
    for (int i = 0; ok && i < y->rank; i++) ok = i == axis || x->shape[i] == y->shape[i];
    if (!ok) return kfail(k, "operand %d %s does not fit the result %s along axis %d", j, kshape(s1, sizeof s1, x),
                          kshape(s2, sizeof s2, y), axis);
    total += x->shape[axis];
  }
  if (total != y->shape[axis])
    return kfail(k, "operands add up to %lld along axis %d, the result has %lld", (long long)total, axis,
                 (long long)y->shape[axis]);
  int64_t at = 0; /* offset along the axis */
  for (int j = 0; j < k->nin; j++) {
    const Tensor *x = k->in[j];
    int64_t blk = x->shape[axis] * inner, yblk = y->shape[axis] * inner;
    for (int64_t o = 0; o < outer; o++)
      for (int64_t e = 0; e < blk; e++) copy_el(y, o * yblk + at * inner + e, x, o * blk + e);
    at += x->shape[axis];
  }
  return 1;
}

/* gather: table[V, r1, ...], ids[i0, ...] i32 -> y[i0, ..., r1, ...],
 * y[i, :] = table[ids[i], :]. An id outside [0, V) is an error naming it. */
int interp_GATHER(Kern *k) {
  const Tensor *tab = k->in[0], *ids = k->in[1];
  Tensor *y = k->out;
  if (!same_dtype(k, tab)) return 0;
  if (!is_int(ids)) return kfail(k, "ids must be i32, got %s", dtype_name(ids->dt));
  if (tab->rank < 1) return kfail(k, "table must have rank >= 1");
  int64_t V = tab->shape[0], row = 1; /* row: elements per table row */
  for (int i = 1; i < tab->rank; i++) row *= tab->shape[i];
  if (y->n != ids->n * row) return kfail(k, "result has %lld elements, expected %lld", (long long)y->n,
                                         (long long)(ids->n * row));
  int64_t idx[IR_MAX_RANK] = {0};
  for (int64_t p = 0; p < ids->n; p++, knext(idx, ids->shape, ids->rank)) {
    int64_t id = ldi(ids, p);
    if (id < 0 || id >= V) {
      char where[200];
      return kfail(k, "id %lld at index %s is out of range [0, %lld) of the table's first dimension",
                   (long long)id, rt_shape_str(where, sizeof where, ids->rank, idx), (long long)V);
    }
    for (int64_t e = 0; e < row; e++) copy_el(y, p * row + e, tab, id * row + e);
  }
  return 1;
}

/* scatter_add: ids[i0, ...] i32, src[i0, ..., r1, ...] -> y[V, r1, ...] (declared type),
 * y = 0, then y[ids[i], :] += src[i, :] for every index i (gather's gradient: rows read
 * several times accumulate). Sums in f64 (i32: exact, wrapped). An id outside [0, V) is an
 * error naming it. */
int interp_SCATTER_ADD(Kern *k) {
  const Tensor *ids = k->in[0], *src = k->in[1];
  Tensor *y = k->out;
  if (!same_dtype(k, src)) return 0;
  if (!is_int(ids)) return kfail(k, "ids must be i32, got %s", dtype_name(ids->dt));
  if (y->rank < 1) return kfail(k, "the result must have rank >= 1");
  int64_t V = y->shape[0], row = 1; /* row: elements per result row */
  for (int i = 1; i < y->rank; i++) row *= y->shape[i];
  if (src->n != ids->n * row)
    return kfail(k, "values have %lld elements, expected %lld", (long long)src->n, (long long)(ids->n * row));
  double *acc = calloc((size_t)(y->n ? y->n : 1), sizeof *acc);
  if (!acc) return kfail(k, "out of memory");
  int64_t idx[IR_MAX_RANK] = {0};
  for (int64_t p = 0; p < ids->n; p++, knext(idx, ids->shape, ids->rank)) {
    int64_t id = ldi(ids, p);
    if (id < 0 || id >= V) {
      char where[200];
      free(acc);
      return kfail(k, "id %lld at index %s is out of range [0, %lld) of the result's first dimension",
                   (long long)id, rt_shape_str(where, sizeof where, ids->rank, idx), (long long)V);
    }
    for (int64_t e = 0; e < row; e++) acc[id * row + e] += ld(src, p * row + e);
  }
  for (int64_t i = 0; i < y->n; i++) {
    if (is_int(y))
      sti(y, i, (int64_t)acc[i]);
    else
      st(y, i, acc[i]);
  }
  free(acc);
  return 1;
}
