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

typedef struct LAcc { /* an access before axes merge: buffer axis -> original axis or -1 */
  int buf, rank;
  int map[IR_MAX_RANK];
} LAcc;

typedef struct Memo {
  int node, e;
  int map[IR_MAX_RANK];
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

/* Checks map against the node's dims (each mapped axis has I's extent) and sets the size-1
 * axes to -1 so that equal index maps compare equal. */
static int canon_map(Lower *L, int node, const int *in, int *out) {
  const IrType *t = &N(L, node)->type;
  for (int j = 0; j < t->rank; j++) {
    out[j] = is_one(t->d[j]) ? -1 : in[j];
    if (out[j] >= 0 && !dim_eq(t->d[j], L->I[out[j]]))
      return lfail(L, "%%%d: axis %d does not match axis %d of the kernel's iteration space", node, j, out[j]) + 1;
    if (out[j] < 0 && !is_one(t->d[j]))
      return lfail(L, "%%%d: axis %d is broadcast but its extent is not 1", node, j) + 1;
    for (int i = 0; i < j; i++)
      if (out[j] >= 0 && out[i] == out[j])
        return lfail(L, "%%%d: two axes index the same iteration axis", node) + 1;
  }
  return 1;
}

/* the access of node's buffer under map (created once) */
static int lacc_id(Lower *L, int node, const int *map) {
  LAcc a = {L->bufof[node], L->k->bufs.v[L->bufof[node]].type.rank, {0}};
  for (int j = 0; j < a.rank; j++) a.map[j] = map[j];
  for (int i = 0; i < L->lacc.n; i++)
    if (L->lacc.v[i].buf == a.buf && memcmp(L->lacc.v[i].map, a.map, sizeof(int) * (size_t)a.rank) == 0) return i;
  vec_push(&L->k->arena, L->lacc, a);
  return L->lacc.n - 1;
}

static int load(Lower *L, int node, const int *map) {
  return kir_expr(L->k, (KExpr){.kind = KE_LOAD, .t = L->k->bufs.v[L->bufof[node]].t, .a = {lacc_id(L, node, map), -1, -1}});
}

static int ex(Lower *L, int node, const int *inmap);
static int shape_slot(Lower *L, int buf, int a0, int a1);

/* dims slot holding the value of dim d: an axis of a buffer with that dim, else the Dim */
static int extent_slot(Lower *L, Dim d) {
  for (int b = 0; b < L->k->bufs.n; b++)
    for (int j = 0; j < L->k->bufs.v[b].type.rank; j++)
      if (dim_eq(L->k->bufs.v[b].type.d[j], d)) return shape_slot(L, b, j, j + 1);
  return kir_dim(L->k, (KDim){KD_SYM, 0, 0, d, 0});
}

/* operand maps per class, then the rule */
static int build(Lower *L, int node, const int *map) {
  const IrNode *n = N(L, node);
  const CgOpRule *r = cg_rule(n->op);
  int rank = n->type.rank, x[4] = {-1, -1, -1, -1}, om[IR_MAX_RANK];
  CgRuleCx c = {L->k, n, KT_F32, x, {KT_F32, KT_F32, KT_F32, KT_F32}, n->nin, -1, -1, -1, L->err, L->errlen};
  if (!ktype_of(L, node, &c.t)) return -1;
  if (n->nin > 4) return lfail(L, "%%%d: too many operands", node);
  for (int i = 0; i < n->nin; i++) {
    const IrType *ot = &N(L, n->in[i])->type;
    for (int j = 0; j < IR_MAX_RANK; j++) om[j] = -1;
    switch (r->cls) {
    case CG_EW:
      for (int j = 0; j < ot->rank; j++) om[j] = map[j + rank - ot->rank];
      break;
    case CG_TRANSPOSE: {
      const AttrVal *perm = ir_get(n, "perm");
      for (int j = 0; j < rank; j++) om[perm->ints[j]] = map[j];
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
          om[a] = it;
          if (keep) o++;
        } else {
          om[a] = map[o++];
          if (om[a] >= 0 && (L->redmask >> om[a] & 1u))
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
        for (int j = 0; j < rank; j++) om[j] = map[j];
      else
        om[0] = map[rank - 1];
      for (int j = 0; j < rank && full; j++)
        if (j != axis && om[j] >= 0 && (L->redmask >> om[j] & 1u))
          return lfail(L, "%%%d: a kept axis would run along the kernel's reduced axis", node);
      break;
    }
    default: return lfail(L, "%%%d: internal: operands of a source", node);
    }
    if ((x[i] = ex(L, n->in[i], om)) < 0) return -1;
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
  if (e < 0) {
    char msg[256];
    snprintf(msg, sizeof msg, "%%%d = %s", node, L->err);
    snprintf(L->err, L->errlen, "%s", msg);
  }
  return e;
}

static int ex(Lower *L, int node, const int *inmap) {
  int map[IR_MAX_RANK];
  if (!canon_map(L, node, inmap, map)) return -1;
  int rank = N(L, node)->type.rank;
  for (int i = 0; i < L->memo.n; i++)
    if (L->memo.v[i].node == node && memcmp(L->memo.v[i].map, map, sizeof(int) * (size_t)rank) == 0)
      return L->memo.v[i].e;
  int e = L->ingroup[node] ? build(L, node, map) : load(L, node, map);
  if (e < 0) return -1;
  Memo m = {node, e, {0}};
  memcpy(m.map, map, sizeof(int) * (size_t)rank);
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
        if (k0 >= 0 && k1 >= 0) slot = shape_slot(L, a->buf, k0, k1 + 1);
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
    KAccess ka = {a->buf, {0}};
    for (int gi = 0; gi < KIR_MAX_AXES; gi++) ka.st[gi] = KST_ZERO;
    for (int gi = 0; gi < ng; gi++) {
      int kl = lacc_axis(a, ord[start[gi + 1] - 1]);
      if (kl < 0) continue;
      ka.st[gi] = kl == a->rank - 1 ? KST_ONE : shape_slot(L, a->buf, kl + 1, a->rank);
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
    int map[IR_MAX_RANK], cm[IR_MAX_RANK];
    if (!output_map(L, w, map)) {
      StrBuf b;
      sb_init(&b);
      ir_print_type(&b, L->p, &N(L, w)->type);
      lfail(L, "output %%%d : %s is neither the kernel's iteration space nor its rows%s", w, b.s ? b.s : "?",
            anchor >= 0 ? "" : " (all outputs of an elementwise group need one shape)");
      sb_free(&b);
      goto done;
    }
    int e = ex(L, w, map);
    if (e < 0 || !canon_map(L, w, map, cm)) goto done;
    store_lacc[nout] = lacc_id(L, v, cm); /* the output buffer under the value's (canonical) map */
    unsigned touches = 0;
    for (int j = 0; j < N(L, w)->type.rank; j++)
      if (cm[j] >= 0) touches |= 1u << cm[j];
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
