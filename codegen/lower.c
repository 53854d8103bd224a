/* lower.c — a fused group of IR nodes -> one KIR kernel (see codegen.h for what lowers).
 *
 * 1. Outputs and inputs of the group are derived from the graph (codegen.h).
 * 2. The iteration space I[R] is chosen: the outputs' shape (elementwise), or the operand
 *    of the first reduction/norm with its reduced axes (row kernel).
 * 3. Expressions are built top-down from each output: ex(node, map) builds node's value
 *    where map[j] names the iteration axis that indexes the node's axis j (-1: a size-1
 *    axis, index 0). Elementwise operands get the map right-aligned (NumPy broadcasting),
 *    a transpose permutes it, a reduction inserts the reduced axes, a norm passes it on.
 *    Values from outside the group become loads; (node, map) pairs are built once.
 * 4. The axes are put in loop order (kept axes, then reduced ones) and neighbours that
 *    every access walks contiguously (or broadcasts along both) are merged, so a plain
 *    [B, S, C] elementwise chain runs as one flat loop; each access then gets one stride
 *    per merged axis and every extent and stride becomes a dims slot (kir.h).
 */
#include <stdlib.h>

#include "rules.h"

/* How a node's axes index the iteration space: axis j's index is i[map[j]] + off[j] (map[j] = -1:
 * off[j] alone). Outside views map[j] is the axis of the same extent (or -1 for extent 1) and
 * off[j] is 0; below a slice, pad or concat member the axis is in a window (win bit j): its
 * extent is the operand's, off[j] the window's start. A guard (an i32 expression, -1: none)
 * is 0 where the value is not needed (a concat's other operands, a pad's zeros): loads under
 * it read nothing there. */
typedef struct View {
  int map[IR_MAX_RANK];
  Dim off[IR_MAX_RANK];
  unsigned win;
  int guard;
} View;

typedef struct LAcc { /* an access before axes merge: buffer axis -> original axis or -1 */
  int buf, rank;
  int map[IR_MAX_RANK];
  Dim off[IR_MAX_RANK];
  unsigned win;
} LAcc;

typedef struct Memo {
  int node, e;
  View v;
} Memo;

typedef struct Lower {
  const IrProgram *p;
  const IrGraph *g;
  Kir *k;
  char *err;
  size_t errlen;
  int *ingroup, *live, *bufof;
  int R, nred;
  Dim I[IR_MAX_RANK];
  int red[IR_MAX_RANK]; /* the reduced original axes, ascending */
  unsigned redmask, iotamask;
  Vec(LAcc) lacc;
  Vec(Memo) memo;
} Lower;

static int lfail(Lower *L, const char *fmt, ...) MAMC_PRINTF(2, 3);
static int lfail(Lower *L, const char *fmt, ...) {
  if (L->err[0]) return -1; /* keep the first message */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(L->err, L->errlen, fmt, ap);
  va_end(ap);
  return -1;
}

static const IrNode *N(Lower *L, int i) { return &L->g->nodes.v[i]; }
static int is_one(Dim d) { return dim_is_const(d) && d.add == 1; }

static int ktype_of(Lower *L, int node, KType *t) {
  switch (N(L, node)->type.dt) {
  case DT_F32: *t = KT_F32; return 1;
  case DT_F64: *t = KT_F64; return 1;
  case DT_I32: *t = KT_I32; return 1;
  default:
    lfail(L, "%%%d: %s values are not lowered here (bf16/f16 storage is the GPU backend's)", node,
          dtype_name(N(L, node)->type.dt));
    return 0;
  }
}

static int norm_axis(int64_t a, int rank) { return (int)(a < 0 ? a + rank : a); }

static int is_zero(Dim d) { return dim_is_const(d) && d.add == 0; }

/* an identity-like view: map, no offsets, no window, no guard */
static View plain_view(const int *map, int rank) { /* map may be NULL for rank 0 */
  View v;
  memset(&v, 0, sizeof v);
  v.guard = -1;
  for (int j = 0; j < IR_MAX_RANK; j++) {
    v.map[j] = j < rank ? map[j] : -1;
    v.off[j] = dim_const(0);
  }
  return v;
}

static int same_view(const View *a, const View *b, int rank) {
  if (a->win != b->win || a->guard != b->guard) return 0;
  for (int j = 0; j < rank; j++)
    if (a->map[j] != b->map[j] || !dim_eq(a->off[j], b->off[j])) return 0;
  return 1;
}

/* Checks the view against the node's dims (each mapped axis outside a window has I's extent)
 * and sets the size-1 axes outside windows to -1 so that equal views compare equal. */
static int canon_view(Lower *L, int node, const View *in, View *out) {
  const IrType *t = &N(L, node)->type;
  *out = *in;
  for (int j = 0; j < t->rank; j++) {
    int w = in->win >> j & 1u;
    if (!w && is_one(t->d[j])) {
      out->map[j] = -1;
      out->off[j] = dim_const(0);
    }
    if (!w && out->map[j] >= 0 && !dim_eq(t->d[j], L->I[out->map[j]]))
      return lfail(L, "%%%d: axis %d does not match axis %d of the kernel's iteration space", node, j, out->map[j]) + 1;
    if (!w && out->map[j] < 0 && !is_one(t->d[j]))
      return lfail(L, "%%%d: axis %d is broadcast but its extent is not 1", node, j) + 1;
    for (int i = 0; i < j; i++)
      if (out->map[j] >= 0 && out->map[i] == out->map[j])
        return lfail(L, "%%%d: two axes index the same iteration axis", node) + 1;
  }
  for (int j = t->rank; j < IR_MAX_RANK; j++) {
    out->map[j] = -1;
    out->off[j] = dim_const(0);
  }
  out->win &= (1u << t->rank) - 1u;
  return 1;
}

/* the access of node's buffer under view v (created once) */
static int lacc_id(Lower *L, int node, const View *v) {
  LAcc a = {L->bufof[node], L->k->bufs.v[L->bufof[node]].type.rank, {0}, {{0}}, v->win};
  for (int j = 0; j < a.rank; j++) {
    a.map[j] = v->map[j];
    a.off[j] = v->off[j];
  }
  for (int i = 0; i < L->lacc.n; i++) {
    const LAcc *o = &L->lacc.v[i];
    int same = o->buf == a.buf && o->win == a.win && memcmp(o->map, a.map, sizeof(int) * (size_t)a.rank) == 0;
    for (int j = 0; same && j < a.rank; j++) same = dim_eq(o->off[j], a.off[j]);
    if (same) return i;
  }
  vec_push(&L->k->arena, L->lacc, a);
  return L->lacc.n - 1;
}

static int load(Lower *L, int node, const View *v) {
  return kir_expr(L->k, (KExpr){.kind = KE_LOAD, .t = L->k->bufs.v[L->bufof[node]].t, .a = {lacc_id(L, node, v), v->guard, -1}});
}

static int ex(Lower *L, int node, const View *in);
static int shape_slot(Lower *L, int buf, int a0, int a1);

/* dims slot holding the value of dim d: an axis of a buffer with that dim, else the Dim */
static int extent_slot(Lower *L, Dim d) {
  for (int b = 0; b < L->k->bufs.n; b++)
    for (int j = 0; j < L->k->bufs.v[b].type.rank; j++)
      if (dim_eq(L->k->bufs.v[b].type.d[j], d)) return shape_slot(L, b, j, j + 1);
  return kir_dim(L->k, (KDim){KD_SYM, 0, 0, d, 0});
}

static int dim_value(Lower *L, Dim d, KType t) { /* d as an expression of type t */
  if (dim_is_const(d)) return kir_const(L->k, t, (double)d.add);
  return kir_expr(L->k, (KExpr){.kind = KE_DIM, .t = t, .a = {kir_dim(L->k, (KDim){KD_SYM, 0, 0, d, 0}), -1, -1}});
}

/* the i32 index of axis a under view v: i[map[a]] + off[a] */
static int index_of(Lower *L, const View *v, int a) {
  int e = -1;
  if (v->map[a] >= 0) {
    e = kir_expr(L->k, (KExpr){.kind = KE_IOTA, .t = KT_I32, .a = {v->map[a], -1, -1}});
    L->iotamask |= 1u << v->map[a];
  }
  if (e >= 0 && is_zero(v->off[a])) return e;
  int o = dim_value(L, v->off[a], KT_I32);
  return e < 0 ? o : kir_op(L->k, KOP_ADD, KT_I32, e, o, -1);
}

enum { MAX_CONCAT = 8 }; /* operands of a concat read inside a kernel */

static int and_guard(Lower *L, int g, int c) { return g < 0 ? c : kir_op(L->k, KOP_MUL, KT_I32, g, c, -1); }

/* a slice's or pad's start along its axis, counted from 0 (a negative start counts from the
 * end of `full`: the slice's operand, the pad's result) */
static int view_start(Lower *L, int node, Dim full, Dim *out) {
  int64_t s = ir_get_i(N(L, node), "start");
  if (ir_get_i(N(L, node), "step") != 1) return lfail(L, "%%%d: a step other than 1 is not lowered", node) + 1;
  *out = dim_const(s);
  if (s < 0 && !dim_add(full, s, out)) return lfail(L, "%%%d: start out of range", node) + 1;
  return 1;
}

/* slice, pad, concat along axis a: the operands read through windows (see View) */
static int build_move(Lower *L, int node, const View *v, KType t) {
  const IrNode *n = N(L, node);
  int a = norm_axis(ir_get_i(n, "axis"), n->type.rank);
  View ov = *v;
  ov.win |= 1u << a;
  if (n->op == OP_SLICE) {
    Dim st;
    if (!view_start(L, node, N(L, n->in[0])->type.d[a], &st)) return -1;
    if (!dim_sum(v->off[a], st, &ov.off[a])) return lfail(L, "%%%d: a window's start is not affine in one symbol", node);
    return ex(L, n->in[0], &ov);
  }
  int idx = index_of(L, v, a);
  if (n->op == OP_PAD) { /* x at [start, start + extent): zeros elsewhere */
    Dim st, end;
    if (!view_start(L, node, n->type.d[a], &st)) return -1;
    if (!dim_sub(v->off[a], st, &ov.off[a]) || !dim_sum(st, N(L, n->in[0])->type.d[a], &end))
      return lfail(L, "%%%d: a window's start is not affine in one symbol", node);
    int c = kir_op(L->k, KOP_MUL, KT_I32, kir_op(L->k, KOP_LE, KT_I32, dim_value(L, st, KT_I32), idx, -1),
                   kir_op(L->k, KOP_LT, KT_I32, idx, dim_value(L, end, KT_I32), -1), -1);
    ov.guard = and_guard(L, v->guard, c);
    int x = ex(L, n->in[0], &ov);
    return x < 0 ? -1 : kir_op(L->k, KOP_SELECT, t, c, x, kir_const(L->k, t, 0));
  }
  /* concat: operand q at [pos[q], pos[q + 1]) */
  Dim pos[MAX_CONCAT + 1];
  int x[MAX_CONCAT] = {0}, lt[MAX_CONCAT];
  if (n->nin > MAX_CONCAT) return lfail(L, "%%%d: a concat of more than %d operands is not lowered", node, MAX_CONCAT);
  pos[0] = dim_const(0);
  for (int q = 0; q < n->nin; q++)
    if (!dim_sum(pos[q], N(L, n->in[q])->type.d[a], &pos[q + 1]))
      return lfail(L, "%%%d: a concat operand's position is not affine in one symbol", node);
  for (int q = 0; q < n->nin; q++) {
    int lo = q > 0 ? kir_op(L->k, KOP_LE, KT_I32, dim_value(L, pos[q], KT_I32), idx, -1) : -1;
    lt[q] = q + 1 < n->nin ? kir_op(L->k, KOP_LT, KT_I32, idx, dim_value(L, pos[q + 1], KT_I32), -1) : -1;
    int c = lo < 0 ? lt[q] : lt[q] < 0 ? lo : kir_op(L->k, KOP_MUL, KT_I32, lo, lt[q], -1);
    View qv = ov;
    if (!dim_sub(v->off[a], pos[q], &qv.off[a])) return lfail(L, "%%%d: a window's start is not affine in one symbol", node);
    qv.guard = c < 0 ? v->guard : and_guard(L, v->guard, c);
    if ((x[q] = ex(L, n->in[q], &qv)) < 0) return -1;
  }
  int val = x[n->nin - 1];
  for (int q = n->nin - 2; q >= 0; q--) val = kir_op(L->k, KOP_SELECT, t, lt[q], x[q], val);
  return val;
}

/* operand views per class, then the rule */
static int build(Lower *L, int node, const View *v) {
  const IrNode *n = N(L, node);
  const CgOpRule *r = cg_rule(n->op);
  const int *map = v->map;
  int rank = n->type.rank, x[4] = {-1, -1, -1, -1}, windowed = v->win || v->guard >= 0;
  for (int j = 0; j < rank; j++) windowed |= !is_zero(v->off[j]);
  CgRuleCx c = {L->k, n, KT_F32, x, {KT_F32, KT_F32, KT_F32, KT_F32}, n->nin, -1, -1, -1, L->err, L->errlen};
  if (!ktype_of(L, node, &c.t)) return -1;
  if (r->cls == CG_MOVE) return build_move(L, node, v, c.t);
  if (n->nin > 4) return lfail(L, "%%%d: too many operands", node);
  if (windowed && (r->cls == CG_REDUCE || r->cls == CG_NORM || n->op == OP_DROPOUT))
    return lfail(L, "%%%d = %s: read through a slice, pad or concat: not lowered", node, op_info(n->op)->name);
  for (int i = 0; i < n->nin; i++) {
    const IrType *ot = &N(L, n->in[i])->type;
    View ov = plain_view(NULL, 0); /* every axis -1 until the class maps it */
    ov.guard = v->guard;
    switch (r->cls) {
    case CG_EW:
      for (int j = 0; j < ot->rank; j++) {
        int from = j + rank - ot->rank;
        ov.map[j] = map[from];
        ov.off[j] = v->off[from];
        if (v->win >> from & 1u) ov.win |= 1u << j;
      }
      break;
    case CG_TRANSPOSE: {
      const AttrVal *perm = ir_get(n, "perm");
      for (int j = 0; j < rank; j++) {
        int to = (int)perm->ints[j];
        ov.map[to] = map[j];
        ov.off[to] = v->off[j];
        if (v->win >> j & 1u) ov.win |= 1u << to;
      }
      break;
    }
    case CG_REDUCE: {
      const AttrVal *axes = ir_get(n, "axes");
      int isred[IR_MAX_RANK] = {0}, keep = (int)ir_get_i(n, "keepdim");
      for (int a = 0; a < axes->n; a++) isred[norm_axis(axes->ints[a], ot->rank)] = 1;
      if (axes->n != L->nred) return lfail(L, "%%%d: reduces %d axes, the kernel %d", node, axes->n, L->nred);
      for (int a = 0, kth = 0, o = 0; a < ot->rank; a++) {
        if (isred[a]) {
          int it = L->red[kth++];
          if (!dim_eq(ot->d[a], L->I[it]))
            return lfail(L, "%%%d: reduces an axis of another extent than the kernel's reduced axis", node);
          ov.map[a] = it;
          if (keep) o++;
        } else {
          ov.map[a] = map[o++];
          if (ov.map[a] >= 0 && (L->redmask >> ov.map[a] & 1u))
            return lfail(L, "%%%d: a kept axis would run along the kernel's reduced axis", node);
        }
      }
      break;
    }
    case CG_NORM: {
      int axis = n->op == OP_SOFTMAX || n->op == OP_LOG_SOFTMAX ? norm_axis(ir_get_i(n, "axis"), rank) : rank - 1;
      int want = L->nred == 1 ? L->red[0] : -2;
      /* x, and a _grad's upstream gradient, have the node's shape; gain and bias are vectors
       * over its last axis */
      int full = i == 0 || (i == 1 && (n->op == OP_LAYERNORM_GRAD || n->op == OP_RMSNORM_GRAD));
      if (i == 0 && map[axis] != want && !(want >= 0 && is_one(n->type.d[axis]) && is_one(L->I[want])))
        return lfail(L, "%%%d: normalises along another axis than the kernel reduces", node);
      if (full)
        for (int j = 0; j < rank; j++) ov.map[j] = map[j];
      else
        ov.map[0] = map[rank - 1];
      for (int j = 0; j < rank && full; j++)
        if (j != axis && ov.map[j] >= 0 && (L->redmask >> ov.map[j] & 1u))
          return lfail(L, "%%%d: a kept axis would run along the kernel's reduced axis", node);
      break;
    }
    default: return lfail(L, "%%%d: internal: operands of a source", node);
    }
    if ((x[i] = ex(L, n->in[i], &ov)) < 0) return -1;
    c.xt[i] = L->k->e.v[x[i]].t;
  }
  if (n->op == OP_DROPOUT) { /* the draw's counter: the element's row-major index in n's shape */
    KRand rd = {kir_dim(L->k, (KDim){KD_RNG_KEY, 0, 0, dim_const(0), ir_get_i(n, "seed")}), rank, {0}, {0}};
    for (int j = 0; j < rank; j++) {
      rd.ax[j] = map[j];
      rd.ext[j] = extent_slot(L, n->type.d[j]);
      if (map[j] >= 0) L->iotamask |= 1u << map[j];
    }
    c.rand = kir_rand(L->k, &rd);
    c.training = kir_expr(L->k, (KExpr){.kind = KE_DIM, .t = KT_I32,
                                        .a = {kir_dim(L->k, (KDim){KD_TRAINING, 0, 0, dim_const(0), 0}), -1, -1}});
  }
  if (n->op == OP_IOTA) {
    c.iota_axis = map[norm_axis(ir_get_i(n, "axis"), rank)];
    if (c.iota_axis >= 0) L->iotamask |= 1u << c.iota_axis;
  }
  int e = r->fn(&c);
  if (e >= 0 && n->op == OP_IOTA) { /* in a window: the index's offset */
    int ax = norm_axis(ir_get_i(n, "axis"), rank);
    if (!is_zero(v->off[ax])) e = kir_op(L->k, KOP_ADD, c.t, e, dim_value(L, v->off[ax], c.t), -1);
  }
  if (e < 0) {
    char msg[256];
    snprintf(msg, sizeof msg, "%%%d = %s", node, L->err);
    snprintf(L->err, L->errlen, "%s", msg);
  }
  return e;
}

static int ex(Lower *L, int node, const View *in) {
  View v;
  if (!canon_view(L, node, in, &v)) return -1;
  int rank = N(L, node)->type.rank;
  for (int i = 0; i < L->memo.n; i++)
    if (L->memo.v[i].node == node && same_view(&L->memo.v[i].v, &v, rank)) return L->memo.v[i].e;
  int e = L->ingroup[node] ? build(L, node, &v) : load(L, node, &v);
  if (e < 0) return -1;
  Memo m = {node, e, v};
  vec_push(&L->k->arena, L->memo, m);
  return e;
}

/* ---- axes: loop order, merging, dims slots --------------------------------------------- */

static int lacc_axis(const LAcc *a, int ax) { /* the buffer axis that ax indexes, or -1 */
  for (int j = 0; j < a->rank; j++)
    if (a->map[j] == ax) return j;
  return -1;
}

static int can_merge(Lower *L, int a, int b) {
  if (((L->redmask >> a) & 1u) != ((L->redmask >> b) & 1u)) return 0;
  if ((L->iotamask >> a & 1u) || (L->iotamask >> b & 1u)) return 0;
  int covered = 0;
  for (int i = 0; i < L->lacc.n; i++) {
    int ka = lacc_axis(&L->lacc.v[i], a), kb = lacc_axis(&L->lacc.v[i], b);
    if (ka < 0 && kb < 0) continue;
    if (ka < 0 || kb != ka + 1) return 0;
    if (L->lacc.v[i].win >> kb & 1u) return 0; /* the buffer's inner extent is not the space's */
    covered = 1;
  }
  return covered;
}

/* dims slot for the product of buffer buf's dims [a0, a1): an existing slot whose buffer's
 * dims over its range are symbolically the same serves (cg_fill_dims checks the shapes) */
static int shape_slot(Lower *L, int buf, int a0, int a1) {
  Kir *k = L->k;
  const IrType *t = &k->bufs.v[buf].type;
  for (int i = 0; i < k->dims.n; i++) {
    const KDim *d = &k->dims.v[i];
    if (d->buf < 0 || d->a1 - d->a0 != a1 - a0) continue; /* shape products only */
    const IrType *u = &k->bufs.v[d->buf].type;
    int same = 1;
    for (int j = 0; same && j < a1 - a0; j++) same = dim_eq(t->d[a0 + j], u->d[d->a0 + j]);
    if (same) return i;
  }
  return kir_dim(k, (KDim){buf, a0, a1, dim_const(0), 0});
}

/* groups of original axes (in loop order) -> k->naxes, ext, accesses, and the remapping of
 * loads, iota and stores */
static int finish_axes(Lower *L, const int *store_lacc) {
  Kir *k = L->k;
  int ord[IR_MAX_RANK], n = 0, start[IR_MAX_RANK + 1], ng = 0, group_of[IR_MAX_RANK];
  for (int a = 0; a < L->R; a++)
    if (!(L->redmask >> a & 1u)) ord[n++] = a;
  for (int a = 0; a < L->R; a++)
    if (L->redmask >> a & 1u) ord[n++] = a;
  for (int i = 0; i < n; i++) {
    if (i == 0 || !can_merge(L, ord[i - 1], ord[i])) start[ng++] = i;
    group_of[ord[i]] = ng - 1;
  }
  start[ng] = n;
  k->naxes = ng ? ng : 1;
  k->nred = 0;
  for (int gi = 0; gi < ng; gi++)
    if (L->redmask >> ord[start[gi]] & 1u) k->nred++;
  if (ng == 0) k->ext[0] = kir_dim(k, (KDim){KD_SYM, 0, 0, dim_const(1), 0});
  for (int gi = 0; gi < ng; gi++) { /* extent: an access that spans the group, else a Dim */
    int first = ord[start[gi]], last = ord[start[gi + 1] - 1], slot = -1;
    for (int pass = 0; pass < 2 && slot < 0; pass++) /* outputs first */
      for (int i = 0; i < L->lacc.n && slot < 0; i++) {
        const LAcc *a = &L->lacc.v[i];
        if (k->bufs.v[a->buf].out != (pass == 0)) continue;
        int k0 = lacc_axis(a, first), k1 = lacc_axis(a, last);
        if (k0 >= 0 && k1 >= 0 && !(a->win >> k0 & ((2u << (k1 - k0)) - 1u))) slot = shape_slot(L, a->buf, k0, k1 + 1);
      }
    if (slot < 0) {
      if (first != last) return lfail(L, "internal: merged axes without an access");
      slot = kir_dim(k, (KDim){KD_SYM, 0, 0, L->I[first], 0});
    }
    k->ext[gi] = slot;
  }
  int *newacc = malloc(sizeof(int) * (size_t)(L->lacc.n ? L->lacc.n : 1));
  if (!newacc) return lfail(L, "out of memory");
  for (int i = 0; i < L->lacc.n; i++) {
    const LAcc *a = &L->lacc.v[i];
    KAccess ka;
    memset(&ka, 0, sizeof ka);
    ka.buf = a->buf;
    for (int gi = 0; gi < KIR_MAX_AXES; gi++) ka.st[gi] = KST_ZERO;
    for (int gi = 0; gi < ng; gi++) {
      int kl = lacc_axis(a, ord[start[gi + 1] - 1]);
      if (kl < 0) continue;
      ka.st[gi] = kl == a->rank - 1 ? KST_ONE : shape_slot(L, a->buf, kl + 1, a->rank);
    }
    for (int j = 0; j < a->rank; j++) { /* a window's start: off[j] times axis j's stride */
      if (is_zero(a->off[j])) continue;
      if (ka.noff == KIR_MAX_OFF) {
        free(newacc);
        return lfail(L, "an access with windows on more than %d axes", KIR_MAX_OFF);
      }
      int stride = j == a->rank - 1 ? KST_ONE : shape_slot(L, a->buf, j + 1, a->rank);
      KOff o = {a->off[j].add, {stride, KST_ONE}};
      if (!dim_is_const(a->off[j])) o = (KOff){1, {kir_dim(k, (KDim){KD_SYM, 0, 0, a->off[j], 0}), stride}};
      ka.off[ka.noff++] = o;
    }
    newacc[i] = kir_access(k, &ka);
  }
  for (int i = 0; i < k->e.n; i++) {
    KExpr *e = &k->e.v[i];
    if (e->kind == KE_LOAD) e->a[0] = newacc[e->a[0]];
    if (e->kind == KE_IOTA) e->a[0] = group_of[e->a[0]];
  }
  for (int i = 0; i < k->rands.n; i++)
    for (int j = 0; j < k->rands.v[i].rank; j++)
      if (k->rands.v[i].ax[j] >= 0) k->rands.v[i].ax[j] = group_of[k->rands.v[i].ax[j]];
  for (int i = 0; i < k->stores.n; i++) k->stores.v[i].access = newacc[store_lacc[i]];
  free(newacc);
  return 1;
}

/* ---- the group ----------------------------------------------------------------------------- */

/* the output's index map in the iteration space, or 0 if it is not the space or its rows */
static int output_map(Lower *L, int node, int *map) {
  const IrType *t = &N(L, node)->type;
  int ok = t->rank == L->R;
  for (int j = 0; ok && j < L->R; j++) ok = dim_eq(t->d[j], L->I[j]);
  if (ok) {
    for (int j = 0; j < L->R; j++) map[j] = j;
    return 1;
  }
  if (!L->nred) return 0;
  ok = t->rank == L->R; /* rows with the reduced axes kept as 1s */
  for (int j = 0; ok && j < L->R; j++) ok = (L->redmask >> j & 1u) ? is_one(t->d[j]) : dim_eq(t->d[j], L->I[j]);
  if (ok) {
    for (int j = 0; j < L->R; j++) map[j] = (L->redmask >> j & 1u) ? -1 : j;
    return 1;
  }
  ok = t->rank == L->R - L->nred; /* rows */
  for (int j = 0, o = 0; ok && j < L->R; j++)
    if (!(L->redmask >> j & 1u)) {
      ok = dim_eq(t->d[o], L->I[j]);
      map[o++] = j;
    }
  return ok;
}

/* a buffer holding graph value `node`, indexed with the type of node `shape` (they differ
 * only for a trailing reshape, written with its operand's shape) */
static int add_buf(Lower *L, int node, int shape, int out) {
  KBuf b = {KT_F32, out, 0, node, N(L, shape)->type};
  if (!ktype_of(L, node, &b.t)) return 0;
  if (L->k->bufs.n >= CG_MAX_BUFS) return lfail(L, "the group has more than %d buffers", CG_MAX_BUFS) + 1;
  vec_push(&L->k->arena, L->k->bufs, b);
  L->bufof[node] = L->k->bufs.n - 1;
  return 1;
}

/* Member roles (ir/group.h): a matmul (an epilogue's root, computed by BLAS first) and a
 * leading reshape (operand outside) are read as input buffers (ingroup 0); a trailing
 * reshape (operand inside) is an output holding its operand's elements (trail[] = operand);
 * every other member is computed (ingroup 1). */
static int roles(Lower *L, const int *nodes, int nn, int *member, int *trail) {
  for (int i = 0; i < nn; i++) {
    if (nodes[i] < 0 || nodes[i] >= L->g->nodes.n || (i && nodes[i] <= nodes[i - 1]))
      return lfail(L, "group nodes must be node indices in increasing order") + 1;
    member[nodes[i]] = 1;
  }
  for (int i = 0; i < nn; i++) {
    const IrNode *n = N(L, nodes[i]);
    const char *why = NULL;
    if (n->op == OP_MATMUL) continue;
    if (n->op == OP_RESHAPE) {
      if (L->ingroup[n->in[0]]) trail[nodes[i]] = n->in[0] + 1;
      continue;
    }
    if (!cg_op_supported(n->op, &why))
      return lfail(L, "%%%d = %s: not lowered: %s", nodes[i], op_info(n->op)->name, why) + 1;
    L->ingroup[nodes[i]] = 1;
  }
  return 1;
}

static int lower(Lower *L, const int *nodes, int nn) {
  const IrGraph *g = L->g;
  int nnodes = g->nodes.n, anchor = -1, nout = 0, first_out = -1, ok = 0;
  int *outs = calloc((size_t)nnodes + 1, sizeof *outs), *member = calloc((size_t)nnodes + 1, sizeof *member);
  int *trail = calloc((size_t)nnodes + 1, sizeof *trail), store_lacc[CG_MAX_BUFS];
  if (!outs || !member || !trail) {
    lfail(L, "out of memory");
    goto done;
  }
  if (nn < 1) {
    lfail(L, "empty group");
    goto done;
  }
  if (!roles(L, nodes, nn, member, trail)) goto done;
  /* outputs: computed members and trailing reshapes read outside, graph outputs, the last */
  for (int i = 0; i < nnodes; i++) {
    const IrNode *n = N(L, i);
    for (int j = 0; j < n->nin; j++) {
      int x = n->in[j];
      if (x < 0 || x >= nnodes || !(L->ingroup[x] || trail[x])) continue;
      if (trail[x] && L->ingroup[i]) {
        lfail(L, "%%%d: a trailing reshape is read inside its group (by %%%d)", x, i);
        goto done;
      }
      if (!L->ingroup[i] && trail[i] != x + 1) outs[x] = 1;
    }
  }
  for (int i = 0; i < g->outputs.n; i++) {
    int o = g->outputs.v[i].node;
    if (o >= 0 && o < nnodes && (L->ingroup[o] || trail[o])) outs[o] = 1;
  }
  if (L->ingroup[nodes[nn - 1]] || trail[nodes[nn - 1]]) outs[nodes[nn - 1]] = 1;
  for (int i = 0; i < nn; i++) {
    if (L->ingroup[nodes[i]] && anchor < 0 &&
        (cg_rule(N(L, nodes[i])->op)->cls == CG_REDUCE || cg_rule(N(L, nodes[i])->op)->cls == CG_NORM))
      anchor = nodes[i];
    if (outs[nodes[i]] && first_out < 0) first_out = trail[nodes[i]] ? trail[nodes[i]] - 1 : nodes[i];
  }
  if (first_out < 0) {
    lfail(L, "the group computes nothing (no member but matmuls and reshapes of outside values)");
    goto done;
  }
  /* iteration space */
  if (anchor >= 0) {
    const IrNode *a = N(L, anchor);
    const IrType *x = &N(L, a->in[0])->type;
    L->R = x->rank;
    for (int j = 0; j < x->rank; j++) L->I[j] = x->d[j];
    if (cg_rule(a->op)->cls == CG_REDUCE) {
      const AttrVal *axes = ir_get(a, "axes");
      for (int i = 0; i < axes->n; i++) L->redmask |= 1u << norm_axis(axes->ints[i], x->rank);
    } else {
      int axis = a->op == OP_SOFTMAX || a->op == OP_LOG_SOFTMAX ? norm_axis(ir_get_i(a, "axis"), x->rank) : x->rank - 1;
      L->redmask = 1u << axis;
    }
    for (int j = 0; j < L->R; j++)
      if (L->redmask >> j & 1u) L->red[L->nred++] = j;
  } else {
    const IrType *t = &N(L, first_out)->type;
    L->R = t->rank;
    for (int j = 0; j < t->rank; j++) L->I[j] = t->d[j];
  }
  L->k->row = anchor >= 0;
  /* liveness, then buffers: inputs in order of first read, outputs in node order */
  for (int i = nn - 1; i >= 0; i--) {
    int v = nodes[i];
    if (outs[v] && trail[v]) L->live[trail[v] - 1] = 1;
    if (!L->ingroup[v] || !(outs[v] || L->live[v])) continue;
    L->live[v] = 1;
    for (int j = 0; j < N(L, v)->nin; j++) L->live[N(L, v)->in[j]] = 1;
  }
  for (int i = 0; i < nn; i++) {
    const IrNode *n = N(L, nodes[i]);
    for (int j = 0; L->ingroup[nodes[i]] && L->live[nodes[i]] && j < n->nin; j++)
      if (!L->ingroup[n->in[j]] && L->bufof[n->in[j]] < 0 && !add_buf(L, n->in[j], n->in[j], 0)) goto done;
  }
  for (int i = 0; i < nn; i++) {
    int v = nodes[i], w = trail[v] ? trail[v] - 1 : v; /* w: the value written */
    if (!outs[v]) continue;
    if (!add_buf(L, v, w, 1)) goto done;
    int map[IR_MAX_RANK];
    View cm;
    if (!output_map(L, w, map)) {
      StrBuf b;
      sb_init(&b);
      ir_print_type(&b, L->p, &N(L, w)->type);
      lfail(L, "output %%%d : %s is neither the kernel's iteration space nor its rows%s", w, b.s ? b.s : "?",
            anchor >= 0 ? "" : " (all outputs of an elementwise group need one shape)");
      sb_free(&b);
      goto done;
    }
    View ov = plain_view(map, N(L, w)->type.rank);
    int e = ex(L, w, &ov);
    if (e < 0 || !canon_view(L, w, &ov, &cm)) goto done;
    store_lacc[nout] = lacc_id(L, v, &cm); /* the output buffer under the value's (canonical) map */
    unsigned touches = 0;
    for (int j = 0; j < N(L, w)->type.rank; j++)
      if (cm.map[j] >= 0) touches |= 1u << cm.map[j];
    KStore st = {0, e, L->k->row && !(touches & L->redmask)};
    vec_push(&L->k->arena, L->k->stores, st);
    nout++;
  }
  ok = finish_axes(L, store_lacc) > 0;
done:
  free(outs);
  free(member);
  free(trail);
  return ok;
}

int cg_lower(const IrProgram *p, const IrGraph *g, const int *nodes, int nnodes, Kir *k, char *err,
             size_t errlen) {
  char dummy[8];
  if (!err || !errlen) {
    err = dummy;
    errlen = sizeof dummy;
  }
  err[0] = 0;
  kir_init(k);
  Lower L = {p, g, k, err, errlen, NULL, NULL, NULL, 0, 0, {{0}}, {0}, 0, 0, {0}, {0}};
  int n = g->nodes.n;
  L.ingroup = calloc((size_t)n + 1, sizeof(int));
  L.live = calloc((size_t)n + 1, sizeof(int));
  L.bufof = malloc(sizeof(int) * ((size_t)n + 1));
  if (!L.ingroup || !L.live || !L.bufof) {
    snprintf(err, errlen, "out of memory");
  } else {
    for (int i = 0; i < n; i++) L.bufof[i] = -1;
    lower(&L, nodes, nnodes);
  }
  free(L.ingroup);
  free(L.live);
  free(L.bufof);
  if (err[0]) {
    kir_free(k);
    kir_init(k);
    return 0;
  }
  return 1;
}
