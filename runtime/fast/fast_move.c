/* fast_move.c — data movement for 4-byte elements (f32, i32): reshape, expand, transpose,
 * slice and pad (strided copies over collapsed dims), concat, gather (row copies) and
 * scatter_add (row accumulation, f32). Semantics follow runtime/interp/move.c. */
#include "fast_internal.h"

/* out (contiguous, shape sh[r]) = x read at base + sum idx[d] * sx[d] */
static void strided_copy(const uint32_t *x, int64_t base, const int64_t *sx_in, const int64_t *sh_in, int r,
                         uint32_t *out, const int64_t *so_in) {
  int64_t sh[IR_MAX_RANK], sx[IR_MAX_RANK], so[IR_MAX_RANK];
  if (r == 0) {
    out[0] = x[base];
    return;
  }
  memcpy(sh, sh_in, sizeof(int64_t) * (size_t)r);
  memcpy(sx, sx_in, sizeof(int64_t) * (size_t)r);
  memcpy(so, so_in, sizeof(int64_t) * (size_t)r);
  int64_t *st[2] = {sx, so};
  r = fast_collapse(r, sh, 2, st);
  int64_t idx[IR_MAX_RANK] = {0}, ix = base, io = 0, inner = sh[r - 1], s1 = sx[r - 1], o1 = so[r - 1];
  for (;;) {
    const uint32_t *X = x + ix;
    uint32_t *O = out + io;
    if (s1 == 1 && o1 == 1)
      memcpy(O, X, sizeof(uint32_t) * (size_t)inner);
    else
      for (int64_t i = 0; i < inner; i++) O[i * o1] = X[i * s1];
    int d = r - 2;
    for (; d >= 0; d--) {
      ix += sx[d];
      io += so[d];
      if (++idx[d] < sh[d]) break;
      ix -= sx[d] * sh[d];
      io -= so[d] * sh[d];
      idx[d] = 0;
    }
    if (d < 0) break;
  }
}

static void row_major(int r, const int64_t *sh, int64_t *st) {
  int64_t s = 1;
  for (int i = r - 1; i >= 0; i--) st[i] = s, s *= sh[i];
}

static int norm_axis(int64_t a, int r) { return (int)(a < 0 ? a + r : a); }

/* slice range along an axis of size n: start, step, len (as ir/shape.c) */
static void slice_range(const IrNode *n, int64_t dim, int64_t *s, int64_t *step, int64_t *len) {
  int64_t start = ir_get_i(n, "start");
  const AttrVal *ev = ir_get(n, "end");
  *step = ir_get_i(n, "step");
  *s = start < 0 ? start + dim : start;
  int64_t e = ev->set ? (ev->i < 0 ? ev->i + dim : ev->i) : dim;
  *len = e > *s ? (e - *s + *step - 1) / *step : 0;
}

int fast_move(FastCx *c) {
  const Tensor *x = c->in[0];
  const IrNode *n = c->n;
  if (dtype_size(x->dt) != 4) return -1;
  int r = c->orank;
  int64_t so[IR_MAX_RANK], sx[IR_MAX_RANK];
  row_major(r, c->oshape, so);
  switch (n->op) {
  case OP_RESHAPE:
    if (!fast_alloc_out(c, x->dt)) return 0;
    memcpy(c->out->data, x->data, (size_t)x->n * 4);
    return 1;
  case OP_EXPAND:
    if (!fast_bcast_strides(x, r, c->oshape, sx)) return -1;
    if (!fast_alloc_out(c, x->dt)) return 0;
    strided_copy(x->data, 0, sx, c->oshape, r, c->out->data, so);
    return 1;
  case OP_TRANSPOSE: {
    const AttrVal *perm = ir_get(n, "perm");
    int64_t xs[IR_MAX_RANK];
    row_major(x->rank, x->shape, xs);
    for (int i = 0; i < r; i++) sx[i] = xs[perm->ints[i]];
    if (!fast_alloc_out(c, x->dt)) return 0;
    strided_copy(x->data, 0, sx, c->oshape, r, c->out->data, so);
    return 1;
  }
  case OP_SLICE: {
    int axis = norm_axis(ir_get_i(n, "axis"), x->rank);
    int64_t s, step, len;
    slice_range(n, x->shape[axis], &s, &step, &len);
    row_major(x->rank, x->shape, sx);
    int64_t base = s * sx[axis];
    sx[axis] *= step;
    if (!fast_alloc_out(c, x->dt)) return 0;
    strided_copy(x->data, base, sx, c->oshape, r, c->out->data, so);
    return 1;
  }
  case OP_PAD: { /* zeros, then x where the slice of the result would read */
    int axis = norm_axis(ir_get_i(n, "axis"), r);
    int64_t s, step, len;
    slice_range(n, c->oshape[axis], &s, &step, &len);
    if (len != x->shape[axis]) return -1;
    if (!fast_alloc_out_zeroed(c, x->dt)) return 0;
    int64_t xs[IR_MAX_RANK], ys[IR_MAX_RANK];
    row_major(x->rank, x->shape, xs);
    memcpy(ys, so, sizeof ys);
    int64_t base = s * ys[axis];
    ys[axis] *= step;
    /* copy x (contiguous) into y at base with strides ys: strided_copy with roles swapped */
    int64_t sh[IR_MAX_RANK], a[IR_MAX_RANK], b[IR_MAX_RANK];
    memcpy(sh, x->shape, sizeof sh);
    memcpy(a, xs, sizeof a);
    memcpy(b, ys, sizeof b);
    int64_t *st[2] = {a, b};
    int rr = fast_collapse(x->rank, sh, 2, st);
    const uint32_t *X = x->data;
    uint32_t *Y = (uint32_t *)c->out->data + base;
    int64_t idx[IR_MAX_RANK] = {0}, ix = 0, iy = 0, inner = sh[rr - 1];
    for (;;) {
      for (int64_t i = 0; i < inner; i++) Y[iy + i * b[rr - 1]] = X[ix + i * a[rr - 1]];
      int d = rr - 2;
      for (; d >= 0; d--) {
        ix += a[d];
        iy += b[d];
        if (++idx[d] < sh[d]) break;
        ix -= a[d] * sh[d];
        iy -= b[d] * sh[d];
        idx[d] = 0;
      }
      if (d < 0) break;
    }
    return 1;
  }
  case OP_CONCAT: {
    int axis = norm_axis(ir_get_i(n, "axis"), r);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++) outer *= c->oshape[i];
    for (int i = axis + 1; i < r; i++) inner *= c->oshape[i];
    for (int k = 0; k < n->nin; k++)
      if (dtype_size(c->in[k]->dt) != 4) return -1;
    if (!fast_alloc_out(c, x->dt)) return 0;
    uint32_t *O = c->out->data;
    int64_t row = c->oshape[axis] * inner, off = 0;
    for (int k = 0; k < n->nin; k++) {
      const Tensor *t = c->in[k];
      int64_t w = t->shape[axis] * inner;
      for (int64_t o = 0; o < outer; o++) memcpy(O + o * row + off, (const uint32_t *)t->data + o * w, (size_t)w * 4);
      off += w;
    }
    return 1;
  }
  case OP_GATHER: { /* table[V, ...], ids[...] */
    const Tensor *ids = c->in[1];
    if (ids->dt != DT_I32 || x->rank < 1) return -1;
    int64_t V = x->shape[0], row = V ? x->n / V : 0;
    const int32_t *id = ids->data;
    for (int64_t i = 0; i < ids->n; i++)
      if (id[i] < 0 || id[i] >= V) return -1; /* the interpreter reports it */
    if (!fast_alloc_out(c, x->dt)) return 0;
    for (int64_t i = 0; i < ids->n; i++)
      memcpy((uint32_t *)c->out->data + i * row, (const uint32_t *)x->data + id[i] * row, (size_t)row * 4);
    return 1;
  }
  case OP_SCATTER_ADD: { /* ids[...], src[..., row] -> [V, row] */
    const Tensor *src = c->in[1];
    if (x->dt != DT_I32 || src->dt != DT_F32 || r < 1) return -1;
    int64_t V = c->oshape[0], row = 1;
    for (int i = 1; i < r; i++) row *= c->oshape[i];
    const int32_t *id = x->data;
    if (src->n != x->n * row) return -1;
    for (int64_t i = 0; i < x->n; i++)
      if (id[i] < 0 || id[i] >= V) return -1;
    if (!fast_alloc_out_zeroed(c, DT_F32)) return 0;
    float *O = c->out->data;
    const float *S = src->data;
    for (int64_t i = 0; i < x->n; i++) {
      float *o = O + id[i] * row;
      const float *s = S + i * row;
      for (int64_t e = 0; e < row; e++) o[e] += s[e];
    }
    return 1;
  }
  default: return -1;
  }
}
