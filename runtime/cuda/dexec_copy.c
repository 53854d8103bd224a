/* dexec_copy.c — the device executor's data movement (dexec.h): transpose, slice, expand, pad
 * and concat as strided copies (k_copy_nd and its 16-byte, bf16 and converting forms, move.cu),
 * each reduced to its fewest axes first; and the folding of copy chains: a transpose, slice or
 * expand whose every reader is another copy is not run — its readers read its operand through
 * the composed strides (dx_fold_copies, at plan time), so a chain moves its data once. A
 * reshape between them folds too where its axes can be expressed as strides of the view it
 * reads (NumPy's no-copy reshape: `kv[..., :d]` split into heads). A copy whose value lies in
 * a concat's buffer (dexec_place.c) writes there. */
#include <stdlib.h>
#include <string.h>

#include "dexec_internal.h"

static const IrGraph *G(const DExec *e) { return &e->p->graphs.v[e->graph]; }
static const IrNode *N(const DExec *e, int i) { return &G(e)->nodes.v[i]; }

static void strides(const int64_t *sh, int r, int64_t *st) {
  int64_t s = 1;
  for (int d = r - 1; d >= 0; d--) st[d] = s, s *= sh[d];
}

/* c in its cheapest equivalent form: axes of extent 1 dropped, neighbours merged where both
 * sides are contiguous across them (fewer divisions per element); 1 when it can then move
 * 16-byte elements (V of `es` bytes each: the innermost axis contiguous on both sides and
 * every offset, stride, extent and address a multiple of V), rewritten so. */
static int copy_canon(KaCopy *c, int es) {
  int r = 0;
  for (int d = 0; d < c->rank; d++)
    if (c->ext[d] != 1) c->ext[r] = c->ext[d], c->src_st[r] = c->src_st[d], c->dst_st[r] = c->dst_st[d], r++;
  c->rank = r;
  for (int d = r - 2; d >= 0; d--) { /* merge d + 1 into d */
    if (c->src_st[d] != c->src_st[d + 1] * c->ext[d + 1] || c->dst_st[d] != c->dst_st[d + 1] * c->ext[d + 1]) continue;
    c->ext[d] *= c->ext[d + 1], c->src_st[d] = c->src_st[d + 1], c->dst_st[d] = c->dst_st[d + 1];
    for (int k = d + 1; k < c->rank - 1; k++)
      c->ext[k] = c->ext[k + 1], c->src_st[k] = c->src_st[k + 1], c->dst_st[k] = c->dst_st[k + 1];
    c->rank--;
  }
  int64_t V = 16 / es;
  if (c->cvt || c->rank < 1 || c->src_st[c->rank - 1] != 1 || c->dst_st[c->rank - 1] != 1 || c->ext[c->rank - 1] % V ||
      c->src_off % V || c->dst_off % V || c->src % 16 || c->dst % 16)
    return 0;
  for (int d = 0; d < c->rank - 1; d++)
    if (c->src_st[d] % V || c->dst_st[d] % V) return 0;
  for (int d = 0; d < c->rank - 1; d++) c->src_st[d] /= V, c->dst_st[d] /= V;
  c->ext[c->rank - 1] /= V, c->src_off /= V, c->dst_off /= V, c->n /= V;
  return 1;
}

int dx_copy_launch(DExec *e, int i, KaCopy *c, int src16) {
  c->n = 1;
  for (int d = 0; d < c->rank; d++) c->n *= c->ext[d];
  if (c->n <= 0) return 1;
  int dst16 = e->st[i];
  c->cvt = src16 == dst16 ? 0 : dst16 ? 1 : 2; /* a copy is where a value changes storage dtype */
  const char *k = c->cvt ? "k_copy_cvt" : dst16 ? "k_copy_nd16" : "k_copy_nd";
  if (copy_canon(c, dst16 ? 2 : 4)) k = "k_copy_nd_v16", e->stats.copies_v16++;
  e->stats.copies++;
  return dx_launch(e, i, KMOD_MOVE, k, dev_grid(e->dev, c->n, 256), 1, 1, 256, 0, c);
}

/* slice range as the interpreter's slice_range: start/end from the end when negative */
static void slice_range(const IrNode *n, int64_t len, int64_t *s, int64_t *step) {
  int64_t start = ir_get_i(n, "start");
  *s = start < 0 ? start + len : start;
  *step = ir_get_i(n, "step");
}

/* Transpose, slice or expand node n reads its operand (shape sx, rank rx) at strides st_x:
 * the strides st[ro] at which its result's axes step through that operand, and the offset
 * (returned) of its first element. */
static int64_t view_strides(const IrNode *n, const int64_t *sx, int rx, const int64_t *st_x, int ro, int64_t *st) {
  if (n->op == OP_TRANSPOSE) {
    const AttrVal *perm = ir_get(n, "perm");
    for (int d = 0; d < ro; d++) st[d] = st_x[perm->ints[d]];
    return 0;
  }
  if (n->op == OP_SLICE) {
    int axis = (int)ir_get_i(n, "axis");
    if (axis < 0) axis += rx;
    int64_t s, step;
    slice_range(n, sx[axis], &s, &step);
    for (int d = 0; d < ro; d++) st[d] = st_x[d];
    st[axis] *= step;
    return s * st_x[axis];
  }
  for (int d = 0; d < ro; d++) { /* expand: NumPy broadcasting, dims aligned right */
    int dx = d - (ro - rx);
    st[d] = dx < 0 || sx[dx] == 1 ? 0 : st_x[dx];
  }
  return 0;
}

int dx_reshape_strides(int ro, const int64_t *so, const int64_t *sto, int rn, const int64_t *sn, int64_t *stn) {
  int64_t od[IR_MAX_RANK], os[IR_MAX_RANK], nd[IR_MAX_RANK];
  int map[IR_MAX_RANK], o = 0, n = 0;
  for (int d = 0; d < ro; d++) /* extent-1 axes take no part; theirs get stride 0 */
    if (so[d] != 1) od[o] = so[d], os[o] = sto[d], o++;
  for (int d = 0; d < rn; d++) {
    stn[d] = 0;
    if (sn[d] != 1) nd[n] = sn[d], map[n] = d, n++;
  }
  int oi = 0, oj = 1, ni = 0, nj = 1;
  while (ni < n && oi < o) { /* the smallest groups of old and new axes with the same extent */
    int64_t np = nd[ni], op = od[oi];
    while (np != op) {
      if (np < op) {
        if (nj >= n) return 0;
        np *= nd[nj++];
      } else {
        if (oj >= o) return 0;
        op *= od[oj++];
      }
    }
    for (int k = oi; k < oj - 1; k++) /* the old group must be contiguous within itself */
      if (os[k] != od[k + 1] * os[k + 1]) return 0;
    int64_t st = os[oj - 1];
    for (int k = nj - 1; k >= ni; k--) stn[map[k]] = st, st *= nd[k];
    ni = nj++, oi = oj++;
  }
  return ni == n && oi == o;
}

int dx_reshape_fixed(const DExec *e, int from, int to, const int64_t *from_st[2]) {
  const IrType *a = &N(e, from)->type, *b = &N(e, to)->type;
  int P = 0;
  while (P < a->rank && P < b->rank && dim_eq(a->d[P], b->d[P])) P++;
  for (int d = P; d < a->rank; d++)
    if (!dim_is_const(a->d[d]) || from_st[0][d] != from_st[1][d]) return 0;
  for (int d = P; d < b->rank; d++)
    if (!dim_is_const(b->d[d])) return 0;
  int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK], st[IR_MAX_RANK];
  dx_shape(e, from, e->sample[0], sa);
  dx_shape(e, to, e->sample[0], sb);
  return dx_reshape_strides(a->rank, sa, from_st[0], b->rank, sb, st);
}

DPtr dx_view(const DExec *e, int x, const int64_t *sym, int64_t *off, int64_t *st) {
  int64_t sx[IR_MAX_RANK];
  int rx = dx_shape(e, x, sym, sx);
  if (e->kind[x] != DN_FOLD) {
    strides(sx, rx, st);
    *off = 0;
    return e->val[x];
  }
  const IrNode *n = N(e, x);
  int64_t sp[IR_MAX_RANK], stp[IR_MAX_RANK], offp;
  int rp = dx_shape(e, n->in[0], sym, sp);
  DPtr buf = dx_view(e, n->in[0], sym, &offp, stp);
  if (n->op == OP_RESHAPE) { /* folded only where it can be strides (dx_reshape_fixed) */
    *off = offp;
    if (!dx_reshape_strides(rp, sp, stp, rx, sx, st)) strides(sx, rx, st); /* (dx_reshape_fixed held) */
    return buf;
  }
  *off = offp + view_strides(n, sp, rp, stp, rx, st);
  return buf;
}

void dx_fold_keep(DExec *e, int x, int last) {
  for (;;) {
    if (e->last_use[x] < last) e->last_use[x] = last;
    if (e->kind[x] != DN_FOLD) return;
    x = G(e)->nodes.v[x].in[0];
  }
}

/* the folded reshapes below node x marked back to views, all the way down */
static void unfold_reshapes(DExec *e, int x) {
  for (int r = x + 1; r < e->n; r++) {
    const IrNode *n = &G(e)->nodes.v[r];
    if (n->op != OP_RESHAPE || n->in[0] != x || e->kind[r] != DN_FOLD) continue;
    e->kind[r] = DN_VIEW;
    unfold_reshapes(e, r);
  }
}

/* the reshapes that read node x (now folded) fold too: each must be strides of x's view in every
 * run (dx_reshape_fixed), and so on down a chain of them; the latest last use among them,
 * or -1 when one cannot (then none below x is folded) */
static int fold_reshapes(DExec *e, int x) {
  const IrGraph *g = G(e);
  int last = e->last_use[x];
  for (int r = x + 1; r < e->n; r++) {
    const IrNode *n = &g->nodes.v[r];
    if (n->op != OP_RESHAPE || n->in[0] != x) continue;
    int64_t st0[IR_MAX_RANK], st1[IR_MAX_RANK], off;
    const int64_t *st[2] = {st0, st1};
    dx_view(e, x, e->sample[0], &off, st0);
    dx_view(e, x, e->sample[1], &off, st1);
    int sub = -1;
    if (dx_reshape_fixed(e, x, r, st)) {
      e->kind[r] = DN_FOLD;
      sub = fold_reshapes(e, r);
    }
    if (sub < 0) {
      unfold_reshapes(e, x);
      return -1;
    }
    if (sub > last) last = sub;
  }
  return last;
}

void dx_fold_copies(DExec *e) {
  const IrGraph *g = G(e);
  const char *env = getenv("MAMC_CUDA_FOLD_COPIES");
  if (env && !strcmp(env, "0")) return;
  int *copy_readers = calloc((size_t)e->n + 1, sizeof *copy_readers), *readers = calloc((size_t)e->n + 1, sizeof *readers);
  char *copylike = calloc((size_t)e->n + 1, 1);
  if (!copy_readers || !readers || !copylike) { /* folding is an optimisation: without memory, none */
    free(copy_readers), free(readers), free(copylike);
    return;
  }
  /* a copy-like reader: a copy, or a reshape (not an output) read only by copy-like readers */
  for (int j = e->n - 1; j >= 0; j--) {
    const IrNode *n = &g->nodes.v[j];
    copylike[j] = e->kind[j] == DN_COPY ||
                  (n->op == OP_RESHAPE && e->kind[j] == DN_VIEW && e->last_use[j] != e->n && readers[j] > 0 &&
                   copy_readers[j] == readers[j]);
    for (int k = 0; k < n->nin; k++) {
      readers[n->in[k]]++;
      copy_readers[n->in[k]] += copylike[j];
    }
  }
  for (int i = 0; i < e->n; i++) {
    const IrNode *n = &g->nodes.v[i];
    int x = n->in[0];
    if (e->kind[i] != DN_COPY || (n->op != OP_TRANSPOSE && n->op != OP_SLICE && n->op != OP_EXPAND)) continue;
    if (e->last_use[i] == e->n || readers[i] == 0 || copy_readers[i] != readers[i] || e->st[i] != e->st[x]) continue;
    e->kind[i] = DN_FOLD;
    int last = fold_reshapes(e, i);
    if (last < 0) {
      e->kind[i] = DN_COPY;
      continue;
    }
    if (e->last_use[i] < last) e->last_use[i] = last; /* (the reshapes' readers read x) */
    dx_fold_keep(e, x, e->last_use[i]);
  }
  free(copy_readers), free(readers), free(copylike);
}

int dx_copy(DExec *e, int i, const int64_t *sym) {
  const IrNode *n = N(e, i);
  int64_t so[IR_MAX_RANK], sx[IR_MAX_RANK], st_o[IR_MAX_RANK], st_x[IR_MAX_RANK];
  int ro = dx_shape(e, i, sym, so);
  KaCopy c;
  memset(&c, 0, sizeof c);
  if (!(c.dst = dx_dest(e, i, sym, st_o, 1))) return 0; /* its own buffer, or its place in a concat's */
  if (n->op == OP_CONCAT) {
    int axis = (int)ir_get_i(n, "axis");
    if (axis < 0) axis += ro;
    int64_t at = 0;
    for (int k = 0; k < n->nin; k++) {
      int rx = dx_shape(e, n->in[k], sym, sx);
      int64_t off;
      at += sx[axis];
      if (e->host[n->in[k]] == i) continue; /* written there by its producer (dexec_place.c) */
      c.src = dx_view(e, n->in[k], sym, &off, st_x);
      c.rank = rx;
      c.src_off = off;
      c.dst_off = (at - sx[axis]) * st_o[axis];
      for (int d = 0; d < rx; d++) c.ext[d] = sx[d], c.src_st[d] = st_x[d], c.dst_st[d] = st_o[d];
      if (!dx_copy_launch(e, i, &c, e->st[n->in[k]])) return 0; /* (a folded chain keeps one storage) */
    }
    return 1;
  }
  int rx = dx_shape(e, n->in[0], sym, sx);
  int64_t off;
  c.src = dx_view(e, n->in[0], sym, &off, st_x);
  c.src_off = off;
  if (n->op == OP_PAD) { /* zero, then the operand where the same slice of the result reads */
    int axis = (int)ir_get_i(n, "axis");
    if (axis < 0) axis += ro;
    int64_t s, step;
    slice_range(n, so[axis], &s, &step);
    if (!dev_zero(e->dev, c.dst, (uint64_t)rt_numel(ro, so) * (uint64_t)dx_esize(e, i))) return dx_dev_fail(e, i);
    c.rank = rx;
    c.dst_off = s * st_o[axis];
    for (int d = 0; d < rx; d++) c.ext[d] = sx[d], c.src_st[d] = st_x[d], c.dst_st[d] = st_o[d];
    c.dst_st[axis] *= step;
    return dx_copy_launch(e, i, &c, e->st[n->in[0]]);
  }
  c.rank = ro;
  for (int d = 0; d < ro; d++) c.ext[d] = so[d], c.dst_st[d] = st_o[d];
  int64_t vs[IR_MAX_RANK];
  c.src_off += view_strides(n, sx, rx, st_x, ro, vs);
  for (int d = 0; d < ro; d++) c.src_st[d] = vs[d];
  return dx_copy_launch(e, i, &c, e->st[n->in[0]]);
}
