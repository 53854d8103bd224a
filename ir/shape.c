/* shape.c — shape rules: from operand types and attributes to a node's result type.
 * One function per RULE column of ops.def (ir_shape_<RULE>); ir_infer dispatches through a
 * table generated from ops.def. Errors name the op and print the offending types in full,
 * e.g. "matmul: inner dimensions differ: f32[B, S, 512] @ f32[256, 64]".
 */
#include "ir.h"
#include "linattn.h"

#include <stdlib.h>

typedef struct ShapeCx {
  const IrProgram *p;
  IrGraph *g;
  IrNode *n;
  char *err;
  size_t errlen;
} ShapeCx;

typedef int (*ShapeRule)(ShapeCx *c);

static const IrType *in_type(ShapeCx *c, int i) { return &c->g->nodes.v[c->n->in[i]].type; }

static int fail(ShapeCx *c, const char *fmt, ...) MAMC_PRINTF(2, 3);
static int fail(ShapeCx *c, const char *fmt, ...) {
  StrBuf b;
  sb_init(&b);
  sb_printf(&b, "%s: ", op_info(c->n->op)->name);
  va_list ap;
  va_start(ap, fmt);
  sb_vprintf(&b, fmt, ap);
  va_end(ap);
  snprintf(c->err, c->errlen, "%s", b.s ? b.s : "shape error");
  sb_free(&b);
  return 0;
}

/* Type text for messages; a rotating set of buffers so several fit in one message. */
typedef struct TypeText {
  char s[160];
} TypeText;
static TypeText tt(ShapeCx *c, const IrType *t) {
  TypeText r;
  StrBuf b;
  sb_init(&b);
  ir_print_type(&b, c->p, t);
  snprintf(r.s, sizeof r.s, "%s", b.s ? b.s : "?");
  sb_free(&b);
  return r;
}

static int norm_axis(int64_t axis, int rank, int *out) {
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return 0;
  *out = (int)axis;
  return 1;
}

static int same_dtype(ShapeCx *c, const IrType *a, const IrType *b) {
  if (a->dt == b->dt) return 1;
  return fail(c, "operand dtypes differ: %s and %s", tt(c, a).s, tt(c, b).s);
}

/* NumPy broadcasting of a and b into out (dtype of a). */
static int broadcast(ShapeCx *c, const IrType *a, const IrType *b, IrType *out) {
  int r = a->rank > b->rank ? a->rank : b->rank;
  IrType t = {.dt = a->dt, .rank = r};
  for (int i = 0; i < r; i++) {
    int ia = a->rank - r + i, ib = b->rank - r + i;
    Dim da = ia >= 0 ? a->d[ia] : dim_const(1), db = ib >= 0 ? b->d[ib] : dim_const(1);
    if (dim_eq(da, db) || dim_eq(db, dim_const(1)))
      t.d[i] = da;
    else if (dim_eq(da, dim_const(1)))
      t.d[i] = db;
    else
      return fail(c, "shapes do not broadcast: %s and %s (axis %d)", tt(c, a).s, tt(c, b).s, i - r);
  }
  *out = t;
  return 1;
}

/* ---- rules ------------------------------------------------------------------------------ */

static int ir_shape_declared(ShapeCx *c) {
  (void)c;
  return 1;
}

static int ir_shape_iota(ShapeCx *c) {
  int axis;
  if (!norm_axis(ir_get_i(c->n, "axis"), c->n->type.rank, &axis))
    return fail(c, "axis %lld out of range for %s", (long long)ir_get_i(c->n, "axis"), tt(c, &c->n->type).s);
  return 1;
}

static int ir_shape_same(ShapeCx *c) {
  c->n->type = *in_type(c, 0);
  return 1;
}

static int ir_shape_cast(ShapeCx *c) {
  c->n->type = *in_type(c, 0);
  c->n->type.dt = (DType)ir_get_i(c->n, "to");
  return 1;
}

static int ir_shape_bcast(ShapeCx *c) {
  const IrType *a = in_type(c, 0), *b = in_type(c, 1);
  if (!same_dtype(c, a, b)) return 0;
  return broadcast(c, a, b, &c->n->type);
}

static int ir_shape_compare(ShapeCx *c) {
  if (!ir_shape_bcast(c)) return 0;
  c->n->type.dt = DT_F32;
  return 1;
}

static int ir_shape_where(ShapeCx *c) {
  const IrType *k = in_type(c, 0), *a = in_type(c, 1), *b = in_type(c, 2);
  IrType t;
  if (!same_dtype(c, a, b) || !broadcast(c, a, b, &t)) return 0;
  IrType kk = *k;
  kk.dt = t.dt;
  return broadcast(c, &t, &kk, &c->n->type);
}

static int ir_shape_reduce(ShapeCx *c) {
  const IrType *x = in_type(c, 0);
  const AttrVal *axes = ir_get(c->n, "axes");
  int drop[IR_MAX_RANK] = {0};
  for (int i = 0; i < axes->n; i++) {
    int a;
    if (!norm_axis(axes->ints[i], x->rank, &a))
      return fail(c, "axis %lld out of range for %s", (long long)axes->ints[i], tt(c, x).s);
    if (drop[a]) return fail(c, "axis %lld given twice", (long long)axes->ints[i]);
    drop[a] = 1;
  }
  int keep = (int)ir_get_i(c->n, "keepdim");
  IrType t = {.dt = x->dt};
  for (int i = 0; i < x->rank; i++) {
    if (!drop[i])
      t.d[t.rank++] = x->d[i];
    else if (keep)
      t.d[t.rank++] = dim_const(1);
  }
  c->n->type = t;
  return 1;
}

static int ir_shape_matmul(ShapeCx *c) {
  const IrType *a = in_type(c, 0), *b = in_type(c, 1);
  if (!same_dtype(c, a, b)) return 0;
  if (a->rank < 2 || b->rank < 2)
    return fail(c, "operands need rank >= 2: %s @ %s", tt(c, a).s, tt(c, b).s);
  int ta = (int)ir_get_i(c->n, "ta"), tb = (int)ir_get_i(c->n, "tb");
  Dim m = a->d[a->rank - 2 + ta], ka = a->d[a->rank - 1 - ta];
  Dim kb = b->d[b->rank - 2 + tb], n = b->d[b->rank - 1 - tb];
  if (!dim_eq(ka, kb))
    return fail(c, "inner dimensions differ: %s @ %s%s", tt(c, a).s, tt(c, b).s,
                ta || tb ? " (with transposes)" : "");
  IrType ba = *a, bb = *b, t;
  ba.rank -= 2;
  bb.rank -= 2;
  if (!broadcast(c, &ba, &bb, &t)) return 0;
  t.d[t.rank++] = m;
  t.d[t.rank++] = n;
  c->n->type = t;
  return 1;
}

/* Element counts compared symbolically: constant product and the multiset of symbolic dims. */
typedef struct Numel {
  int64_t c;
  int n, overflow; /* overflow: the constant product does not fit (never equal) */
  Dim f[IR_MAX_RANK];
} Numel;
static Numel numel(const IrType *t) {
  Numel r = {1, 0, 0, {{0}}};
  for (int i = 0; i < t->rank; i++)
    if (dim_is_const(t->d[i])) {
      int64_t v = t->d[i].add;
      if (v < 0 || (v > 0 && r.c > INT64_MAX / v))
        r.overflow = 1;
      else
        r.c *= v;
    } else {
      r.f[r.n++] = t->d[i];
    }
  return r;
}
static int numel_eq(Numel a, Numel b) {
  if (a.overflow || b.overflow || a.c != b.c || a.n != b.n) return 0;
  int used[IR_MAX_RANK] = {0};
  for (int i = 0; i < a.n; i++) {
    int found = 0;
    for (int j = 0; j < b.n && !found; j++)
      if (!used[j] && dim_eq(a.f[i], b.f[j])) used[j] = found = 1;
    if (!found) return 0;
  }
  return 1;
}

static int ir_shape_reshape(ShapeCx *c) {
  const IrType *x = in_type(c, 0), *t = &c->n->type;
  if (x->dt != t->dt) return fail(c, "cannot change dtype: %s to %s", tt(c, x).s, tt(c, t).s);
  if (!numel_eq(numel(x), numel(t)))
    return fail(c, "element counts differ: %s to %s", tt(c, x).s, tt(c, t).s);
  return 1;
}

static int ir_shape_expand(ShapeCx *c) {
  const IrType *x = in_type(c, 0), *t = &c->n->type;
  IrType out;
  if (x->dt != t->dt) return fail(c, "cannot change dtype: %s to %s", tt(c, x).s, tt(c, t).s);
  if (x->rank > t->rank || !broadcast(c, x, t, &out) || !type_eq(&out, t))
    return fail(c, "%s does not broadcast to %s", tt(c, x).s, tt(c, t).s);
  return 1;
}

static int ir_shape_transpose(ShapeCx *c) {
  const IrType *x = in_type(c, 0);
  const AttrVal *perm = ir_get(c->n, "perm");
  if (perm->n != x->rank) return fail(c, "perm has %d entries for %s", perm->n, tt(c, x).s);
  int seen[IR_MAX_RANK] = {0};
  IrType t = {.dt = x->dt, .rank = x->rank};
  for (int i = 0; i < perm->n; i++) {
    int64_t a = perm->ints[i];
    if (a < 0 || a >= x->rank || seen[a]) return fail(c, "perm is not a permutation of 0..%d", x->rank - 1);
    seen[a] = 1;
    t.d[i] = x->d[a];
  }
  c->n->type = t;
  return 1;
}

/* The length of dimension d after the node's slice attributes (axis aside): slice and pad. */
static int slice_len(ShapeCx *c, Dim d, Dim *out) {
  int64_t start = ir_get_i(c->n, "start"), step = ir_get_i(c->n, "step");
  const AttrVal *endv = ir_get(c->n, "end");
  if (step < 1) return fail(c, "step must be positive, got %lld", (long long)step);
  const int64_t big = (int64_t)1 << 62; /* keeps the arithmetic below from overflowing */
  if (start < -big || start > big || (endv->set && (endv->i < -big || endv->i > big)))
    return fail(c, "start or end out of range");
  Dim len;
  if (dim_is_const(d)) {
    int64_t n = d.add, s = start < 0 ? start + n : start;
    int64_t e = endv->set ? (endv->i < 0 ? endv->i + n : endv->i) : n;
    if (s < 0 || s > n || e < s || e > n)
      return fail(c, "range [%lld:%lld] out of bounds for dimension %lld", (long long)start,
                  (long long)(endv->set ? endv->i : n), (long long)n);
    len = dim_const(e == s ? 0 : (e - s - 1) / step + 1);
  } else {
    if (step != 1) return fail(c, "a symbolic dimension can only be sliced with step 1");
    if (start < 0) { /* counted from the end: a constant length */
      if (endv->set && endv->i >= 0)
        return fail(c, "a symbolic dimension sliced from a negative start needs a negative or no end");
      len = dim_const((endv->set ? endv->i : 0) - start);
    } else if (!endv->set) {
      if (!dim_add(d, -start, &len)) return fail(c, "size out of range");
    } else if (endv->i < 0) {
      if (!dim_add(d, endv->i - start, &len)) return fail(c, "size out of range");
    } else {
      len = dim_const(endv->i - start);
    }
    if (dim_is_const(len) && len.add < 0) return fail(c, "empty range");
  }
  *out = len;
  return 1;
}

static int ir_shape_slice(ShapeCx *c) {
  const IrType *x = in_type(c, 0);
  int axis;
  if (!norm_axis(ir_get_i(c->n, "axis"), x->rank, &axis))
    return fail(c, "axis %lld out of range for %s", (long long)ir_get_i(c->n, "axis"), tt(c, x).s);
  Dim len;
  if (!slice_len(c, x->d[axis], &len)) return 0;
  c->n->type = *x;
  c->n->type.d[axis] = len;
  return 1;
}

/* pad: the declared type t is what a slice with the same attributes would read from; the
 * operand is that slice's result. */
static int ir_shape_pad(ShapeCx *c) {
  const IrType *x = in_type(c, 0), *t = &c->n->type;
  int axis;
  if (x->dt != t->dt) return fail(c, "cannot change dtype: %s to %s", tt(c, x).s, tt(c, t).s);
  if (!norm_axis(ir_get_i(c->n, "axis"), t->rank, &axis))
    return fail(c, "axis %lld out of range for %s", (long long)ir_get_i(c->n, "axis"), tt(c, t).s);
  int ok = x->rank == t->rank;
  for (int i = 0; ok && i < t->rank; i++) ok = i == axis || dim_eq(x->d[i], t->d[i]);
  if (!ok) return fail(c, "%s differs from %s outside axis %d", tt(c, x).s, tt(c, t).s, axis);
  Dim len;
  if (!slice_len(c, t->d[axis], &len)) return 0;
  if (!dim_eq(len, x->d[axis]))
    return fail(c, "the slice of %s along axis %d does not have the length of %s", tt(c, t).s, axis, tt(c, x).s);
  return 1;
}

static int ir_shape_concat(ShapeCx *c) {
  const IrType *x = in_type(c, 0);
  int axis;
  if (!norm_axis(ir_get_i(c->n, "axis"), x->rank, &axis))
    return fail(c, "axis %lld out of range for %s", (long long)ir_get_i(c->n, "axis"), tt(c, x).s);
  IrType t = *x;
  for (int k = 1; k < c->n->nin; k++) {
    const IrType *y = in_type(c, k);
    if (!same_dtype(c, x, y)) return 0;
    if (y->rank != x->rank) return fail(c, "ranks differ: %s and %s", tt(c, x).s, tt(c, y).s);
    for (int i = 0; i < x->rank; i++)
      if (i != axis && !dim_eq(x->d[i], y->d[i]))
        return fail(c, "dimension %d differs: %s and %s", i, tt(c, x).s, tt(c, y).s);
    Dim a = t.d[axis], b = y->d[axis], s;
    int ok = 1;
    if (dim_is_const(b))
      ok = dim_add(a, b.add, &s);
    else if (dim_is_const(a))
      ok = dim_add(b, a.add, &s);
    else if (a.sym == b.sym) {
      s.sym = a.sym;
      ok = !__builtin_add_overflow(a.mul, b.mul, &s.mul) && !__builtin_add_overflow(a.add, b.add, &s.add);
    } else
      return fail(c, "cannot add dimensions of two different symbols");
    if (!ok) return fail(c, "size out of range");
    t.d[axis] = s;
  }
  c->n->type = t;
  return 1;
}

static int ir_shape_gather(ShapeCx *c) {
  const IrType *tab = in_type(c, 0), *ids = in_type(c, 1);
  if (ids->dt != DT_I32) return fail(c, "indices must be i32, got %s", tt(c, ids).s);
  if (tab->rank < 1) return fail(c, "table must have rank >= 1, got %s", tt(c, tab).s);
  if (ids->rank + tab->rank - 1 > IR_MAX_RANK) return fail(c, "result rank too large");
  IrType t = *ids;
  t.dt = tab->dt;
  for (int i = 1; i < tab->rank; i++) t.d[t.rank++] = tab->d[i];
  c->n->type = t;
  return 1;
}

/* scatter_add: ids[i...] i32, src[i..., r1, ...] -> the declared [V, r1, ...] */
static int ir_shape_scatter(ShapeCx *c) {
  const IrType *ids = in_type(c, 0), *src = in_type(c, 1), *t = &c->n->type;
  if (ids->dt != DT_I32) return fail(c, "indices must be i32, got %s", tt(c, ids).s);
  if (src->dt != t->dt) return fail(c, "cannot change dtype: %s to %s", tt(c, src).s, tt(c, t).s);
  if (t->rank < 1) return fail(c, "the result must have rank >= 1, got %s", tt(c, t).s);
  int ok = src->rank == ids->rank + t->rank - 1;
  for (int i = 0; ok && i < ids->rank; i++) ok = dim_eq(src->d[i], ids->d[i]);
  for (int i = 1; ok && i < t->rank; i++) ok = dim_eq(src->d[ids->rank + i - 1], t->d[i]);
  if (!ok)
    return fail(c, "values %s do not match indices %s and rows of %s (expected indices + rows)", tt(c, src).s,
                tt(c, ids).s, tt(c, t).s);
  return 1;
}

/* trim_gather: table[V, r1, ...], rows[K] i32 -> [K, r1, ...] (DEPT TRIM, ops.def) */
static int ir_shape_trim_gather(ShapeCx *c) {
  const IrType *tab = in_type(c, 0), *rows = in_type(c, 1);
  if (rows->dt != DT_I32 || rows->rank != 1) return fail(c, "rows must be an i32 vector, got %s", tt(c, rows).s);
  if (tab->rank < 1) return fail(c, "table must have rank >= 1, got %s", tt(c, tab).s);
  IrType t = *tab;
  t.d[0] = rows->d[0];
  c->n->type = t;
  return 1;
}

/* untrim_scatter: x[K, r1, ...], rows[K] i32 -> the declared [V, r1, ...] */
static int ir_shape_untrim_scatter(ShapeCx *c) {
  const IrType *x = in_type(c, 0), *rows = in_type(c, 1), *t = &c->n->type;
  if (rows->dt != DT_I32 || rows->rank != 1) return fail(c, "rows must be an i32 vector, got %s", tt(c, rows).s);
  if (x->dt != t->dt) return fail(c, "cannot change dtype: %s to %s", tt(c, x).s, tt(c, t).s);
  int ok = x->rank >= 1 && x->rank == t->rank && dim_eq(x->d[0], rows->d[0]);
  for (int i = 1; ok && i < t->rank; i++) ok = dim_eq(x->d[i], t->d[i]);
  if (!ok)
    return fail(c, "values %s do not match rows %s and the rows of %s (expected [K, ...] and [K])", tt(c, x).s,
                tt(c, rows).s, tt(c, t).s);
  return 1;
}

static int ir_shape_softmax(ShapeCx *c) {
  const IrType *x = in_type(c, 0);
  int axis;
  if (!norm_axis(ir_get_i(c->n, "axis"), x->rank, &axis))
    return fail(c, "axis %lld out of range for %s", (long long)ir_get_i(c->n, "axis"), tt(c, x).s);
  if (!dtype_is_float(x->dt)) return fail(c, "needs a float operand, got %s", tt(c, x).s);
  c->n->type = *x;
  return 1;
}

/* gain and bias, when given, are vectors over the last axis */
static int check_affine(ShapeCx *c, const IrType *x) {
  for (int k = 1; k < c->n->nin; k++) {
    const IrType *g = in_type(c, k);
    if (!same_dtype(c, x, g)) return 0;
    if (g->rank != 1 || !dim_eq(g->d[0], x->d[x->rank - 1]))
      return fail(c, "%s must be a vector over the last axis of %s, got %s", k == 1 ? "gain" : "bias",
                  tt(c, x).s, tt(c, g).s);
  }
  return 1;
}

static int ir_shape_norm(ShapeCx *c) {
  const IrType *x = in_type(c, 0);
  if (x->rank < 1 || !dtype_is_float(x->dt)) return fail(c, "needs a float tensor, got %s", tt(c, x).s);
  if (!check_affine(c, x)) return 0;
  c->n->type = *x;
  return 1;
}

/* x, dy of x's type[, gain over the last axis] -> x's type */
static int ir_shape_norm_grad(ShapeCx *c) {
  const IrType *x = in_type(c, 0), *dy = in_type(c, 1);
  if (x->rank < 1 || !dtype_is_float(x->dt)) return fail(c, "needs a float tensor, got %s", tt(c, x).s);
  int ok = same_dtype(c, x, dy) && dy->rank == x->rank;
  for (int i = 0; ok && i < x->rank; i++) ok = dim_eq(x->d[i], dy->d[i]);
  if (!ok) return fail(c, "the upstream gradient %s must have x's type %s", tt(c, dy).s, tt(c, x).s);
  if (c->n->nin > 2) {
    const IrType *g = in_type(c, 2);
    if (!same_dtype(c, x, g)) return 0;
    if (g->rank != 1 || !dim_eq(g->d[0], x->d[x->rank - 1]))
      return fail(c, "gain must be a vector over the last axis of %s, got %s", tt(c, x).s, tt(c, g).s);
  }
  c->n->type = *x;
  return 1;
}

static int ir_shape_groupnorm(ShapeCx *c) {
  if (!ir_shape_norm(c)) return 0;
  const IrType *x = in_type(c, 0);
  int64_t groups = ir_get_i(c->n, "groups");
  Dim last = x->d[x->rank - 1];
  if (groups < 1) return fail(c, "groups must be positive");
  if (!dim_is_const(last) || last.add % groups)
    return fail(c, "last dimension of %s is not divisible into %lld groups", tt(c, x).s, (long long)groups);
  return 1;
}

static int ir_shape_cross_entropy(ShapeCx *c) {
  const IrType *lg = in_type(c, 0), *tg = in_type(c, 1);
  if (!dtype_is_float(lg->dt)) return fail(c, "logits must be float, got %s", tt(c, lg).s);
  if (tg->dt != DT_I32) return fail(c, "targets must be i32, got %s", tt(c, tg).s);
  int ok = lg->rank == tg->rank + 1;
  for (int i = 0; ok && i < tg->rank; i++) ok = dim_eq(lg->d[i], tg->d[i]);
  if (!ok) return fail(c, "logits %s do not match targets %s (expected logits = targets + [V])", tt(c, lg).s, tt(c, tg).s);
  double s = ir_get_f(c->n, "smoothing");
  if (s < 0 || s >= 1) return fail(c, "smoothing must be in [0, 1), got %g", s);
  c->n->type = (IrType){.dt = lg->dt, .rank = 0};
  return 1;
}

/* logits, targets as cross_entropy's, g a scalar of the logits' dtype -> the logits' type */
static int ir_shape_cross_entropy_grad(ShapeCx *c) {
  const IrType *lg = in_type(c, 0), *g = in_type(c, 2);
  if (!ir_shape_cross_entropy(c)) return 0;
  if (g->rank != 0 || g->dt != lg->dt) return fail(c, "the upstream gradient must be a %s scalar, got %s", dtype_name(lg->dt), tt(c, g).s);
  c->n->type = *lg;
  return 1;
}

/* q, k, v and the optional key mask (operand `mask`, -1 none) of the softmax attentions */
static int attention_operands(ShapeCx *c, int mask) {
  const IrType *q = in_type(c, 0), *k = in_type(c, 1), *v = in_type(c, 2);
  if (!same_dtype(c, q, k) || !same_dtype(c, q, v)) return 0;
  if (q->rank != 4 || k->rank != 4 || v->rank != 4)
    return fail(c, "q, k, v must be [B, H, S, D]: got %s, %s, %s", tt(c, q).s, tt(c, k).s, tt(c, v).s);
  if (!dim_eq(q->d[0], k->d[0]) || !dim_eq(q->d[1], k->d[1]) || !dim_eq(q->d[3], k->d[3]))
    return fail(c, "q %s and k %s differ in batch, heads or head dim", tt(c, q).s, tt(c, k).s);
  if (!dim_eq(k->d[0], v->d[0]) || !dim_eq(k->d[1], v->d[1]) || !dim_eq(k->d[2], v->d[2]))
    return fail(c, "k %s and v %s differ in batch, heads or length", tt(c, k).s, tt(c, v).s);
  if (ir_get_i(c->n, "causal") && !dim_eq(q->d[2], k->d[2]))
    return fail(c, "causal attention needs equal query and key lengths: %s, %s", tt(c, q).s, tt(c, k).s);
  if (mask >= 0) {
    const IrType *x = in_type(c, mask);
    if (x->rank != 2 || !dim_eq(x->d[0], k->d[0]) || !dim_eq(x->d[1], k->d[2]))
      return fail(c, "key mask must be [B, Sk] = [%s]-like, got %s", tt(c, k).s, tt(c, x).s);
  }
  return 1;
}

static int ir_shape_attention(ShapeCx *c) {
  if (!attention_operands(c, c->n->nin == 4 ? 3 : -1)) return 0;
  IrType t = *in_type(c, 0);
  t.d[3] = in_type(c, 2)->d[3];
  c->n->type = t;
  return 1;
}

/* softmax_attention_grad q, k, v[, mask], dO {wrt}: dO is the forward's result type;
 * all: [B, H, S, 2D + Dv] (Sq = Sk), q: q's type, kv: [B, H, Sk, D + Dv] (ops.def) */
static int ir_shape_attention_grad(ShapeCx *c) {
  int nin = c->n->nin;
  if (!attention_operands(c, nin == 5 ? 3 : -1)) return 0;
  const IrType *q = in_type(c, 0), *k = in_type(c, 1), *v = in_type(c, 2), *g = in_type(c, nin - 1);
  if (!same_dtype(c, q, g)) return 0;
  int ok = g->rank == 4;
  for (int i = 0; ok && i < 4; i++) ok = dim_eq(g->d[i], i == 3 ? v->d[3] : q->d[i]);
  if (!ok) return fail(c, "dO %s must have the attention's result type (q %s with v's last dim %s)", tt(c, g).s,
                       tt(c, q).s, tt(c, v).s);
  int64_t wrt = ir_get_i(c->n, "wrt"); /* 0 all, 1 q, 2 kv */
  IrType t = wrt == 2 ? *k : *q;
  if (wrt == 1) {
    c->n->type = t;
    return 1;
  }
  if (wrt == 0 && !dim_eq(q->d[2], k->d[2]))
    return fail(c, "wrt = all packs dq with dk, dv and needs equal query and key lengths: %s, %s (use wrt = q and kv)",
                tt(c, q).s, tt(c, k).s);
  if (!dim_is_const(q->d[3]) || !dim_is_const(v->d[3]))
    return fail(c, "packed gradients need constant head dims: q %s, v %s", tt(c, q).s, tt(c, v).s);
  int64_t D = q->d[3].add, Dv = v->d[3].add;
  if (D > INT64_MAX / 4 || Dv > INT64_MAX / 4) return fail(c, "head dims too large");
  t.d[3] = dim_const((wrt == 0 ? 2 * D : D) + Dv);
  c->n->type = t;
  return 1;
}

/* linear_attention, linear_attention_state, linear_attention_grad: ir/linattn.c */
static int ir_shape_linear_attention(ShapeCx *c) {
  char msg[400];
  if (!ir_linattn_infer(c->p, c->g, c->n, msg, sizeof msg)) return fail(c, "%s", msg);
  return 1;
}

/* allreduce_start x[, tokens] {weight, recv}: the type of x (float); with weight = tokens and
 * not recv, tokens is a float scalar; otherwise x alone. */
static int ir_shape_coll_start(ShapeCx *c) {
  const IrType *x = in_type(c, 0);
  if (!dtype_is_float(x->dt)) return fail(c, "reduces float values, got %s", tt(c, x).s);
  int tokens = ir_get_i(c->n, "weight") == 1 && !ir_get_i(c->n, "recv");
  if (c->n->nin != 1 + tokens)
    return fail(c, "takes %s, got %d operands",
                tokens ? "the value and this rank's token count (weight = tokens)" : "one operand", c->n->nin);
  if (tokens && (!type_is_scalar(in_type(c, 1)) || !dtype_is_float(in_type(c, 1)->dt)))
    return fail(c, "the token count must be a float scalar, got %s", tt(c, in_type(c, 1)).s);
  if (ir_get_i(c->n, "bucket") < 0) return fail(c, "bucket must be >= 0");
  c->n->type = *x;
  return 1;
}

/* outer_sync x[, rows]: x's type; rows an i32 vector, only with the rows flag; every >= 1. */
static int ir_shape_outer_sync(ShapeCx *c) {
  const IrType *x = in_type(c, 0);
  if (!dtype_is_float(x->dt)) return fail(c, "combines float parameters, got %s", tt(c, x).s);
  if (ir_get_i(c->n, "every") < 1) return fail(c, "every must be >= 1");
  if (c->n->nin == 2 && (!ir_get_i(c->n, "rows") || in_type(c, 1)->dt != DT_I32 || in_type(c, 1)->rank != 1))
    return fail(c, "a second operand is the rows of a trimmed table (i32[K], with `rows`), got %s",
                tt(c, in_type(c, 1)).s);
  c->n->type = *x;
  return 1;
}

/* allreduce_done s: s is an allreduce_start; its type. */
static int ir_shape_coll_done(ShapeCx *c) {
  if (c->g->nodes.v[c->n->in[0]].op != OP_ALLREDUCE_START) return fail(c, "its operand must be an allreduce_start");
  c->n->type = *in_type(c, 0);
  return 1;
}

/* ---- dispatch ----------------------------------------------------------------------------- */

static const ShapeRule rules[OP_COUNT] = {
#define OP(ID, NAME, MIN, MAX, FLAGS, RULE, ATTRS) [OP_##ID] = ir_shape_##RULE,
#include "ops.def"
};

int ir_infer(const IrProgram *p, IrGraph *g, int id, char *err, size_t errlen) {
  ShapeCx c = {p, g, &g->nodes.v[id], err, errlen};
  const OpInfo *oi = op_info(c.n->op);
  if (c.n->nin < oi->min_in || (oi->max_in >= 0 && c.n->nin > oi->max_in)) {
    if (oi->min_in == oi->max_in)
      return fail(&c, "takes %d operand%s, got %d", oi->min_in, oi->min_in == 1 ? "" : "s", c.n->nin);
    if (oi->max_in < 0)
      return fail(&c, "takes at least %d operand%s, got %d", oi->min_in, oi->min_in == 1 ? "" : "s",
                  c.n->nin);
    return fail(&c, "takes %d to %d operands, got %d", oi->min_in, oi->max_in, c.n->nin);
  }
  for (int k = 0; k < oi->nattrs; k++) {
    const AttrSpec *s = &oi->attrs[k];
    if (!s->has_default && !c.n->attr[k].set) return fail(&c, "missing attribute '%s'", s->name);
  }
  for (int i = 0; i < c.n->nin; i++)
    if (c.n->in[i] < 0 || c.n->in[i] >= id) return fail(&c, "operand %d is not defined before use", i);
  return rules[c.n->op](&c);
}
